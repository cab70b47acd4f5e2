"""Figure: CAVI on the Bayesian mixture of unit-variance Gaussians of Blei, Kucukelbir & McAuliffe 2017 (§2.1,
§3, Algorithm 2): the ELBO after every sweep of every random restart, and the best restart's cluster means
against the true ones (cavi_gmm study).

Reads results/mean_field_gmm.h5 only; writes plots/figures/mean_field_gmm.{png,pdf}; prints the plotted
numbers and checks them. Exit status 1 if a check fails.

Every CAVI update maximizes the ELBO exactly in its coordinate, so the ELBO cannot decrease from one sweep to
the next; it can stop at different local optima from different initialisations. Checks, per cell (data
dimension p × initialisation):
  1. the ELBO never decreases across sweeps of any restart: largest relative decrease ≤ 1e-12 (round-off of a
     sum of N·K terms), recomputed here from the stored traces;
  2. every restart converged (relative ELBO change ≤ the cell's tolerance) before the sweep budget;
  3. the best restart's means, matched to the true means by the permutation minimizing the total squared
     distance, lie within z* posterior standard deviations s_k of them in every coordinate, z* the two-sided
     Bonferroni 99% quantile over the K·p coordinates: under the model the true means given the data are
     distributed around the posterior means with those standard deviations when the clusters are separated.
Reported, not asserted: how many distinct optima (final ELBOs differing by more than 1e-6 relative) the restarts
reach and how many reach the best one.
"""
import argparse
import itertools
import os
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vibench_results import Checks, load, save_figure  # noqa: E402

INIT_COLORS = {"data": "tab:blue", "prior": "tab:orange"}


def match(true, found):
    """Permutation p minimizing Σ_k ‖found[p[k]] − true[k]‖² (K! candidates: K is small)."""
    k = len(true)
    best, best_cost = None, np.inf
    for perm in itertools.permutations(range(k)):
        cost = float(np.sum((found[list(perm)] - true) ** 2))
        if cost < best_cost:
            best, best_cost = list(perm), cost
    return best


def distinct(values, rel=1e-6):
    """Groups of final ELBOs equal within rel (sorted, descending): the distinct optima reached."""
    groups = []
    for v in sorted(values, reverse=True):
        if groups and abs(v - groups[-1][0]) <= rel * abs(v):
            groups[-1].append(v)
        else:
            groups.append([v])
    return groups


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
    args = ap.parse_args()
    path = os.path.join(args.results, "mean_field_gmm.h5")
    run = load(path)
    check = Checks("mean_field_gmm", args.out, results=path)

    cells = {}
    for cell in run.cells:
        if cell.attrs["status"] == "ok":
            cells[(int(cell.attrs["dim"]), cell.attrs["init"])] = cell
    dims = sorted({d for d, _ in cells})
    print(f"mean_field_gmm (scale: {run.attrs.get('scale')})")
    print(f"{'p':>2} {'init':<6} {'restarts':>8} {'best ELBO':>12} {'optima':>7} {'at best':>8} {'sweeps (max)':>12} "
          f"{'max |z|':>8}")
    matched = {}
    for (dim, init), c in sorted(cells.items()):
        k = int(c.attrs["clusters"])
        tr = np.asarray(c["elbo_trace"])
        with np.errstate(invalid="ignore"):
            drops = (tr[:, :-1] - tr[:, 1:]) / np.abs(tr[:, 1:])
        worst = float(np.nanmax(drops))
        check(worst <= 1e-12, f"p = {dim}, init {init}: the ELBO never decreases across sweeps, over "
              f"{tr.shape[0]} restarts (largest relative decrease {worst:.2g}; round-off allowance 1e-12)",
              measured=worst, threshold="<= 1e-12")
        sweeps = np.asarray(c["sweeps_run"])
        budget = int(c.attrs["sweeps"])
        check(bool(np.all(sweeps < budget)), f"p = {dim}, init {init}: every restart converged (relative ELBO "
              f"change ≤ {c.attrs['tolerance']:g}) within the {budget}-sweep budget (most sweeps: {int(sweeps.max())})",
              measured=int(sweeps.max()), threshold=f"< {budget}")
        true = np.asarray(c["true_means"]).reshape(k, dim)
        found = np.asarray(c["best_means"]).reshape(k, dim)
        s2 = np.asarray(c["best_s2"])
        perm = match(true, found)
        z = (found[perm] - true) / np.sqrt(s2[perm])[:, None]
        zstar = NormalDist().inv_cdf(1 - 0.01 / (2 * k * dim))
        check(float(np.max(np.abs(z))) < zstar,
              f"p = {dim}, init {init}: the best restart's means recover the true means within {zstar:.2f} posterior "
              f"sd s_k in every coordinate (Bonferroni 99% over {k * dim}; max |z| {np.max(np.abs(z)):.2f}; "
              f"s_k {np.sqrt(s2).min():.3f}–{np.sqrt(s2).max():.3f})", measured=float(np.max(np.abs(z))), threshold=zstar)
        groups = distinct(np.asarray(c["final_elbo"]))
        matched[(dim, init)] = (perm, groups)
        print(f"{dim:>2} {init:<6} {tr.shape[0]:>8} {c['best_elbo']:>12.6g} {len(groups):>7} {len(groups[0]):>8} "
              f"{int(sweeps.max()):>12} {np.max(np.abs(z)):>8.2f}")
        print(f"   distinct final ELBOs (count): " + ", ".join(f"{g[0]:.6g} ({len(g)})" for g in groups))

    fig, axes = plt.subplots(len(dims), 2, figsize=(12, 4.3 * len(dims)), constrained_layout=True, squeeze=False)
    for row, dim in enumerate(dims):
        ax = axes[row, 0]
        best_overall = max(cells[(dim, i)]["best_elbo"] for i in INIT_COLORS if (dim, i) in cells)
        for init, color in INIT_COLORS.items():
            c = cells.get((dim, init))
            if c is None:
                continue
            tr = np.asarray(c["elbo_trace"])
            for r in range(tr.shape[0]):
                ok = np.isfinite(tr[r])
                ax.plot(np.arange(tr.shape[1])[ok] + 1, np.maximum(best_overall - tr[r][ok], 1e-9), color=color, lw=0.7,
                        alpha=0.6, label=None if r else f"init {init}: {tr.shape[0]} restarts, "
                        f"{len(matched[(dim, init)][1])} distinct optima, {len(matched[(dim, init)][1][0])} at the best")
        ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_xlabel("sweep + 1 (a sweep updates every φ_i, then every (m_k, s_k²); sweep 0 = initialisation)")
        ax.set_ylabel("best final ELBO − ELBO (nats)")
        ax.set_title(f"p = {dim}: ELBO after every sweep (gaps below 1e-9 drawn at 1e-9)", fontsize=10)
        ax.legend(fontsize=7, loc="lower left")
        ax.grid(alpha=0.3, which="both")
        ax = axes[row, 1]
        c = cells.get((dim, "data")) or next(cells[(d, i)] for d, i in cells if d == dim)
        k = int(c.attrs["clusters"])
        x = np.asarray(c["data_x"]).reshape(-1, dim)
        true = np.asarray(c["true_means"]).reshape(k, dim)
        found = np.asarray(c["best_means"]).reshape(k, dim)
        s = np.sqrt(np.asarray(c["best_s2"]))
        if dim == 1:
            ax.hist(x[:, 0], bins=80, color="lightgray", edgecolor="gray")
            for j in range(k):
                ax.axvline(true[j, 0], color="black", lw=1.5, label="true means" if j == 0 else None)
                ax.errorbar(found[j, 0], ax.get_ylim()[1] * 0.5, xerr=3 * s[j], fmt="x", color="tab:red", ms=8,
                            capsize=3, label="CAVI best restart: m_k ± 3 s_k" if j == 0 else None)
            ax.set_xlabel("x")
            ax.set_ylabel("count")
        else:
            ax.scatter(x[:, 0], x[:, 1], c=np.asarray(c["best_assignment"]), cmap="tab10", s=4, alpha=0.5,
                       vmin=0, vmax=9)
            ax.plot(true[:, 0], true[:, 1], "k+", ms=14, mew=2, label="true means")
            ax.plot(found[:, 0], found[:, 1], "x", color="tab:red", ms=9, mew=2,
                    label=f"CAVI best restart m_k (s_k ≈ {s.mean():.2f}); colours: argmax φ_i")
            ax.set_aspect("equal")
            ax.set_xlabel("$x_1$")
            ax.set_ylabel("$x_2$")
        ax.set_title(f"p = {dim}: N = {x.shape[0]}, K = {k}, σ² = {c.attrs['prior_var']:g} (data seed "
                     f"{c.attrs['data_seed']})", fontsize=10)
        ax.legend(fontsize=7, loc="upper right")
        ax.grid(alpha=0.3)
    fig.suptitle(f"CAVI for the Bayesian mixture of Gaussians (Blei, Kucukelbir & McAuliffe 2017) — "
                 f"scale: {run.attrs.get('scale')}", fontsize=10)
    save_figure(fig, args.out, "mean_field_gmm")
    check.finish()


if __name__ == "__main__":
    main()
