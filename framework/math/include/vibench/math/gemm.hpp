#pragma once
// vibench's own dense matrix product for the networks, C = C₀ + op(A)·op(B), defined element by element:
//
//   c ← C₀[i][j];  c ← fma(op(A)[i][p], op(B)[p][j], c) for p = 0, 1, …, k − 1;  C[i][j] ← c,
//
// with fma the fused multiply-add (one rounding) and C₀ = C (accumulate) or 0. That chain alone fixes every
// bit of the result, so the bodies — AVX-512 and AVX2 (x86-64-v3) with vector FMAs, baseline x86-64 with
// std::fma — and any blocking give the same numbers on every CPU, unlike a BLAS, whose kernels and summation
// order depend on the CPU it finds (OpenBLAS's Haswell and SkylakeX kernels round differently).
#include <cstddef>

#include "vibench/math/cpu_isa.hpp"

namespace vibench {

// Row-major operands with leading dimensions (elements between consecutive rows as stored):
// op(A) is m×k (A is m×k, or k×m with transpose_a), op(B) is k×n (B is k×n, or n×k with transpose_b),
// C is m×n. C must not overlap A or B.
struct GemmShape {
  std::size_t m, n, k;
  bool transpose_a = false, transpose_b = false;
  bool accumulate = false;  // C₀ = C; otherwise C₀ = 0 and C's old contents are never read
};

void gemm(const GemmShape& s, const double* a, std::size_t lda, const double* b, std::size_t ldb, double* c,
          std::size_t ldc);
// The same product on a chosen body (tests, benchmarks): the same numbers on every one.
void gemm(Isa isa, const GemmShape& s, const double* a, std::size_t lda, const double* b, std::size_t ldb, double* c,
          std::size_t ldc);

}  // namespace vibench
