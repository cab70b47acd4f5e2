"""Minimal reader for vibench results files (h5py + numpy), shared by the figure scripts.

    from vibench_results import load
    run = load("results/estimator_variance.h5")
    run.attrs["scale"]                  # provenance attributes of the run
    for cell in run.cells:              # in grid order
        cell.attrs["estimator.name"], cell["grad_var"]
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
        fig.savefig(os.path.join(out_dir, f"{name}.{ext}"), dpi=130)
    print(f"wrote {os.path.join(out_dir, name + '.png')} and .pdf")


def exit_with(failures):
    """End a figure script: exit status 1 when any check failed."""
    import sys

    if failures:
        print(f"{failures} check(s) FAILED")
        sys.exit(1)
