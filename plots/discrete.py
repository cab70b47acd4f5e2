"""Figure: bias and variance of gradient estimators for discrete variables on bernoulli_toy (f(b) = (b - t)^2,
t = 0.499, b ~ Bern(sigmoid(eta))) and categorical_toy (f(c) = |c - t|^2, c one-hot ~ Cat(softmax phi),
t = (0.499, 0.5, 0.501)), at three points each: score function (plain, moving-average / leave-one-out / optimal
baselines), Gumbel-softmax at lambda = 0.5 and 1, straight-through (lambda = 0.5), RELAX (REBAR surrogate; fitted
linear surrogate; bernoulli only), and VIMCO next to the plain score function on IWAE-4 (f read as log p~).

Reads results/discrete.h5 only; writes plots/figures/discrete.{png,pdf}; prints the plotted numbers and checks them.
Exit status 1 if a check fails.

Bias is against the exact gradient (enumeration of the support, stored as exact_grad). Cost is the number of
evaluations of f or of grad f per estimate, derived from the config (not measured): score function S (+ `warmup`
for the moving average, whose cold start in gradient_stats draws `warmup` extra samples per estimate);
Gumbel-softmax and straight-through 2S (f(b), grad f at the relaxed or discrete point); REBAR 3S (f(b),
grad f(y), grad f(y~)); fitted RELAX 3(S + warmup); VIMCO and the IWAE score function K*S.

Checks (alpha = 0.01 per family of tests, Bonferroni within it):
  1. every estimator claimed unbiased (score function with any baseline, RELAX, VIMCO) has |bias z| within the
     two-sided Bonferroni limit over every (cell, parameter);
  2. Gumbel-softmax and straight-through: at the skewed points the mean gradient equals the estimator's own
     expectation computed independently here (Bernoulli: quadrature over the logistic noise; categorical: 1e6
     Gumbel draws in numpy), and the bias is significantly nonzero in the sign that computation predicts
     (one-sided; Jang et al. 2017, Maddison et al. 2017, Tucker et al. 2017). At the uniform points the bias is
     proportional to the (tiny) exact gradient by symmetry and is not tested;
  3. every baseline lowers the plain score function's variance, per parameter (one-sided, SE of a variance
     from grad_var_se); the fitted RELAX surrogate does too (bernoulli); VIMCO lowers the plain score
     function's variance on IWAE-4;
  4. the plain score function's variance on bernoulli_toy equals p(1-p)[(1-p)(1-t)^4 + p t^4] - (p(1-p)(1-2t))^2
     divided by S, within its SE (two-sided);
  5. the relaxed gradient's variance is larger at lambda = 0.5 than at lambda = 1 (the bias-variance trade-off
     of the temperature), per parameter, one-sided.
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

ALPHA = 0.01
UNBIASED = ("score_function", "relax", "vimco")


def label_of(a):
    name = a["estimator.name"]
    if name == "score_function":
        if a["objective.name"] == "iwae":
            return f"REINFORCE, IWAE-{a['objective.k']}"
        base = control_variate(a)[0]
        return "REINFORCE" if base == "none" else f"REINFORCE + {base.replace('_', ' ')}"
    if name == "gumbel_softmax":
        if a.get("estimator.straight_through"):
            return f"straight-through (λ = {a['estimator.temperature']:g})"
        return f"Gumbel-softmax (λ = {a['estimator.temperature']:g})"
    if name == "relax":
        if a.get("estimator.surrogate") == "linear":
            return "RELAX, fitted linear"
        return f"REBAR (η = {a['estimator.scale']:g}, λ = {a['estimator.temperature']:g})"
    if name == "vimco":
        return f"VIMCO, IWAE-{a['objective.k']}"
    return name


def cost_of(a):
    """Evaluations of f or grad f per estimate, from the config (see the module docstring)."""
    s, name = int(a["samples"]), a["estimator.name"]
    if name == "score_function":
        k = int(a.get("objective.k", 1)) if a["objective.name"] == "iwae" else 1
        cv, cv_params = control_variate(a)
        extra = int(cv_params["warmup"]) if cv == "moving_average" else 0
        return k * (s + extra)
    if name == "vimco":
        return int(a["objective.k"]) * s
    if name == "gumbel_softmax":
        return 2 * s
    if name == "relax":
        return 3 * (s + (int(a["estimator.warmup"]) if a.get("estimator.surrogate") == "linear" else 0))
    raise ValueError(name)


def toy_of(a):
    return "bernoulli" if a["target.name"] == "bernoulli_toy" else "categorical"


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def relaxed_mean_bernoulli(eta, t, lam, straight_through, n=2_000_000):
    """E over the logistic noise L of the estimator 2(v - t) * dy/deta, y = sigmoid((eta + L)/lam), v = y (relaxed)
    or b = 1[eta + L > 0] (straight-through): midpoint quadrature in u, L = logit(u)."""
    u = (np.arange(n) + 0.5) / n
    x = eta + np.log(u) - np.log1p(-u)
    y = sigmoid(x / lam)
    v = (x > 0).astype(float) if straight_through else y
    return float(np.mean(2 * (v - t) * y * (1 - y) / lam))


def relaxed_mean_categorical(phi, t, lam, straight_through, n=1_000_000, seed=7):
    """Monte Carlo (numpy, independent of vibench) of E[J^T 2(v - t)], J = dy/dphi of y = softmax((phi + g)/lam),
    v = y or the one-hot argmax; returns the mean and its standard error per component."""
    rng = np.random.default_rng(seed)
    total, total2, done = 0.0, 0.0, 0
    while done < n:
        m = min(500_000, n - done)
        g = -np.log(-np.log(rng.uniform(size=(m, len(phi)))))
        a = (phi + g) / lam
        y = np.exp(a - a.max(axis=1, keepdims=True))
        y /= y.sum(axis=1, keepdims=True)
        v = np.eye(len(phi))[np.argmax(phi + g, axis=1)] if straight_through else y
        w = 2 * (v - t)
        est = y * (w - (y * w).sum(axis=1, keepdims=True)) / lam
        total, total2, done = total + est.sum(axis=0), total2 + (est**2).sum(axis=0), done + m
    mean = total / n
    return mean, np.sqrt((total2 / n - mean**2) / n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
    args = ap.parse_args()
    path = os.path.join(args.results, "discrete.h5")
    run = load(path)
    check = Checks("discrete", args.out, results=path)
    ok_cells = [c for c in run.cells if c.attrs["status"] == "ok"]
    skipped = [c for c in run.cells if c.attrs["status"] == "skipped"]
    reps = int(ok_cells[0].attrs["replicates"])
    print(f"discrete (scale: {run.attrs.get('scale')}, {reps} replicates per cell; {len(skipped)} cells skipped:")
    for c in skipped:
        print(f"  skipped {toy_of(c.attrs)} {label_of(c.attrs)}: {c.attrs.get('reason')}")

    def point_of(c):
        return tuple(np.round(np.asarray(c["phi"], float), 6))

    # cells[(toy, point, label)] = cell
    cells = {(toy_of(c.attrs), point_of(c), label_of(c.attrs)): c for c in ok_cells}
    toys = ["bernoulli", "categorical"]
    points = {toy: sorted({k[1] for k in cells if k[0] == toy}, key=lambda p: (any(p), -p[0])) for toy in toys}
    labels = list(dict.fromkeys(label_of(c.attrs) for c in run.cells))

    print(f"  {'toy':<12}{'phi':<18}{'estimator':<36}{'|bias|':>11}{'max |z|':>9}{'sum var':>12}{'cost':>6}")
    for (toy, pt, lab), c in cells.items():
        print(f"  {toy:<12}{str(pt):<18}{lab:<36}{np.linalg.norm(c['grad_bias']):>11.3e}"
              f"{np.max(np.abs(c['grad_bias_z'])):>9.2f}{np.sum(c['grad_var']):>12.4e}{cost_of(c.attrs):>6}")

    # 1. unbiasedness, Bonferroni over every (cell, parameter) tested
    unbiased = [c for c in ok_cells if c.attrs["estimator.name"] in UNBIASED]
    m = sum(len(c["grad_bias_z"]) for c in unbiased)
    z_lim = NormalDist().inv_cdf(1 - ALPHA / (2 * m))
    worst = max(unbiased, key=lambda c: np.max(np.abs(c["grad_bias_z"])))
    worst_z = float(np.max(np.abs(worst["grad_bias_z"])))
    check(worst_z <= z_lim,
          f"unbiased estimators (score function with every baseline, RELAX, VIMCO): every |bias| / SE within the "
          f"two-sided Bonferroni limit over {m} (cell, parameter) pairs at alpha = {ALPHA}; largest |z| = "
          f"{worst_z:.2f} ({toy_of(worst.attrs)}, {label_of(worst.attrs)}, phi = {list(point_of(worst))})",
          measured=worst_z, threshold=z_lim)

    # 2. the relaxations' bias: its value by an independent computation, and its significance in the predicted sign
    biased = [c for c in ok_cells if c.attrs["estimator.name"] == "gumbel_softmax" and any(point_of(c))]
    n_tests = sum(len(c["grad_mean"]) for c in biased)
    z_two, z_one = NormalDist().inv_cdf(1 - ALPHA / (2 * n_tests)), NormalDist().inv_cdf(1 - ALPHA / n_tests)
    agree, signif = [], []
    for c in biased:
        a, phi = c.attrs, np.asarray(c["phi"], float)
        lam, st = float(a["estimator.temperature"]), bool(a.get("estimator.straight_through"))
        if toy_of(a) == "bernoulli":
            pred, pred_se = np.array([relaxed_mean_bernoulli(phi[0], float(a["target.t"]), lam, st)]), np.zeros(1)
        else:
            pred, pred_se = relaxed_mean_categorical(phi, np.asarray(a["target.t"], float), lam, st)
        se = np.asarray(c["grad_se"], float)
        dev = np.abs(np.asarray(c["grad_mean"]) - pred) / np.hypot(se, pred_se)
        pred_bias = pred - np.asarray(c["exact_grad"])
        # one-sided: the measured bias in the direction of the predicted bias, in SEs (components whose predicted
        # bias is within 3 of its own SE of zero have no predicted sign and are not tested)
        signed = [float(np.sign(pb) * z) for pb, z, ps in zip(pred_bias, c["grad_bias_z"], pred_se) if abs(pb) > 3 * ps]
        agree.append((float(np.max(dev)), c))
        signif.append((min(signed) if signed else float("nan"), c))
        print(f"  {toy_of(a):<12}{str(point_of(c)):<18}{label_of(a):<36} mean {np.round(c['grad_mean'], 5)} predicted "
              f"{np.round(pred, 5)} exact {np.round(c['exact_grad'], 5)}")
    dev_max, dev_cell = max(agree, key=lambda x: x[0])
    check(dev_max <= z_two,
          f"Gumbel-softmax and straight-through at the {len(biased)} skewed (toy, point, estimator) cells: the mean "
          f"gradient equals the estimator's expectation computed independently (Bernoulli: quadrature; categorical: "
          f"numpy Monte Carlo), two-sided Bonferroni over {n_tests} components; largest deviation in SEs "
          f"{dev_max:.2f} ({toy_of(dev_cell.attrs)}, {label_of(dev_cell.attrs)})",
          measured=dev_max, threshold=z_two)
    sig_min, sig_cell = min(signif, key=lambda x: (x[0] if not math.isnan(x[0]) else -math.inf))
    check(sig_min > z_one,
          f"Gumbel-softmax (λ = 0.5, 1) and straight-through (λ = 0.5) are biased at the skewed points: in every "
          f"such cell every component's bias lies beyond the one-sided Bonferroni limit ({n_tests} tests, alpha = "
          f"{ALPHA}) in the direction the independent computation predicts (Jang et al. 2017; Maddison et al. 2017; "
          f"Tucker et al. 2017); smallest signed bias z {sig_min:.2f} ({toy_of(sig_cell.attrs)}, "
          f"{label_of(sig_cell.attrs)}, phi = {list(point_of(sig_cell))})",
          measured=sig_min, threshold=f"> {z_one:.3f}")

    # 3. variance reductions, one-sided per parameter, Bonferroni over all comparisons of this check
    pairs = []
    for toy in toys:
        for pt in points[toy]:
            plain = cells.get((toy, pt, "REINFORCE"))
            for lab in ("REINFORCE + moving average", "REINFORCE + leave one out", "REINFORCE + optimal",
                        "RELAX, fitted linear"):
                if (toy, pt, lab) in cells:
                    pairs.append((toy, pt, lab, "REINFORCE", cells[(toy, pt, lab)], plain))
            iw = [k for k in cells if k[0] == toy and k[1] == pt and k[2].startswith("VIMCO")]
            for k in iw:
                sf_label = k[2].replace("VIMCO", "REINFORCE")
                pairs.append((toy, pt, k[2], sf_label, cells[k], cells[(toy, pt, sf_label)]))
    n_var = sum(len(a["grad_var"]) for *_, a, _ in pairs)
    z_var = NormalDist().inv_cdf(1 - ALPHA / n_var)
    gaps = []
    for toy, pt, lab, ref_lab, a, b in pairs:
        va, vb = np.asarray(a["grad_var"]), np.asarray(b["grad_var"])
        gap = (vb - va) / np.hypot(a["grad_var_se"], b["grad_var_se"])
        gaps.append((float(np.min(gap)), toy, pt, lab, ref_lab, float(np.max(va / vb))))
    g_min = min(gaps)
    check(g_min[0] > z_var,
          f"every baseline (moving average, leave-one-out, optimal), the fitted RELAX surrogate (bernoulli) and "
          f"VIMCO (against the plain score function on IWAE-4) lowers the plain score function's variance at every "
          f"point, per parameter, one-sided Bonferroni over {n_var} comparisons (SE of each variance from "
          f"grad_var_se); smallest (plain − it) / SE = {g_min[0]:.1f} ({g_min[1]}, {g_min[3]}, phi = {list(g_min[2])}); "
          f"largest variance ratio it/plain over all: {max(g[5] for g in gaps):.3g}",
          measured=g_min[0], threshold=f"> {z_var:.3f}")

    # 4. the closed-form variance of the plain score function on bernoulli_toy
    devs = []
    for pt in points["bernoulli"]:
        c = cells[("bernoulli", pt, "REINFORCE")]
        t, s, p = float(c.attrs["target.t"]), int(c.attrs["samples"]), float(sigmoid(pt[0]))
        exact = (p * (1 - p) * ((1 - p) * (1 - t) ** 4 + p * t**4) - (p * (1 - p) * (1 - 2 * t)) ** 2) / s
        devs.append((abs(c["grad_var"][0] - exact) / c["grad_var_se"][0], pt, c["grad_var"][0], exact))
        print(f"  REINFORCE variance on bernoulli_toy at eta = {pt[0]}: {c['grad_var'][0]:.6g} vs exact {exact:.6g}")
    z4 = NormalDist().inv_cdf(1 - ALPHA / (2 * len(devs)))
    d_max = max(devs)
    check(d_max[0] <= z4,
          f"plain score function on bernoulli_toy: the variance equals the closed form p(1−p)[(1−p)(1−t)⁴ + pt⁴] − "
          f"(p(1−p)(1−2t))², over S = 4, at each of {len(devs)} points within the two-sided Bonferroni limit "
          f"(SE: grad_var_se); worst at eta = {d_max[1][0]}: {d_max[2]:.6g} vs {d_max[3]:.6g}",
          measured=d_max[0], threshold=z4)

    # 5. temperature: the relaxed gradient's variance rises as lambda falls
    tgaps = []
    for toy in toys:
        for pt in points[toy]:
            lo, hi = cells[(toy, pt, "Gumbel-softmax (λ = 0.5)")], cells[(toy, pt, "Gumbel-softmax (λ = 1)")]
            gap = (np.asarray(lo["grad_var"]) - hi["grad_var"]) / np.hypot(lo["grad_var_se"], hi["grad_var_se"])
            tgaps.append((float(np.min(gap)), toy, pt, len(gap)))
    n5 = sum(g[3] for g in tgaps)
    z5 = NormalDist().inv_cdf(1 - ALPHA / n5)
    t_min = min(tgaps)
    check(t_min[0] > z5,
          f"Gumbel-softmax's variance is larger at λ = 0.5 than at λ = 1 at every point, per parameter (one-sided "
          f"Bonferroni over {n5}); smallest difference in SEs {t_min[0]:.1f} ({t_min[1]}, phi = {list(t_min[2])})",
          measured=t_min[0], threshold=f"> {z5:.3f}")

    # Figure: per toy, |bias|, variance, variance x cost per estimator, one marker per point.
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5), constrained_layout=True)
    markers, colors = ["o", "s", "^"], ["tab:blue", "tab:orange", "tab:green"]
    for row, toy in enumerate(toys):
        labs = [lab for lab in labels if any(k[0] == toy and k[2] == lab for k in cells)]
        x = np.arange(len(labs))
        for j, pt in enumerate(points[toy]):
            off = (j - 1) * 0.22
            bias, noise, var, vc = [], [], [], []
            for lab in labs:
                c = cells.get((toy, pt, lab))
                if c is None:
                    bias.append(np.nan), noise.append(np.nan), var.append(np.nan), vc.append(np.nan)
                    continue
                bias.append(np.linalg.norm(c["grad_bias"]))
                noise.append(np.linalg.norm(c["grad_se"]))
                var.append(np.sum(c["grad_var"]))
                vc.append(np.sum(c["grad_var"]) * cost_of(c.attrs))
            name = "η" if toy == "bernoulli" else "φ"
            lab_pt = f"{name} = {pt[0]:g}" if toy == "bernoulli" else f"{name} = ({', '.join(f'{v:g}' for v in pt)})"
            axes[row, 0].scatter(x + off, np.maximum(bias, 1e-12), marker=markers[j], color=colors[j], label=lab_pt)
            axes[row, 0].scatter(x + off, np.maximum(noise, 1e-12), marker="_", color=colors[j], s=80)
            axes[row, 1].scatter(x + off, np.maximum(var, 1e-16), marker=markers[j], color=colors[j], label=lab_pt)
            axes[row, 2].scatter(x + off, np.maximum(vc, 1e-16), marker=markers[j], color=colors[j], label=lab_pt)
        for col, title in enumerate(["‖bias‖ (markers) and ‖SE‖ of the mean (dashes)",
                                     "Σ variance of the gradient components", "Σ variance × cost (f/∇f evaluations)"]):
            ax = axes[row, col]
            ax.set_yscale("log")
            ax.set_xticks(x)
            ax.set_xticklabels(labs, rotation=60, ha="right", fontsize=7)
            ax.set_title(f"{toy}_toy: {title}", fontsize=9)
            ax.grid(alpha=0.3, which="both", axis="y")
        axes[row, 0].legend(fontsize=7)
    axes[1, 1].set_xlabel("RELAX/REBAR: not run on categorical (the family has no conditional relaxation)", fontsize=8)
    fig.suptitle(f"Discrete gradient estimators on the REBAR/RELAX toys (S = 4; VIMCO/REINFORCE on IWAE-4: K = 4, "
                 f"f read as log p~) — {reps} replicates per cell, scale: {run.attrs.get('scale')}", fontsize=10)
    save_figure(fig, args.out, "discrete")
    check.finish()


if __name__ == "__main__":
    main()
