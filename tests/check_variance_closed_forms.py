"""Monte Carlo cross-check of the closed-form variances in tests/test_estimator_variance.cpp, independent of
vibench's code: draws the noise with numpy, forms each estimator's single-sample value by hand, and compares the
sample variance with the closed form (|difference| <= 5 standard errors of the sample variance). Exit status 1 on
a disagreement. Run: /usr/bin/python3 tests/check_variance_closed_forms.py (a few seconds).

Pathwise gradient of a quadratic integrand f (H = -Hessian of f, v = grad f(m)) under z = m + M eps,
eps ~ N(0, I_n), M of D x n (square for gaussian_diag / gaussian_fullrank, D x (D + r) for gaussian_lowrank):
  d/dm_i  = v_i - (W eps)_i,  W = H M                       Var = sum_l W_il^2
  d/dM_ij = eps_j (v_i - (W eps)_i)                         Var = v_i^2 + sum_l W_il^2 + W_ij^2
Measure-valued derivatives on f = (z - k)^2, mu = sigma = 1, a = mu - k (R Rayleigh(1), M double-sided Maxwell):
  coupled   d/dmu    = ((a + R)^2 - (a - R)^2) / sqrt(2 pi)                  Var = 16 a^2 (2 - pi/2) / (2 pi)
  coupled   d/dsigma = (a + M)^2 - (a + eps)^2, M = sign(eps) sqrt(eps^2 + e2^2 + e3^2)   Var = 4 a^2 + 4
  uncoupled d/dmu    = ((a + R1)^2 - (a - R2)^2) / sqrt(2 pi)               Var = (Var (a+R)^2 + Var (a-R)^2) / (2 pi)
  uncoupled d/dsigma = (a + M)^2 - (a + eps)^2, independent                  Var = 16 a^2 + 8
"""
import math
import sys

import numpy as np

N = 1_000_000
rng = np.random.default_rng(20261122)
failures = 0


def check(what, samples, expected):
    global failures
    x = samples - samples.mean()
    var, m4 = (x**2).mean(), (x**4).mean()
    se = math.sqrt(max(m4 - var * var, 0.0) / len(samples))
    ok = abs(var - expected) <= 5 * se + 1e-12 * (1 + abs(expected))
    failures += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {what:<40} measured {var:12.6g} ± {se:9.3g}   closed form {expected:12.6g}")


for d, n in [(3, 3), (3, 4)]:
    a = rng.normal(size=(d, d))
    h = a @ a.T + np.eye(d)
    v = rng.normal(size=d)
    m = rng.normal(size=(d, n)) * 0.7
    eps = rng.normal(size=(N, n))
    w = h @ m
    grad_f = v[None, :] - eps @ w.T  # grad f at z = m + M eps
    for i in range(d):
        check(f"pathwise D={d} n={n} d/dm[{i}]", grad_f[:, i], (w[i] ** 2).sum())
        for j in range(n):
            check(f"pathwise D={d} n={n} d/dM[{i},{j}]", eps[:, j] * grad_f[:, i], v[i] ** 2 + (w[i] ** 2).sum() + w[i, j] ** 2)


def rayleigh(size):
    return np.sqrt(-2 * np.log1p(-rng.uniform(size=size)))


def var_square_shift(a, moments):
    m1, m2, m3, m4 = moments
    e2 = a * a + 2 * a * m1 + m2
    e4 = a**4 + 4 * a**3 * m1 + 6 * a * a * m2 + 4 * a * m3 + m4
    return e4 - e2 * e2


ray = [2 ** (k / 2) * math.gamma(1 + k / 2) for k in (1, 2, 3, 4)]
neg = [(-1) ** k * mom for k, mom in zip((1, 2, 3, 4), ray)]
for k in (1.0, -3.0, 0.0, 2.5):
    a = 1 - k
    e = rng.normal(size=N)
    extra = rng.normal(size=(N, 4))
    r1, r2 = rayleigh(N), rayleigh(N)
    coupled_m = np.copysign(np.sqrt(e**2 + extra[:, 0] ** 2 + extra[:, 1] ** 2), e)
    free_m = np.copysign(np.sqrt((extra[:, :3] ** 2).sum(1)), extra[:, 3])
    s2pi = math.sqrt(2 * math.pi)
    check(f"mvd coupled k={k:g} d/dmu", ((a + r1) ** 2 - (a - r1) ** 2) / s2pi, 16 * a * a * (2 - math.pi / 2) / (2 * math.pi))
    check(f"mvd coupled k={k:g} d/dsigma", (a + coupled_m) ** 2 - (a + e) ** 2, 4 * a * a + 4)
    check(f"mvd uncoupled k={k:g} d/dmu", ((a + r1) ** 2 - (a - r2) ** 2) / s2pi,
          (var_square_shift(a, ray) + var_square_shift(a, neg)) / (2 * math.pi))
    check(f"mvd uncoupled k={k:g} d/dsigma", (a + free_m) ** 2 - (a + e) ** 2, 16 * a * a + 8)

print(f"{failures} disagreement(s)")
sys.exit(1 if failures else 0)
