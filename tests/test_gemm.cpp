// gemm against its definition, bit for bit (memcmp, so −0 ≠ +0), on every body this CPU runs: each element is the
// chain c ← fma(op(A)[i][p], op(B)[p][j], c), p ascending, from C or 0 (gemm.hpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <vector>

#include "vibench/math/gemm.hpp"
#include "vibench/math/rng.hpp"

using namespace vibench;

namespace {
// The definition, written out: an element at a time.
void reference(const GemmShape& s, const double* a, std::size_t lda, const double* b, std::size_t ldb, double* c,
               std::size_t ldc) {
  for (std::size_t i = 0; i < s.m; ++i)
    for (std::size_t j = 0; j < s.n; ++j) {
      double acc = s.accumulate ? c[i * ldc + j] : 0.0;
      for (std::size_t p = 0; p < s.k; ++p) {
        const double x = s.transpose_a ? a[p * lda + i] : a[i * lda + p];
        const double y = s.transpose_b ? b[j * ldb + p] : b[p * ldb + j];
        acc = std::fma(x, y, acc);
      }
      c[i * ldc + j] = acc;
    }
}

struct Case {
  GemmShape shape;
  std::size_t pad;  // extra elements per stored row of A, B and C (leading dimension > width)
};
}  // namespace

TEST_CASE("gemm is its fma chain bit for bit on every body, every shape, transpose and blocking", "[unit]") {
  // Sizes around every body's tile (4×4, 6×8, 8×24), past one k-slice (128), one row block (144) and one column
  // slice (768); k = 1 and k = 0.
  const std::size_t ms[] = {1, 5, 8, 13, 97, 100};
  const std::size_t ns[] = {1, 7, 24, 25, 50};
  const std::size_t ks[] = {0, 1, 9, 257};
  std::vector<Case> cases;
  for (std::size_t m : ms)
    for (std::size_t n : ns)
      for (std::size_t k : ks)
        for (int flags = 0; flags < 8; ++flags)
          cases.push_back({{m, n, k, (flags & 1) != 0, (flags & 2) != 0, (flags & 4) != 0}, (m + n + k) % 3});
  cases.push_back({{3, 800, 20, false, true, true}, 1});   // two column slices
  cases.push_back({{200, 100, 600, true, false, false}, 0});  // three k-slices, three row blocks
  // Stored rows of 512 doubles or more: A and B (not transposed) packed instead of read in place.
  cases.push_back({{600, 30, 40, true, false, false}, 1});
  cases.push_back({{20, 700, 50, false, false, true}, 0});
  cases.push_back({{530, 520, 9, true, false, true}, 2});
  for (Isa isa : supported_isas()) {
    INFO("body " << isa_name(isa));
    std::size_t checked = 0, mismatched = 0;
    for (const Case& cs : cases) {
      const GemmShape& s = cs.shape;
      const std::size_t a_rows = s.transpose_a ? s.k : s.m, a_cols = s.transpose_a ? s.m : s.k;
      const std::size_t b_rows = s.transpose_b ? s.n : s.k, b_cols = s.transpose_b ? s.k : s.n;
      const std::size_t lda = a_cols + cs.pad, ldb = b_cols + cs.pad, ldc = s.n + cs.pad;
      std::vector<double> a(a_rows * lda), b(b_rows * ldb), c(s.m * ldc);
      Rng rng(5, s.m * 1000003 + s.n * 1009 + s.k, 0, streams::data);
      rng.normals(a.data(), a.size());
      rng.normals(b.data(), b.size());
      rng.normals(c.data(), c.size());
      if (!a.empty()) a[0] = -0.0;  // a signed zero, so a product's zero sign is part of the comparison
      std::vector<double> want = c, got = c;
      reference(s, a.data(), lda, b.data(), ldb, want.data(), ldc);
      gemm(isa, s, a.data(), lda, b.data(), ldb, got.data(), ldc);
      ++checked;
      if (std::memcmp(want.data(), got.data(), want.size() * sizeof(double)) != 0) {
        ++mismatched;
        UNSCOPED_INFO("m " << s.m << " n " << s.n << " k " << s.k << " tA " << s.transpose_a << " tB " << s.transpose_b
                           << " acc " << s.accumulate << " pad " << cs.pad);
      }
    }
    CHECK(checked == cases.size());
    CHECK(mismatched == 0);
  }
}

TEST_CASE("gemm's chain is the product: within the fma chain's error bound of a long double sum", "[unit]") {
  // |fl(chain) − exact| ≤ γ_k Σ_p |a_p b_p| with γ_k = k·u/(1 − k·u), u = 2⁻⁵³ (Higham 2002, §3.1, an FMA step
  // rounding once); the long double sum's own error (u = 2⁻⁶⁴) is far below that.
  const GemmShape s{30, 40, 500};
  std::vector<double> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n);
  Rng rng(6, 1, 0, streams::data);
  rng.normals(a.data(), a.size());
  rng.normals(b.data(), b.size());
  gemm(s, a.data(), s.k, b.data(), s.n, c.data(), s.n);
  const double u = std::ldexp(1.0, -53), gamma = s.k * u / (1 - s.k * u);
  std::size_t outside = 0;
  for (std::size_t i = 0; i < s.m; ++i)
    for (std::size_t j = 0; j < s.n; ++j) {
      long double exact = 0, magnitude = 0;
      for (std::size_t p = 0; p < s.k; ++p) {
        exact += static_cast<long double>(a[i * s.k + p]) * b[p * s.n + j];
        magnitude += std::fabs(static_cast<long double>(a[i * s.k + p]) * b[p * s.n + j]);
      }
      outside += std::fabs(static_cast<long double>(c[i * s.n + j]) - exact) > gamma * magnitude;
    }
  CHECK(outside == 0);
}
