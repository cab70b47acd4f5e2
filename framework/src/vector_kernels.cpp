#include "vibench/vector_kernels.hpp"

#include <cmath>

// Lane8 values never cross a non-inline function boundary, so the vector ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace vibench {

namespace {
// Y[r0..r0+R) −= X·B on columns [i0, i0+W), accumulators in registers across the whole j-sum; each element
// still starts from its Y value and subtracts the terms in the order j = 0, 1, …
using Lane8 = double __attribute__((vector_size(64)));  // 8 doubles: one AVX-512 register, two AVX2, four SSE2

inline Lane8 load8(const double* p) {
  Lane8 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(double* p, Lane8 v) { __builtin_memcpy(p, &v, sizeof v); }

template <int R, int W>
inline void block(double* __restrict y, const double* __restrict x, const double* __restrict b, std::size_t k,
                  std::size_t m, std::size_t i0) {
  if constexpr (W == 8) {
    Lane8 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = load8(y + r * m + i0);
    for (std::size_t j = 0; j < k; ++j) {
      const Lane8 bj = load8(b + j * m + i0);
      for (int r = 0; r < R; ++r) acc[r] -= x[r * k + j] * bj;
    }
    for (int r = 0; r < R; ++r) store8(y + r * m + i0, acc[r]);
  } else {
    for (int r = 0; r < R; ++r) {
      double acc = y[r * m + i0];
      for (std::size_t j = 0; j < k; ++j) acc -= x[r * k + j] * b[j * m + i0];
      y[r * m + i0] = acc;
    }
  }
}

template <std::size_t P>
void add_weighted_rows_fixed(double* acc, const double* rows, std::size_t n, std::size_t p, const double* weights) {
  double a[P];
  for (std::size_t i = 0; i < P; ++i) a[i] = acc[i];
  for (std::size_t r = 0; r < n; ++r) {
    const double w = weights ? weights[r] : 1.0;
    if (w == 0.0) continue;
    for (std::size_t i = 0; i < P; ++i) a[i] += w * rows[r * P + i];
  }
  for (std::size_t i = 0; i < P; ++i) acc[i] = a[i];
}

template <int R>
inline void rows(double* __restrict y, const double* __restrict x, const double* __restrict b, std::size_t k,
                 std::size_t m) {
  std::size_t i = 0;
  for (; i + 8 <= m; i += 8) block<R, 8>(y, x, b, k, m, i);
  for (; i < m; ++i) block<R, 1>(y, x, b, k, m, i);
}
}  // namespace

// Blocks of 4 rows × 8 columns: 32 accumulators (four AVX-512 registers), each row of B loaded once per block
// of rows.
__attribute__((target_clones("avx512f", "avx2", "default")))
void subtract_product(double* __restrict y, const double* __restrict x, const double* __restrict b, std::size_t n,
                      std::size_t k, std::size_t m) {
  std::size_t s = 0;
  for (; s + 4 <= n; s += 4) rows<4>(y + s * m, x + s * k, b, k, m);
  for (; s < n; ++s) rows<1>(y + s * m, x + s * k, b, k, m);
}

void add_weighted_rows(double* acc, const double* rows, std::size_t n, std::size_t p, const double* weights) {
  switch (p) {
    case 1: return add_weighted_rows_fixed<1>(acc, rows, n, p, weights);
    case 2: return add_weighted_rows_fixed<2>(acc, rows, n, p, weights);
    case 3: return add_weighted_rows_fixed<3>(acc, rows, n, p, weights);
    case 4: return add_weighted_rows_fixed<4>(acc, rows, n, p, weights);
    case 6: return add_weighted_rows_fixed<6>(acc, rows, n, p, weights);
    case 8: return add_weighted_rows_fixed<8>(acc, rows, n, p, weights);
    default:
      for (std::size_t r = 0; r < n; ++r) {
        const double w = weights ? weights[r] : 1.0;
        if (w == 0.0) continue;
        const double* row = rows + r * p;
        for (std::size_t i = 0; i < p; ++i) acc[i] += w * row[i];
      }
  }
}

// Element-wise, so vectorizing changes nothing but speed (IEEE sqrt and division are correctly rounded).
__attribute__((target_clones("avx512f", "avx2", "default")))
void adam_update(double* __restrict theta, const double* __restrict grad, double* __restrict m, double* __restrict v,
                 std::size_t n, double beta1, double beta2, double c1, double c2, double signed_lr, double eps) {
  for (std::size_t i = 0; i < n; ++i) {
    m[i] = beta1 * m[i] + (1 - beta1) * grad[i];
    v[i] = beta2 * v[i] + (1 - beta2) * grad[i] * grad[i];
    theta[i] += signed_lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps);
  }
}

}  // namespace vibench
