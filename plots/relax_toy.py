"""Figure: the RELAX toy problem (Tucker et al. 2017; Grathwohl et al. 2018, §6.1): minimize E_{b~Bern(p)}[(b - t)^2],
t = 0.499, p = sigmoid(eta), with Adam from p = 1/2; p and the gradient variance along the path per estimator.

Reads results/relax_toy.h5 only; writes plots/figures/relax_toy.{png,pdf}; prints the plotted numbers and checks
them. Exit status 1 if a check fails.

Theory: f(b) is about 1/4 for either b, so REINFORCE's variance is about (1/4)^2 p(1-p) (= 0.0156 at p = 1/2)
against an exact gradient of 0.002 p(1-p); a baseline near E f removes the constant. Checks:
  1. at the first record REINFORCE's measured variance is within its 99% CI of the exact
     Var[f(b)(b - p)] = p(1-p)[(1-p)(1-t)^4 + p t^4] - (p(1-p)(1-2t))^2;
  2. the moving-average baseline's variance is below REINFORCE's at every record (one-sided 99%, SE of a
     variance from R probe estimates: var * sqrt(2/(R-1)));
  3. with the baseline, and with RELAX's fitted surrogate, Adam drives p below 0.05 (3000 steps of size ~0.01
     against |logit(0.05)| = 2.9);
  4. the fitted RELAX surrogate's variance is below REINFORCE's at every record (as in 2).
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


def label_of(attrs):
    name = attrs["estimator.name"]
    if name == "score_function":
        return "REINFORCE + moving-average baseline" if control_variate(attrs)[0] == "moving_average" else "REINFORCE"
    if name == "relax" and attrs.get("estimator.surrogate") == "linear":
        return f"RELAX, fitted linear surrogate (lambda = {attrs['estimator.temperature']})"
    if name == "relax":
        return f"REBAR (relax, eta = {attrs['estimator.scale']}, lambda = {attrs['estimator.temperature']})"
    return f"Gumbel-softmax (lambda = {attrs['estimator.temperature']}, biased)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
    args = ap.parse_args()
    path = os.path.join(args.results, "relax_toy.h5")
    run = load(path)
    cells = {label_of(c.attrs): c for c in run.cells if c.attrs["status"] == "ok"}
    t = float(run.cells[0].attrs["target.t"])
    reps = int(run.cells[0].attrs["variance_replicates"])
    z = NormalDist().inv_cdf(0.99)
    check = Checks("relax_toy", args.out, results=path)

    print(f"relax_toy (scale: {run.attrs.get('scale')}, t = {t}, variance from {reps} probe estimates per record)")
    for name, c in cells.items():
        p = 1 / (1 + np.exp(-c["trajectory_params"][:, 0]))
        v = c["trajectory_grad_variance"]
        print(f"  {name:<55} p: start {p[0]:.3f}, middle {p[len(p) // 2]:.4f}, end {p[-1]:.4g};"
              f" gradient variance: start {v[0]:.4g}, end {v[-1]:.4g}")

    sf, ma = cells["REINFORCE"], cells["REINFORCE + moving-average baseline"]
    p0 = 1 / (1 + math.exp(-sf["trajectory_params"][0, 0]))
    exact_var = p0 * (1 - p0) * ((1 - p0) * (1 - t) ** 4 + p0 * t**4) - (p0 * (1 - p0) * (1 - 2 * t)) ** 2
    v0 = sf["trajectory_grad_variance"][0]
    z_two = NormalDist().inv_cdf(0.995)
    check(abs(v0 - exact_var) <= z_two * exact_var * math.sqrt(2 / (reps - 1)),
          f"REINFORCE gradient variance at the first record (p = {p0}) inside the 99% CI of the exact "
          f"Var[f(b)(b − p)] (the toy of Tucker et al. 2017): {v0:.5f} vs exact {exact_var:.5f}; measured: "
          f"|deviation| / SE, SE = exact · sqrt(2/(R − 1)), R = {reps}",
          measured=abs(v0 - exact_var) / (exact_var * math.sqrt(2 / (reps - 1))), threshold=z_two)
    se_ratio = math.sqrt(2 / (reps - 1))
    relax = next(c for name, c in cells.items() if name.startswith("RELAX"))
    for name, c in (("baseline", ma), ("fitted RELAX", relax)):
        steps, var_c, var_sf = c["trajectory_step"], c["trajectory_grad_variance"], sf["trajectory_grad_variance"]
        worse = [int(s) for s, a, b in zip(steps, var_c, var_sf) if not (b - a > z * math.hypot(a, b) * se_ratio)]
        # The record nearest to failing: REINFORCE's variance minus this one's, in SEs of the difference (-inf
        # where both are 0, which fails too; NaN where a variance is NaN, which fails).
        n = min(len(steps), len(var_c), len(var_sf))
        a, b = np.asarray(var_c[:n], float), np.asarray(var_sf[:n], float)
        se = np.hypot(a, b) * se_ratio
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = np.where(se > 0, (b - a) / se, np.where(np.isnan(a + b), np.nan, -np.inf))
        worst = int(np.argmin(np.where(np.isnan(gap), -np.inf, gap))) if n else None
        check(not worse,
              f"{name} gradient variance below REINFORCE's at every one of {n} records (one-sided 99%, SE of a "
              f"variance from R = {reps} probe estimates: var · sqrt(2/(R − 1))); failing records: {len(worse)} "
              f"(first steps {worse[:5]}); measured: the smallest (REINFORCE − {name}) / SE, at step "
              f"{int(steps[worst]) if n else None}",
              measured=gap[worst] if n else None, threshold=f"> {z:.3f}")
        p_end = 1 / (1 + math.exp(-c["phi_final"][0]))
        check(p_end < 0.05, f"with the {name}, Adam drives p = sigmoid(η) from 1/2 to below 0.05 "
              f"({c.attrs['steps']} steps of learning rate {c.attrs['learning_rate']} against |logit(0.05)| = 2.9): "
              f"final p = {p_end:.4g}",
              measured=p_end, threshold="< 0.05")

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4), constrained_layout=True)
    colors = ["tab:red", "tab:orange", "tab:blue", "tab:purple", "tab:green"]
    for (name, c), color in zip(cells.items(), colors):
        step = c["trajectory_step"]
        axes[0].plot(step, 1 / (1 + np.exp(-c["trajectory_params"][:, 0])), color=color, lw=1.2, label=name)
        axes[1].plot(step, np.maximum(c["trajectory_grad_variance"], 1e-16), color=color, lw=1.2)
    axes[0].set_ylabel(r"$p = \sigma(\eta)$ (optimum: 0)")
    axes[1].set_ylabel("gradient variance")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("Adam step")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7.5)
    fig.suptitle(f"RELAX toy: minimize $E[(b - {t})^2]$, $b \\sim$ Bern(p) — scale: {run.attrs.get('scale')}", fontsize=10)
    save_figure(fig, args.out, "relax_toy")
    check.finish()


if __name__ == "__main__":
    main()
