import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def results_dir():
    return ROOT / "results"


@pytest.fixture
def vibench_binary():
    """The vibench binary: $VIBENCH_BINARY (ctest sets it) or build/vibench."""
    path = os.environ.get("VIBENCH_BINARY") or str(ROOT / "build" / "vibench")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no vibench binary at {path} (set VIBENCH_BINARY)")
    return path


@pytest.fixture
def copy_results(tmp_path, results_dir):
    """copy_results(name) -> path of a scratch copy of results/<name>.h5 that a test may modify."""
    def copy(name, dest=None):
        target = Path(dest or tmp_path) / f"{name}.h5"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(results_dir / f"{name}.h5", target)
        return target
    return copy
