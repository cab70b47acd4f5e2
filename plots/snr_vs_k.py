"""Figure: SNR of IWAE-K gradient estimators for the model parameter theta and the encoder phi as K grows
(Rainforth et al. 2018, "Tighter Variational Bounds are Not Necessarily Better", §4, Thm. 1 and their SNR figure).

Reads results/snr_vs_k.h5 (the paper's setting: a data set of N = 1024 points drawn from the model, theta and phi
at the data set's optimum plus one N(0, 0.01²) perturbation, one cell per (estimator, K, data point n)) and, for
the second row, results/snr_vs_k_one_point.h5 (the earlier variant: one point, theta at that point's own
optimum) when it exists; writes plots/figures/snr_vs_k.{png,pdf}; prints the plotted numbers and checks them.
Exit status 1 if a check fails.

Per cell (= data point) and parameter group (theta = prior_mean; phi = the encoder's b: per data point A's
gradient is b's times x_j, so A_ij has exactly b_i's SNR), the group's SNR is the mean over the group of the
debiased SNR
  snr_i = sqrt(max(m_i^2 - v_i/R, 0)) / sqrt(v_i)   (m, v: mean and variance of R replicate estimates);
the plotted value is its mean over the data points evaluated, with the standard error of that mean (spread
over the points / sqrt(points)); one-point row: the delta-method SE sqrt(mean_i (1 + snr_i^2/2) / R) / sqrt(n).

Theory (Rainforth et al. 2018, Thm. 1, M = 1): IWAE's theta SNR grows like sqrt(K), its phi SNR decays like
1/sqrt(K); DReG's phi SNR grows with K (Tucker et al. 2018). Checks on the data-set setting (log-log slopes of
the plotted means over every K, least squares):
  1. iwae theta slope >= 0.4;  2. iwae phi slope < 0;  3. dreg phi slope > 0;  4. stl phi slope > 0;
  5. an independent numpy computation (closed-form per-sample gradients of this model, numpy's own random
     numbers, at the stored x_n, phi and theta) agrees with vibench: for a few points, every K and estimator,
     each b_i and theta_i, the signed SNR mean/std differs by less than z* of the combined delta-method SE
     (Bonferroni over every compared number, family-wise 1%);
  6. the stored point is one perturbation shared by every cell, and A - I/2 has the N(0, 0.01²) spread.
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
ESTIMATORS = ("iwae", "dreg", "stl")
COLORS = {"iwae": "tab:red", "dreg": "tab:blue", "stl": "tab:green"}


def group_index(cell, prefix):
    return [i for i, n in enumerate(cell["param_names"]) if n.startswith(prefix)]


def group_snr(cell, prefix):
    """(mean debiased SNR over the group, its delta-method SE treating the group's entries as independent)."""
    idx = group_index(cell, prefix)
    m, v = np.asarray(cell["grad_mean"])[idx], np.asarray(cell["grad_var"])[idx]
    r = int(cell.attrs["replicates"])
    snr = np.sqrt(np.maximum(m * m - v / r, 0)) / np.sqrt(v)
    se = np.sqrt(np.mean((1 + snr**2 / 2) / r)) / np.sqrt(len(idx))
    return float(np.mean(snr)), float(se)


def slope(k, y):
    k, y = np.asarray(k, float), np.asarray(y, float)
    ok = y > 0
    return float(np.polyfit(np.log(k[ok]), np.log(y[ok]), 1)[0]) if ok.sum() >= 2 else float("nan")


# ---- independent numpy computation of the same gradients ------------------------------------------------------
# Model: z ~ N(μ, I_D), x | z ~ N(z, I_D), q(z | x) = N(m, σ² I), m = Ax + b. With z_k = m + σ ε_k,
# log w_k = log N(z_k; μ, I) + log N(x; z_k, I) − log N(z_k; m, σ² I) and w̃ = softmax(log w):
#   θ = μ, every estimator: Σ_k w̃_k (z_k − μ)
#   b (A_ij = b_i x_j):  iwae (total derivative; log q(z_k(ε)) = log N(ε) − D log σ does not depend on m):
#                          Σ_k w̃_k ∇_z log p(x, z_k),  ∇_z log p(x, z) = μ + x − 2z
#                        stl (score term dropped, Roeder et al. 2017): Σ_k w̃_k (μ + x − 2z_k + (z_k − m)/σ²)
#                        dreg (Tucker et al. 2018):                   Σ_k w̃_k² (μ + x − 2z_k + (z_k − m)/σ²)
def reference_gradients(estimator, x, A, b, mu, var, k, replicates, rng, chunk_bytes=32 << 20):
    """`replicates` independent gradient estimates; each row is (b's D entries, then θ's D entries)."""
    d = x.size
    m = A @ x + b
    sigma = np.sqrt(var)
    out = np.empty((replicates, 2 * d))
    per = max(1, int(chunk_bytes // (8 * k * d * 4)))  # replicates per chunk: ~4 arrays of K x D each
    for start in range(0, replicates, per):
        r = min(per, replicates - start)
        eps = rng.standard_normal((r, k, d))
        z = m + sigma * eps
        # log w up to a constant shared by every k (w̃ does not see it)
        log_w = -0.5 * (((z - mu) ** 2).sum(-1) + ((x - z) ** 2).sum(-1)) + 0.5 * (eps**2).sum(-1)
        w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        grad_p = mu + x - 2 * z
        if estimator == "iwae":
            g_b = np.einsum("rk,rkd->rd", w, grad_p)
        elif estimator == "stl":
            g_b = np.einsum("rk,rkd->rd", w, grad_p + (z - m) / var)
        elif estimator == "dreg":
            g_b = np.einsum("rk,rkd->rd", w * w, grad_p + (z - m) / var)
        else:
            raise ValueError(f"no closed form for estimator {estimator!r}")
        out[start:start + r, :d] = g_b
        out[start:start + r, d:] = np.einsum("rk,rkd->rd", w, z - mu)
    return out


def signed_snr(samples):
    """Signed SNR mean/std per column and the delta-method factor V with Var(SNR estimate) ≈ V/R:
    V = 1 − snr·γ + snr²(κ − 1)/4 (γ skewness, κ kurtosis of the samples; 1 + snr²/2 for a Gaussian)."""
    mean = samples.mean(0)
    c = samples - mean
    var = (c**2).mean(0)
    sd = np.sqrt(var)
    snr = mean / sd
    v = 1 - snr * (c**3).mean(0) / sd**3 + snr**2 * ((c**4).mean(0) / var**2 - 1) / 4
    return snr, np.maximum(v, 0.0)


def cell_point(cell):
    """(x, A, b, μ, σ²) of a cell, from what it stores."""
    x = np.asarray(cell["observation"], float)
    d = x.size
    phi = np.asarray(cell["phi"], float)
    return (x, phi[: d * d].reshape(d, d), phi[d * d: d * d + d], np.asarray(cell["theta"], float),
            float(cell.attrs["family.variance"]))


def compare_with_numpy(cells, seed, points, replicates, check):
    """Check 5: vibench's per-parameter signed SNRs against the numpy reference's."""
    rng = np.random.default_rng(seed)
    rows = []
    for cell in cells:
        n = int(cell.attrs["target.data_index"])
        if n not in points:
            continue
        est, k = cell.attrs["estimator.name"], int(cell.attrs["objective.k"])
        x, A, b, mu, var = cell_point(cell)
        idx = group_index(cell, GROUPS["phi"]) + group_index(cell, GROUPS["theta"])
        m, v = np.asarray(cell["grad_mean"])[idx], np.asarray(cell["grad_var"])[idx]
        snr_vb = m / np.sqrt(v)
        snr_np, factor = signed_snr(reference_gradients(est, x, A, b, mu, var, k, replicates, rng))
        se = np.sqrt(factor / int(cell.attrs["replicates"]) + factor / replicates)
        rows.append((est, k, n, snr_vb, snr_np, (snr_vb - snr_np) / se))
    count = sum(r[5].size for r in rows)
    zstar = NormalDist().inv_cdf(1 - 0.01 / (2 * count))
    worst = max(rows, key=lambda r: np.max(np.abs(r[5])))
    zmax = float(np.max(np.abs(worst[5])))
    print(f"numpy reference ({replicates} replicates per cell, points {sorted(points)}; raw mean |SNR|, each "
          f"above its own noise level 1/sqrt(R)): "
          f"max |z| = {zmax:.2f} over {count} SNRs (at {worst[0]}, K={worst[1]}, n={worst[2]})")
    for est in ESTIMATORS:
        for k in sorted({r[1] for r in rows}):
            sel = [r for r in rows if r[0] == est and r[1] == k]
            if not sel:
                continue
            d = sel[0][3].size // 2
            print(f"  {est:<5} K={k:<5} mean |SNR| b: vibench {np.mean([np.abs(r[3][:d]).mean() for r in sel]):.4f} "
                  f"numpy {np.mean([np.abs(r[4][:d]).mean() for r in sel]):.4f};  theta: vibench "
                  f"{np.mean([np.abs(r[3][d:]).mean() for r in sel]):.4f} numpy {np.mean([np.abs(r[4][d:]).mean() for r in sel]):.4f}")
    check(zmax < zstar,
          f"independent numpy computation (closed-form per-sample gradients, own RNG, {replicates} replicates) agrees "
          f"with vibench: signed SNR of every b_i and theta_i at points {sorted(points)}, every K and estimator, within "
          f"z* = {zstar:.2f} combined delta-method SEs (Bonferroni over {count}, family-wise 1%); measured: max |z|",
          measured=zmax, threshold=f"< {zstar:.3f}")


def collect(run, per_point):
    """(estimator, group) -> {K: (plotted SNR, SE)}; per_point: mean over data points with their spread's SE."""
    vals = {}
    for cell in run.cells:
        if cell.attrs["status"] != "ok":
            continue
        est, k = cell.attrs["estimator.name"], int(cell.attrs["objective.k"])
        for g, prefix in GROUPS.items():
            vals.setdefault((est, g), {}).setdefault(k, []).append(group_snr(cell, prefix))
    data = {}
    for key, row in vals.items():
        for k, pts in row.items():
            snr = np.array([p[0] for p in pts])
            if per_point:
                se = snr.std(ddof=1) / np.sqrt(len(snr)) if len(snr) > 1 else pts[0][1]
            else:
                se = pts[0][1]
            data.setdefault(key, {})[k] = (float(snr.mean()), float(se), len(snr))
    return data


def print_table(title, data):
    print(title)
    ks = sorted(data[("iwae", "phi")])
    print(f"{'estimator':<10} {'group':<6} " + " ".join(f"{'K=' + str(k):>16}" for k in ks) + "  slope(all K)")
    for (est, g), row in sorted(data.items()):
        print(f"{est:<10} {g:<6} " + " ".join(f"{row[k][0]:>8.4f}±{row[k][1]:<7.4f}" for k in ks)
              + f"  {slope(ks, [row[k][0] for k in ks]):+.3f}")


def panel(ax, data, g, title, replicates):
    for est, color in COLORS.items():
        row = data.get((est, g))
        if not row:
            continue
        ks = np.array(sorted(row))
        y = np.array([row[k][0] for k in ks])
        e = np.array([row[k][1] for k in ks])
        ax.errorbar(ks, y, yerr=2 * e, fmt="o-", color=color, ms=4, capsize=2,
                    label=f"{est} (slope: {slope(ks, y):+.2f})")
    ks = np.array(sorted(data[("iwae", g)]))
    anchor = data[("iwae", g)][ks[0]][0]
    sign = 0.5 if g == "theta" else -0.5
    ax.plot(ks, anchor * (ks / ks[0]) ** sign, "k--", lw=0.8, label=f"$K^{{{sign:+.1f}}}$ (Rainforth et al. Thm. 1)")
    ax.axhline(1 / np.sqrt(replicates), color="gray", lw=0.6, ls=":", label=r"noise level $1/\sqrt{R}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("K (importance samples)")
    ax.set_ylabel("mean SNR (debiased)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
    ap.add_argument("--reference-replicates", type=int, default=2000,
                    help="numpy replicates per compared cell (check 5)")
    args = ap.parse_args()
    path = os.path.join(args.results, "snr_vs_k.h5")
    run = load(path)
    replicates = int(run.cells[0].attrs["replicates"])
    points = sorted({int(c.attrs["target.data_index"]) for c in run.cells})
    n_data = int(run.cells[0].attrs["target.data_points"])
    data = collect(run, per_point=True)
    print_table(f"snr_vs_k (scale: {run.attrs.get('scale')}; {replicates} replicates per point; mean over "
                f"{len(points)} of the N = {n_data} data points; ± SE over the points)", data)

    check = Checks("snr_vs_k", args.out, results=path)
    ks = sorted(data[("iwae", "theta")])

    def slope_check(est, g, ok, threshold, text):
        s = slope(ks, [data[(est, g)][k][0] for k in ks])
        check(ok(s), f"{text}: log-log slope of the mean SNR over K = {ks[0]}..{ks[-1]} is {s:+.3f}; measured: the slope",
              measured=s, threshold=threshold)

    slope_check("iwae", "theta", lambda s: s >= 0.4, ">= 0.4",
                "IWAE model-parameter (θ) gradient SNR grows like √K from K = 1 (Rainforth et al. 2018 Thm. 1)")
    slope_check("iwae", "phi", lambda s: s < 0, "< 0",
                "IWAE encoder (φ) gradient SNR decays with K (Rainforth et al. 2018 Thm. 1: like 1/√K)")
    slope_check("dreg", "phi", lambda s: s > 0, "> 0", "DReG encoder (φ) gradient SNR grows with K (Tucker et al. 2018)")
    slope_check("stl", "phi", lambda s: s > 0, "> 0", "STL encoder (φ) gradient SNR grows with K (Tucker et al. 2018)")

    # Check 6: one perturbation of the data set's optimum shared by every cell.
    first = run.cells[0]
    same = all(np.array_equal(c["phi"], first["phi"]) and np.array_equal(c["theta"], first["theta"]) for c in run.cells)
    check(same, f"every one of the {len(run.cells)} cells is evaluated at the same perturbed (φ, θ) (one "
          f"perturbation for the whole data set, as in the paper)", measured=float(same), threshold="== 1")
    d = len(first["theta"])
    dev = np.asarray(first["phi"])[: d * d] - 0.5 * np.eye(d).ravel()
    sd = float(dev.std())
    sd_tol = 0.01 * 2.58 / np.sqrt(2 * (dev.size - 1))  # 99% two-sided, SE of a Gaussian sample sd
    check(abs(sd - 0.01) < sd_tol, f"the stored encoder A is the optimum I/2 plus N(0, 0.01²) noise: sd of A − I/2 "
          f"over its {dev.size} entries is {sd:.5f} (99%: within {sd_tol:.5f} of 0.01); measured: |sd − 0.01|",
          measured=abs(sd - 0.01), threshold=f"< {sd_tol:.5f}")

    ref_points = set(points[:2])
    compare_with_numpy(run.cells, int(run.attrs["seed"]), ref_points, args.reference_replicates, check)

    one_path = os.path.join(args.results, "snr_vs_k_one_point.h5")
    one = None
    if os.path.exists(one_path):
        one_run = load(one_path)
        one = collect(one_run, per_point=False)
        print_table(f"snr_vs_k_one_point (scale: {one_run.attrs.get('scale')}; one data point, θ at its own optimum; "
                    f"± delta-method SE)", one)
    else:
        print(f"no {one_path}: the one-point row is left out")

    rows = 2 if one else 1
    fig, axes = plt.subplots(rows, 2, figsize=(10, 4.2 * rows), constrained_layout=True, squeeze=False)
    panel(axes[0, 0], data, "theta", rf"data set (N = {n_data}, θ and φ at its optimum): model parameter $\theta = \mu$",
          replicates)
    panel(axes[0, 1], data, "phi", r"data set: encoder $\phi$ ($b$; per point $A$'s SNRs equal $b$'s)", replicates)
    if one:
        r1 = int(one_run.cells[0].attrs["replicates"])
        panel(axes[1, 0], one, "theta", r"one point, θ at its own optimum (not the paper's setting): $\theta$", r1)
        panel(axes[1, 1], one, "phi", r"one point, θ at its own optimum: encoder $\phi$ ($b$)", r1)
    fig.suptitle(f"Gradient SNR vs K, D = 20 linear-Gaussian (Rainforth et al. 2018 §4) — scale: {run.attrs.get('scale')}\n"
                 f"{replicates} estimates per point; top row: mean over {len(points)} of the {n_data} data points; "
                 f"bars: ±2 SE",
                 fontsize=9.5)
    save_figure(fig, args.out, "snr_vs_k")
    check.finish()


if __name__ == "__main__":
    main()
