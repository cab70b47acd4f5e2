"""Compare two vibench results files cell by cell: `vibench-compare A.h5 B.h5` (or
`python3 -m vibench_results.compare`).

Cells are matched by id (the hash of their resolved config, so a matched pair ran the same config). Every metric
dataset of every matched cell is compared element by element and each value is put in one class:

  identical     the same bits
  close         |a - b| <= rtol * max(|a|, |b|)   (round-off; --rtol, default 1e-12)
  consistent    it has a standard error in both files and z = |a - b| / sqrt(se_a^2 + se_b^2) <= z*
  inconsistent  it has standard errors and z > z*
  derived       a statistic of other values (a standard error, an SNR, a z-score, a standard deviation, an
                MSE): reported, not tested itself (its inputs are)
  untestable    it differs beyond rtol and has no standard error (e.g. a trained network's accuracy)

Round-off: a value computed as a difference or a square of an estimate (a bias, a variance) is close when the
difference is within rtol of that estimate's magnitude (its square for a variance), not of its own (a zero
variance measured as 1e-30 in one run and 2e-30 in another is round-off, not a difference).

z* is Bonferroni-corrected over every value that has standard errors, so that two files drawn from the same
distribution are flagged with probability at most alpha (--alpha, default 0.01) over the whole comparison:
z* = Phi^-1(1 - alpha / (2 m)). Two runs with the same seed are not independent, so z is conservative for them.

A cell is identical when every value is, consistent when none is inconsistent or untestable, and disagrees when
a value is inconsistent or the cells differ in structure (status, a metric present in one only, a shape, a
string dataset such as param_names); otherwise (only untestable differences) it is untestable.
Exit status: 0 when every common cell is identical or consistent and no cell is in one file only
(--allow-untestable: untestable cells pass; --allow-missing: cells in one file only pass), 1 otherwise or when
the files have no cell in common, 2 on a usage error or an unreadable or malformed file.
"""
import argparse
import csv
import json
import math
import os
import sys
from statistics import NormalDist

import h5py
import numpy as np

from . import schema
from .reader import typed

VALUE_CLASSES = ("identical", "close", "consistent", "inconsistent", "derived", "untestable")
CELL_CLASSES = ("identical", "consistent", "untestable", "disagree")

# Which metric's standard error is which, round-off scales and derived statistics: the results layout's
# (schema.json, written by `vibench schema --json`).
is_derived = schema.is_derived
standard_error_name = schema.standard_error_name


class FileError(Exception):
    pass


def _read_cells(path):
    """{id: (attrs, {dataset: value})} of a results file."""
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as e:
        raise FileError(f"{path}: cannot open as a results file ({e})") from None
    with f:
        if schema.CELLS not in f:
            raise FileError(f"{path}: not a vibench results file (no /{schema.CELLS} group)")
        prov = {k: typed(v) for k, v in f.attrs.items()}
        cells = {}
        for cid, g in f[schema.CELLS].items():
            data = {}
            for name, ds in g.items():
                if not isinstance(ds, h5py.Dataset):
                    raise FileError(f"{path}: /{schema.CELLS}/{cid}/{name} is a group; a cell holds datasets only")
                value = ds[()]
                data[name] = [typed(x) for x in np.atleast_1d(value)] if ds.dtype.kind in "OS" else np.asarray(value)
            cells[cid] = ({k: typed(v) for k, v in g.attrs.items()}, data)
    return prov, cells


def _libm_builds(cells):
    """The C math libraries the cells were computed with: the `libm` lines of their code_sources (README
    "Determinism"; files from before that record none)."""
    builds = set()
    for attrs, _ in cells.values():
        for line in str(attrs.get(schema.CODE_SOURCES, "")).splitlines():
            if line.startswith("libm "):
                builds.add(line[len("libm "):])
    return sorted(builds)


def _same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


class Comparison:
    """The comparison of two results files; see the module docstring for the classes."""

    def __init__(self, path_a, path_b, alpha=0.01, rtol=1e-12):
        self.paths = (str(path_a), str(path_b))
        self.alpha, self.rtol = alpha, rtol
        (self.prov_a, cells_a), (self.prov_b, cells_b) = _read_cells(path_a), _read_cells(path_b)
        self.libm = (_libm_builds(cells_a), _libm_builds(cells_b))
        order = lambda ids, cells: sorted(ids, key=lambda i: (cells[i][0].get(schema.CELL_INDEX, 0), i))  # noqa: E731
        self.only_a = order(set(cells_a) - set(cells_b), cells_a)
        self.only_b = order(set(cells_b) - set(cells_a), cells_b)
        common = order(set(cells_a) & set(cells_b), cells_a)
        self.m = sum(self._tested_values(cells_a[c][1], cells_b[c][1]) for c in common)
        self.z_limit = NormalDist().inv_cdf(1 - alpha / (2 * self.m)) if self.m else math.inf
        self.cells = [self._compare_cell(c, cells_a[c], cells_b[c]) for c in common]

    @staticmethod
    def _tested_values(da, db):
        """How many values of a cell pair get a z-test: float values with a finite standard error in both files."""
        n = 0
        for name, a in da.items():
            pair = _standard_errors(da, db, name)
            if pair is not None:
                n += int(np.count_nonzero(np.isfinite(pair[0]) & np.isfinite(pair[1])))
        return n

    def _compare_cell(self, cid, cell_a, cell_b):
        (attrs_a, da), (attrs_b, db) = cell_a, cell_b
        problems, values = [], []
        if attrs_a.get(schema.STATUS) != attrs_b.get(schema.STATUS):
            problems.append(f"status {attrs_a.get(schema.STATUS)} vs {attrs_b.get(schema.STATUS)}")
        for name in sorted(set(da) | set(db)):
            if name not in da or name not in db:
                problems.append(f"metric {name} only in {'A' if name in da else 'B'}")
                continue
            a, b = da[name], db[name]
            if isinstance(a, list) != isinstance(b, list):
                problems.append(f"dataset {name}: text in {'A' if isinstance(a, list) else 'B'}, numbers in the other")
                continue
            if isinstance(a, list):
                if a != b:
                    problems.append(f"text dataset {name} differs")
                continue
            if a.shape != b.shape:
                problems.append(f"metric {name}: shape {a.shape} vs {b.shape}")
                continue
            if a.dtype != b.dtype:
                problems.append(f"metric {name}: type {a.dtype} vs {b.dtype}")
                continue
            if _same_bits(a, b):
                values.append((name, None, "identical", a.size))
                continue
            names = _element_names(da, name, a)
            if a.dtype.kind != "f":  # integers: exact, no standard error
                for i in np.flatnonzero(a.reshape(-1) != b.reshape(-1)):
                    detail = {"metric": name, "element": names[i] if names else None, "a": int(a.reshape(-1)[i]),
                              "b": int(b.reshape(-1)[i]), "class": "untestable"}
                    values.append((name, detail, "untestable", 1))
                values.append((name, None, "identical", int(np.count_nonzero(a == b))))
                continue
            ses = _standard_errors(da, db, name)
            fa, fb = a.reshape(-1).astype(float), b.reshape(-1).astype(float)
            for i in range(fa.size):
                x, y = float(fa[i]), float(fb[i])
                detail = {"metric": name, "element": names[i] if names else None, "a": x, "b": y}
                if x == y or (math.isnan(x) and math.isnan(y)):
                    cls = "identical" if fa[i:i + 1].tobytes() == fb[i:i + 1].tobytes() else "close"
                elif math.isfinite(x) and math.isfinite(y) and abs(x - y) <= self.rtol * max(
                        abs(x), abs(y), *(_roundoff_scale(d, name, i) for d in (da, db))):
                    cls = "close"
                elif is_derived(name):
                    cls = "derived"
                elif ses is not None and math.isfinite(ses[0][i]) and math.isfinite(ses[1][i]) \
                        and math.isfinite(x) and math.isfinite(y):
                    sa, sb = float(ses[0][i]), float(ses[1][i])
                    denom = math.hypot(sa, sb)
                    z = abs(x - y) / denom if denom > 0 else math.inf
                    detail.update(se_a=sa, se_b=sb, z=z)
                    cls = "consistent" if z <= self.z_limit else "inconsistent"
                elif ses is not None and math.isfinite(ses[0][i]) and math.isfinite(ses[1][i]):
                    # A finite and a non-finite value (or two different infinities): no z-score can be consistent.
                    detail.update(z=math.inf, note="finite vs non-finite")
                    cls = "inconsistent"
                else:
                    cls = "untestable"  # no standard error (or a non-finite one)
                detail["class"] = cls
                values.append((name, detail, cls, 1))
        counts = dict.fromkeys(VALUE_CLASSES, 0)
        for _, _, cls, n in values:
            counts[cls] += n
        if problems or counts["inconsistent"]:
            cls = "disagree"
        elif counts["untestable"]:
            cls = "untestable"
        elif counts["close"] or counts["consistent"] or counts["derived"]:
            cls = "consistent"
        else:
            cls = "identical"
        differing = [d for _, d, c, _ in values if d is not None and c != "identical"]
        return {"id": cid, "index": attrs_a.get(schema.CELL_INDEX), "class": cls, "problems": problems,
                "values": counts, "differences": differing}

    def summary(self):
        cells = dict.fromkeys(CELL_CLASSES, 0)
        values = dict.fromkeys(VALUE_CLASSES, 0)
        for c in self.cells:
            cells[c["class"]] += 1
            for k, n in c["values"].items():
                values[k] += n
        return {"a": self.paths[0], "b": self.paths[1], "common_cells": len(self.cells), "only_in_a": len(self.only_a),
                "only_in_b": len(self.only_b), "cells": cells, "values": values, "alpha": self.alpha,
                "z_limit": self.z_limit, "tested_values": self.m, "rtol": self.rtol,
                "libm_a": self.libm[0], "libm_b": self.libm[1], "libm_differs": self.libm_differs()}

    def libm_differs(self):
        """Both files record their C math library and the records differ: bits may differ by round-off."""
        return bool(self.libm[0] and self.libm[1] and self.libm[0] != self.libm[1])

    def exit_status(self, allow_untestable=False, allow_missing=False):
        s = self.summary()["cells"]
        bad = s["disagree"] + (0 if allow_untestable else s["untestable"])
        missing = 0 if allow_missing else len(self.only_a) + len(self.only_b)
        return 1 if bad or missing or not self.cells else 0


def _standard_errors(da, db, name):
    """(se_A, se_B) as flat float arrays when metric `name` is a float dataset with a standard-error dataset of its
    shape in both files; None otherwise (its values are then untestable unless identical or close)."""
    a, b = da.get(name), db.get(name)
    se = standard_error_name(name)
    if not all(isinstance(v, np.ndarray) and v.dtype.kind == "f" for v in (a, b, da.get(se), db.get(se))):
        return None
    if not a.shape == b.shape == da[se].shape == db[se].shape:
        return None
    return da[se].reshape(-1).astype(float), db[se].reshape(-1).astype(float)


def _roundoff_scale(data, metric, i):
    ref = schema.roundoff_scale(metric)
    if ref is None or ref[0] not in data or isinstance(data[ref[0]], list):
        return 0.0
    values = np.reshape(data[ref[0]], -1).astype(float)
    v = values[i] if values.size > i else values[0] if values.size == 1 else 0.0
    return abs(v) ** ref[1] if math.isfinite(v) else 0.0


def _element_names(data, name, value):
    if value.ndim == 0:
        return None
    names = data.get(schema.PARAM_NAMES)
    if value.ndim == 1 and isinstance(names, list) and len(names) == value.size:
        return names
    return [",".join(map(str, i)) for i in np.ndindex(value.shape)]


def _num(x):
    """A number in shortest round-trip form (plain Python float repr, whatever numpy's scalar repr is)."""
    return repr(float(x)) if isinstance(x, (float, np.floating)) else str(x)


def print_text(cmp, out, details):
    s = cmp.summary()
    pa, pb = cmp.prov_a, cmp.prov_b
    print(f"A: {s['a']}  ({pa.get('name')}, scale {pa.get('scale')}, seed {pa.get('seed')}, "
          f"commit {str(pa.get('git_commit'))[:10]}{' dirty' if pa.get('git_dirty') else ''})", file=out)
    print(f"B: {s['b']}  ({pb.get('name')}, scale {pb.get('scale')}, seed {pb.get('seed')}, "
          f"commit {str(pb.get('git_commit'))[:10]}{' dirty' if pb.get('git_dirty') else ''})", file=out)
    if pa.get("seed") != pb.get("seed"):
        print("note: the seeds differ; values are compared statistically", file=out)
    if cmp.libm_differs():
        print(f"note: the C math libraries differ (libm A: {', '.join(cmp.libm[0])}; B: {', '.join(cmp.libm[1])}): "
              "their exp, log, ... round differently in the last bit, so values differ by round-off and optimization "
              "or training trajectories drift (README \"Determinism\")", file=out)
    failing = [c for c in cmp.cells if c["class"] not in ("identical", "consistent")]
    # Worst first: disagreements (structural ones, then by largest z), then untestable cells.
    worst_z = lambda c: max((d.get("z", 0.0) for d in c["differences"]), default=0.0)  # noqa: E731
    failing.sort(key=lambda c: (c["class"] != "disagree", not c["problems"], -worst_z(c), c["index"] or 0))
    for c in failing[:details]:
        print(f"cell {c['id']} (index {c['index']}): {c['class']}", file=out)
        for p in c["problems"]:
            print(f"  {p}", file=out)
        bad = [d for d in c["differences"] if d["class"] in ("inconsistent", "untestable")]
        bad.sort(key=lambda d: -d.get("z", 0.0))
        for d in bad[:5]:
            z = f"  z = {d['z']:.3g}" if "z" in d else "  (no standard error)"
            el = f"[{d['element']}]" if d["element"] is not None else ""
            print(f"  {d['metric']}{el}: {_num(d['a'])} vs {_num(d['b'])}{z}", file=out)
        if len(bad) > 5:
            print(f"  ... {len(bad) - 5} more values", file=out)
    if len(failing) > details:
        print(f"... {len(failing) - details} more cells not shown (--details N)", file=out)
    for side, ids in (("A", cmp.only_a), ("B", cmp.only_b)):
        if ids:
            print(f"only in {side}: {', '.join(ids[:8])}{' ...' if len(ids) > 8 else ''}", file=out)
    v, k = s["values"], s["cells"]
    print(f"cells: {s['common_cells']} in both ({k['identical']} identical, {k['consistent']} consistent, "
          f"{k['untestable']} untestable, {k['disagree']} disagree), {s['only_in_a']} only in A, "
          f"{s['only_in_b']} only in B", file=out)
    print(f"values: {v['identical']} identical, {v['close']} within rtol {cmp.rtol:g}, {v['consistent']} consistent, "
          f"{v['inconsistent']} inconsistent, {v['derived']} derived statistics differ (not tested), "
          f"{v['untestable']} differ without a standard error; "
          f"z limit {cmp.z_limit:.3f} (alpha {cmp.alpha:g} Bonferroni over {cmp.m} values with standard errors)",
          file=out)


def rows(cmp):
    """One row per value that is not identical and per cell present in one file only (CSV / JSON)."""
    for c in cmp.cells:
        for p in c["problems"]:
            yield {"cell": c["id"], "index": c["index"], "class": "disagree", "metric": "", "element": "", "a": "",
                   "b": "", "abs_diff": "", "z": "", "se_a": "", "se_b": "", "note": p}
        for d in c["differences"]:
            z, cls = d.get("z"), d["class"]
            yield {"cell": c["id"], "index": c["index"], "class": cls, "metric": d["metric"],
                   "element": d["element"] if d["element"] is not None else "", "a": d["a"], "b": d["b"],
                   "abs_diff": abs(d["a"] - d["b"]), "z": "" if z is None else z, "se_a": d.get("se_a", ""),
                   "se_b": d.get("se_b", ""), "note": ""}
    for side, ids in (("A", cmp.only_a), ("B", cmp.only_b)):
        for cid in ids:
            yield {"cell": cid, "index": "", "class": f"only_in_{side.lower()}", "metric": "", "element": "", "a": "",
                   "b": "", "abs_diff": "", "z": "", "se_a": "", "se_b": "", "note": f"cell only in {side}"}


def _json_safe(x):
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    return x


def main(argv=None):
    # `vibench compare` runs this module and names itself, so usage and errors say what the user typed.
    ap = argparse.ArgumentParser(prog=os.environ.get("VIBENCH_COMPARE_PROG", "vibench-compare"), description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", help="results file A (.h5)")
    ap.add_argument("b", help="results file B (.h5)")
    ap.add_argument("--alpha", type=float, default=0.01, help="family-wise error rate of the z tests (default 0.01)")
    ap.add_argument("--rtol", type=float, default=1e-12, help="relative difference counted as round-off (default 1e-12)")
    ap.add_argument("--format", choices=("text", "csv", "json"), default="text",
                    help="text: a summary and the worst cells; csv: one row per differing value; json: summary + rows")
    ap.add_argument("--details", type=int, default=10, help="text: how many differing cells to show (default 10)")
    ap.add_argument("--allow-untestable", action="store_true",
                    help="exit 0 when the only differences are in values without a standard error")
    ap.add_argument("--allow-missing", action="store_true",
                    help="exit 0 although some cells are in one file only (e.g. a partial run)")
    args = ap.parse_args(argv)
    if not (0 < args.alpha < 1):
        ap.error(f"--alpha must be in (0, 1), got {args.alpha}")
    if args.rtol < 0:
        ap.error(f"--rtol must be >= 0, got {args.rtol}")
    try:
        cmp = Comparison(args.a, args.b, alpha=args.alpha, rtol=args.rtol)
    except (FileError, OSError) as e:
        print(f"{ap.prog}: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a malformed file must not look like a disagreement (exit 1) or end in a traceback
        print(f"{ap.prog}: error: cannot compare {args.a} and {args.b}: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    if args.format == "text":
        print_text(cmp, sys.stdout, args.details)
    elif args.format == "csv":
        fields = ["cell", "index", "class", "metric", "element", "a", "b", "abs_diff", "z", "se_a", "se_b", "note"]
        w = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows(cmp):
            w.writerow({k: _num(v) if isinstance(v, float) else v for k, v in r.items()})
    else:
        out = {"summary": cmp.summary(), "rows": [{k: _json_safe(v) for k, v in r.items()} for r in rows(cmp)]}
        out["summary"]["z_limit"] = _json_safe(out["summary"]["z_limit"])
        json.dump(out, sys.stdout, indent=1)
        print()
    if not cmp.cells:
        print(f"{ap.prog}: the files have no cell in common", file=sys.stderr)
    return cmp.exit_status(args.allow_untestable, args.allow_missing)


if __name__ == "__main__":
    sys.exit(main())
