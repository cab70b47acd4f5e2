#pragma once
// Dense kernels of the hot loops that profiles showed, each compiled for AVX-512, AVX2 and baseline x86-64
// and picked at load time for the CPU (target_clones). Each output element is computed in the plain loop's
// order and the build never contracts a·b + c into an FMA (-ffp-contract=off), so every variant gives the
// plain loop's bits (tests compare them).
#include <cstddef>

namespace vibench {

// Y −= X·B for row-major Y (n×m), X (n×k), B (k×m): y[s][i] −= Σ_j x[s][j]·b[j][i], j ascending.
void subtract_product(double* y, const double* x, const double* b, std::size_t n, std::size_t k, std::size_t m);

// acc[i] += Σ_r w_r·rows[r][i] over the n rows of a row-major n×p matrix, r ascending; weights = nullptr
// means every w_r = 1. Rows with w_r = 0 are skipped, deliberately: a sample of weight zero (e.g. an
// importance weight that underflowed) contributes nothing even if its per-sample gradient is not finite.
void add_weighted_rows(double* acc, const double* rows, std::size_t n, std::size_t p, const double* weights);

// One Adam step over n coordinates (Kingma & Ba 2015, Alg. 1), c1 = 1 − β₁ᵗ, c2 = 1 − β₂ᵗ, sign = ±1:
// m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  θ ← θ + sign·lr·(m/c1)/(√(v/c2) + ε).
void adam_update(double* theta, const double* grad, double* m, double* v, std::size_t n, double beta1, double beta2,
                 double c1, double c2, double signed_lr, double eps);
// The same step rounded as θ ← θ + sign·lr·((m/c1)/(√(v/c2) + ε)) (optimizer.hpp's AdamRounding::direction_first).
void adam_update_direction_first(double* theta, const double* grad, double* m, double* v, std::size_t n, double beta1,
                                 double beta2, double c1, double c2, double signed_lr, double eps);

}  // namespace vibench
