"""The HTML report generator (vibench_results.report), without a browser: pages, checks, CSVs, flags, errors.

Builds one report from a few small committed results files (copied to a scratch directory) and figure-check
JSONs written here with vibench_results.Checks (the figure scripts' own writer): one with a failed check, one
whose results_sha256 names another file, one experiment with none. tests/report/check_report_browser.py opens
a report in Chromium.
"""
import gzip
import json
import os
import re
import shutil

import h5py
import pandas as pd
import pytest

import vibench_results as vr
from vibench_results import report
from vibench_results.report.collect import comment_block, fmt_number

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUICK = ["iwae_gap", "rate_distortion", "relax_toy"]
PAPER = ["vib_information_plane"]


def _copy_inputs(tmp):
    results, figures = tmp / "results", tmp / "figures"
    (results / "paper").mkdir(parents=True)
    (figures / "paper").mkdir(parents=True)
    for sub, names in (("", QUICK), ("paper", PAPER)):
        for name in names:
            shutil.copyfile(os.path.join(ROOT, "results", sub, name + ".h5"), results / sub / (name + ".h5"))
            for ext in ("png", "pdf"):
                shutil.copyfile(os.path.join(ROOT, "plots", "figures", sub, f"{name}.{ext}"),
                                figures / sub / f"{name}.{ext}")
    return results, figures


def _write_checks(figures, results, name, oks, sub=""):
    c = vr.Checks(name, str(figures / sub), results=str(results / sub / (name + ".h5")))
    for i, ok in enumerate(oks):
        c(ok, f"check {i} of {name}", measured=0.5 + i, threshold=2.58 if i % 2 else "[0.4, inf)")
    c.write()
    return figures / sub / (name + ".checks.json")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    results, figures = _copy_inputs(tmp)
    _write_checks(figures, results, "iwae_gap", [True, False, True])
    stale = _write_checks(figures, results, "rate_distortion", [True, True])
    record = json.loads(stale.read_text())
    record["results_sha256"] = "0" * 64  # computed from another results file
    stale.write_text(json.dumps(record))
    _write_checks(figures, results, "vib_information_plane", [True], sub="paper")
    # relax_toy: no checks JSON
    out = tmp / "out"
    shown = report.build(str(results), str(figures), str(out), generated_at="test", log=lambda *a: None)
    return {"results": results, "figures": figures, "out": out, "shown": shown}


def _read(path):
    return path.read_text()


def _index_row(html, name, group=""):
    m = re.search(r'<tr data-experiment="%s" data-group="%s"(.*?)</tr>' % (name, group), html, re.S)
    assert m, f"no index row for {group}/{name}"
    return m.group(0)


def test_a_page_for_every_results_file(built):
    out = built["out"]
    index = _read(out / "index.html")
    for name in QUICK:
        assert (out / f"{name}.html").exists()
        assert f'href="{name}.html"' in index
        assert (out / name / f"{name}.png").exists() and (out / name / f"{name}.pdf").exists()
    assert (out / "paper" / "vib_information_plane.html").exists()
    assert 'href="paper/vib_information_plane.html"' in index
    assert "paper scale" in _index_row(index, "vib_information_plane", "paper")
    page = _read(out / "paper" / "vib_information_plane.html")
    assert 'href="../static/report.css"' in page and 'src="vib_information_plane/vib_information_plane.png"' in page


def test_checks_rendered_as_recorded(built):
    page = _read(built["out"] / "iwae_gap.html")
    shown = re.findall(r'data-check-ok="(true|false)">.*?<td class="result">(ok|FAIL)</td>', page, re.S)
    assert shown == [("true", "ok"), ("false", "FAIL"), ("true", "ok")]
    assert "check 1 of iwae_gap" in page
    row = _index_row(_read(built["out"] / "index.html"), "iwae_gap")
    assert 'data-checks-passed="2" data-checks-total="3"' in row
    assert "2/3 passed" in row and "1 FAILED" in row
    ok_row = _index_row(_read(built["out"] / "index.html"), "vib_information_plane", "paper")
    assert "1/1 passed" in ok_row and "FAILED" not in ok_row and "out of date" not in ok_row


def test_out_of_date_figure_is_flagged(built):
    index = _read(built["out"] / "index.html")
    row = _index_row(index, "rate_distortion")
    assert 'data-checks-state="out-of-date"' in row and "figure out of date" in row
    assert 'data-checks-state="current"' in _index_row(index, "iwae_gap")
    page = _read(built["out"] / "rate_distortion.html")
    assert "Figure out of date" in page and vr.file_sha256(str(built["results"] / "rate_distortion.h5")) in page


def test_missing_checks_are_flagged_not_fatal(built):
    row = _index_row(_read(built["out"] / "index.html"), "relax_toy")
    assert 'data-checks-state="missing"' in row and "no checks recorded" in row
    page = _read(built["out"] / "relax_toy.html")
    assert "No checks recorded" in page and "data-check-ok" not in page


def test_csvs_parse_with_the_right_rows(built):
    for sub, name in [("", n) for n in QUICK] + [("paper", n) for n in PAPER]:
        h5 = str(built["results"] / sub / (name + ".h5"))
        cells = pd.read_csv(built["out"] / sub / name / f"{name}.cells.csv")
        metrics = pd.read_csv(built["out"] / sub / name / f"{name}.metrics.csv")
        frame = vr.index_frame(h5)
        assert len(cells) == len(frame) and list(cells.columns) == list(frame.columns)
        long = vr.tidy_frame(h5, config=False)
        assert len(metrics) == len(long)
        assert metrics["value"].astype(float).tolist() == pytest.approx(long["value"].tolist(), nan_ok=True)
    # The paper file's /index has no config_columns: the config keys come from /index all the same.
    metrics = pd.read_csv(built["out"] / "paper" / "vib_information_plane" / "vib_information_plane.metrics.csv")
    assert {"beta", "latent_dim", "metric", "element", "value"} <= set(metrics.columns)


def test_cell_table_has_the_varying_config_and_the_metrics(built):
    page = _read(built["out"] / "iwae_gap.html")
    headers = [re.sub(r"<wbr>", "", h) for h in re.findall(r'<th class="col-\w+" data-type="\w+"[^>]*>(.*?)</th>',
                                                            page)]
    h5 = str(built["results"] / "iwae_gap.h5")
    frame = vr.index_frame(h5)
    with h5py.File(h5) as f:
        config = vr.typed(f["index"].attrs["config_columns"])
        metrics = vr.typed(f["index"].attrs["dataset_columns"])
    varying = sorted(c for c in config if c in frame and frame[c].astype(str).nunique() > 1)
    assert varying and headers == ["#", *varying, "status", *metrics]
    rows = re.findall(r"<tr>\s*<td class=\"col-key", page)
    assert len(rows) == len(frame)
    # Full precision in the title attribute, the short form as text.
    v = float(frame["bound_mean"][0])
    text, full = fmt_number(v)
    assert f'data-sort-value="{v!r}" title="{full}">{text}</td>' in page


def test_large_csv_is_gzipped_and_said_so(tmp_path, monkeypatch):
    results, figures = _copy_inputs(tmp_path)
    monkeypatch.setattr(report, "GZIP_ABOVE", 50_000)
    report.build(str(results), str(figures), str(tmp_path / "out"), generated_at="test", log=lambda *a: None)
    gz = tmp_path / "out" / "relax_toy" / "relax_toy.metrics.csv.gz"
    assert gz.exists() and not (tmp_path / "out" / "relax_toy" / "relax_toy.metrics.csv").exists()
    with gzip.open(gz) as f:
        assert len(pd.read_csv(f)) == len(vr.tidy_frame(str(results / "relax_toy.h5")))
    page = _read(tmp_path / "out" / "relax_toy.html")
    assert 'href="relax_toy/relax_toy.metrics.csv.gz"' in page and "gzipped because the CSV is" in page
    assert (tmp_path / "out" / "relax_toy" / "relax_toy.cells.csv").exists()  # the small one stays plain


def test_output_is_deterministic(built, tmp_path):
    again = tmp_path / "again"
    report.build(str(built["results"]), str(built["figures"]), str(again), generated_at="test", log=lambda *a: None)
    files = sorted(os.path.relpath(os.path.join(d, f), again) for d, _, fs in os.walk(again) for f in fs)
    assert files == sorted(os.path.relpath(os.path.join(d, f), built["out"])
                           for d, _, fs in os.walk(built["out"]) for f in fs)
    for f in files:
        assert (again / f).read_bytes() == (built["out"] / f).read_bytes(), f


def test_nothing_points_to_the_network(built):
    for d, _, fs in os.walk(built["out"]):
        for f in fs:
            if f.endswith((".html", ".css", ".js")):
                text = open(os.path.join(d, f)).read()
                assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), f


def test_text_from_the_results_file_is_escaped(tmp_path):
    results, figures = _copy_inputs(tmp_path)
    with h5py.File(results / "iwae_gap.h5", "a") as f:
        f.attrs["description"] = "<script>alert(1)</script> & co"
    report.build(str(results), str(figures), str(tmp_path / "out"), generated_at="test", log=lambda *a: None)
    for page in ("index.html", "iwae_gap.html"):
        html = _read(tmp_path / "out" / page)
        assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html


def test_no_results_is_a_clear_error(tmp_path, capsys):
    assert report.main(["--results", str(tmp_path / "absent"), "--out", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    assert report.main(["--results", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert "no results files (*.h5)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_replaces_its_own_output_only(tmp_path, capsys):
    results, figures = _copy_inputs(tmp_path)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    argv = ["--results", str(results), "--figures", str(figures)]
    assert report.main(argv + ["--out", str(foreign)]) == 2
    assert "refusing" in capsys.readouterr().err and (foreign / "keep.txt").read_text() == "mine"
    out = tmp_path / "out"
    assert report.main(argv + ["--out", str(out)]) == 0
    (out / "old_experiment.html").write_text("left from an earlier run")
    assert report.main(argv + ["--out", str(out)]) == 0
    assert not (out / "old_experiment.html").exists() and (out / "index.html").exists()


def test_fmt_number():
    assert fmt_number(3) == ("3", "3")
    assert fmt_number(64.0) == ("64", "64.0")
    assert fmt_number(0.1234567) == ("0.1235", "0.1234567")
    assert fmt_number(749548.315) == ("749548", "749548.315")
    assert fmt_number(-1.23456e-12) == ("-1.235e-12", "-1.23456e-12")
    assert fmt_number(2.5e7) == ("2.5e7", "25000000.0")
    assert fmt_number(float("inf")) == ("inf", "inf")
    assert fmt_number(float("nan")) == ("NaN", "NaN")
    assert fmt_number(None) == ("", "")
    assert fmt_number("[0.4, inf)") == ("[0.4, inf)", "[0.4, inf)")


def test_comment_block():
    yaml = "# First line\n# goes on `code` here.\n# 1. item one\n#    continued\n# 2. item two\n#\n# Last.\nname: x\n# not this"
    assert comment_block(yaml) == [
        [("First line goes on ", False), ("code", True), (" here.", False)],
        [("1. item one continued", False)], [("2. item two", False)], [("Last.", False)]]


def test_missing_figure_is_shown_and_a_bad_file_keeps_the_old_report(tmp_path, capsys):
    """Review findings: a results file without its figure gets a page saying so (no crash); a results file that
    cannot be read is a clear error (exit 2) and leaves the previous report as it was."""
    results, figures = _copy_inputs(tmp_path)
    os.remove(figures / "iwae_gap.png")
    os.remove(figures / "iwae_gap.pdf")
    out = tmp_path / "out"
    argv = ["--results", str(results), "--figures", str(figures), "--out", str(out)]
    assert report.main(argv) == 0
    assert "No figure:" in _read(out / "iwae_gap.html")
    before = _read(out / "index.html")
    with h5py.File(results / "zzz_broken.h5", "w") as f:
        f.create_group("cells")  # no /index
    assert report.main(argv) == 2
    assert "zzz_broken.h5: cannot read it" in capsys.readouterr().err
    assert _read(out / "index.html") == before
