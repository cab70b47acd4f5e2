#pragma once
// xtensor views of batches and parameter blocks, so plugin math reads as expressions over the S×D batch
// (one sample per row) with shapes checked: combining views of different lengths throws xt::broadcast_error,
// and assigning to a view never reallocates the batch it looks at.
//
// Speed and bits (measured; README "Architecture"): an expression over one contiguous row runs as a linear
// loop at the loop's speed per element, plus a fixed ~5 ns to build the views and check their shapes; a
// whole-batch expression that broadcasts a D-vector across S rows goes through xtensor's stepper and is ~7×
// slower, so plugins write one expression per row, and the hottest plugins at small D (gaussian_diag,
// linear_gaussian, quadratic) keep plain loops. Elementwise expressions perform the same IEEE operations as
// the loops they replace (bit-identical; FMA contraction is off build-wide); reductions use sum_in_order,
// which adds left to right like those loops (xt::sum gives the same bits without xsimd but is ~5× slower on
// a row). xsimd stays off: its reductions reassociate sums, which would tie results to the instruction set.
#include <array>
#include <cstddef>
#include <utility>

#include <xtensor/xadapt.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xtensor.hpp>

#include "vibench/math/matrix.hpp"

namespace vibench {

// n values starting at p (e.g. the block μ = φ[0..D) of a parameter vector) as a 1-D expression. The pointer
// is passed as an rvalue so the view holds it by value (an lvalue would be held by reference: dangling here).
inline auto block(const double* p, std::size_t n) {
  return xt::adapt(std::move(p), n, xt::no_ownership(), std::array<std::size_t, 1>{n});
}
inline auto block(double* p, std::size_t n) {
  return xt::adapt(std::move(p), n, xt::no_ownership(), std::array<std::size_t, 1>{n});
}

// Row r of a batch (its sample z_r) as a 1-D expression; writing to it writes the batch.
inline auto row_of(const Matrix& m, std::size_t r) { return block(m.row(r), m.cols()); }
inline auto row_of(Matrix& m, std::size_t r) { return block(m.row(r), m.cols()); }
// Columns [first, first + n) of row r (e.g. the σ-block of a score row).
inline auto row_of(const Matrix& m, std::size_t r, std::size_t first, std::size_t n) { return block(m.row(r) + first, n); }
inline auto row_of(Matrix& m, std::size_t r, std::size_t first, std::size_t n) { return block(m.row(r) + first, n); }

// Σ_i e_i added left to right: the same bits as the loop `s += e[i]`.
template <class E>
double sum_in_order(const E& e) {
  double s = 0;
  for (auto it = e.linear_cbegin(); it != e.linear_cend(); ++it) s += *it;
  return s;
}

}  // namespace vibench
