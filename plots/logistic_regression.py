"""Figure: Bayesian logistic regression on breast_cancer (Mohamed et al. 2020, §8, Figs. 13-14 style): the exact
ELBO and the gradient variance along SGD for the score function (plain, moving-average baseline, delta method),
the pathwise (reparam) gradient, measure-valued derivatives (coupled) and STL.

Reads results/logistic_regression.h5 only; writes plots/figures/logistic_regression.{png,pdf}; prints the plotted
numbers and checks them. Exit status 1 if a check fails.

Setting (experiments/logistic_regression.yaml): D = 31, mean-field Gaussian q from N(0, I), minibatches of 32
(log-likelihood scaled by N/B), 50 samples per step, plain SGD 1e-3 with cosine decay, analytic KL (STL and its
reparam partner on the Monte Carlo ELBO, where STL differs from reparam). Each record, on the whole data set:
`trajectory_exact_objective` (the ELBO by quadrature, exact to ~1e-15) and `trajectory_grad_variance`, the mean
over the 62 parameters of the variance of the 50-sample gradient, from R = `variance_replicates` estimates.

Standard errors: for near-Gaussian estimates (a mean of 50 samples) a sample variance from R estimates has
relative standard error sqrt(2/(R-1)); a mean of such variances has at most that relative error (the worst
case, one parameter dominating). The log of a ratio of two independent such means then has standard error at
most sqrt(4/(R-1)), and comparisons at every record use z at 99% Bonferroni-corrected over the records.

Cost: log-likelihood evaluations (at one w, over the minibatch; a gradient counted as one, a Hessian as D)
per step: S for the score function, its moving-average baseline, reparam and STL; S + 1 + D for the delta
method (gradient and Hessian at the mean); S (1 + 3D) for coupled MVD. Variance × cost is the
work-normalized variance: what the variance would be at an equal budget of evaluations.

Checks:
  1. the pathwise gradient's variance is below the plain score function's at every record (the paper's
     headline for this model), by more than z standard errors of the log ratio;
  2. the delta-method control variate reduces the score function's variance at every record (same test);
  3. every estimator's final exact ELBO is above the initial one (no cell diverged).
STL vs reparam is plotted, not checked: mean-field q cannot reach this posterior, and STL's advantage is a
vanishing variance at the exact posterior, with minibatch noise on top here (see the README).
"""
import argparse
import math
import os
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vibench_results import Checks, control_variate, load, save_figure  # noqa: E402


def label_of(a):
    name, kl = a["estimator.name"], a["objective.kl"]
    if name == "score_function":
        if control_variate(a)[0] == "delta_method":
            return "SF + delta method"
        if control_variate(a)[0] == "moving_average":
            return "SF + moving average"
        return "score function"
    if name == "mvd":
        return "MVD (coupled)"
    return f"{name} (MC KL)" if kl == "monte_carlo" else name


STYLE = {  # label -> (color, line style)
    "score function": ("tab:red", "-"),
    "SF + moving average": ("tab:orange", "-"),
    "SF + delta method": ("tab:purple", "-"),
    "reparam": ("tab:blue", "-"),
    "MVD (coupled)": ("tab:brown", "-"),
    "reparam (MC KL)": ("tab:cyan", "--"),
    "stl (MC KL)": ("tab:green", "--"),
}


def cost_per_step(label, samples, dim):
    if label == "SF + delta method":
        return samples + 1 + dim
    if label == "MVD (coupled)":
        return samples * (1 + 3 * dim)
    return samples


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
    args = ap.parse_args()
    path = os.path.join(args.results, "logistic_regression.h5")
    run = load(path)
    check = Checks("logistic_regression", args.out, results=path)

    runs = {label_of(c.attrs): c for c in run.cells}
    any_cell = runs["reparam"]
    samples, reps = any_cell.attrs["samples"], any_cell.attrs["variance_replicates"]
    cost = {label: cost_per_step(label, c.attrs["samples"], len(c["phi_final"]) // 2) for label, c in runs.items()}
    dim = len(any_cell["phi_final"]) // 2
    n_records = len(any_cell["trajectory_step"])
    z = NormalDist().inv_cdf(1 - 0.01 / (2 * n_records))
    se_log_ratio = math.sqrt(4 / (reps - 1))

    print(f"logistic_regression (scale: {run.attrs.get('scale')}); {samples} samples per step (MVD "
          f"{runs['MVD (coupled)'].attrs['samples']}), "
          f"variance from {reps} estimates per record, {n_records} records")
    print(f"{'estimator':<22} {'status':<9} {'ELBO start':>11} {'ELBO final':>11} {'var start':>11} {'var final':>11} "
          f"{'cost/step':>9} {'var x cost final':>16}")
    for label, c in runs.items():
        ex, gv = c["trajectory_exact_objective"], c["trajectory_grad_variance"]
        print(f"{label:<22} {c.attrs['status']:<9} {ex[0]:>11.3f} {ex[-1]:>11.3f} {gv[0]:>11.4g} {gv[-1]:>11.4g} "
              f"{cost[label]:>9} {gv[-1] * cost[label]:>16.4g}")

    def below(low, high, what, first=0, work=False):
        """Var(low) < Var(high) (× cost when work) at every record from index `first`, by z SE of the log ratio."""
        a, b = runs[low], runs[high]
        n = min(len(a["trajectory_grad_variance"]), len(b["trajectory_grad_variance"]))
        va, vb = a["trajectory_grad_variance"][first:n], b["trajectory_grad_variance"][first:n]
        if work:
            va, vb = va * cost[low], vb * cost[high]
        gap = np.log(vb) - np.log(va)
        worst = float(np.min(gap / se_log_ratio))
        at = int(a["trajectory_step"][first + int(np.argmin(gap))])
        quantity = "Var × cost" if work else "Var"
        check(worst > z and n == n_records,
              f"{what}: log({quantity} {high} / {quantity} {low}) exceeds z = {z:.2f} standard errors at every one of "
              f"the {n - first} records from step {int(a['trajectory_step'][first])} (least: {worst:.1f} SE, ratio "
              f"{math.exp(float(np.min(gap))):.3g}, at step {at})",
              measured=worst, threshold=f"> {z:.4g}")

    below("reparam", "score function",
          "the pathwise gradient has lower variance than the score function (Mohamed et al. 2020, §8)")
    # At the initial q = N(0, I) (wide, far from the posterior) the second-order expansion at the mean is a poor
    # surrogate and the control variate adds variance; from the first record on the path it removes most of it.
    ratio0 = runs["SF + delta method"]["trajectory_grad_variance"][0] / runs["score function"]["trajectory_grad_variance"][0]
    print(f"at step 0 (q = N(0, I)) Var(SF + delta) / Var(SF) = {ratio0:.3g} (not checked: the expansion is poor there)")
    below("SF + delta method", "score function",
          "the delta-method control variate reduces the score function's variance once q has left N(0, I)", first=1)
    for other in ("score function", "SF + moving average", "SF + delta method", "MVD (coupled)"):
        below("reparam", other, "per log-likelihood evaluation the pathwise gradient is the least noisy", work=True)
    for label, c in runs.items():
        ex = c["trajectory_exact_objective"]
        check(c.attrs["status"] == "ok" and ex[-1] > ex[0],
              f"{label}: the final exact ELBO {ex[-1]:.3f} is above the initial {ex[0]:.3f} (status {c.attrs['status']})",
              measured=ex[-1] - ex[0], threshold="> 0")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), constrained_layout=True)
    for label, c in runs.items():
        color, ls = STYLE[label]
        step = c["trajectory_step"]
        gv = c["trajectory_grad_variance"]
        axes[0].plot(step, c["trajectory_exact_objective"], color=color, ls=ls, lw=1.3, label=label)
        axes[1].plot(step, gv, color=color, ls=ls, lw=1.3, label=label)
        axes[2].plot(step, gv * cost[label], color=color, ls=ls, lw=1.3, label=label)
    axes[0].set_ylabel("ELBO (exact, whole data set)")
    # The initial ELBO (q = N(0, I)) is far below: zoom on the records after it.
    lo = min(np.min(c["trajectory_exact_objective"][1:]) for c in runs.values())
    hi = max(np.max(c["trajectory_exact_objective"]) for c in runs.values())
    axes[0].set_ylim(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo))
    axes[0].set_title(f"from {any_cell['trajectory_exact_objective'][0]:.1f} at step 0 (q = N(0, I))", fontsize=9)
    axes[1].set_ylabel(f"variance of the step's gradient estimate\n(mean over the {2 * dim} parameters)")
    axes[2].set_ylabel("variance × log-likelihood evaluations per step")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3, which="both")
    for ax in axes[1:]:
        ax.set_yscale("log")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Bayesian logistic regression, breast_cancer (D = {dim}), mean-field Gaussian, minibatch "
                 f"{any_cell.attrs['target.batch_size']}, {samples} samples/step (MVD {runs['MVD (coupled)'].attrs['samples']}), SGD {any_cell.attrs['learning_rate']} "
                 f"cosine — scale: {run.attrs.get('scale')}", fontsize=10)
    save_figure(fig, args.out, "logistic_regression")
    check.finish()


if __name__ == "__main__":
    main()
