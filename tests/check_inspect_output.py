"""Checks that `vibench inspect --format csv|json` (cell table, and --cell) gives back every value stored in a
results file exactly and typed, comparing against h5py's reading of the file bit for bit.

usage: check_inspect_output.py FILE.h5 TABLE.json TABLE.csv CELL_ID CELL.json CELL.csv
Prints one line per mismatch and "checked N values" on success; exits 1 on any mismatch.
"""
import csv
import json
import math
import struct
import sys

import h5py
import numpy as np

MAX_TABLE_ARRAY = 1024  # datasets up to this many elements (1-D) are columns of the cell table
errors = []
checked = 0


def bits(x):
    return struct.pack("<d", x)


def same_double(stored, got):
    if math.isnan(stored):
        return got is None or (isinstance(got, float) and math.isnan(got))
    return isinstance(got, float) and bits(got) == bits(float(stored))


def stored_values(obj):
    """Flat list of (kind, value) of an h5py attribute value or dataset: kind 'int', 'float' or 'str'."""
    arr = np.asarray(obj)
    if arr.dtype.kind in "OSU":
        return [("str", v.decode() if isinstance(v, bytes) else str(v)) for v in arr.reshape(-1)]
    if arr.dtype.kind in "iu":
        return [("int", int(v)) for v in arr.reshape(-1)]
    return [("float", float(v)) for v in arr.reshape(-1)]


def compare_json(where, stored, got):
    """stored: h5py value (attribute value or dataset[()]); got: the parsed JSON value."""
    global checked
    shape = np.shape(stored)
    flat = []

    def flatten(v, depth):
        if depth == len(shape):
            flat.append(v)
        elif not isinstance(v, list) or len(v) != shape[depth]:
            errors.append(f"{where}: JSON shape differs from the stored shape {shape}")
        else:
            for x in v:
                flatten(x, depth + 1)

    flatten(got, 0)
    values = stored_values(stored)
    if len(flat) != len(values):
        return
    for (kind, s), g in zip(values, flat):
        checked += 1
        ok = (kind == "int" and type(g) is int and g == s) or (kind == "str" and g == s) or \
             (kind == "float" and same_double(s, g))
        if not ok:
            errors.append(f"{where}: stored {kind} {s!r}, JSON has {g!r}")


def compare_text(where, kind, s, text):
    """One CSV field against one stored value."""
    global checked
    checked += 1
    if kind == "str":
        ok = text == s
    elif kind == "int":
        ok = text.lstrip("-").isdigit() and int(text) == s
    else:  # a float must read back as a float, never as an int
        ok = any(c in text for c in ".en") and same_double(s, float(text))
    if not ok:
        errors.append(f"{where}: stored {kind} {s!r}, CSV has {text!r}")


def element_names(name, shape):
    if not shape:
        return [name]
    return [f"{name}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape)]


def table_fields(group):
    """What the cell table must show of a cell: name -> stored value."""
    out = {k: v for k, v in group.attrs.items() if k not in ("config_canonical", "code_sources")}
    for name, ds in group.items():
        if ds.ndim == 0 or (ds.ndim == 1 and ds.shape[0] <= MAX_TABLE_ARRAY):
            out[name] = ds[()]
    return out


def main(h5_path, table_json, table_csv, cell_id, cell_json, cell_csv):
    with h5py.File(h5_path, "r") as f:
        cells = f["cells"]
        # JSON cell table, and the provenance.
        doc = json.load(open(table_json))
        for k, v in f.attrs.items():
            if k not in doc["provenance"]:
                errors.append(f"provenance {k} missing from JSON")
            else:
                compare_json(f"provenance {k}", v, doc["provenance"][k])
        order = sorted(cells, key=lambda i: int(cells[i].attrs["cell_index"]))
        if [row["id"] for row in doc["cells"]] != order:
            errors.append("JSON cells are not every cell in grid order")
        for row in doc["cells"]:
            fields = table_fields(cells[row["id"]])
            if set(row) != set(fields) | {"id"}:
                errors.append(f"JSON cell {row['id']}: keys differ: {sorted(set(row) ^ (set(fields) | {'id'}))}")
            for name, value in fields.items():
                if name in row:
                    compare_json(f"JSON cell {row['id']} {name}", value, row[name])
        # CSV cell table.
        rows = list(csv.DictReader(open(table_csv, newline="")))
        if [r["id"] for r in rows] != order:
            errors.append("CSV rows are not every cell in grid order")
        for r in rows:
            for name, value in table_fields(cells[r["id"]]).items():
                shape = np.shape(value)
                for col, (kind, s) in zip(element_names(name, shape), stored_values(value)):
                    if col not in r:
                        errors.append(f"CSV has no column {col}")
                    else:
                        compare_text(f"CSV cell {r['id']} {col}", kind, s, r[col])
        # One cell, every attribute and dataset in full.
        g = cells[cell_id]
        doc = json.load(open(cell_json))
        if doc["id"] != cell_id or set(doc["attributes"]) != set(g.attrs) or set(doc["datasets"]) != set(g):
            errors.append("--cell JSON: id, attribute or dataset names differ from the file")
        for k, v in g.attrs.items():
            compare_json(f"--cell JSON attribute {k}", v, doc["attributes"].get(k))
        for k, ds in g.items():
            compare_json(f"--cell JSON dataset {k}", ds[()], doc["datasets"].get(k))
        expected = []
        for kind, items in (("attribute", [(k, v) for k, v in g.attrs.items()]),
                            ("dataset", [(k, ds[()]) for k, ds in g.items()])):
            for name, value in items:
                for col, kv in zip(element_names(name, np.shape(value)), stored_values(value)):
                    expected.append((kind, col, kv))
        got = list(csv.reader(open(cell_csv, newline="")))
        if got[0] != ["kind", "name", "value"] or len(got) - 1 != len(expected):
            errors.append(f"--cell CSV: header or row count differs ({len(got) - 1} rows, {len(expected)} values)")
        found = {(r[0], r[1]): r[2] for r in got[1:]}
        for kind, col, (vkind, s) in expected:
            if (kind, col) not in found:
                errors.append(f"--cell CSV: no row {kind} {col}")
            else:
                compare_text(f"--cell CSV {kind} {col}", vkind, s, found[(kind, col)])
    for e in errors[:50]:
        print(e)
    print(f"checked {checked} values, {len(errors)} mismatches")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
