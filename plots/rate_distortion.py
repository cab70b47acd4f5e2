"""Figure: the rate-distortion view of the bottleneck (rate_distortion study).

Reads results/rate_distortion.h5 only; writes plots/figures/rate_distortion.{png,pdf}; prints the plotted
numbers and checks them. Exit status 1 if a check fails.

Left: a beta-VAE on binarized Fashion-MNIST for several beta; test rate R = E KL(q(z|x) || N(0, I)) against
distortion D = E[-log p(x|z)] (Alemi et al. 2018): the beta sweep traces the R-D curve; lines of constant
D + R are lines of constant ELBO. Right: a linear-Gaussian encoder where everything is exact: the Monte Carlo
rate against I(X;Z) + KL(q(z) || r(z)) (the seed identity E_x KL(q(z|x) || r) = I(X;Z) + KL(q(z) || r)).

Checks:
  1. beta-VAE: R strictly decreases and D strictly increases with beta (the trade-off the sweep traces).
  2. beta-VAE: the ELBO -(D + R) is largest for the model trained at beta = 1 (the one that maximizes it).
  3. Linear-Gaussian: |rate - I(X;Z) - KL(q(z) || r)| <= z SE at every encoder noise, z Bonferroni 99%.
"""
import argparse
import os
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vibench_results import Checks, index_frame, load, save_figure  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
    args = ap.parse_args()
    path = os.path.join(args.results, "rate_distortion.h5")
    run = load(path)
    df = index_frame(path)
    df = df[df["status"] == "ok"]
    check = Checks("rate_distortion", args.out, results=path)

    vae = df[df["data"] == "fashion_mnist"].sort_values("beta")
    lin = df[df["data"] == "linear_gaussian"].sort_values("encoder_sd")
    print(f"rate_distortion (scale: {run.attrs.get('scale') or 'quick'})")
    print(f"beta-VAE on binarized Fashion-MNIST: {'beta':>6} {'rate':>9} {'distortion':>11} {'ELBO':>10}")
    for _, r in vae.iterrows():
        print(f"{'':>35}{r['beta']:6g} {r['rate_nats']:9.3f} {r['distortion_nats']:11.3f} {r['elbo_nats']:10.3f}")
    rate, dist, elbo, beta = (vae[c].to_numpy() for c in ("rate_nats", "distortion_nats", "elbo_nats", "beta"))
    # measured: the largest change of R (the smallest of D) between neighbouring betas; None for a single beta.
    check(bool(np.all(np.diff(rate) < 0)),
          f"β-VAE (binarized Fashion-MNIST): the test rate R strictly decreases as β grows, the trade-off the sweep "
          f"traces (Alemi et al. 2018): R = {np.round(rate, 2)}; measured: its largest change between neighbouring β",
          measured=np.max(np.diff(rate)) if len(rate) > 1 else None, threshold="< 0")
    check(bool(np.all(np.diff(dist) > 0)),
          f"β-VAE (binarized Fashion-MNIST): the test distortion D strictly increases as β grows "
          f"(Alemi et al. 2018): D = {np.round(dist, 2)}; measured: its smallest change between neighbouring β",
          measured=np.min(np.diff(dist)) if len(dist) > 1 else None, threshold="> 0")
    if np.any(beta == 1.0):
        check(beta[np.argmax(elbo)] == 1.0,
              f"β-VAE: the ELBO −(D + R) is largest for the model trained at β = 1, the one that maximizes it; "
              f"measured: the β of the largest ELBO, {beta[np.argmax(elbo)]:g} (ELBO {np.round(elbo, 2)})",
              measured=beta[np.argmax(elbo)], threshold="= 1")

    z = NormalDist().inv_cdf(1 - 0.01 / (2 * max(len(lin), 1)))
    print(f"linear-Gaussian encoder: {'sigma':>6} {'rate (MC)':>10} {'+-SE':>7} {'I(X;Z)':>9} {'KL(q(z)||r)':>12} {'z':>6}")
    for _, r in lin.iterrows():
        print(f"{'':>24}{r['encoder_sd']:6g} {r['rate_nats']:10.4f} {r['rate_se']:7.4f} {r['mi_xz_exact']:9.4f} "
              f"{r['aggregate_kl_exact']:12.4f} {r['identity_z']:6.2f}")
        check(abs(r["identity_z"]) <= z,
              f"linear-Gaussian encoder, σ = {r['encoder_sd']:g}: the Monte Carlo rate E_x KL(q(z|x)‖r) equals the "
              f"exact I(X;Z) + KL(q(z)‖r) within {z:.2f} SE (Bonferroni 99% over {len(lin)} noises); measured: "
              f"|deviation| / SE (z = {r['identity_z']:.2f})",
              measured=abs(r["identity_z"]), threshold=z)

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
    ax = axes[0]
    ax.plot(rate, dist, "o-")
    for b, r, d in zip(beta, rate, dist):
        ax.annotate(f"β={b:g}", (r, d), textcoords="offset points", xytext=(5, 4), fontsize=8)
    grid = np.linspace(0, rate.max() * 1.1, 50)
    for level in np.unique(np.round(-elbo[[0, np.argmax(elbo), -1]])):
        ax.plot(grid, level - grid, ":", color="gray", lw=0.8)
    ax.set(xlabel="rate R (nats)", ylabel="distortion D (nats)", title="β-VAE on binarized Fashion-MNIST (test set)",
           xlim=(0, rate.max() * 1.1), ylim=(dist.min() * 0.9, dist.max() * 1.05))
    ax = axes[1]
    s = lin["encoder_sd"].to_numpy()
    ax.errorbar(s, lin["rate_nats"], yerr=z * lin["rate_se"], fmt="o", label="rate E_x KL(q(z|x)‖r) (Monte Carlo)")
    ax.plot(s, lin["mi_xz_exact"] + lin["aggregate_kl_exact"], "k-", lw=1, label="I(X;Z) + KL(q(z)‖r) (exact)")
    ax.plot(s, lin["mi_xz_exact"], "--", label="I(X;Z) (exact)")
    ax.plot(s, lin["aggregate_kl_exact"], ":", label="KL(q(z)‖r) (exact)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel="encoder noise σ", ylabel="nats", title="linear-Gaussian encoder: the seed identity")
    ax.legend(fontsize=8)
    fig.suptitle(f"Rate and distortion (scale {run.attrs.get('scale') or 'quick'})")
    save_figure(fig, args.out, "rate_distortion")
    check.finish()


if __name__ == "__main__":
    main()
