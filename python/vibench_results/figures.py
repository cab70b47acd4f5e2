"""What every figure script shares: saving a figure reproducibly and recording its checks.

A figure script checks the numbers it plots against closed forms or published values:

    check = Checks("estimator_variance", args.out, results=path)
    check(abs(var - 15) <= z * se, "SF var at k = 1 inside the 99% CI", measured=var, threshold=...)
    check.finish()    # writes <out>/estimator_variance.checks.json; exit status 1 if any check failed

The JSON record (figure, results file and its SHA-256, scale, every check with ok/measured/threshold, the number
of failures) is what `make report` shows next to the figure; it holds no time stamp, so re-rendering unchanged
results gives the same bytes.
"""
import hashlib
import json
import math
import os
import sys


def save_figure(fig, out_dir, name):
    """Write <out_dir>/<name>.png and .pdf."""
    os.makedirs(out_dir, exist_ok=True)
    for ext in ("png", "pdf"):
        # No creation date in the PDF: re-rendering unchanged results gives the same bytes.
        fig.savefig(os.path.join(out_dir, f"{name}.{ext}"), dpi=130,
                    metadata={"CreationDate": None} if ext == "pdf" else None)
    print(f"wrote {os.path.join(out_dir, name + '.png')} and .pdf")


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _number(x):
    """A JSON-safe number (or None / a string for what JSON cannot hold)."""
    if x is None:
        return None
    if isinstance(x, bool):
        return x
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    return x if math.isfinite(x) else repr(x)


class Checks:
    """A figure script's checks. `check(ok, text, measured=..., threshold=...)` prints "ok   text" or
    "FAIL text", records the check and returns ok; `finish()` writes <out_dir>/<figure>.checks.json and exits
    with status 1 if any check failed. measured and threshold are the number the check tests and the limit it
    is held to (e.g. a deviation in standard errors and the z limit); threshold may be a string such as
    "[0.4, inf)" or "< 1e-10" when one number does not say it."""

    def __init__(self, figure=None, out_dir=None, results=None):
        self.figure, self.out_dir, self.results = figure, out_dir, results
        self.records = []

    @property
    def failures(self):
        return sum(not r["ok"] for r in self.records)

    def __call__(self, ok, text, measured=None, threshold=None):
        ok = bool(ok)
        self.records.append({"text": text, "ok": ok, "measured": _number(measured),
                             "threshold": threshold if isinstance(threshold, str) else _number(threshold)})
        print(("ok   " if ok else "FAIL ") + text)
        return ok

    def summary(self):
        record = {"figure": self.figure, "checks": self.records, "failures": self.failures}
        if self.results:
            from .reader import provenance

            prov = provenance(self.results)
            record.update(results_file=os.path.basename(self.results), results_sha256=file_sha256(self.results),
                          scale=prov.get("scale"), git_commit=prov.get("git_commit"))
        return record

    def write(self):
        if self.figure and self.out_dir:
            os.makedirs(self.out_dir, exist_ok=True)
            path = os.path.join(self.out_dir, f"{self.figure}.checks.json")
            with open(path, "w") as f:
                json.dump(self.summary(), f, indent=1, sort_keys=True)
                f.write("\n")

    def finish(self):
        self.write()
        exit_with(self.failures)


def exit_with(failures):
    """End a figure script: exit status 1 when any check failed."""
    if failures:
        print(f"{failures} check(s) FAILED")
        sys.exit(1)
