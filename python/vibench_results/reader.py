"""Reading vibench results files: provenance, cells in grid order, and pandas frames.

    import vibench_results as vr
    run = vr.load("results/estimator_variance.h5")
    run.provenance["scale"]            # typed root attributes (str, int, float)
    for cell in run.cells:             # in grid order
        cell.attrs["estimator.name"], cell["grad_var"], cell.param("grad_var", "mean[0]")
    vr.index_frame(path)               # /index: one row per cell, scalar config keys and metrics
    vr.tidy_frame(path)                # every metric of every cell, long form (arrays one row per element)
"""
import h5py
import numpy as np

from . import schema


def control_variate(attrs, prefix="estimator"):
    """The control variate of a score_function cell as (name, {parameter: value}): from the keys
    `estimator.control_variate.*`, or from the keys results stored before control variates were plugins
    (`estimator.baseline`, `estimator.decay`, `estimator.warmup`, `estimator.control_variate: none | delta_method`;
    the cell ids are the same). ("none", {}) without one."""
    slot = prefix + ".control_variate"
    if slot + ".name" in attrs:
        params = {k[len(slot) + 1:]: typed(v) for k, v in attrs.items() if k.startswith(slot + ".") and k != slot + ".name"}
        return typed(attrs[slot + ".name"]), params
    if typed(attrs.get(slot, "none")) == "delta_method":
        return "delta_method", {}
    base = typed(attrs.get(prefix + ".baseline", "none"))
    if base == "moving_average":
        return base, {"decay": typed(attrs[prefix + ".decay"]), "warmup": typed(attrs[prefix + ".warmup"])}
    return base, {}


def typed(value):
    """An HDF5 attribute or dataset value as plain Python: str for text (bytes decoded), int, float, or a list
    of those for arrays."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return typed(value[()])
        return [typed(v) for v in value.tolist()] if value.dtype.kind in "OSU" else value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _attrs(obj):
    return {k: typed(v) for k, v in obj.attrs.items()}


class Cell:
    """One cell: `attrs` (its resolved config keys and bookkeeping, typed) and its metric datasets (numpy
    arrays; string datasets such as param_names as lists of str)."""

    def __init__(self, cell_id, group):
        self.id = cell_id
        self.attrs = _attrs(group)
        self.data = {}
        for name, ds in group.items():
            value = ds[()]
            if ds.dtype.kind in "OS":
                value = [typed(x) for x in np.atleast_1d(value)]
            self.data[name] = value

    def __getitem__(self, name):
        return self.data[name]

    def __contains__(self, name):
        return name in self.data

    def param(self, dataset, param_name):
        """Value of a per-parameter dataset for the parameter called param_name (e.g. 'mean[0]')."""
        return self.data[dataset][self.data[schema.PARAM_NAMES].index(param_name)]

    def element_names(self, dataset):
        """Names of a dataset's elements in C order: the parameter names for per-parameter datasets, indices
        ('3', or '3,1' for matrices) otherwise, None for a scalar."""
        value = np.asarray(self.data[dataset])
        if value.ndim == 0:
            return None
        names = self.data.get(schema.PARAM_NAMES)
        if value.ndim == 1 and names is not None and len(names) == len(value) and dataset != schema.PARAM_NAMES:
            return list(names)
        return [",".join(map(str, i)) for i in np.ndindex(value.shape)]


class Results:
    """A results file read into memory: `provenance` (root attributes), `attrs` (the same dict, the older
    name) and `cells` in grid order."""

    def __init__(self, path):
        self.path = str(path)
        with h5py.File(path, "r") as f:
            self.provenance = _attrs(f)
            cells = [Cell(cid, g) for cid, g in f[schema.CELLS].items()]
        self.attrs = self.provenance
        self.cells = sorted(cells, key=lambda c: c.attrs[schema.CELL_INDEX])

    def __len__(self):
        return len(self.cells)

    def cell(self, cell_id):
        for c in self.cells:
            if c.id == cell_id:
                return c
        raise KeyError(cell_id)


def load(path):
    return Results(path)


def provenance(path):
    """The root attributes of a results file (what computed it, where, when, with which config) as a typed dict,
    plus `cells` (how many) and `code_fingerprints` (the distinct fingerprints of its cells, sorted)."""
    with h5py.File(path, "r") as f:
        out = _attrs(f)
        out["cells"] = len(f[schema.CELLS])
        if schema.INDEX in f and schema.CODE_FINGERPRINT in (f[schema.INDEX].dtype.names or ()):
            out["code_fingerprints"] = sorted({typed(v) for v in f[schema.INDEX][schema.CODE_FINGERPRINT]})
    return out


def index_frame(path):
    """The /index table of a results file as a pandas DataFrame (one row per cell; text columns decoded),
    sorted by grid order."""
    import pandas as pd

    with h5py.File(path, "r") as f:
        table = f[schema.INDEX][()]
    columns = {}
    for name in table.dtype.names:
        column = table[name]
        if column.dtype.kind == "S":
            # Decode each distinct value once: config columns repeat a few values over many cells.
            distinct, where = np.unique(column, return_inverse=True)
            column = np.array([typed(v) for v in distinct], dtype=object)[where]
        columns[name] = column
    frame = pd.DataFrame(columns, columns=list(table.dtype.names))
    return frame.sort_values(schema.INDEX_COLUMN, kind="stable").reset_index(drop=True)


# Cell attributes that are not config keys, for files written before /index had the attribute config_columns
# (e.g. results/paper/vib_information_plane.h5): the store's bookkeeping, timings, and `replicates`, which
# such old files stored as an attribute of their own.
def _not_config(name):
    return name in schema.BOOKKEEPING or schema.is_timing(name) or name == "replicates"


def index_columns(path):
    """(config keys, scalar metrics) of a results file, both sorted: the /index attributes config_columns and
    dataset_columns name them (config keys include list-valued ones, which /index itself leaves out); a file
    written before those attributes existed gets them from its first cell (attributes that are not bookkeeping
    or timings; scalar numeric datasets). The second element is True when they were inferred."""
    with h5py.File(path, "r") as f:
        attrs = f[schema.INDEX].attrs if schema.INDEX in f else {}
        if schema.CONFIG_COLUMNS in attrs and schema.DATASET_COLUMNS in attrs:
            return sorted(typed(attrs[schema.CONFIG_COLUMNS])), sorted(typed(attrs[schema.DATASET_COLUMNS])), False
        first = next(iter(f[schema.CELLS].values()), None)
        if first is None:
            return [], [], True
        config = sorted(k for k in first.attrs if not _not_config(k))
        metrics = sorted(n for n, d in first.items() if d.shape == () and d.dtype.kind in "fiu")
        return config, metrics, True


def config_keys(path):
    """The config keys of a results file's cells (sorted), list-valued ones included (see index_columns)."""
    return index_columns(path)[0]


def tidy_frame(path, metrics=None, config=True):
    """Every numeric metric of every cell in long ("tidy") form, one row per value: columns `cell` (id),
    `index` (grid order), `status`, the config keys when config is True (list values as comma-separated
    text), `metric`, `element` (parameter name or array index; None for a scalar metric) and `value` (float).
    metrics: only these dataset names. String datasets (param_names) are not rows: they name the elements."""
    import pandas as pd

    keys = config_keys(path) if config else []
    rows = []
    for cell in load(path).cells:
        base = {"cell": cell.id, "index": cell.attrs[schema.CELL_INDEX], "status": cell.attrs.get(schema.STATUS)}
        for k in keys:
            v = cell.attrs.get(k)
            base[k] = ",".join(map(repr, v)) if isinstance(v, list) else v
        for name in sorted(cell.data):
            value = np.asarray(cell.data[name])
            if (metrics is not None and name not in metrics) or value.dtype.kind in "OSU":
                continue
            names = cell.element_names(name)
            for i, v in enumerate(value.reshape(-1).astype(float)):
                rows.append({**base, "metric": name, "element": None if names is None else names[i], "value": v})
    return pd.DataFrame(rows, columns=["cell", "index", "status", *keys, "metric", "element", "value"])


def cell_frame(path, dataset):
    """One per-parameter dataset of every cell, long format: columns cell (id), index, param, value."""
    import pandas as pd

    rows = []
    for cell in load(path).cells:
        if dataset not in cell.data:
            continue
        names = cell.element_names(dataset) or [""]
        for name, value in zip(names, np.atleast_1d(cell[dataset]).reshape(-1)):
            rows.append({"cell": cell.id, "index": cell.attrs[schema.CELL_INDEX], "param": name, "value": float(value)})
    return pd.DataFrame(rows, columns=["cell", "index", "param", "value"])
