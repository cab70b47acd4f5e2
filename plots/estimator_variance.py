"""Figure: variance of single-sample score-function and pathwise gradients of E_{N(mu,sigma^2)}[(z-k)^2]
at mu = sigma = 1 as k varies (Mohamed, Rosca, Figurnov, Mnih 2020, JMLR, Fig. 2 setting).

Reads results/estimator_variance.h5 only; writes plots/figures/estimator_variance.{png,pdf}; prints the
plotted numbers and checks them against the closed forms. Exit status 1 if a check fails.

Closed forms, a = mu - k, using E eps^2 = 1, E eps^4 = 3, E eps^6 = 15, E eps^8 = 105:
  score function  Var d/dmu = a^4 + 14 a^2 + 15     Var d/dsigma = 2 a^4 + 60 a^2 + 74
  pathwise        Var d/dmu = 4                     Var d/dsigma = 4 a^2 + 8
"""
import argparse
import os
import sys
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vibench_results import load  # noqa: E402

MU = 1.0


def closed_form(estimator, param, k):
    a2 = (MU - np.asarray(k, dtype=float)) ** 2
    if estimator == "score_function":
        return a2**2 + 14 * a2 + 15 if param == "mean" else 2 * a2**2 + 60 * a2 + 74
    return 4 + 0 * a2 if param == "mean" else 4 * a2 + 8


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
    args = ap.parse_args()
    run = load(os.path.join(args.results, "estimator_variance.h5"))
    z99 = NormalDist().inv_cdf(0.995)

    rows = {}  # (estimator, param) -> list of (k, var, se)
    for cell in run.cells:
        if cell.attrs["status"] != "ok":
            continue
        est, k = cell.attrs["estimator.name"], float(cell.attrs["target.k"])
        for param, name in (("mean", "mean[0]"), ("sigma", "sigma[0]")):
            rows.setdefault((est, param), []).append((k, cell.param("grad_var", name), cell.param("grad_var_se", name)))

    # Checks of the issue (Mohamed et al. 2020 Fig. 2 values), each inside the run's 99% CI, and every
    # plotted point against the closed form at a Bonferroni-corrected 99% level.
    reference = [("score_function", "mean", 1.0, 15), ("reparam", "mean", 1.0, 4), ("score_function", "sigma", 1.0, 74),
                 ("reparam", "sigma", 1.0, 8), ("score_function", "mean", -3.0, 495), ("reparam", "mean", -3.0, 4)]
    failures = 0
    print(f"estimator_variance (scale: {run.attrs.get('scale')}, replicates per cell: {run.cells[0].attrs['replicates']})")
    print(f"{'estimator':<15} {'param':<6} {'k':>6} {'measured var':>13} {'99% CI half':>12} {'published':>10}  check")
    for est, param, k, value in reference:
        match = [r for r in rows.get((est, param), []) if abs(r[0] - k) < 1e-12]
        if not match:
            print(f"{est:<15} {param:<6} {k:>6} missing from results")
            failures += 1
            continue
        _, var, se = match[0]
        ok = abs(var - value) <= z99 * se
        failures += not ok
        print(f"{est:<15} {param:<6} {k:>6.2f} {var:>13.4f} {z99 * se:>12.4f} {value:>10}  {'ok' if ok else 'FAIL'}")
    n_points = sum(len(v) for v in rows.values())
    z_all = NormalDist().inv_cdf(1 - 0.01 / (2 * n_points))
    worst = 0.0
    for (est, param), pts in rows.items():
        for k, var, se in pts:
            dev = abs(var - closed_form(est, param, k)) / se
            worst = max(worst, dev)
            if dev > z_all:
                print(f"FAIL: {est} {param} k={k}: var {var:.4f} vs closed form {closed_form(est, param, k):.4f} ({dev:.2f} SE)")
                failures += 1
    print(f"all {n_points} points vs closed form: largest deviation {worst:.2f} SE (limit {z_all:.2f}, Bonferroni 99%)")

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    kk = np.linspace(-3, 3, 301)
    style = {"score_function": ("tab:red", "score function"), "reparam": ("tab:blue", "pathwise")}
    for ax, param, label in ((axes[0], "mean", r"$\partial/\partial\mu$"), (axes[1], "sigma", r"$\partial/\partial\sigma$")):
        for est, (color, name) in style.items():
            pts = sorted(rows.get((est, param), []))
            if not pts:
                continue
            k, var, se = map(np.array, zip(*pts))
            ax.plot(kk, closed_form(est, param, kk), color=color, lw=1.2, alpha=0.7, label=f"{name} (closed form)")
            ax.errorbar(k, var, yerr=z99 * se, fmt="o", ms=3.5, color=color, capsize=2, label=f"{name} (measured, 99% CI)")
        ax.set_yscale("log")
        ax.set_xlabel("k")
        ax.set_ylabel("variance of single-sample estimate")
        ax.set_title(f"{label} of $E[(z-k)^2]$, $\\mu=\\sigma=1$")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Gradient variance vs k (Mohamed et al. 2020, Fig. 2 setting) — scale: {run.attrs.get('scale')}, "
                 f"{run.cells[0].attrs['replicates']} replicates/cell", fontsize=10)
    os.makedirs(args.out, exist_ok=True)
    for ext in ("png", "pdf"):
        fig.savefig(os.path.join(args.out, f"estimator_variance.{ext}"), dpi=130)
    print(f"wrote {os.path.join(args.out, 'estimator_variance.png')} and .pdf")
    if failures:
        print(f"{failures} check(s) FAILED")
        sys.exit(1)


if __name__ == "__main__":
    main()
