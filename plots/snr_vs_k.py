"""Figure: SNR of IWAE-K gradient estimators for the model parameter theta and the encoder phi as K grows
(Rainforth et al. 2018, "Tighter Variational Bounds are Not Necessarily Better", Thm. 1 and Fig. 2 setting).

Reads results/snr_vs_k.h5 only; writes plots/figures/snr_vs_k.{png,pdf}; prints the plotted numbers and checks
them. Exit status 1 if a check fails.

Per cell and parameter group (theta = prior_mean; phi = the encoder's b; with one data point A's gradient is
b's times x_j, so A has exactly b's SNRs), the plotted value is the mean over the group of the debiased SNR
  snr_i = sqrt(max(m_i^2 - v_i/R, 0)) / sqrt(v_i)   (m, v: mean and variance of R replicate estimates),
with standard error sqrt(mean_i (1 + snr_i^2/2) / R) / sqrt(n) (delta method for a ratio of Gaussian sample
moments, n parameters in the group).

Theory (Rainforth et al. 2018, Thm. 1, M = 1): IWAE's theta SNR grows like sqrt(K), its phi SNR decays like
1/sqrt(K); DReG's phi SNR grows with K (Tucker et al. 2018). Checks (each one-sided, at z = 2.33, 99%):
  1. iwae, theta: SNR(K = 1000) > SNR(K = 10)
  2. iwae, phi:   SNR(K = 1000) < SNR(K = 1)
  3. dreg, phi:   SNR(K = 1000) > SNR(K = 10)
  4. dreg phi SNR > iwae phi SNR at every K > 1
"""
import argparse
import os
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vibench_results import Checks, load, save_figure  # noqa: E402

GROUPS = {"theta": "prior_mean[", "phi": "b["}


def group_snr(cell, prefix):
    names = cell["param_names"]
    idx = [i for i, n in enumerate(names) if n.startswith(prefix)]
    m, v = np.asarray(cell["grad_mean"])[idx], np.asarray(cell["grad_var"])[idx]
    r = int(cell.attrs["replicates"])
    snr = np.sqrt(np.maximum(m * m - v / r, 0)) / np.sqrt(v)
    se = np.sqrt(np.mean((1 + snr**2 / 2) / r)) / np.sqrt(len(idx))
    return float(np.mean(snr)), float(se)


def slope(k, y):
    k, y = np.asarray(k, float), np.asarray(y, float)
    ok = y > 0
    return float(np.polyfit(np.log(k[ok]), np.log(y[ok]), 1)[0]) if ok.sum() >= 2 else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
    args = ap.parse_args()
    path = os.path.join(args.results, "snr_vs_k.h5")
    run = load(path)

    data = {}  # (estimator, group) -> {K: (snr, se)}
    for cell in run.cells:
        if cell.attrs["status"] != "ok":
            continue
        est, k = cell.attrs["estimator.name"], int(cell.attrs["objective.k"])
        for g, prefix in GROUPS.items():
            data.setdefault((est, g), {})[k] = group_snr(cell, prefix)

    z = NormalDist().inv_cdf(0.99)
    check = Checks("snr_vs_k", args.out, results=path)
    print(f"snr_vs_k (scale: {run.attrs.get('scale')}, replicates per cell: {run.cells[0].attrs['replicates']})")
    print(f"{'estimator':<10} {'group':<6} " + " ".join(f"{'K=' + str(k):>16}" for k in sorted(data[('iwae', 'phi')])) + "  slope(K>=10)")
    for (est, g), row in sorted(data.items()):
        ks = sorted(row)
        print(f"{est:<10} {g:<6} " + " ".join(f"{row[k][0]:>8.4f}±{row[k][1]:<7.4f}" for k in ks)
              + f"  {slope([k for k in ks if k >= 10], [row[k][0] for k in ks if k >= 10]):+.2f}")

    def greater(a, b, text):
        """One-sided 99% test of SNR a > SNR b; measured: the difference in SEs of the difference."""
        margin = z * np.hypot(a[1], b[1])
        check(a[0] - b[0] > margin,
              f"{text}: {a[0]:.4f} vs {b[0]:.4f}; one-sided 99%: the difference must exceed {z:.3f} of its SEs "
              f"(margin {margin:.4f}); measured: the difference in SEs",
              measured=(a[0] - b[0]) / np.hypot(a[1], b[1]), threshold=f"> {z:.3f}")

    iw_t, iw_p, dr_p = data[("iwae", "theta")], data[("iwae", "phi")], data[("dreg", "phi")]
    kmax = max(iw_p)
    greater(iw_t[kmax], iw_t[10], f"IWAE model-parameter (θ) gradient SNR grows with K "
            f"(Rainforth et al. 2018 Thm. 1): SNR(K={kmax}) > SNR(K=10)")
    greater(iw_p[1], iw_p[kmax], f"IWAE encoder (φ) gradient SNR decays with K (Rainforth et al. 2018 Thm. 1): "
            f"SNR(K=1) > SNR(K={kmax})")
    greater(dr_p[kmax], dr_p[10], f"DReG encoder (φ) gradient SNR grows with K (Tucker et al. 2018): "
            f"SNR(K={kmax}) > SNR(K=10)")
    for k in sorted(iw_p):
        if k > 1:
            greater(dr_p[k], iw_p[k], f"DReG encoder (φ) gradient SNR above IWAE's at K={k} (Tucker et al. 2018)")

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    colors = {"iwae": "tab:red", "dreg": "tab:blue", "stl": "tab:green"}
    for ax, (g, title) in zip(axes, (("theta", r"model parameter $\theta = \mu$"), ("phi", r"encoder $\phi$ ($b$; $A$ identical)"))):
        for est, color in colors.items():
            row = data.get((est, g))
            if not row:
                continue
            ks = np.array(sorted(row))
            y = np.array([row[k][0] for k in ks])
            e = np.array([row[k][1] for k in ks])
            ax.errorbar(ks, y, yerr=z * e, fmt="o-", color=color, ms=4, capsize=2,
                        label=f"{est} (slope K≥10: {slope(ks[ks >= 10], y[ks >= 10]):+.2f})")
        kk = np.array([10, max(ks)])
        anchor = data[("iwae", g)][10][0]
        sign = 0.5 if g == "theta" else -0.5
        ax.plot(kk, anchor * (kk / 10) ** sign, "k--", lw=0.8, label=f"$K^{{{sign:+.1f}}}$ (Rainforth et al. Thm. 1)")
        floor = 1 / np.sqrt(int(run.cells[0].attrs["replicates"]))
        ax.axhline(floor, color="gray", lw=0.6, ls=":", label=r"noise level $1/\sqrt{R}$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("K (importance samples)")
        ax.set_ylabel("mean SNR over parameters (debiased)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7.5)
    fig.suptitle(f"Gradient SNR vs K, D = 20 linear-Gaussian, one data point (Rainforth et al. 2018 setting) — "
                 f"scale: {run.attrs.get('scale')}, {run.cells[0].attrs['replicates']} replicates/cell, 99% CI",
                 fontsize=9.5)
    save_figure(fig, args.out, "snr_vs_k")
    check.finish()


if __name__ == "__main__":
    main()
