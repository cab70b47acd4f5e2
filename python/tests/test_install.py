"""The package installs with pip (offline, from Debian's setuptools) and its commands run from the install."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pip_install_and_commands(tmp_path, results_dir):
    target = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-deps",
                          "--no-index", "--target", str(target), str(ROOT / "python")],
                         capture_output=True, text=True, cwd=tmp_path)
    assert pip.returncode == 0, pip.stderr
    assert (target / "vibench_results" / "compare.py").exists()
    assert (target / "bin" / "vibench-compare").exists() and (target / "bin" / "vibench-report").exists()
    env = {**os.environ, "PYTHONPATH": str(target)}
    # Imported from the install, not the source tree.
    where = subprocess.run([sys.executable, "-c", "import vibench_results as v; print(v.__file__)"], env=env,
                           capture_output=True, text=True, cwd=tmp_path)
    assert where.stdout.startswith(str(target)), where.stdout + where.stderr
    a = str(results_dir / "iwae_gap.h5")
    run = subprocess.run([sys.executable, str(target / "bin" / "vibench-compare"), a, a], env=env,
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0 and "18 identical" in run.stdout, run.stderr
    templates = list((target / "vibench_results" / "report").rglob("*.html"))
    assert templates, "report templates are not installed with the package"
