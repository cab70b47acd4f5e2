"""Reader for vibench results files (h5py + numpy; pandas for the DataFrame helpers), shared by the figure
scripts and meant for notebooks too (`sys.path.insert(0, "plots")`):

    from vibench_results import load, index_frame, cell_frame
    run = load("results/estimator_variance.h5")
    run.attrs["scale"]                  # provenance attributes of the run
    for cell in run.cells:              # in grid order
        cell.attrs["estimator.name"], cell["grad_var"], cell.param("grad_var", "mean[0]")
    index_frame("results/estimator_variance.h5")              # /index as a DataFrame, one row per cell
    cell_frame("results/estimator_variance.h5", "grad_var")   # a per-parameter dataset, long format
"""
import h5py
import numpy as np


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


class Cell:
    def __init__(self, cell_id, group):
        self.id = cell_id
        self.attrs = {k: _text(v) for k, v in group.attrs.items()}
        self.data = {}
        for name, ds in group.items():
            value = ds[()]
            if ds.dtype.kind in "OS":
                value = [_text(x) for x in np.atleast_1d(value)]
            self.data[name] = value

    def __getitem__(self, name):
        return self.data[name]

    def param(self, dataset, param_name):
        """Value of a per-parameter dataset for the parameter called param_name (e.g. 'mean[0]')."""
        return self.data[dataset][self.data["param_names"].index(param_name)]


class Results:
    def __init__(self, path):
        with h5py.File(path, "r") as f:
            self.attrs = {k: _text(v) for k, v in f.attrs.items()}
            cells = [Cell(cid, g) for cid, g in f["cells"].items()]
        self.cells = sorted(cells, key=lambda c: c.attrs["cell_index"])


def load(path):
    return Results(path)


def save_figure(fig, out_dir, name):
    """Write <out_dir>/<name>.png and .pdf."""
    import os

    os.makedirs(out_dir, exist_ok=True)
    for ext in ("png", "pdf"):
        # No creation date in the PDF: re-rendering unchanged results gives the same bytes.
        fig.savefig(os.path.join(out_dir, f"{name}.{ext}"), dpi=130, metadata={"CreationDate": None} if ext == "pdf" else None)
    print(f"wrote {os.path.join(out_dir, name + '.png')} and .pdf")


class Checks:
    """A figure script's checks: `check(ok, text)` prints "ok   text" or "FAIL text" and counts failures;
    `check.finish()` exits with status 1 if any failed."""

    def __init__(self):
        self.failures = 0

    def __call__(self, ok, text):
        self.failures += not ok
        print(("ok   " if ok else "FAIL ") + text)
        return ok

    def finish(self):
        exit_with(self.failures)


def exit_with(failures):
    """End a figure script: exit status 1 when any check failed."""
    import sys

    if failures:
        print(f"{failures} check(s) FAILED")
        sys.exit(1)


def index_frame(path):
    """The /index table of a results file as a pandas DataFrame (one row per cell; text columns decoded),
    sorted by grid order. Needs python3-pandas (installed by `make deps`)."""
    import pandas as pd

    with h5py.File(path, "r") as f:
        table = f["index"][()]
    columns = {}
    for name in table.dtype.names:
        column = table[name]
        if column.dtype.kind == "S":
            # Decode each distinct value once: config columns repeat a few values over many cells.
            distinct, where = np.unique(column, return_inverse=True)
            column = np.array([_text(v) for v in distinct], dtype=object)[where]
        columns[name] = column
    frame = pd.DataFrame(columns, columns=list(table.dtype.names))
    return frame.sort_values("index", kind="stable").reset_index(drop=True)


def cell_frame(path, dataset):
    """One per-parameter dataset of every cell, long format: columns cell (id), index, param, value."""
    import pandas as pd

    rows = []
    for cell in load(path).cells:
        if dataset not in cell.data:
            continue
        names = cell.data.get("param_names", [str(i) for i in range(len(cell[dataset]))])
        for name, value in zip(names, np.atleast_1d(cell[dataset])):
            rows.append({"cell": cell.id, "index": cell.attrs["cell_index"], "param": name, "value": float(value)})
    return pd.DataFrame(rows)
