"""Figure: gradient variance of reparam_antithetic against reparam at equal cost (gradient_stats study), six
reparameterizable families on three targets, S = 2 and 8 draws per estimate.

Reads results/antithetic_variance.h5 only; writes plots/figures/antithetic_variance.{png,pdf}; prints the
plotted numbers and checks them. Exit status 1 if a check fails.

Antithetic sampling (Owen 2013, Monte Carlo theory, methods and examples, §8.2): averaging h(ε) and h(a(ε)),
a(ε) with the law of ε, keeps the mean and removes the part of h that is odd in ε: a linear h is integrated
exactly by every pair. For a Gaussian q on a Gaussian target (linear_gaussian) the ELBO's pathwise gradient
with respect to the mean is linear in ε, so its antithetic variance is round-off. Checks:
  1. equal cost: every antithetic cell evaluates log p(x, z) as often per estimate as its reparam partner;
  2. unbiasedness: every antithetic cell's largest |bias z| is below the two-sided normal critical value at
     familywise level 0.001 (Bonferroni over all coordinates of all antithetic cells);
  3. linear_gaussian, Gaussian families: the antithetic variance of each mean coordinate is below 1e-20 times
     reparam's (the pairs cancel the whole noise: Owen 2013 §8.2, linear integrands);
  4. the price is bounded: writing h = h_odd + h_even (odd and even in ε, for a(ε) = −ε), a pair's average
     keeps only h_even, so the antithetic variance at equal cost is 2 Var(h_even)/S against
     (Var(h_odd) + Var(h_even))/S: the ratio lies in [0, 2] (Owen 2013 §8.2). Every cell's total-variance
     ratio is below 2 + 3 standard errors. (Where the scale gradient — even in ε — dominates, as for Gaussian
     families on linear_gaussian, antithetic pairs lose; where odd parts dominate they win, by 3–300× here.)
"""
import argparse
import os
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vibench_results import Checks, load, save_figure  # noqa: E402

GAUSSIANS = ("gaussian_diag", "gaussian_fullrank", "gaussian_lowrank")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
    args = ap.parse_args()
    path = os.path.join(args.results, "antithetic_variance.h5")
    run = load(path)

    cells = {}  # (target, family, samples, estimator) -> cell
    for cell in run.cells:
        if cell.attrs["status"] == "ok":
            a = cell.attrs
            cells[(a["target.name"], a["family.name"], int(a["samples"]), a["estimator.name"])] = cell
    pairs = sorted({k[:3] for k in cells if (k[:3] + ("reparam",)) in cells and (k[:3] + ("reparam_antithetic",)) in cells})
    targets = sorted({p[0] for p in pairs}, key=["linear_gaussian", "banana", "funnel"].index)
    families = sorted({p[1] for p in pairs})
    sizes = sorted({p[2] for p in pairs})
    check = Checks("antithetic_variance", args.out, results=path)

    print(f"antithetic_variance (scale: {run.attrs.get('scale')}, replicates {run.cells[0].attrs.get('replicates')})")
    print(f"{'target':<16} {'family':<21} {'S':>2} {'cost':>5} {'total var reparam':>18} {'antithetic':>12} {'ratio':>8} {'max|bias z|':>11}")
    ratio = {}
    equal_cost, n_coords = True, 0
    for t, f, s in pairs:
        rep, anti = cells[(t, f, s, "reparam")], cells[(t, f, s, "reparam_antithetic")]
        v_rep, v_anti = float(np.sum(rep["grad_var"])), float(np.sum(anti["grad_var"]))
        se_rep, se_anti = float(np.sqrt(np.sum(rep["grad_var_se"] ** 2))), float(np.sqrt(np.sum(anti["grad_var_se"] ** 2)))
        ratio[(t, f, s)] = (v_anti / v_rep, v_rep, v_anti, se_rep, se_anti)
        equal_cost &= float(rep["cost_log_joint_evals"]) == float(anti["cost_log_joint_evals"])
        n_coords += len(anti["grad_var"])
        print(f"{t:<16} {f:<21} {s:>2} {float(anti['cost_log_joint_evals']):>5.0f} {v_rep:>18.5g} {v_anti:>12.5g} "
              f"{v_anti / v_rep:>8.3g} {float(anti['max_abs_bias_z']):>11.3g}")
    check(equal_cost, f"equal cost: each of the {len(pairs)} reparam_antithetic cells evaluates log p(x, z) as often per "
          f"estimate as reparam with the same S (cost_log_joint_evals equal)", measured=len(pairs), threshold="all pairs")

    z_crit = NormalDist().inv_cdf(1 - 0.001 / (2 * n_coords))
    worst = max(float(cells[p + ("reparam_antithetic",)]["max_abs_bias_z"]) for p in pairs)
    check(worst < z_crit, f"reparam_antithetic is unbiased: the largest |bias z| over all {n_coords} coordinates of the "
          f"antithetic cells is {worst:.3g} < {z_crit:.3g} (two-sided, familywise level 0.001, Bonferroni)",
          measured=worst, threshold=z_crit)

    worst_mean = 0.0
    for t, f, s in pairs:
        if t != "linear_gaussian" or f not in GAUSSIANS:
            continue
        rep, anti = cells[(t, f, s, "reparam")], cells[(t, f, s, "reparam_antithetic")]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in anti["param_names"]]
        for i, n in enumerate(names):
            if n.startswith("mean"):
                worst_mean = max(worst_mean, float(anti["grad_var"][i]) / float(rep["grad_var"][i]))
    check(worst_mean < 1e-20, f"linear_gaussian, Gaussian families: antithetic pairs integrate the mean gradient (linear "
          f"in eps) exactly — the largest variance ratio of a mean coordinate is {worst_mean:.3g} < 1e-20 (Owen 2013 §8.2)",
          measured=worst_mean, threshold="< 1e-20")

    excess = []  # (ratio − 2) in standard errors of the ratio
    for r, v_rep, v_anti, se_rep, se_anti in ratio.values():
        excess.append((r - 2) / (r * np.hypot(se_rep / v_rep, se_anti / v_anti)))
    check(max(excess) < 3, f"antithetic pairs at most double the variance at equal cost (ratio in [0, 2]; Owen 2013 §8.2): "
          f"the largest ratio is {max(v[0] for v in ratio.values()):.3g}, {max(excess):.3g} standard errors from 2 (< 3)",
          measured=max(excess), threshold="< 3")
    wins = sum(v[0] < 1 for v in ratio.values())
    print(f"antithetic pairs lower the total variance in {wins} of {len(ratio)} cells; smallest ratio "
          f"{min(v[0] for v in ratio.values()):.3g}, largest {max(v[0] for v in ratio.values()):.3g}")

    fig, axes = plt.subplots(1, len(sizes), figsize=(5.2 * len(sizes), 4.4), constrained_layout=True, sharey=True)
    axes = np.atleast_1d(axes)
    width = 0.8 / len(targets)
    colors = {"linear_gaussian": "tab:blue", "banana": "tab:orange", "funnel": "tab:green"}
    for ax, s in zip(axes, sizes):
        for j, t in enumerate(targets):
            xs, ys, errs = [], [], []
            for i, f in enumerate(families):
                if (t, f, s) not in ratio:
                    continue
                r, v_rep, v_anti, se_rep, se_anti = ratio[(t, f, s)]
                xs.append(i + (j - (len(targets) - 1) / 2) * width)
                ys.append(r)
                errs.append(r * np.hypot(se_rep / v_rep, se_anti / max(v_anti, 1e-300)))
            ax.bar(xs, ys, width, color=colors.get(t), label=t, yerr=errs, capsize=2)
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        ax.set_xticks(range(len(families)))
        ax.set_xticklabels(families, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"S = {s} draws per estimate (equal cost)", fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("total gradient variance: antithetic / reparam")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Antithetic reparameterization at equal cost (ELBO gradient, one perturbed point per family) — "
                 f"scale: {run.attrs.get('scale')}; bars ±1 SE", fontsize=9.5)
    save_figure(fig, args.out, "antithetic_variance")
    check.finish()


if __name__ == "__main__":
    main()
