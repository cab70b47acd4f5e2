"""Figure: trained MI estimators on tasks with closed-form MI (mi_estimation study, mi_tasks experiment).

Reads results/mi_tasks.h5 only; writes plots/figures/mi_tasks.{png,pdf}; prints the plotted numbers and
checks them. Exit status 1 if a check fails.

Per task (rows) and bound (columns): the estimate after training, summarized over the repeats by the median
(robust: NWJ, JS and MINE have occasional astronomically wrong runs, shown by the printed means), as a
fraction of the true MI; and the cost of one evaluation batch per bound.

Checks:
  1. The stored true MI of every task equals an independent numpy computation: 1/2 log(det Sxx det Syy /
     det S) from the covariance (Gaussian tasks, including through invertible maps), plus for the
     Student-t task the nu correction log G(nu/2) G((nu+m+n)/2) / (G((nu+m)/2) G((nu+n)/2)) + digamma terms
     (Czyz et al. 2023), with digamma from its asymptotic series; agreement to 1e-9.
  2. InfoNCE's evaluated mean never exceeds log B.
"""
import argparse
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vibench_results import Checks, index_frame, load, save_figure  # noqa: E402

ORDER = ["nwj", "js", "infonce", "dv", "mine", "smile", "interpolated"]


def digamma(x):
    acc = 0.0
    while x < 8:
        acc -= 1 / x
        x += 1
    inv, inv2 = 1 / x, 1 / (x * x)
    return acc + math.log(x) - 0.5 * inv - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 / 240)))


def block_covariance(row):
    dx, dy, s = int(row["target.dim_x"]), int(row["target.dim_y"]), float(row["target.strength"])
    sigma = np.eye(dx + dy)
    if row["target.interaction"] == "dense":
        sigma[:dx, dx:] = s / math.sqrt(dx * dy)
    else:
        for i in range(int(row["target.interacting"])):
            sigma[i, dx + i] = s
    sigma[dx:, :dx] = sigma[:dx, dx:].T
    return sigma, dx, dy


def exact_mi(row):
    name = row["target.name"]
    if name == "correlated_gaussian":
        d, mi = int(row["target.dim"]), float(row["target.mi"])
        rho = math.sqrt(-math.expm1(-2 * mi / d))
        sigma = np.block([[np.eye(d), rho * np.eye(d)], [rho * np.eye(d), np.eye(d)]])
        dx = dy = d
    else:
        sigma, dx, dy = block_covariance(row)
    logdet = lambda m: np.linalg.slogdet(m)[1]  # noqa: E731
    value = 0.5 * (logdet(sigma[:dx, :dx]) + logdet(sigma[dx:, dx:]) - logdet(sigma))
    if name == "student_t":
        v, m, n = float(row["target.dof"]), dx, dy
        value += (math.lgamma(v / 2) + math.lgamma((v + m + n) / 2) - math.lgamma((v + m) / 2) - math.lgamma((v + n) / 2)
                  + (v + m) / 2 * digamma((v + m) / 2) + (v + n) / 2 * digamma((v + n) / 2)
                  - (v + m + n) / 2 * digamma((v + m + n) / 2) - v / 2 * digamma(v / 2))
    return value


def task_label(row):
    name = row["target.name"]
    transform = row["target.transform"] if isinstance(row["target.transform"], str) else "none"
    if name == "correlated_gaussian":
        label = f"correlated Gaussian d={int(row['target.dim'])}"
    else:
        label = f"{'Gaussian' if name == 'multivariate_normal' else 'Student-t nu=' + str(int(row['target.dof']))} " \
                f"{row['target.interaction']} {int(row['target.dim_x'])}x{int(row['target.dim_y'])}"
    return label + ("" if transform == "none" else f", {transform}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
    args = ap.parse_args()
    path = os.path.join(args.results, "mi_tasks.h5")
    run = load(path)
    df = index_frame(path)
    check = Checks("mi_tasks", args.out, results=path)

    df["task"] = df.apply(task_label, axis=1)
    tasks = list(dict.fromkeys(df["task"]))
    bounds = [b for b in ORDER if b in set(df["bound.name"])]
    print(f"mi_tasks (scale: {run.attrs.get('scale') or 'quick'}; {df['repeat'].nunique()} repeats, "
          f"{int(df['steps'].iloc[0])} training steps per cell)")
    for task in tasks:
        row = df[df["task"] == task].iloc[0]
        mine = exact_mi(row)
        check(abs(mine - row["mi_true"]) <= 1e-9,
              f"{task}: stored true MI {row['mi_true']:.10f} equals an independent numpy closed form {mine:.10f} "
              f"({'Czyz et al. 2023' if row['target.name'] == 'student_t' else '1/2 log(det Sxx det Syy / det S)'}); "
              "measured: |difference| (nats)",
              measured=abs(mine - row["mi_true"]), threshold=1e-9)
    ok_rows = df[df["status"] == "ok"]
    # One record per trained InfoNCE cell (tasks x repeats), as many as the comparisons the check makes.
    for _, r in ok_rows[ok_rows["bound.name"] == "infonce"].iterrows():
        ceiling = np.log(r["batch_size"])
        check(r["mi_estimate_mean"] <= ceiling + 1e-12,
              f"infonce {r['task']}, repeat {r['repeat']}: evaluated mean {r['mi_estimate_mean']:.4f} <= log B = "
              f"{ceiling:.4f} (InfoNCE cannot exceed log B; threshold log B + 1e-12)",
              measured=r["mi_estimate_mean"], threshold=ceiling + 1e-12)

    ratio = np.full((len(tasks), len(bounds)), np.nan)
    print(f"{'task':>42} {'I':>6} " + " ".join(f"{b:>19}" for b in bounds) + "   (median [mean] over repeats)")
    for ti, task in enumerate(tasks):
        sub = ok_rows[ok_rows["task"] == task]
        truth = float(df[df["task"] == task]["mi_true"].iloc[0])
        cells = []
        for bi, bound in enumerate(bounds):
            est = sub[sub["bound.name"] == bound]["mi_estimate_mean"].to_numpy()
            if len(est):
                ratio[ti, bi] = np.median(est) / truth
                cells.append(f"{np.median(est):8.3g} [{np.mean(est):8.2g}]")
            else:
                cells.append(f"{'diverged':>19}")
        print(f"{task:>42} {truth:6.3f} " + " ".join(cells))
    cost = ok_rows.groupby("bound.name")["ns_per_batch"].mean()
    print("evaluation cost per batch (ms, mean over tasks): " + ", ".join(f"{b} {cost[b] / 1e6:.2f}" for b in bounds if b in cost))

    fig, axes = plt.subplots(1, 2, figsize=(15, 5), constrained_layout=True, gridspec_kw={"width_ratios": [3, 1]})
    im = axes[0].imshow(np.clip(ratio, 0, 2), cmap="RdBu", vmin=0, vmax=2, aspect="auto")
    for ti in range(len(tasks)):
        for bi in range(len(bounds)):
            text = "—" if np.isnan(ratio[ti, bi]) else f"{ratio[ti, bi]:.2f}" if abs(ratio[ti, bi]) < 100 else f"{ratio[ti, bi]:.0e}"
            axes[0].text(bi, ti, text, ha="center", va="center", fontsize=8)
    axes[0].set_xticks(range(len(bounds)), bounds)
    axes[0].set_yticks(range(len(tasks)), tasks)
    axes[0].set_title("estimate / true MI (median over repeats; 1 = exact)")
    fig.colorbar(im, ax=axes[0])
    axes[1].barh(bounds, [cost.get(b, np.nan) / 1e6 for b in bounds])
    axes[1].invert_yaxis()
    axes[1].set(xlabel="ms per evaluation batch (B = 64)", title="cost")
    fig.suptitle(f"MI estimators on closed-form tasks (scale {run.attrs.get('scale') or 'quick'})")
    save_figure(fig, args.out, "mi_tasks")
    check.finish()


if __name__ == "__main__":
    main()
