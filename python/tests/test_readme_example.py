"""The README's "make your own figure" example runs as written."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_example():
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- example: own-figure -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README has no <!-- example: own-figure --> python block"
    return match.group(1)


def test_own_figure_example(tmp_path):
    script = tmp_path / "example.py"
    script.write_text(readme_example())
    (tmp_path / "results").symlink_to(ROOT / "results")  # the example reads results/ from the project root
    env = {**os.environ, "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "my_iwae_gap.png").stat().st_size > 1000
