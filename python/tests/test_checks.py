"""Figure checks: what a figure script records and its exit status."""
import json
import math

import pytest

from vibench_results import Checks


def test_records_and_json(tmp_path, results_dir):
    check = Checks("demo", tmp_path, results=str(results_dir / "iwae_gap.h5"))
    assert check(True, "a passes", measured=1.5, threshold=2.0)
    assert not check(False, "b fails", measured=math.inf, threshold="< 1e-10")
    check(True, "c", measured=float("nan"))
    check.write()
    record = json.loads((tmp_path / "demo.checks.json").read_text())
    assert record["figure"] == "demo" and record["failures"] == 1
    assert record["results_file"] == "iwae_gap.h5" and len(record["results_sha256"]) == 64
    assert record["scale"] == "quick"
    assert [c["ok"] for c in record["checks"]] == [True, False, True]
    assert record["checks"][0]["measured"] == 1.5 and record["checks"][1]["threshold"] == "< 1e-10"
    assert record["checks"][1]["measured"] == "inf" and record["checks"][2]["measured"] == "nan"


def test_finish_exits_1_on_a_failure(tmp_path):
    check = Checks("demo", tmp_path)
    check(False, "fails")
    with pytest.raises(SystemExit) as e:
        check.finish()
    assert e.value.code == 1
    assert json.loads((tmp_path / "demo.checks.json").read_text())["failures"] == 1


def test_finish_passes(tmp_path):
    check = Checks("demo", tmp_path)
    check(True, "passes")
    check.finish()  # no SystemExit
    assert json.loads((tmp_path / "demo.checks.json").read_text())["failures"] == 0


def test_committed_checks_match_their_results(results_dir):
    """Every committed plots/figures/<name>.checks.json was rendered from the committed results file."""
    from vibench_results import file_sha256

    figures = results_dir.parent / "plots" / "figures"
    records = sorted(figures.rglob("*.checks.json"))  # plots/figures/paper/ holds results/paper/'s
    assert records, "no checks.json in plots/figures"
    for path in records:
        record = json.loads(path.read_text())
        results = results_dir / path.parent.relative_to(figures) / record["results_file"]
        assert record["failures"] == 0, path
        assert record["results_sha256"] == file_sha256(results), f"{path} is out of date: run make figures"
    assert any(p.parent != figures for p in records)
