"""Figure: the earlier one-point variant of snr_vs_k (experiments/snr_vs_k_one_point.yaml): one data point with θ at
that point's own optimum and a fresh N(0, 0.01²) perturbation per cell — not Rainforth et al. 2018's setting. Its
θ gradient's only signal is the 0.01 perturbation, so θ's SNR does not grow like √K from K = 1 as in the paper's
data-set setting (plots/snr_vs_k.py, whose second row draws the same panels).

Reads results/snr_vs_k_one_point.h5 only; writes plots/figures/snr_vs_k_one_point.{png,pdf}. Check: the IWAE θ
log-log slope over all K stays below the 0.4 that the data-set setting must reach (the contrast the README states).
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from snr_vs_k import collect, panel, print_table, slope  # noqa: E402  (plots/ is the script's own folder)
from vibench_results import Checks, load, save_figure  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
    args = ap.parse_args()
    path = os.path.join(args.results, "snr_vs_k_one_point.h5")
    check = Checks("snr_vs_k_one_point", args.out, results=path)
    run = load(path)
    data = collect(run, per_point=False)
    print_table(f"snr_vs_k_one_point (scale: {run.attrs.get('scale')}; one data point, θ at its own optimum; "
                f"± delta-method SE)", data)
    ks = sorted(data[("iwae", "theta")])
    s = slope(ks, [data[("iwae", "theta")][k][0] for k in ks])
    check(s < 0.4, f"one point with θ at its own optimum (not the paper's setting): the IWAE θ SNR does not grow like "
          f"√K from K = 1 (log-log slope over K = {ks[0]}..{ks[-1]} is {s:+.3f}, below the 0.4 the data-set setting "
          f"reaches); measured: the slope", measured=s, threshold="< 0.4")
    replicates = int(run.cells[0].attrs["replicates"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    panel(axes[0], data, "theta", r"one point, θ at its own optimum: $\theta = \mu$", replicates)
    panel(axes[1], data, "phi", r"one point, θ at its own optimum: encoder $\phi$ ($b$)", replicates)
    fig.suptitle(f"Gradient SNR vs K, one data point (the earlier variant; not Rainforth et al.'s setting) — scale: "
                 f"{run.attrs.get('scale')}, {replicates} estimates per cell, bars: ±2 delta-method SE", fontsize=9.5)
    save_figure(fig, args.out, "snr_vs_k_one_point")
    check.finish()


if __name__ == "__main__":
    main()
