"""Figure: VAE vs IWAE training on binarized Fashion-MNIST (vae study, Burda, Grosse & Salakhutdinov 2016).

Reads results/vae_iwae.h5 only; writes plots/figures/vae_iwae.{png,pdf}; prints the plotted numbers and checks
them. Exit status 1 if a check fails.

One model trained four ways: with the ELBO (k = 1), with the IWAE bound at k = 5 and k = 50, and at k = 50
with the DReG gradient (Tucker et al. 2019). On the same test images, each with 5000 draws of z: the test
ELBO, IWAE-5, IWAE at the training k and IWAE-5000, the test log-likelihood estimate (a), the gaps
IWAE-5000 - ELBO and IWAE-5000 - IWAE-5 (b), the activity Cov_x(E_q[u]) of every latent unit, active above
10^-2 (Burda et al. §5.2) (c), and the training curves, each of its own training bound (d).

Checks (only those of the scale the file was run at apply; the script says which):
  quick: per cell, the bounds are ordered ELBO <= IWAE-5 <= IWAE-5000 estimate, i.e. neither paired gap
         (over the evaluated images) is below 0 by more than z SE, z one-sided Bonferroni 99% over all gaps.
  paper: IWAE-50 (iwae gradient) beats the VAE on test log-likelihood by more than z SE of the paired
         per-image difference (z one-sided 99%), and has at least as many active units (what Burda et al.
         2016, Table 1, found on MNIST; the README gives their numbers as context).
"""
import argparse
import os
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vibench_results import Checks, load, save_figure  # noqa: E402


def label(cell):
    k, grad = cell.attrs["k"], cell.attrs["gradient"]
    if k == 1:
        return "VAE (ELBO)" + (", DReG" if grad == "dreg" else "")
    return f"IWAE k={k}" + (", DReG" if grad == "dreg" else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
    args = ap.parse_args()
    path = os.path.join(args.results, "vae_iwae.h5")
    run = load(path)
    scale = run.attrs.get("scale") or "quick"
    cells = [c for c in run.cells if c.attrs.get("status") == "ok"]
    cells.sort(key=lambda c: (c.attrs["k"], c.attrs["gradient"] == "dreg"))
    check = Checks("vae_iwae", args.out, results=path)
    a = cells[0].attrs
    arch = f"784-{'-'.join([str(a['hidden_units'])] * a['hidden_layers'])}-{a['latent_dim']}"
    print(f"vae_iwae (scale: {scale}; {arch}, {a['epochs']} passes over {a['train_examples'] or 60000} images, "
          f"bounds on {a['eval_examples']} test images x {a['eval_k']} draws)")
    print(f"{'training objective':>22} {'ELBO':>9} {'IWAE-5':>9} {'IWAE-k':>9} {'IWAE-' + str(a['eval_k']):>10} "
          f"{'+-SE':>6} {'LL-ELBO':>8} {'LL-IWAE5':>9} {'active':>6} {'train s':>8}")
    for c in cells:
        print(f"{label(c):>22} {c['test_elbo']:9.2f} {c['test_iwae5']:9.2f} {c['test_iwae_train_k']:9.2f} "
              f"{c['test_log_likelihood']:10.2f} {c['test_log_likelihood_se']:6.2f} {c['gap_ll_elbo']:8.2f} "
              f"{c['gap_ll_iwae5']:9.2f} {int(c['active_units']):6d} {c.attrs.get('seconds_training', float('nan')):8.1f}")

    if scale == "paper":
        print("checks of the paper scale (the quick scale's ordering checks do not apply)")
        vae = [c for c in cells if c.attrs["k"] == 1 and c.attrs["gradient"] == "iwae"]
        iwae = [c for c in cells if c.attrs["k"] == 50 and c.attrs["gradient"] == "iwae"]
        if not vae or not iwae:
            check(False, "paper scale: the file holds a finished VAE (k = 1) and IWAE-50 (iwae gradient) cell")
        else:
            v, w = vae[0], iwae[0]
            d = np.asarray(w["image_log_likelihood"]) - np.asarray(v["image_log_likelihood"])
            se = d.std(ddof=1) / np.sqrt(len(d))
            z = NormalDist().inv_cdf(0.99)
            check(d.mean() > z * se,
                  f"paper scale: IWAE-50 beats the VAE on the test log-likelihood (IWAE-{a['eval_k']} estimate on "
                  f"{len(d)} test images, paired): {w['test_log_likelihood']:.2f} vs {v['test_log_likelihood']:.2f} "
                  f"nats, difference {d.mean():.2f} ± {se:.2f}; measured: difference / SE, above z one-sided 99%",
                  measured=d.mean() / se, threshold=z)
            check(w["active_units"] >= v["active_units"],
                  f"paper scale: IWAE-50 has at least as many active units (Cov_x(E_q[u]) > 10⁻²) as the VAE "
                  f"(Burda et al. 2016, §5.2); measured: IWAE-50's count minus the VAE's "
                  f"({int(w['active_units'])} - {int(v['active_units'])})",
                  measured=w["active_units"] - v["active_units"], threshold=">= 0")
    else:
        print(f"checks of the {scale} scale (the paper scale's IWAE-50 vs VAE checks do not apply)")
        z = NormalDist().inv_cdf(1 - 0.01 / (2 * len(cells)))
        for c in cells:
            for lo, hi, gap in (("ELBO", "IWAE-5", "gap_iwae5_elbo"), ("IWAE-5", f"IWAE-{a['eval_k']}", "gap_ll_iwae5")):
                g, se = c[gap], c[gap + "_se"]
                check(g >= -z * se,
                      f"{label(c)}: {lo} <= {hi} on the test images (paired over {c['eval_images']:g} images): "
                      f"{hi} - {lo} = {g:.2f} ± {se:.2f} nats; measured: (gap) / SE, at least -z "
                      f"(one-sided, Bonferroni 99% over {2 * len(cells)} gaps)",
                      measured=g / se, threshold=-z)

    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), constrained_layout=True)
    x = np.arange(len(cells))
    names = [label(c) for c in cells]
    ax = axes[0, 0]
    # Differences to the first cell (the VAE) on the same test images, paired per image: the images' own
    # spread (an SE of ~10 nats over a few images) cancels.
    base = cells[0]
    series = (("image_elbo", "ELBO (k = 1)", "v"), ("image_iwae5", "IWAE-5", "s"),
              ("image_log_likelihood", f"IWAE-{a['eval_k']} (log-likelihood estimate)", "o"))
    for j, (key, text, marker) in enumerate(series):
        diffs = [np.asarray(c[key]) - np.asarray(base[key]) for c in cells]
        ax.errorbar(x + 0.12 * (j - 1), [d.mean() for d in diffs],
                    yerr=[d.std(ddof=1) / np.sqrt(len(d)) for d in diffs], fmt=marker, capsize=3, label=text)
    for xi, c in zip(x, cells):
        ax.annotate(f"LL {c['test_log_likelihood']:.1f}", (xi, 0), textcoords="offset points", xytext=(-18, -14),
                    fontsize=7)
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xticks(x, names)
    ax.set(ylabel=f"nats per image, minus {names[0]}'s",
           title="(a) test bounds relative to the first model (paired over images, ± SE)")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    for j, (key, text) in enumerate((("gap_ll_elbo", f"IWAE-{a['eval_k']} − ELBO"),
                                     ("gap_ll_iwae5", f"IWAE-{a['eval_k']} − IWAE-5"),
                                     ("gap_ll_iwae_train_k", f"IWAE-{a['eval_k']} − IWAE at the training k"))):
        ax.bar(x + 0.27 * (j - 1), [c[key] for c in cells], 0.27, yerr=[c[key + "_se"] for c in cells], capsize=3,
               label=text)
    ax.set_xticks(x, names)
    ax.set(ylabel="nats (paired over test images)", title="(b) gaps to the log-likelihood estimate")
    ax.legend(fontsize=8)
    ax = axes[1, 0]
    threshold = a["active_threshold"]
    for c, n in zip(cells, names):
        act = np.sort(np.asarray(c["unit_activity"]))[::-1]
        ax.semilogy(np.arange(1, len(act) + 1), act, "o-", ms=3, label=f"{n}: {int(c['active_units'])} active")
    ax.axhline(threshold, color="k", ls=":", lw=1)
    ax.set(xlabel="latent unit (sorted)", ylabel="Cov_x(E_q[u])",
           title=f"(c) unit activity; active above {threshold:g} (Burda et al. §5.2)")
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    for c, n in zip(cells, names):
        ax.plot(c["trajectory_epoch"], c["trajectory_train_bound"], "o-", ms=3, label=n)
    ax.set(xlabel="pass over the training images", ylabel="training bound (its own k), nats",
           title="(d) training curves")
    ax.legend(fontsize=8)
    fig.suptitle(f"VAE vs IWAE on binarized Fashion-MNIST (scale {scale}: {arch}, {a['epochs']} passes)")
    save_figure(fig, args.out, "vae_iwae")
    check.finish()


if __name__ == "__main__":
    main()
