"""A static HTML report of a results directory: `make report`, `vibench-report` or
`python3 -m vibench_results.report --results results --figures plots/figures --out report`.

Reads results/*.h5 (and results/<sub>/*.h5, e.g. the paper-scale runs in results/paper) and what the figure
scripts wrote into the figures directory (<name>.png, .pdf, .checks.json; plots/figures/<sub>/ for
results/<sub>/). Writes, with nothing fetched from the network:
  <out>/index.html            one row per experiment: cells by status, figure checks, scale, code
  <out>/<name>.html           its figure, description, checks, sortable cell table, provenance
  <out>/<name>/               the PNG and PDF, <name>.cells.csv (/index) and <name>.metrics.csv (every metric
                              value, long form; gzipped when larger than 20 MB)
  <out>/static/               the stylesheet and the table-sorting script
Output is deterministic apart from the one "generated at" line of index.html (SOURCE_DATE_EPOCH fixes it).
"""
import argparse
import datetime
import gzip
import os
import shutil
import sys

from .. import __version__
from .collect import experiment, results_groups

GZIP_ABOVE = 20_000_000  # bytes: a larger CSV is written gzipped (the page says so)
MARKER = ".vibench-report"  # marks an output directory this module wrote (and may replace)
HERE = os.path.dirname(os.path.abspath(__file__))


class ReportError(Exception):
    """Bad input (no results, an output directory that is not ours): main() prints it and exits 2."""


def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["size"] = human_size
    return env


def human_size(n):
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000


def _prepare_out(out):
    """An empty output directory: a previous report (it carries MARKER) is removed first, so no page of an
    experiment that has gone stays behind; any other non-empty directory is refused."""
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise ReportError(f"--out {out} exists and is not a directory")
        if os.listdir(out):
            if not os.path.exists(os.path.join(out, MARKER)):
                raise ReportError(f"--out {out} is a non-empty directory that holds no report written by this "
                                  f"tool ({MARKER} missing); refusing to replace it")
            shutil.rmtree(out)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, MARKER), "w") as f:
        f.write("written by vibench_results.report; replaced on every run\n")


def _write_csv(frame, path):
    """Write frame as CSV at path, or gzipped at path + '.gz' above GZIP_ABOVE (mtime 0: same bytes on every
    run). Returns (file name written, bytes written, bytes of the CSV itself)."""
    data = frame.to_csv(index=False).encode()
    if len(data) <= GZIP_ABOVE:
        with open(path, "wb") as f:
            f.write(data)
        return os.path.basename(path), len(data), len(data)
    with open(path + ".gz", "wb") as raw:
        with gzip.GzipFile(filename=os.path.basename(path), mode="wb", fileobj=raw, mtime=0) as gz:
            gz.write(data)
    return os.path.basename(path) + ".gz", os.path.getsize(path + ".gz"), len(data)


def _page_name(name):
    return ("index_" if name == "index" else name) + ".html"  # the experiment called "index" must not clobber it


def _write_experiment(env, e, out, sub, depth):
    """Copy an experiment's figure, write its CSVs and its page; return what the index row needs."""
    name = e["name"]
    assets = os.path.join(out, sub, name)
    os.makedirs(assets, exist_ok=True)
    figure = {"png": None, "pdf": None}  # a missing figure is shown as missing, not an error
    for ext in ("png", "pdf"):
        if e["figure_" + ext]:
            shutil.copyfile(e["figure_" + ext], os.path.join(assets, f"{name}.{ext}"))
            figure[ext] = f"{name}/{name}.{ext}"
    downloads = []
    for label, frame, what in (
            ("cells.csv", e["cells_frame"], "one row per cell: the /index table (config keys, status, metrics)"),
            ("metrics.csv", e["tidy"](), "every metric value of every cell, long form (arrays one row per "
                                         "element)")):
        written, n_bytes, csv_bytes = _write_csv(frame, os.path.join(assets, f"{name}.{label}"))
        downloads.append({"label": label, "href": f"{name}/{written}", "file": written, "bytes": n_bytes,
                          "csv_bytes": csv_bytes, "gzipped": written.endswith(".gz"), "rows": len(frame),
                          "what": what})
    page = _page_name(name)
    html = env.get_template("experiment.html").render(
        e=e, figure=figure, downloads=downloads, root="../" * depth, gzip_above=GZIP_ABOVE,
        group=sub, title=name)
    with open(os.path.join(out, sub, page), "w") as f:
        f.write(html)
    return {"href": (sub + "/" if sub else "") + page, "figure": figure, "downloads": downloads}


def build(results, figures, out, generated_at=None, log=print):
    """Write the report of results (directory) and figures (directory) into out. Returns the experiments
    shown (the dicts of collect.experiment plus href), in index order."""
    if not os.path.isdir(results):
        raise ReportError(f"results directory {results} does not exist")
    groups = results_groups(results)
    if not groups:
        raise ReportError(f"no results files (*.h5) in {results} or its subdirectories: run `make experiments`")
    if generated_at is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        when = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch
                else datetime.datetime.now(datetime.timezone.utc))
        generated_at = when.strftime("%Y-%m-%d %H:%M UTC")
    # Read every results file before touching the output folder: a file that cannot be read leaves the
    # previous report in place.
    collected = []
    for sub, paths in groups:
        fig_dir = os.path.join(figures, sub) if sub else figures
        experiments = []
        for path in paths:
            log(f"report: {path}")
            try:
                experiments.append(experiment(path, fig_dir))
            except (OSError, KeyError, ValueError) as e:
                raise ReportError(f"{path}: cannot read it as a vibench results file ({type(e).__name__}: {e})") \
                    from None
        collected.append((sub, fig_dir, experiments))

    _prepare_out(out)
    env = _environment()
    os.makedirs(os.path.join(out, "static"), exist_ok=True)
    for f in sorted(os.listdir(os.path.join(HERE, "static"))):
        shutil.copyfile(os.path.join(HERE, "static", f), os.path.join(out, "static", f))

    sections, shown = [], []
    top_names = {os.path.splitext(os.path.basename(p))[0] for p in groups[0][1]} if groups[0][0] == "" else set()
    for sub, fig_dir, experiments in collected:
        if sub:
            os.makedirs(os.path.join(out, sub), exist_ok=True)
        rows = []
        for e in experiments:
            e["figures_dir"] = fig_dir
            e["label"] = f"{sub}/{e['name']}" if sub else e["name"]
            e.update(_write_experiment(env, e, out, sub, sub.count("/") + 1 if sub else 0))
            rows.append(e)
        scales = sorted({e["scale"] for e in rows})
        names = {e["name"] for e in rows}
        sections.append({
            "dir": os.path.join(results, sub) if sub else results, "sub": sub, "scales": scales,
            "figures_dir": fig_dir, "experiments": rows,
            # results/paper holds only the experiments run at paper scale so far
            "partial_of": len(top_names) if sub and top_names and len(names) < len(top_names) else None})
        shown += rows

    html = env.get_template("index.html").render(
        sections=sections, generated_at=generated_at, version=__version__, results=results, figures=figures,
        root="", title="vibench results")
    with open(os.path.join(out, "index.html"), "w") as f:
        f.write(html)
    failed = sum(e["checks"]["failed"] for e in shown)
    flagged = [e["label"] for e in shown if e["checks"]["state"] != "current"]
    log(f"report: wrote {os.path.join(out, 'index.html')} and {len(shown)} experiment pages "
        f"({failed} failed figure check(s); figure out of date or without checks: {', '.join(flagged) or 'none'})")
    return shown


def main(argv=None):
    ap = argparse.ArgumentParser(prog="vibench-report", description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results", help="results directory (default: results)")
    ap.add_argument("--figures", default=os.path.join("plots", "figures"),
                    help="what `make figures` wrote for it (default: plots/figures)")
    ap.add_argument("--out", default="report", help="output directory (default: report)")
    args = ap.parse_args(argv)
    try:
        build(args.results, args.figures, args.out)
    except ReportError as e:
        print(f"vibench-report: error: {e}", file=sys.stderr)
        return 2
    return 0
