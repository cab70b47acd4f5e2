"""Figure: MI estimates along critic training on the correlated-Gaussian staircase (mi_estimation study).

Reads results/mi_staircase.h5 only; writes plots/figures/mi_staircase.{png,pdf}; prints per-stage numbers
and checks them. Exit status 1 if a check fails.

Setting (Poole et al. 2019, Fig. 2; Song & Ermon 2020, Fig. 1): d = 20 correlated Gaussian, true MI 2, 4, 6,
8, 10 nats in equal training stages, one separable critic trained per bound (batch B = 64, Adam 5e-4); each
training step's batch estimate is stored. The cubed variant observes y³ instead of y (same MI, harder critic).

Checks:
  1. InfoNCE never exceeds log B: every stored step estimate is <= log 64 (both variants).
  2. NWJ's variance grows with MI: over the second half of the last stage (I = 10) the variance of the step
     estimates exceeds that of the first stage (I = 2); one-sided test on the log variance ratio with the
     normal-theory standard error sqrt(2/(n1-1) + 2/(n2-1)) at 99.9% (heavy tails make the true error larger,
     but the measured ratio is orders of magnitude, see the printout).
"""
import argparse
import os
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vibench_results import Checks, load, save_figure  # noqa: E402

ORDER = ["nwj", "js", "infonce", "dv", "mine", "smile", "interpolated"]


def rolling_median(x, window=101):
    """Centered rolling median: robust to the occasional astronomically large step estimate (js, nwj)."""
    half = window // 2
    return np.array([np.median(x[max(0, i - half):i + half + 1]) for i in range(len(x))])


def stage_slices(truth):
    """(start, end) index ranges of the equal-MI stages of a trajectory."""
    edges = [0] + [i for i in range(1, len(truth)) if truth[i] != truth[i - 1]] + [len(truth)]
    return list(zip(edges[:-1], edges[1:]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
    args = ap.parse_args()
    path = os.path.join(args.results, "mi_staircase.h5")
    run = load(path)
    # (bound, transform) -> cell; transform "none" is the plain staircase, "cube" observes y³ (same MI).
    cells = {(c.attrs["bound.name"], c.attrs.get("target.transform", "none")): c for c in run.cells
             if c.attrs["status"] == "ok"}
    check = Checks("mi_staircase", args.out, results=path)
    batch = int(next(iter(cells.values())).attrs["batch_size"])
    print(f"mi_staircase (scale: {run.attrs.get('scale') or 'quick'}); per stage: median [quartiles] of the step "
          "estimates over the stage's second half")
    bounds = [b for b in ORDER if any(key[0] == b for key in cells)]
    transforms = [t for t in ("none", "cube") if any(key[1] == t for key in cells)]
    colors = {"none": "tab:blue", "cube": "tab:orange"}
    fig, axes = plt.subplots(2, (len(bounds) + 1) // 2, figsize=(4.2 * ((len(bounds) + 1) // 2), 7.2),
                             constrained_layout=True, sharey=True)
    for ax, bound in zip(axes.flat, bounds):
        for transform in transforms:
            c = cells.get((bound, transform))
            if c is None:
                continue
            step, est, truth = c["trajectory_step"], c["trajectory_estimate"], c["trajectory_mi_true"]
            parts = []
            for a, b in stage_slices(truth):
                half = est[(a + b) // 2:b]
                q1, q3 = np.percentile(half, [25, 75])
                parts.append(f"I={truth[a]:g}: {np.median(half):8.3g} [{q1:8.3g}, {q3:8.3g}]")
            print(f"{bound:>12} {transform:>4}  " + "  ".join(parts) +
                  f"  | final eval at I={c['mi_true']:g}: mean {c['mi_estimate_mean']:.3g}")
            label = "y" if transform == "none" else "y³"
            ax.plot(step, est, color=colors[transform], alpha=0.2, lw=0.5)
            ax.plot(step, rolling_median(est), color=colors[transform], lw=1.5, label=f"estimate, observing {label}")
            if transform == transforms[0]:
                ax.plot(step, truth, "k", lw=1.2, label="true MI")
        ax.axhline(np.log(batch), color="tab:red", ls=":", lw=1, label=f"log B = {np.log(batch):.2f}")
        ax.set_title(bound)
        ax.set_ylim(-2, 14)
        ax.set_xlabel("training step")
    for ax in axes.flat[len(bounds):]:
        ax.axis("off")
    axes.flat[0].set_ylabel("MI estimate (nats)")
    axes.flat[0].legend(fontsize=7, loc="upper left")

    for transform in transforms:
        if ("infonce", transform) in cells:
            top = float(np.max(cells[("infonce", transform)]["trajectory_estimate"]))
            check(top <= np.log(batch) + 1e-12,
                  f"infonce ({'observing y' if transform == 'none' else 'observing y³'}): every training step's batch "
                  f"estimate <= log B = {np.log(batch):.4f} (InfoNCE cannot exceed log B; threshold log B + 1e-12); "
                  "measured: the largest", measured=top, threshold=np.log(batch) + 1e-12)
    if ("nwj", "none") in cells:
        est, truth = cells[("nwj", "none")]["trajectory_estimate"], cells[("nwj", "none")]["trajectory_mi_true"]
        stages = stage_slices(truth)
        (a1, b1), (a5, b5) = stages[0], stages[-1]
        first, last = est[(a1 + b1) // 2:b1], est[(a5 + b5) // 2:b5]
        v1, v5 = np.var(first, ddof=1), np.var(last, ddof=1)
        se = np.sqrt(2 / (len(first) - 1) + 2 / (len(last) - 1))
        z = NormalDist().inv_cdf(0.999)
        check(np.log(v5 / v1) > z * se, f"nwj: the variance of the step estimates grows with MI (Song & Ermon 2020), "
              f"{v1:.3g} at I={truth[a1]:g} -> {v5:.3g} at I={truth[a5]:g} (second half of each stage), one-sided "
              "99.9% test; measured: log variance ratio", measured=np.log(v5 / v1), threshold=f"> {z * se:.4g}")
    fig.suptitle(f"MI staircase, d = 20 correlated Gaussian (blue: y observed; orange: y³), separable critic, B = {batch} "
                 f"(scale {run.attrs.get('scale') or 'quick'})")
    save_figure(fig, args.out, "mi_staircase")
    check.finish()


if __name__ == "__main__":
    main()
