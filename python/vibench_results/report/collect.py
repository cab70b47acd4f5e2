"""What the report shows, gathered from a results file and the figure outputs into plain dicts and lists.

Nothing here writes HTML: templates render what `experiment()` returns. Only results/ and the figure
directory are read (the figure scripts' PNG/PDF and <name>.checks.json), never the C++ build.
"""
import json
import math
import os
import re

import numpy as np

from ..figures import file_sha256
from ..reader import index_columns, index_frame, provenance, tidy_frame

STATUS_ORDER = ("ok", "diverged", "skipped")
# Provenance shown in this order; any other root attribute (a newer schema's) follows under its own name.
PROVENANCE_ORDER = ("git_commit", "git_dirty", "code_fingerprints", "compiler", "flags", "build_type", "host",
                    "threads", "seed", "scale", "started_utc", "finished_utc", "command_line", "config_path",
                    "vibench_version", "schema_version")
GROUP_LABELS = {"key": "grid order (hover a cell for its id)", "config": "config key", "status": "cell status",
                "metric": "metric"}
NOT_PROVENANCE = {"config_yaml", "description", "name", "study", "cells"}


def fmt_number(x):
    """(text, title) for one value: a short readable form and the full-precision one (shortest round trip)."""
    if x is None:
        return "", ""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x)).lower(), str(bool(x)).lower()
    if isinstance(x, (int, np.integer)):
        return str(int(x)), str(int(x))
    if isinstance(x, str):
        return x, x
    x = float(x)
    if math.isnan(x):
        return "NaN", "NaN"
    if math.isinf(x):
        return ("inf" if x > 0 else "-inf"), repr(x)
    full = repr(x)
    a = abs(x)
    if x == 0:
        return "0", full
    if x.is_integer() and a < 1e6:
        return str(int(x)), full
    if 1e4 <= a < 1e6:
        text = f"{x:.0f}"
    else:
        text = f"{x:.4g}"
    # 1.235e+06 -> 1.235e6, 5e-05 -> 5e-5
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2), text), full


def comment_block(config_yaml):
    """The leading comment block of an experiment's YAML as paragraphs, each a list of (text, is_code)
    segments (`backticks` mark code). A line starting a numbered or dashed item starts a new paragraph;
    other lines continue the current one (the YAML comments are hard-wrapped prose)."""
    paragraphs, current = [], []
    for line in (config_yaml or "").splitlines():
        if not line.startswith("#"):
            break
        text = line[1:].strip()
        if not text:
            if current:
                paragraphs.append(current)
            current = []
            continue
        if current and re.match(r"(\d+\.|[-*])\s", text):
            paragraphs.append(current)
            current = []
        current.append(text)
    if current:
        paragraphs.append(current)
    return [_code_segments(" ".join(p)) for p in paragraphs]


def _code_segments(text):
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: keep the text as it is
        return [(text, False)]
    return [(part, i % 2 == 1) for i, part in enumerate(parts) if part]


def read_checks(path, results_sha256):
    """The figure checks JSON at path as a dict for the templates, or a dict with state 'missing' or
    'unreadable'. state: 'current' (computed from this results file), 'out-of-date' (the JSON names another
    file's SHA-256, or none), 'missing', 'unreadable'."""
    if not os.path.exists(path):
        return {"state": "missing", "path": path, "checks": [], "passed": 0, "total": 0, "failed": 0}
    try:
        with open(path) as f:
            record = json.load(f)
        checks = record["checks"]
        rows = [{"text": str(c["text"]), "ok": bool(c["ok"]), "measured": _check_value(c.get("measured")),
                 "threshold": _check_value(c.get("threshold"))} for c in checks]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return {"state": "unreadable", "path": path, "error": f"{type(e).__name__}: {e}", "checks": [],
                "passed": 0, "total": 0, "failed": 0}
    passed = sum(r["ok"] for r in rows)
    sha = record.get("results_sha256")
    return {"state": "current" if sha == results_sha256 else "out-of-date", "path": path, "checks": rows,
            "passed": passed, "total": len(rows), "failed": len(rows) - passed, "results_sha256": sha,
            "results_file": record.get("results_file"), "scale": record.get("scale"),
            "git_commit": record.get("git_commit")}


def _check_value(v):
    """A check's measured number or threshold: numbers formatted (full precision in the title), strings such
    as "[0.4, inf)" shown as they are, null as empty."""
    text, title = fmt_number(v)
    return {"text": text, "title": title}


def _distinct(values):
    """Distinct values of a column, NaN counted once."""
    out = set()
    for v in values:
        out.add("NaN" if isinstance(v, float) and math.isnan(v) else v)
    return out


def columns(path, frame):
    """(config columns, metric columns, inferred) of a results file's /index (reader.index_columns: inferred
    from the first cell for a file written before /index named them)."""
    config, metrics, inferred = index_columns(path)
    return [c for c in config if c in frame.columns], [c for c in frame.columns if c in set(metrics)], inferred


def cell_table(frame, config, metrics):
    """The sortable table of cells: the config columns that vary, status (and reason, stale when any cell
    has one), the scalar metrics. Columns: name, parts (for line breaks at . and _), kind ('number' or
    'text'), group ('key', 'config', 'status', 'metric'). Rows: lists of {text, title, sort}."""
    varying = [c for c in config if len(_distinct(frame[c].tolist())) > 1]
    fixed = [(c, _config_text(frame[c].iloc[0])) for c in config if c not in varying] if len(frame) else []
    cols = [("index", "key")] + [(c, "config") for c in varying] + [("status", "status")]
    if "reason" in frame and any(frame["reason"].astype(str).str.len() > 0):
        cols.append(("reason", "status"))
    if "stale" in frame and frame["stale"].astype(bool).any():
        cols.append(("stale", "status"))
    cols += [(c, "metric") for c in metrics]
    header = []
    for name, group in cols:
        numeric = frame[name].dtype.kind in "iuf"
        shown = "#" if name == "index" else name
        header.append({"name": shown, "parts": re.split(r"(?<=[._])", shown),
                       "kind": "number" if numeric else "text", "group": group,
                       "label": f"{name}: {GROUP_LABELS[group]}"})
    rows = []
    for _, r in frame.iterrows():
        row = []
        for (name, group), h in zip(cols, header):
            v = r[name]
            if h["kind"] == "number":
                v = v.item() if hasattr(v, "item") else v
                if group == "config" and isinstance(v, float) and math.isnan(v):
                    # An absent key (the cell's component does not have it) is stored as NaN.
                    row.append({"text": "", "title": "not set for this cell", "sort": ""})
                    continue
                text, title = fmt_number(v)
                sort = _sort_value(v)
                row.append({"text": text, "title": title, "sort": sort})
            else:
                text = "" if v is None else str(v)
                row.append({"text": text, "title": f"cell {r['id']}" if name == "index" else text, "sort": text})
        rows.append(row)
    return {"columns": header, "rows": rows}, fixed


def _sort_value(v):
    """A number as the table script's parseFloat reads it back exactly ('' for NaN: sorted last)."""
    v = float(v)
    if math.isnan(v):
        return ""
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(v)


def _config_text(v):
    v = v.item() if hasattr(v, "item") else v
    if isinstance(v, float) and math.isnan(v):
        return "(not set)"
    return fmt_number(v)[0] if not isinstance(v, str) else v


def status_counts(frame):
    counts = frame["status"].value_counts().to_dict() if len(frame) else {}
    order = [s for s in STATUS_ORDER] + sorted(s for s in counts if s not in STATUS_ORDER)
    return [{"status": s, "n": int(counts.get(s, 0))} for s in order]


def fingerprints(frame):
    """Distinct code fingerprints with the number of cells each, or None when /index has none."""
    if "code_fingerprint" not in frame:
        return None
    counts = frame["code_fingerprint"].value_counts()
    return [{"fingerprint": fp, "cells": int(n)} for fp, n in sorted(counts.items())]


def provenance_rows(prov, prints):
    rows = []
    for key in PROVENANCE_ORDER:
        if key == "code_fingerprints":
            if prints is None:
                value = "not recorded (cells written before code fingerprints)"
            else:
                value = ", ".join(f"{p['fingerprint']} ({p['cells']} cell{'s' if p['cells'] != 1 else ''})"
                                  for p in prints)
            rows.append({"key": key, "value": value})
        elif key in prov:
            value = prov[key]
            if key == "git_dirty":
                value = "dirty (sources differed from the commit)" if value else "clean"
            rows.append({"key": key, "value": str(value)})
    for key in sorted(prov):
        if key not in PROVENANCE_ORDER and key not in NOT_PROVENANCE:
            rows.append({"key": key, "value": str(prov[key])})
    return rows


def experiment(path, figures_dir):
    """Everything the index row and the page of one results file show, plus the frames to write as CSV."""
    name = os.path.splitext(os.path.basename(path))[0]
    prov = provenance(path)
    frame = index_frame(path)
    config, metrics, inferred = columns(path, frame)
    table, fixed = cell_table(frame, config, metrics)
    prints = fingerprints(frame)
    sha = file_sha256(path)
    stale = int(frame["stale"].astype(bool).sum()) if "stale" in frame else 0
    png = os.path.join(figures_dir, name + ".png")
    pdf = os.path.join(figures_dir, name + ".pdf")
    checks = read_checks(os.path.join(figures_dir, name + ".checks.json"), sha)
    commit = str(prov.get("git_commit", ""))
    return {
        "name": name,
        "results_path": path,
        "results_file": os.path.basename(path),
        "results_sha256": sha,
        "results_bytes": os.path.getsize(path),
        "description": prov.get("description", ""),
        "comment": comment_block(prov.get("config_yaml", "")),
        "config_yaml": prov.get("config_yaml", ""),
        "config_path": prov.get("config_path", "(not recorded)"),
        "study": prov.get("study", ""),
        "scale": prov.get("scale", ""),
        "finished_utc": prov.get("finished_utc", ""),
        "git_commit": commit,
        "git_short": commit[:10],
        "git_dirty": bool(prov.get("git_dirty", 0)),
        "fingerprints": prints,
        "stale": stale,
        "n_cells": len(frame),
        "status_counts": status_counts(frame),
        "provenance": provenance_rows(prov, prints),
        "table": table,
        "fixed_config": fixed,
        "columns_inferred": inferred,
        "figure_png": png if os.path.exists(png) else None,
        "figure_pdf": pdf if os.path.exists(pdf) else None,
        "checks": checks,
        "cells_frame": frame,
        "tidy": lambda: tidy_frame(path),
    }


def results_groups(results_dir):
    """[(subdirectory or '', sorted .h5 paths)]: results/ itself first, then each subdirectory holding results
    (results/paper for paper-scale runs), hidden ones (.parts directories) skipped."""
    groups = []
    top = sorted(os.path.join(results_dir, f) for f in os.listdir(results_dir)
                 if f.endswith(".h5") and not f.startswith(".") and os.path.isfile(os.path.join(results_dir, f)))
    if top:
        groups.append(("", top))
    for sub in sorted(os.listdir(results_dir)):
        d = os.path.join(results_dir, sub)
        if sub.startswith(".") or not os.path.isdir(d):
            continue
        files = sorted(os.path.join(d, f) for f in os.listdir(d)
                       if f.endswith(".h5") and not f.startswith(".") and os.path.isfile(os.path.join(d, f)))
        if files:
            groups.append((sub, files))
    return groups

