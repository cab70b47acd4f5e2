"""Figure: the IWAE gap log p(x) - IWAE-K against K on linear-Gaussian models (bound_tightness study).

Reads results/iwae_gap.h5 only; writes plots/figures/iwae_gap.{png,pdf}; prints the plotted numbers and
checks them. Exit status 1 if a check fails. All checks together at a Bonferroni-corrected 99% level.

Theory (Maddison et al. 2017, Prop. 1; Domke & Sheldon 2018, Thm. 3): when E_q[w^2] < inf,
  log p(x) - IWAE-K = Var_q[w] / (2K E_q[w]^2) + o(1/K),
with Var_q[w]/E_q[w]^2 = E_q[w^2]/p(x)^2 - 1 in closed form for Gaussian q and a linear-Gaussian model
(stored per cell as asymptotic_limit_gap). When E_q[w^2] = inf the 1/K law does not hold.

Checks:
  1. K = 1: the measured gap equals the closed-form log p(x) - ELBO (= KL(q || p(z|x))).
  2. The gap never increases with K (one-sided, per step), and is never negative.
  3. Finite E_q[w^2]: the weighted least-squares slope of log gap on log K over K >= 64 contains -1
     in its confidence interval. Infinite E_q[w^2]: that slope is significantly shallower than -1.
     (K >= 64: the law is asymptotic; below, the o(1/K) terms bend the curve — at quick scale K*gap/asym
     is 0.67 at K = 1, 0.9-1.05 from K = 8 for data seed 2.)
"""
import argparse
import math
import os
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vibench_results import Checks, load, save_figure  # noqa: E402

SLOPE_FROM_K = 64  # the 1/K law is asymptotic: at K = 16-32 the o(1/K) terms still bend the curve


def fit_slope(k, gap, se):
    """Weighted least squares of log gap on log K; the SE of log gap is se/gap (delta method)."""
    x, y, s = np.log(k), np.log(gap), se / gap
    w = 1 / s**2
    xm = np.sum(w * x) / np.sum(w)
    slope = np.sum(w * (x - xm) * (y - np.sum(w * y) / np.sum(w))) / np.sum(w * (x - xm) ** 2)
    return slope, np.sqrt(1 / np.sum(w * (x - xm) ** 2))


def in_se(deviation, se):
    """A deviation in standard errors (0 or +-inf when the SE is 0)."""
    return deviation / se if se > 0 else (0.0 if deviation == 0 else math.copysign(math.inf, deviation))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
    args = ap.parse_args()
    path = os.path.join(args.results, "iwae_gap.h5")
    run = load(path)
    check = Checks("iwae_gap", args.out, results=path)

    series = {}  # data_seed -> rows (K, gap, se, asymptotic or nan, exact KL)
    for cell in run.cells:
        if cell.attrs["status"] != "ok":
            continue
        asym = float(cell["asymptotic_limit_gap"]) if "asymptotic_limit_gap" in cell.data else float("nan")
        kl = float(cell["exact_log_evidence"] - cell["exact_bound"]) if "exact_bound" in cell.data else float("nan")
        series.setdefault(int(cell.attrs["target.data_seed"]), []).append(
            (int(cell.attrs["objective.k"]), float(cell["evidence_gap"]), float(cell["bound_se"]), asym, kl))

    n_checks = sum(2 * len(rows) for rows in series.values()) + len(series)
    z = NormalDist().inv_cdf(1 - 0.01 / (2 * n_checks))
    print(f"iwae_gap (scale: {run.attrs.get('scale')}); checks at z = {z:.2f} (Bonferroni 99% over {n_checks})")
    fig, ax = plt.subplots(figsize=(6.5, 4.5), constrained_layout=True)
    colors = ["tab:blue", "tab:red", "tab:green", "tab:purple"]
    for (seed, rows), color in zip(sorted(series.items()), colors):
        rows.sort()
        k, gap, se, asym, kl = map(np.array, zip(*rows))
        finite = bool(np.all(np.isfinite(asym)))
        print(f"data_seed {seed}: E_q[w^2] {'finite' if finite else 'infinite'}")
        print(f"  {'K':>5} {'gap':>10} {'z*SE':>9} {'asymptote':>10} {'gap/asym':>8}")
        for i in range(len(k)):
            ratio = gap[i] / asym[i] if finite else float("nan")
            print(f"  {k[i]:>5} {gap[i]:>10.6f} {z * se[i]:>9.6f} {asym[i]:>10.6f} {ratio:>8.3f}")
            if i == 0:
                print(f"  K=1 gap vs closed-form log p(x) - ELBO = {kl[0]:.6f}: {(gap[0] - kl[0]) / se[0]:+.2f} SE")
        sel = k >= SLOPE_FROM_K
        slope, slope_se = fit_slope(k[sel], gap[sel], se[sel])
        print(f"  slope of log gap on log K (K >= {SLOPE_FROM_K}): {slope:.3f} +/- {z * slope_se:.3f}")
        # The checks, after the seed's table so that their lines do not break it up.
        for i in range(len(k)):
            check(gap[i] >= -z * se[i], f"seed {seed}, K = {k[i]}: gap log p(x) - IWAE-K {gap[i]:.6f} is not "
                  "significantly negative (IWAE-K <= log p(x)); measured: gap / SE", measured=in_se(gap[i], se[i]),
                  threshold=f">= {-z:.4g}")
            if i == 0:
                check(k[0] == 1 and abs(gap[0] - kl[0]) <= z * se[0],
                      f"seed {seed}, smallest K = {k[0]} (must be 1): gap {gap[0]:.6f} equals the closed-form "
                      f"log p(x) - ELBO = KL(q || p(z|x)) = {kl[0]:.6f}; measured: |gap - KL| / SE",
                      measured=in_se(abs(gap[0] - kl[0]), se[0]), threshold=z)
            else:
                step_se = np.hypot(se[i], se[i - 1])
                check(gap[i] - gap[i - 1] <= z * step_se,
                      f"seed {seed}: gap does not grow significantly from K = {k[i - 1]} to K = {k[i]} (IWAE-K "
                      "increases with K, Burda et al. 2016); measured: the gap's increase / its SE",
                      measured=in_se(gap[i] - gap[i - 1], step_se), threshold=z)
        if finite:
            check(abs(slope + 1) <= z * slope_se,
                  f"seed {seed}, E_q[w^2] finite: slope of log gap on log K over K >= {SLOPE_FROM_K} is -1 within its "
                  "Bonferroni 99% CI (1/K law, Maddison et al. 2017 Prop. 1); measured: the slope",
                  measured=slope, threshold=f"[{-1 - z * slope_se:.4g}, {-1 + z * slope_se:.4g}]")
        else:
            check(slope + 1 > z * slope_se,
                  f"seed {seed}, E_q[w^2] infinite: slope of log gap on log K over K >= {SLOPE_FROM_K} is significantly "
                  "shallower than -1 (the 1/K law needs E_q[w^2] < inf); measured: the slope",
                  measured=slope, threshold=f"> {-1 + z * slope_se:.4g}")
        moment = "finite" if finite else r"$=\infty$"
        label = f"data_seed {seed}: $E_q[w^2]$ {moment}, slope {slope:.2f}"
        ax.errorbar(k, gap, yerr=z * se, fmt="o-", ms=4, lw=1, color=color, capsize=2, label=label)
        if finite:
            kk = np.geomspace(k.min(), k.max(), 100)
            ax.plot(kk, asym[0] * k[0] / kk, "--", color=color, lw=1,
                    label=r"$\mathrm{Var}_q[w]/(2K\,E_q[w]^2)$ (closed form)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("K (importance samples)")
    ax.set_ylabel(r"$\log p(x) - \mathrm{IWAE}_K$")
    ax.set_title(f"IWAE gap on linear-Gaussian (D = 4), mean-field ELBO optimum — scale: {run.attrs.get('scale')}",
                 fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    save_figure(fig, args.out, "iwae_gap")
    check.finish()


if __name__ == "__main__":
    main()
