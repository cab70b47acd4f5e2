#include "vibench/math/vector_kernels.hpp"

#include <cmath>

namespace vibench {

namespace {
// 8 doubles: one AVX-512 register, two AVX2, four SSE2. Loaded and stored with memcpy (no alignment
// assumed) and never passed to a function by value, so no vector calling convention is involved.
using Lane8 = double __attribute__((vector_size(64)));

// Y[0..R) −= X·B on columns [i0, i0+W), accumulators in registers across the whole j-sum; each element
// still starts from its Y value and subtracts the terms in the order j = 0, 1, …
template <int R, int W>
inline void block(double* __restrict y, const double* __restrict x, const double* __restrict b, std::size_t k,
                  std::size_t m, std::size_t i0) {
  if constexpr (W == 8) {
    Lane8 acc[R];
    for (int r = 0; r < R; ++r) __builtin_memcpy(&acc[r], y + r * m + i0, sizeof(Lane8));
    for (std::size_t j = 0; j < k; ++j) {
      Lane8 bj;
      __builtin_memcpy(&bj, b + j * m + i0, sizeof bj);
      for (int r = 0; r < R; ++r) acc[r] -= x[r * k + j] * bj;
    }
    for (int r = 0; r < R; ++r) __builtin_memcpy(y + r * m + i0, &acc[r], sizeof(Lane8));
  } else {
    for (int r = 0; r < R; ++r) {
      double acc = y[r * m + i0];
      for (std::size_t j = 0; j < k; ++j) acc -= x[r * k + j] * b[j * m + i0];
      y[r * m + i0] = acc;
    }
  }
}

template <int R>
inline void rows(double* __restrict y, const double* __restrict x, const double* __restrict b, std::size_t k,
                 std::size_t m) {
  std::size_t i = 0;
  for (; i + 8 <= m; i += 8) block<R, 8>(y, x, b, k, m, i);
  for (; i < m; ++i) block<R, 1>(y, x, b, k, m, i);
}

// The CPU-dispatched bodies. target_clones sits on functions with no earlier declaration: clang (14)
// ignores it on a definition whose declaration lacks it and would build only the first target.
// Blocks of 4 rows × 8 columns: 32 accumulators (four AVX-512 registers), each row of B loaded once per block
// of rows.
__attribute__((target_clones("avx512f", "avx2", "default")))
void subtract_product_dispatched(double* __restrict y, const double* __restrict x, const double* __restrict b,
                                 std::size_t n, std::size_t k, std::size_t m) {
  std::size_t s = 0;
  for (; s + 4 <= n; s += 4) rows<4>(y + s * m, x + s * k, b, k, m);
  for (; s < n; ++s) rows<1>(y + s * m, x + s * k, b, k, m);
}

// One Adam pass, element-wise, so vectorizing changes nothing but speed (IEEE sqrt and division are correctly
// rounded); m/c1 is skipped when c1 = 1 (1 − β₁ᵗ rounds to 1 after a few hundred steps), which changes
// no bit (x/1 = x) and saves one of the pass's three divisions, its slowest instructions with the square root.
template <bool DivideByC1, bool DirectionFirst>
inline void adam_loop(double* __restrict theta, const double* __restrict grad, double* __restrict m,
                      double* __restrict v, std::size_t n, double beta1, double beta2, double c1, double c2,
                      double signed_lr, double eps) {
  for (std::size_t i = 0; i < n; ++i) {
    m[i] = beta1 * m[i] + (1 - beta1) * grad[i];
    v[i] = beta2 * v[i] + (1 - beta2) * grad[i] * grad[i];
    const double m_hat = DivideByC1 ? m[i] / c1 : m[i], denominator = std::sqrt(v[i] / c2) + eps;
    if constexpr (DirectionFirst)
      theta[i] += signed_lr * (m_hat / denominator);
    else
      theta[i] += signed_lr * m_hat / denominator;
  }
}

// Both roundings (optimizer.hpp's AdamRounding), each with and without m/c1.
__attribute__((target_clones("avx512f", "avx2", "default")))
void adam_dispatched(bool direction_first, double* __restrict theta, const double* __restrict grad,
                     double* __restrict m, double* __restrict v, std::size_t n, double beta1, double beta2, double c1,
                     double c2, double signed_lr, double eps) {
  // Direct calls, so that each body is inlined into every clone and compiled for its instruction set.
  if (direction_first && c1 != 1.0)
    adam_loop<true, true>(theta, grad, m, v, n, beta1, beta2, c1, c2, signed_lr, eps);
  else if (direction_first)
    adam_loop<false, true>(theta, grad, m, v, n, beta1, beta2, c1, c2, signed_lr, eps);
  else if (c1 != 1.0)
    adam_loop<true, false>(theta, grad, m, v, n, beta1, beta2, c1, c2, signed_lr, eps);
  else
    adam_loop<false, false>(theta, grad, m, v, n, beta1, beta2, c1, c2, signed_lr, eps);
}

// acc[0..W) += Σ_r w_r·rows[r][0..W) for rows `stride` apart: W sums held in registers across all n rows,
// each still added in row order.
template <std::size_t W>
inline void add_weighted_columns(double* __restrict acc, const double* __restrict rows, std::size_t n,
                                 std::size_t stride, const double* __restrict weights) {
  double a[W];
  for (std::size_t i = 0; i < W; ++i) a[i] = acc[i];
  for (std::size_t r = 0; r < n; ++r) {
    const double w = weights ? weights[r] : 1.0;
    if (w == 0.0) continue;
    for (std::size_t i = 0; i < W; ++i) a[i] += w * rows[r * stride + i];
  }
  for (std::size_t i = 0; i < W; ++i) acc[i] = a[i];
}

// Columns in blocks of 32 (four AVX-512 registers of sums), then 8, then the rest: each row segment is read
// once per block and no sum waits on a store (a memory accumulator per column would, once per row).
__attribute__((target_clones("avx512f", "avx2", "default")))
void add_weighted_rows_dispatched(double* __restrict acc, const double* __restrict rows, std::size_t n,
                                  std::size_t p, const double* __restrict weights) {
  if (n == 1) {  // one term per sum: nothing to keep in registers
    const double w = weights ? weights[0] : 1.0;
    if (w != 0.0)
      for (std::size_t i = 0; i < p; ++i) acc[i] += w * rows[i];
    return;
  }
  std::size_t i = 0;
  for (; i + 32 <= p; i += 32) add_weighted_columns<32>(acc + i, rows + i, n, p, weights);
  for (; i + 8 <= p; i += 8) add_weighted_columns<8>(acc + i, rows + i, n, p, weights);
  switch (p - i) {
    case 0: return;
    case 1: return add_weighted_columns<1>(acc + i, rows + i, n, p, weights);
    case 2: return add_weighted_columns<2>(acc + i, rows + i, n, p, weights);
    case 3: return add_weighted_columns<3>(acc + i, rows + i, n, p, weights);
    case 4: return add_weighted_columns<4>(acc + i, rows + i, n, p, weights);
    case 5: return add_weighted_columns<5>(acc + i, rows + i, n, p, weights);
    case 6: return add_weighted_columns<6>(acc + i, rows + i, n, p, weights);
    default: return add_weighted_columns<7>(acc + i, rows + i, n, p, weights);
  }
}
}  // namespace

void subtract_product(double* y, const double* x, const double* b, std::size_t n, std::size_t k, std::size_t m) {
  subtract_product_dispatched(y, x, b, n, k, m);
}

void adam_update(double* theta, const double* grad, double* m, double* v, std::size_t n, double beta1, double beta2,
                 double c1, double c2, double signed_lr, double eps) {
  adam_dispatched(false, theta, grad, m, v, n, beta1, beta2, c1, c2, signed_lr, eps);
}

void adam_update_direction_first(double* theta, const double* grad, double* m, double* v, std::size_t n, double beta1,
                                 double beta2, double c1, double c2, double signed_lr, double eps) {
  adam_dispatched(true, theta, grad, m, v, n, beta1, beta2, c1, c2, signed_lr, eps);
}

void add_weighted_rows(double* acc, const double* rows, std::size_t n, std::size_t p, const double* weights) {
  add_weighted_rows_dispatched(acc, rows, n, p, weights);
}

}  // namespace vibench
