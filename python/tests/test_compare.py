"""vibench compare: what is identical, consistent, or a disagreement, and the exit status."""
import json
import subprocess
import sys

import h5py
import numpy as np

from vibench_results.compare import Comparison, main


def _set(path, cell_index, dataset, fn):
    """Apply fn to one dataset of the cell with that cell_index (in place, with h5py)."""
    with h5py.File(path, "r+") as f:
        for g in f["cells"].values():
            if g.attrs["cell_index"] == cell_index:
                g[dataset][...] = fn(g[dataset][()], g)
                return g.name.split("/")[-1]
    raise KeyError(cell_index)


def test_same_file_is_identical(results_dir, capsys):
    path = str(results_dir / "estimator_variance.h5")
    assert main([path, path]) == 0
    out = capsys.readouterr().out
    assert "150 in both (150 identical, 0 consistent, 0 untestable, 0 disagree)" in out


def test_perturbed_metric_is_a_disagreement(results_dir, copy_results, capsys):
    b = copy_results("estimator_variance")
    # 8 standard errors: far beyond the Bonferroni limit (about 4.5 for 1650 tested values).
    cid = _set(b, 3, "grad_var", lambda v, g: v + 8 * np.sqrt(2) * g["grad_var_se"][()])
    assert main([str(results_dir / "estimator_variance.h5"), str(b), "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    bad = [r for r in out["rows"] if r["class"] == "inconsistent"]
    assert {r["cell"] for r in bad} == {cid} and {r["metric"] for r in bad} == {"grad_var"}
    assert all(abs(r["z"] - 8) < 1e-9 for r in bad)
    assert out["summary"]["cells"]["disagree"] == 1 and out["summary"]["cells"]["identical"] == 149


def test_shift_within_the_limit_is_consistent(results_dir, copy_results):
    b = copy_results("estimator_variance")
    _set(b, 3, "grad_var", lambda v, g: v + 2 * np.sqrt(2) * g["grad_var_se"][()])
    cmp = Comparison(results_dir / "estimator_variance.h5", b)
    assert cmp.exit_status() == 0
    assert cmp.summary()["cells"] == {"identical": 149, "consistent": 1, "untestable": 0, "disagree": 0}


def test_round_off_is_close(results_dir, copy_results):
    b = copy_results("iwae_gap")
    _set(b, 0, "exact_log_evidence", lambda v, g: v * (1 + 4e-16))
    cmp = Comparison(results_dir / "iwae_gap.h5", b)
    assert cmp.summary()["values"]["close"] == 1 and cmp.exit_status() == 0


def test_value_without_standard_error_is_untestable(results_dir, copy_results, capsys):
    b = copy_results("iwae_gap")
    _set(b, 0, "exact_log_evidence", lambda v, g: v + 0.1)
    a = str(results_dir / "iwae_gap.h5")
    assert main([a, str(b)]) == 1
    assert main([a, str(b), "--allow-untestable"]) == 0
    assert "1 untestable" in capsys.readouterr().out


def test_structure_and_missing_cells(results_dir, copy_results, capsys):
    b = copy_results("iwae_gap")
    with h5py.File(b, "r+") as f:
        ids = sorted(f["cells"], key=lambda c: f["cells"][c].attrs["cell_index"])
        del f["cells"][ids[0]]
        f["cells"][ids[1]].attrs["status"] = "diverged"
    cmp = Comparison(results_dir / "iwae_gap.h5", b)
    s = cmp.summary()
    assert s["only_in_a"] == 1 and s["only_in_b"] == 0 and s["cells"]["disagree"] == 1
    assert cmp.exit_status() == 1
    assert main([str(results_dir / "iwae_gap.h5"), str(b), "--format", "csv"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("cell,index,class,metric")
    assert any(",only_in_a," in line for line in lines) and any("status ok vs diverged" in line for line in lines)


def test_no_common_cell_and_bad_files(results_dir, tmp_path, capsys):
    assert main([str(results_dir / "iwae_gap.h5"), str(results_dir / "snr_vs_k.h5")]) == 1
    assert main([str(results_dir / "iwae_gap.h5"), str(tmp_path / "missing.h5")]) == 2
    (tmp_path / "text.h5").write_text("not hdf5")
    assert main([str(results_dir / "iwae_gap.h5"), str(tmp_path / "text.h5")]) == 2
    assert "cannot open as a results file" in capsys.readouterr().err


def test_another_seed_is_statistically_consistent(vibench_binary, tmp_path, results_dir):
    """Two runs of the same grid with different seeds are independent draws: compare must find them consistent
    (every grad_var, grad_mean, objective within the Bonferroni limit), while not bitwise identical. A false
    alarm here has probability <= alpha = 0.01 by construction; the seed is fixed, so the test is deterministic."""
    subprocess.run([vibench_binary, "run", str(results_dir.parent / "experiments" / "estimator_variance.yaml"),
                    "--out", str(tmp_path), "--set", "seed=7", "--set", "target.k=-2,0,1.5"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cmp = Comparison(results_dir / "estimator_variance.h5", tmp_path / "estimator_variance.h5")
    s = cmp.summary()
    assert s["common_cells"] > 0 and s["cells"]["identical"] < s["common_cells"]
    assert s["values"]["consistent"] > 100
    assert s["cells"]["disagree"] == 0 and s["cells"]["untestable"] == 0, s
    assert s["only_in_a"] > 0  # the rerun has 3 of the 24 k values
    assert cmp.exit_status(allow_missing=True) == 0 and cmp.exit_status() == 1


def test_vibench_compare_command(vibench_binary, results_dir, copy_results):
    a = str(results_dir / "estimator_variance.h5")
    same = subprocess.run([vibench_binary, "compare", a, a], capture_output=True, text=True)
    assert same.returncode == 0 and "150 identical" in same.stdout
    b = copy_results("estimator_variance")
    _set(b, 0, "grad_mean", lambda v, g: v + 10 * np.sqrt(2) * g["grad_se"][()])
    diff = subprocess.run([vibench_binary, "compare", a, str(b)], capture_output=True, text=True)
    assert diff.returncode == 1 and "grad_mean" in diff.stdout
    usage = subprocess.run([vibench_binary, "compare", "--help"], capture_output=True, text=True)
    assert usage.returncode == 0 and "--alpha" in usage.stdout


def test_module_entry_point(results_dir):
    a = str(results_dir / "iwae_gap.h5")
    run = subprocess.run([sys.executable, "-m", "vibench_results.compare", a, a], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_malformed_pairs_are_reported_not_crashed(results_dir, copy_results, capsys):
    """Review findings: a standard error of another shape, a NaN standard error, an integer dataset, a changed
    type, text against numbers, and a group inside a cell."""
    a = str(results_dir / "estimator_variance.h5")
    b = copy_results("estimator_variance")
    with h5py.File(b, "r+") as f:
        cells = sorted(f["cells"].values(), key=lambda g: g.attrs["cell_index"])
        g0, g1, g2, g3 = cells[:4]
        del g0["grad_var_se"]
        g0["grad_var_se"] = np.array([1.0])  # shape (1,) against grad_var's (2,)
        g0["grad_var"][0] += 1.0
        g1["grad_var_se"][0] = np.nan
        g1["grad_var"][0] += 1.0
        g2["count"] = np.array([1, 2], dtype=np.int64)
        data = g3["objective_mean"][()]
        del g3["objective_mean"]
        g3["objective_mean"] = np.float32(data)
    with h5py.File(results_dir / "estimator_variance.h5") as f, h5py.File(copy_results(
            "estimator_variance", b.parent / "a"), "r+") as fa:
        ga = [g for g in fa["cells"].values() if g.attrs["cell_index"] == 2][0]
        ga["count"] = np.array([1, 3], dtype=np.int64)
    a2 = str(b.parent / "a" / "estimator_variance.h5")
    assert main([a2, str(b), "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    by_cell = {}
    for r in out["rows"]:
        by_cell.setdefault(r["index"], []).append(r)
    assert {r["class"] for r in by_cell[0] if r["metric"] == "grad_var"} == {"untestable"}  # SE shape differs
    assert {r["class"] for r in by_cell[1] if r["metric"] == "grad_var"} == {"untestable"}  # NaN SE
    assert [(r["a"], r["b"], r["class"]) for r in by_cell[2] if r["metric"] == "count"] == [(3, 2, "untestable")]
    assert any("type float64 vs float32" in r["note"] for r in by_cell[3])
    # A group inside a cell: a clear error (exit 2), not a traceback.
    with h5py.File(b, "r+") as f:
        next(iter(f["cells"].values())).create_group("nested")
    assert main([a, str(b)]) == 2
    assert "is a group" in capsys.readouterr().err


def test_missing_cells_fail_unless_allowed(results_dir, copy_results):
    b = copy_results("iwae_gap")
    with h5py.File(b, "r+") as f:
        for cid in list(f["cells"])[:17]:
            del f["cells"][cid]
    a = str(results_dir / "iwae_gap.h5")
    assert main([a, str(b)]) == 1
    assert main([a, str(b), "--allow-missing"]) == 0


def test_files_of_another_libm_are_named(results_dir, copy_results, capsys):
    """Cells record their C math library (code_sources' libm line); compare says when the two files' differ."""
    b = copy_results("iwae_gap")
    with h5py.File(b, "r+") as f:
        for g in f["cells"].values():
            lines = str(g.attrs["code_sources"]).splitlines()
            assert any(line.startswith("libm glibc-") for line in lines)
            g.attrs["code_sources"] = "\n".join(
                "libm glibc-2.36-0000000000000000" if line.startswith("libm ") else line for line in lines) + "\n"
    a = str(results_dir / "iwae_gap.h5")
    assert main([a, str(b)]) == 0  # the values are the same bits: only the record differs
    out = capsys.readouterr().out
    assert "note: the C math libraries differ (libm A: glibc-" in out and "B: glibc-2.36-0000000000000000" in out
    assert Comparison(a, b).summary()["libm_differs"]
    assert main([a, a]) == 0
    assert "C math libraries differ" not in capsys.readouterr().out
