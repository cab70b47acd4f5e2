#include "vibench/math/gemm.hpp"

// GCC 12 reports the AVX-512 intrinsics' own _mm512_undefined_* temporaries as maybe-uninitialized (GCC bug
// 105593, fixed in 13); nothing of this file's is.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace vibench {

namespace {

// Blocking (Goto & van de Geijn 2008): a kc × nc slice of op(B), packed in NR-column panels (768 KB, in L2), is
// reused by every mc-row block of op(A) (packed in MR-row panels, 144 KB, when its rows are long: see
// gemm_blocked); each micro-panel of B (kc × NR, 24 KB
// for AVX-512) stays in L1 while a column of micro-tiles runs over it. Sizes chosen by timing the networks'
// shapes on a 48 KB L1 / 2 MB L2 core (kc 128 beat 192 and 256). The slices are visited in ascending p, each continuing the
// chains in C where the previous slice left them, so the blocking never changes a bit.
constexpr std::size_t kc_max = 128, mc_max = 144, nc_max = 768;  // mc, nc: multiples of every body's MR, NR

// Element (line, p) of a packed operand: lines are op(A)'s rows or op(B)'s columns, p runs along k.
struct Lines {
  const double* x;
  std::size_t ld;
  bool line_major;  // element (l, p) at x[l·ld + p]; otherwise at x[p·ld + l]
};

// Eight lines' values at depths 0 … kc − 1 into out[p·stride + i], i = 0 … 7: 8×8 blocks transposed in registers
// (a scalar copy of a line-major operand stalls on its stores, measured at ~25% of a forward product).
__attribute__((target("avx512f"))) void transpose_lines_avx512(const double* const src[8], std::size_t kc, double* out,
                                                               std::size_t stride) {
  const __m512i pairs_lo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0), pairs_hi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
  const __m512i quads_lo = _mm512_set_epi64(11, 10, 9, 8, 3, 2, 1, 0), quads_hi = _mm512_set_epi64(15, 14, 13, 12, 7, 6, 5, 4);
  std::size_t p = 0;
  for (; p + 8 <= kc; p += 8) {
    __m512d r[8], t[8], u[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm512_loadu_pd(src[i] + p);
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);      // r_i[0] r_i+1[0] r_i[2] r_i+1[2] …
      t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);  // r_i[1] r_i+1[1] r_i[3] r_i+1[3] …
    }
    for (int h = 0; h < 8; h += 4)
      for (int odd = 0; odd < 2; ++odd) {
        // lines h … h+3 at depths (odd, 4 + odd) and (2 + odd, 6 + odd)
        u[h + 2 * odd] = _mm512_permutex2var_pd(t[h + odd], pairs_lo, t[h + 2 + odd]);
        u[h + 2 * odd + 1] = _mm512_permutex2var_pd(t[h + odd], pairs_hi, t[h + 2 + odd]);
      }
    // u[0]: lines 0–3 at depths 0 | 4; u[1]: 2 | 6; u[2]: 1 | 5; u[3]: 3 | 7; u[4 …]: the same for lines 4–7.
    constexpr int depth_of[4] = {0, 2, 1, 3};
    for (int j = 0; j < 4; ++j) {
      _mm512_storeu_pd(out + (p + depth_of[j]) * stride, _mm512_permutex2var_pd(u[j], quads_lo, u[j + 4]));
      _mm512_storeu_pd(out + (p + depth_of[j] + 4) * stride, _mm512_permutex2var_pd(u[j], quads_hi, u[j + 4]));
    }
  }
  for (; p < kc; ++p)
    for (int i = 0; i < 8; ++i) out[p * stride + i] = src[i][p];
}

// Lines [l0, l0 + lines) × depth [p0, p0 + kc) into panels of W lines: panel q holds, for p = 0 … kc − 1, the W
// values of lines l0 + qW … l0 + qW + W − 1 at depth p0 + p; lines past the end are zeros.
template <std::size_t W, bool avx512>
void pack(const Lines& in, std::size_t l0, std::size_t lines, std::size_t p0, std::size_t kc, double* out) {
  if (!in.line_major) {
    // Depth-major: each depth's values of all the lines lie in one stored row, read whole (panel by panel, the
    // rows' pages would each be touched once per panel: a TLB miss per value of a wide operand).
    for (std::size_t p = 0; p < kc; ++p) {
      const double* src = in.x + (p0 + p) * in.ld + l0;
      if (p + 4 < kc)  // rows ahead: a wide operand streams from beyond L2
        for (std::size_t i = 0; i < lines; i += 8) __builtin_prefetch(src + 4 * in.ld + i);
      for (std::size_t q = 0; q < lines; q += W) {
        double* dst = out + q * kc + p * W;
        const std::size_t h = std::min(W, lines - q);
        for (std::size_t i = 0; i < h; ++i) dst[i] = src[q + i];
        for (std::size_t i = h; i < W; ++i) dst[i] = 0.0;
      }
    }
    return;
  }
  for (std::size_t q = 0; q < lines; q += W, out += kc * W) {
    const std::size_t h = std::min(W, lines - q);
    const double* src[W];
    for (std::size_t i = 0; i < h; ++i) src[i] = in.x + (l0 + q + i) * in.ld + p0;
    std::size_t i = 0;
    if constexpr (avx512 && W % 8 == 0)
      for (; i + 8 <= h; i += 8) transpose_lines_avx512(src + i, kc, out + i, W);
    for (std::size_t p = 0; p < kc; ++p) {
      for (std::size_t j = i; j < h; ++j) out[p * W + j] = src[j][p];
      for (std::size_t j = h; j < W; ++j) out[p * W + j] = 0.0;
    }
  }
}

// A micro-tile at the edge of C runs on a full-size copy: the padding lanes compute on packed zeros and are
// never written back.
template <std::size_t MR, std::size_t NR>
struct EdgeTile {
  alignas(64) double t[MR * NR];
  double* load(const double* c, std::size_t ldc, std::size_t rows, std::size_t cols, bool from_zero) {
    std::memset(t, 0, sizeof t);
    if (!from_zero)
      for (std::size_t r = 0; r < rows; ++r) std::memcpy(t + r * NR, c + r * ldc, cols * sizeof(double));
    return t;
  }
  void store(double* c, std::size_t ldc, std::size_t rows, std::size_t cols) const {
    for (std::size_t r = 0; r < rows; ++r) std::memcpy(c + r * ldc, t + r * NR, cols * sizeof(double));
  }
};

// ---- the micro-kernels: C[0 … rows) × [0 … cols) continues its chains over p = 0 … kc − 1 ----
// op(A)'s value at tile row r and depth p is a[row[r] + p·a_step] (a packed panel, or A where it is stored: a
// broadcast takes any address); op(B)'s NR values at depth p start at b + p·b_step (a packed panel, or B's
// stored row when B is not transposed).

// Baseline x86-64: std::fma (the hardware instruction where the CPU has one, libm's exact emulation otherwise).
struct ScalarKernel {
  static constexpr std::size_t mr = 4, nr = 4;
  static constexpr bool avx512 = false;
  static void run(std::size_t kc, const double* a, const std::size_t* row, std::size_t a_step, const double* b,
                  std::size_t b_step, double* c, std::size_t ldc, std::size_t rows, std::size_t cols, bool from_zero) {
    EdgeTile<mr, nr> edge;
    const bool full = rows == mr && cols == nr;
    double* t = full ? c : edge.load(c, ldc, rows, cols, from_zero);
    const std::size_t ldt = full ? ldc : nr;
    double acc[mr][nr];
    for (std::size_t r = 0; r < mr; ++r)
      for (std::size_t j = 0; j < nr; ++j) acc[r][j] = from_zero && full ? 0.0 : t[r * ldt + j];
    for (std::size_t p = 0; p < kc; ++p, a += a_step, b += b_step)
      for (std::size_t r = 0; r < mr; ++r)
        for (std::size_t j = 0; j < nr; ++j) acc[r][j] = std::fma(a[row[r]], b[j], acc[r][j]);
    for (std::size_t r = 0; r < mr; ++r)
      for (std::size_t j = 0; j < nr; ++j) t[r * ldt + j] = acc[r][j];
    if (!full) edge.store(c, ldc, rows, cols);
  }
};

// x86-64-v3: 6 × 8 tile, 12 accumulators of 4 doubles (of 16 registers), one broadcast of A and two loads of B
// per 12 FMAs.
struct Avx2Kernel {
  static constexpr std::size_t mr = 6, nr = 8;
  static constexpr bool avx512 = false;
  __attribute__((target("avx2,fma"))) static void run(std::size_t kc, const double* a, const std::size_t* row,
                                                       std::size_t a_step, const double* b, std::size_t b_step,
                                                       double* c, std::size_t ldc, std::size_t rows, std::size_t cols,
                                                       bool from_zero) {
    EdgeTile<mr, nr> edge;
    const bool full = rows == mr && cols == nr;
    double* t = full ? c : edge.load(c, ldc, rows, cols, from_zero);
    const std::size_t ldt = full ? ldc : nr;
    std::size_t ro[mr];
    for (std::size_t r = 0; r < mr; ++r) ro[r] = row[r];
    __m256d acc[mr][2];
    for (std::size_t r = 0; r < mr; ++r)
      for (std::size_t v = 0; v < 2; ++v)
        acc[r][v] = from_zero && full ? _mm256_setzero_pd() : _mm256_loadu_pd(t + r * ldt + 4 * v);
    for (std::size_t p = 0; p < kc; ++p, a += a_step, b += b_step) {
      const __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4);
      for (std::size_t r = 0; r < mr; ++r) {
        const __m256d x = _mm256_broadcast_sd(a + ro[r]);
        acc[r][0] = _mm256_fmadd_pd(x, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_pd(x, b1, acc[r][1]);
      }
    }
    for (std::size_t r = 0; r < mr; ++r)
      for (std::size_t v = 0; v < 2; ++v) _mm256_storeu_pd(t + r * ldt + 4 * v, acc[r][v]);
    if (!full) edge.store(c, ldc, rows, cols);
  }
};

// AVX-512: 8 × 24 tile, 24 accumulators of 8 doubles (of 32 registers), 8 broadcasts and 3 loads per 24 FMAs.
struct Avx512Kernel {
  static constexpr std::size_t mr = 8, nr = 24;
  static constexpr bool avx512 = true;
  __attribute__((target("avx512f"))) static void run(std::size_t kc, const double* a, const std::size_t* row,
                                                     std::size_t a_step, const double* b, std::size_t b_step,
                                                     double* c, std::size_t ldc, std::size_t rows, std::size_t cols,
                                                     bool from_zero) {
    EdgeTile<mr, nr> edge;
    const bool full = rows == mr && cols == nr;
    double* t = full ? c : edge.load(c, ldc, rows, cols, from_zero);
    const std::size_t ldt = full ? ldc : nr;
    std::size_t ro[mr];
    for (std::size_t r = 0; r < mr; ++r) ro[r] = row[r];
    __m512d acc[mr][3];
    for (std::size_t r = 0; r < mr; ++r)
      for (std::size_t v = 0; v < 3; ++v)
        acc[r][v] = from_zero && full ? _mm512_setzero_pd() : _mm512_loadu_pd(t + r * ldt + 8 * v);
    for (std::size_t p = 0; p < kc; ++p, a += a_step, b += b_step) {
      const __m512d b0 = _mm512_loadu_pd(b), b1 = _mm512_loadu_pd(b + 8), b2 = _mm512_loadu_pd(b + 16);
      for (std::size_t r = 0; r < mr; ++r) {
        const __m512d x = _mm512_set1_pd(a[ro[r]]);
        acc[r][0] = _mm512_fmadd_pd(x, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_pd(x, b1, acc[r][1]);
        acc[r][2] = _mm512_fmadd_pd(x, b2, acc[r][2]);
      }
    }
    for (std::size_t r = 0; r < mr; ++r)
      for (std::size_t v = 0; v < 3; ++v) _mm512_storeu_pd(t + r * ldt + 8 * v, acc[r][v]);
    if (!full) edge.store(c, ldc, rows, cols);
  }
};

template <class Kernel>
void gemm_blocked(const GemmShape& s, const double* a, std::size_t lda, const double* b, std::size_t ldb, double* c,
                  std::size_t ldc) {
  constexpr std::size_t mr = Kernel::mr, nr = Kernel::nr;
  static_assert(mc_max % mr == 0 && nc_max % nr == 0);
  // Operands with stored rows shorter than a page (4 KB) are read where they are stored: a block's walk stays
  // within few pages. Longer rows are packed, since a block would then touch a page per row and miss the TLB
  // (measured on the networks' shapes: packing wins at 784 columns, reading in place at 256 and below, where
  // packing cost up to half of a product of batch 64). A transposed B is always packed (its NR values at one
  // depth lie ldb apart); B read in place still packs a last panel narrower than NR, with zeros (NR values
  // there would pass the row's end).
  constexpr std::size_t page_doubles = 512;
  const bool pack_a = lda >= page_doubles, pack_b = s.transpose_b || ldb >= page_doubles;
  // op(A)(i, p) = a[i·a_row + p·a_step].
  const std::size_t a_row = s.transpose_a ? 1 : lda, a_step = s.transpose_a ? lda : 1;
  // Per thread (cells run on TBB workers), kept between calls: a network's products repeat every step.
  thread_local std::vector<double> a_packed, b_packed;
  if (pack_a) a_packed.resize(mc_max * kc_max);
  b_packed.resize(nc_max * kc_max);
  const Lines a_lines{a, lda, !s.transpose_a}, b_lines{b, ldb, s.transpose_b};
  // Slices of equal width (in whole tiles), so that no thin last slice is run on its own.
  const std::size_t slices = (s.n + nc_max - 1) / nc_max;
  const std::size_t nc_even = ((s.n + slices - 1) / slices + nr - 1) / nr * nr;
  for (std::size_t jc = 0; jc < s.n; jc += nc_even) {
    const std::size_t nc = std::min(nc_even, s.n - jc), nc_full = nc / nr * nr;
    for (std::size_t pc = 0; pc < s.k; pc += kc_max) {
      const std::size_t kc = std::min(kc_max, s.k - pc);
      const bool from_zero = pc == 0 && !s.accumulate;
      if (pack_b)
        pack<nr, Kernel::avx512>(b_lines, jc, nc, pc, kc, b_packed.data());
      else if (nc_full < nc)
        pack<nr, false>(b_lines, jc + nc_full, nc - nc_full, pc, kc, b_packed.data());
      for (std::size_t ic = 0; ic < s.m; ic += mc_max) {
        const std::size_t mc = std::min(mc_max, s.m - ic);
        if (pack_a) pack<mr, Kernel::avx512>(a_lines, ic, mc, pc, kc, a_packed.data());
        for (std::size_t jr = 0; jr < nc; jr += nr) {
          const bool b_in_place = !pack_b && jr < nc_full;
          const double* bp = b_in_place ? b + pc * ldb + jc + jr : b_packed.data() + (pack_b ? jr * kc : 0);
          const std::size_t b_step = b_in_place ? ldb : nr;
          for (std::size_t ir = 0; ir < mc; ir += mr) {
            // The next tile's rows of C, fetched while this one computes (a tile's rows lie ldc apart, which
            // the hardware prefetcher does not follow).
            if (ir + mr < mc)
              for (std::size_t r = 0; r < std::min(mr, mc - ir - mr); ++r)
                for (std::size_t line = 0; line < nr; line += 8)
                  __builtin_prefetch(c + (ic + ir + mr + r) * ldc + jc + jr + line, 1);
            // In place, rows past the end of a last, partial tile repeat its last row: computed, never written
            // back (a packed panel has zeros there).
            const std::size_t rows = std::min(mr, mc - ir);
            std::size_t row[mr];
            for (std::size_t r = 0; r < mr; ++r) row[r] = pack_a ? r : (ic + ir + std::min(r, rows - 1)) * a_row;
            const double* ap = pack_a ? a_packed.data() + ir * kc : a + pc * a_step;
            Kernel::run(kc, ap, row, pack_a ? mr : a_step, bp, b_step, c + (ic + ir) * ldc + jc + jr, ldc, rows,
                        std::min(nr, nc - jr), from_zero);
          }
        }
      }
    }
  }
}

}  // namespace

void gemm(Isa isa, const GemmShape& s, const double* a, std::size_t lda, const double* b, std::size_t ldb, double* c,
          std::size_t ldc) {
  if (s.m == 0 || s.n == 0) return;
  if (s.k == 0) {
    if (!s.accumulate)
      for (std::size_t i = 0; i < s.m; ++i) std::fill_n(c + i * ldc, s.n, 0.0);
    return;
  }
  switch (isa) {
    case Isa::avx512: return gemm_blocked<Avx512Kernel>(s, a, lda, b, ldb, c, ldc);
    case Isa::avx2: return gemm_blocked<Avx2Kernel>(s, a, lda, b, ldb, c, ldc);
    case Isa::scalar: break;
  }
  gemm_blocked<ScalarKernel>(s, a, lda, b, ldb, c, ldc);
}

void gemm(const GemmShape& s, const double* a, std::size_t lda, const double* b, std::size_t ldb, double* c,
          std::size_t ldc) {
  gemm(cpu_isa(), s, a, lda, b, ldb, c, ldc);
}

}  // namespace vibench
