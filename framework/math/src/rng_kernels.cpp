#include "vibench/math/rng_kernels.hpp"

// GCC 12 reports the AVX-512 intrinsics' own _mm512_undefined_* temporaries as maybe-uninitialized (GCC bug
// 105593, fixed in 13); nothing of this file's is.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <bit>

#include <Random123/philox.h>

namespace vibench::rng_kernels {

namespace {

// Philox4x64 multipliers and Weyl increments (Random123's PHILOX_M4x64_*, PHILOX_W64_*).
constexpr std::uint64_t m0 = 0xD2E7470EE14C6C93ULL, m1 = 0xCA5A826395121157ULL;
constexpr std::uint64_t w0 = 0x9E3779B97F4A7C15ULL, w1 = 0xBB67AE8584CAA73BULL;
constexpr int rounds = 10;

// Round r's key: Random123 bumps the key by (w0, w1) before every round but the first.
struct RoundKeys {
  std::uint64_t k0[rounds], k1[rounds];
  explicit RoundKeys(const std::uint64_t key[2]) {
    for (int r = 0; r < rounds; ++r) {
      k0[r] = key[0] + static_cast<std::uint64_t>(r) * w0;
      k1[r] = key[1] + static_cast<std::uint64_t>(r) * w1;
    }
  }
};

void philox_scalar(const std::uint64_t key[2], const std::uint64_t ctr[4], std::size_t blocks, std::uint64_t* out) {
  const r123::Philox4x64 philox;
  const r123::Philox4x64::key_type k = {{key[0], key[1]}};
  r123::Philox4x64::ctr_type c = {{ctr[0], ctr[1], ctr[2], ctr[3]}};
  for (std::size_t b = 0; b < blocks; ++b, ++c.v[3]) {
    const auto r = philox(c, k);
    for (int j = 0; j < 4; ++j) out[4 * b + j] = r.v[j];
  }
}

// ±u·width[layer] for the words that pass u < accept_below[layer]: the expression of rng.cpp's ziggurat, with
// the sign ±1 applied as a multiplication (exact, as the vector bodies' sign-bit flip is).
std::size_t accept_run_scalar(const std::uint64_t* words, std::size_t n, double* out,
                              const std::uint64_t* accept_below, const double* width) {
  for (std::size_t i = 0; i < n; ++i) {
    const auto [layer, u, sign] = decode_ziggurat_word(words[i]);
    if (u >= accept_below[layer]) return i;
    out[i] = sign * (static_cast<double>(u) * width[layer]);
  }
  return n;
}

// ---- AVX2: 4 blocks (one per 64-bit lane), 64×64 → 128-bit products from four 32×32 → 64-bit ones ----
#define VIBENCH_AVX2 __attribute__((target("avx2"), always_inline)) inline

// a·m = hh·2⁶⁴ + (lh + hl)·2³² + ll with the 32-bit halves a = ah·2³² + al, m = mh·2³² + ml. The carries,
// without overflowing a 64-bit lane: t = hl + ⌊ll/2³²⌋, u = lh + (t mod 2³²); then
// a·m = (hh + ⌊t/2³²⌋ + ⌊u/2³²⌋)·2⁶⁴ + (u mod 2³²)·2³² + ll mod 2³².
VIBENCH_AVX2 void mulhilo_avx2(__m256i a, __m256i ml, __m256i mh, __m256i& lo, __m256i& hi) {
  const __m256i low32 = _mm256_set1_epi64x(0xffffffff);
  const __m256i ah = _mm256_srli_epi64(a, 32);
  const __m256i ll = _mm256_mul_epu32(a, ml), lh = _mm256_mul_epu32(a, mh);  // mul_epu32 reads the low halves
  const __m256i hl = _mm256_mul_epu32(ah, ml), hh = _mm256_mul_epu32(ah, mh);
  const __m256i t = _mm256_add_epi64(hl, _mm256_srli_epi64(ll, 32));
  const __m256i u = _mm256_add_epi64(lh, _mm256_and_si256(t, low32));
  lo = _mm256_blend_epi32(ll, _mm256_slli_epi64(u, 32), 0xaa);  // odd 32-bit halves from u
  hi = _mm256_add_epi64(_mm256_add_epi64(hh, _mm256_srli_epi64(t, 32)), _mm256_srli_epi64(u, 32));
}

struct Group4 {
  __m256i c[4];
};

VIBENCH_AVX2 void round_avx2(Group4& g, std::uint64_t k0, std::uint64_t k1) {
  __m256i lo0, hi0, lo1, hi1;
  mulhilo_avx2(g.c[0], _mm256_set1_epi64x(static_cast<long long>(m0 & 0xffffffff)),
               _mm256_set1_epi64x(static_cast<long long>(m0 >> 32)), lo0, hi0);
  mulhilo_avx2(g.c[2], _mm256_set1_epi64x(static_cast<long long>(m1 & 0xffffffff)),
               _mm256_set1_epi64x(static_cast<long long>(m1 >> 32)), lo1, hi1);
  g.c[0] = _mm256_xor_si256(_mm256_xor_si256(hi1, g.c[1]), _mm256_set1_epi64x(static_cast<long long>(k0)));
  g.c[2] = _mm256_xor_si256(_mm256_xor_si256(hi0, g.c[3]), _mm256_set1_epi64x(static_cast<long long>(k1)));
  g.c[1] = lo1;
  g.c[3] = lo0;
}

VIBENCH_AVX2 Group4 start_avx2(const std::uint64_t ctr[4], std::uint64_t first) {
  Group4 g;
  for (int j = 0; j < 3; ++j) g.c[j] = _mm256_set1_epi64x(static_cast<long long>(ctr[j]));
  g.c[3] = _mm256_add_epi64(_mm256_set1_epi64x(static_cast<long long>(first)), _mm256_setr_epi64x(0, 1, 2, 3));
  return g;
}

// Lane b holds block b's words in c[0..3]; memory wants them block after block.
VIBENCH_AVX2 void store_avx2(const Group4& g, std::uint64_t* out) {
  const __m256i p01 = _mm256_unpacklo_epi64(g.c[0], g.c[1]), q01 = _mm256_unpackhi_epi64(g.c[0], g.c[1]);
  const __m256i p23 = _mm256_unpacklo_epi64(g.c[2], g.c[3]), q23 = _mm256_unpackhi_epi64(g.c[2], g.c[3]);
  auto* o = reinterpret_cast<__m256i*>(out);
  _mm256_storeu_si256(o + 0, _mm256_permute2x128_si256(p01, p23, 0x20));
  _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(q01, q23, 0x20));
  _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(p01, p23, 0x31));
  _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(q01, q23, 0x31));
}

__attribute__((target("avx2"))) void philox_avx2(const std::uint64_t key[2], const std::uint64_t ctr[4],
                                                 std::size_t blocks, std::uint64_t* out) {
  const RoundKeys keys(key);
  std::size_t b = 0;
  // Two groups at a time: the second's multiplies fill the first's latency.
  for (; b + 8 <= blocks; b += 8) {
    Group4 g = start_avx2(ctr, ctr[3] + b), h = start_avx2(ctr, ctr[3] + b + 4);
    for (int r = 0; r < rounds; ++r) {
      round_avx2(g, keys.k0[r], keys.k1[r]);
      round_avx2(h, keys.k0[r], keys.k1[r]);
    }
    store_avx2(g, out + 4 * b);
    store_avx2(h, out + 4 * b + 16);
  }
  for (; b + 4 <= blocks; b += 4) {
    Group4 g = start_avx2(ctr, ctr[3] + b);
    for (int r = 0; r < rounds; ++r) round_avx2(g, keys.k0[r], keys.k1[r]);
    store_avx2(g, out + 4 * b);
  }
  if (b < blocks) {
    const std::uint64_t rest[4] = {ctr[0], ctr[1], ctr[2], ctr[3] + b};
    philox_scalar(key, rest, blocks - b, out + 4 * b);
  }
}

__attribute__((target("avx2"))) std::size_t accept_run_avx2(const std::uint64_t* words, std::size_t n, double* out,
                                                            const std::uint64_t* accept_below, const double* width) {
  const __m256i layer_mask = _mm256_set1_epi64x(0xff), bit8 = _mm256_set1_epi64x(0x100);
  // u < 2⁵² as a double: the bits of 2⁵² + u, minus 2⁵² (exact).
  const __m256i two52_bits = _mm256_set1_epi64x(0x4330000000000000LL);
  const __m256d two52 = _mm256_set1_pd(4503599627370496.0);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words + i));
    const __m256i layer = _mm256_and_si256(w, layer_mask);
    const __m256i u = _mm256_srli_epi64(w, 12);
    const __m256i accept = _mm256_i64gather_epi64(reinterpret_cast<const long long*>(accept_below), layer, 8);
    const __m256d x = _mm256_mul_pd(_mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(u, two52_bits)), two52),
                                    _mm256_i64gather_pd(width, layer, 8));
    const __m256i negative = _mm256_slli_epi64(_mm256_andnot_si256(w, bit8), 55);  // bit 8 clear: −x
    _mm256_storeu_pd(out + i, _mm256_castsi256_pd(_mm256_xor_si256(_mm256_castpd_si256(x), negative)));
    const unsigned passed = static_cast<unsigned>(_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(accept, u))));
    if (passed != 0xf) return i + static_cast<std::size_t>(std::countr_one(passed));
  }
  return i + accept_run_scalar(words + i, n - i, out + i, accept_below, width);
}

// ---- AVX-512: 8 blocks per group, the same arithmetic ----
#define VIBENCH_AVX512 __attribute__((target("avx512f,avx512dq"), always_inline)) inline

// mulhilo_avx2's arithmetic; the two half-word moves are shuffles (port 5), leaving port 0 to the
// multiplies and shifts.
VIBENCH_AVX512 void mulhilo_avx512(__m512i a, __m512i ml, __m512i mh, __m512i& lo, __m512i& hi) {
  const __m512i low32 = _mm512_set1_epi64(0xffffffff);
  const __m512i ah = _mm512_shuffle_epi32(a, _MM_PERM_DDBB);  // high halves into the low ones
  const __m512i ll = _mm512_mul_epu32(a, ml), lh = _mm512_mul_epu32(a, mh);
  const __m512i hl = _mm512_mul_epu32(ah, ml), hh = _mm512_mul_epu32(ah, mh);
  const __m512i t = _mm512_add_epi64(hl, _mm512_srli_epi64(ll, 32));
  const __m512i u = _mm512_add_epi64(lh, _mm512_and_si512(t, low32));
  lo = _mm512_mask_shuffle_epi32(ll, 0xaaaa, u, _MM_PERM_CCAA);  // odd 32-bit halves ← u's low halves
  hi = _mm512_add_epi64(_mm512_add_epi64(hh, _mm512_srli_epi64(t, 32)), _mm512_srli_epi64(u, 32));
}

struct Group8 {
  __m512i c[4];
};

VIBENCH_AVX512 void round_avx512(Group8& g, std::uint64_t k0, std::uint64_t k1) {
  __m512i lo0, hi0, lo1, hi1;
  mulhilo_avx512(g.c[0], _mm512_set1_epi64(static_cast<long long>(m0 & 0xffffffff)),
                 _mm512_set1_epi64(static_cast<long long>(m0 >> 32)), lo0, hi0);
  mulhilo_avx512(g.c[2], _mm512_set1_epi64(static_cast<long long>(m1 & 0xffffffff)),
                 _mm512_set1_epi64(static_cast<long long>(m1 >> 32)), lo1, hi1);
  // 0x96: a ^ b ^ c in one instruction.
  g.c[0] = _mm512_ternarylogic_epi64(hi1, g.c[1], _mm512_set1_epi64(static_cast<long long>(k0)), 0x96);
  g.c[2] = _mm512_ternarylogic_epi64(hi0, g.c[3], _mm512_set1_epi64(static_cast<long long>(k1)), 0x96);
  g.c[1] = lo1;
  g.c[3] = lo0;
}

VIBENCH_AVX512 Group8 start_avx512(const std::uint64_t ctr[4], std::uint64_t first) {
  Group8 g;
  for (int j = 0; j < 3; ++j) g.c[j] = _mm512_set1_epi64(static_cast<long long>(ctr[j]));
  g.c[3] = _mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(first)), _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7));
  return g;
}

// Pairs (c0, c1) and (c2, c3) of each block sit in matching 128-bit chunks after the unpacks; the permutes
// put block 2k's two chunks next to block 2k+1's.
VIBENCH_AVX512 void store_avx512(const Group8& g, std::uint64_t* out) {
  const __m512i p01 = _mm512_unpacklo_epi64(g.c[0], g.c[1]), q01 = _mm512_unpackhi_epi64(g.c[0], g.c[1]);
  const __m512i p23 = _mm512_unpacklo_epi64(g.c[2], g.c[3]), q23 = _mm512_unpackhi_epi64(g.c[2], g.c[3]);
  const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
  const __m512i x = _mm512_permutex2var_epi64(p01, first, p23), y = _mm512_permutex2var_epi64(q01, first, q23);
  const __m512i x2 = _mm512_permutex2var_epi64(p01, second, p23), y2 = _mm512_permutex2var_epi64(q01, second, q23);
  _mm512_storeu_si512(out + 0, _mm512_shuffle_i64x2(x, y, _MM_SHUFFLE(1, 0, 1, 0)));
  _mm512_storeu_si512(out + 8, _mm512_shuffle_i64x2(x, y, _MM_SHUFFLE(3, 2, 3, 2)));
  _mm512_storeu_si512(out + 16, _mm512_shuffle_i64x2(x2, y2, _MM_SHUFFLE(1, 0, 1, 0)));
  _mm512_storeu_si512(out + 24, _mm512_shuffle_i64x2(x2, y2, _MM_SHUFFLE(3, 2, 3, 2)));
}

__attribute__((target("avx512f,avx512dq"))) void philox_avx512(const std::uint64_t key[2], const std::uint64_t ctr[4],
                                                               std::size_t blocks, std::uint64_t* out) {
  const RoundKeys keys(key);
  std::size_t b = 0;
  for (; b + 16 <= blocks; b += 16) {
    Group8 g = start_avx512(ctr, ctr[3] + b), h = start_avx512(ctr, ctr[3] + b + 8);
    for (int r = 0; r < rounds; ++r) {
      round_avx512(g, keys.k0[r], keys.k1[r]);
      round_avx512(h, keys.k0[r], keys.k1[r]);
    }
    store_avx512(g, out + 4 * b);
    store_avx512(h, out + 4 * b + 32);
  }
  for (; b + 8 <= blocks; b += 8) {
    Group8 g = start_avx512(ctr, ctr[3] + b);
    for (int r = 0; r < rounds; ++r) round_avx512(g, keys.k0[r], keys.k1[r]);
    store_avx512(g, out + 4 * b);
  }
  if (b < blocks) {
    const std::uint64_t rest[4] = {ctr[0], ctr[1], ctr[2], ctr[3] + b};
    philox_avx2(key, rest, blocks - b, out + 4 * b);
  }
}

__attribute__((target("avx512f,avx512dq"))) std::size_t accept_run_avx512(const std::uint64_t* words, std::size_t n,
                                                                          double* out, const std::uint64_t* accept_below,
                                                                          const double* width) {
  const __m512i layer_mask = _mm512_set1_epi64(0xff), bit8 = _mm512_set1_epi64(0x100);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512i w = _mm512_loadu_si512(words + i);
    const __m512i layer = _mm512_and_si512(w, layer_mask);
    const __m512i u = _mm512_srli_epi64(w, 12);
    const __mmask8 passed = _mm512_cmplt_epu64_mask(u, _mm512_i64gather_epi64(layer, accept_below, 8));
    const __m512d x = _mm512_mul_pd(_mm512_cvtepu64_pd(u), _mm512_i64gather_pd(layer, width, 8));  // u < 2⁵²: exact
    const __m512i negative = _mm512_slli_epi64(_mm512_andnot_si512(w, bit8), 55);
    _mm512_storeu_pd(out + i, _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(x), negative)));
    if (passed != 0xff) return i + static_cast<std::size_t>(std::countr_one(static_cast<unsigned>(passed)));
  }
  return i + accept_run_avx2(words + i, n - i, out + i, accept_below, width);
}

}  // namespace

void philox_blocks(Isa isa, const std::uint64_t key[2], const std::uint64_t ctr[4], std::size_t blocks,
                   std::uint64_t* out) {
  if (blocks < 4) isa = Isa::scalar;  // less than one vector group: skip the round-key setup
  switch (isa) {
    case Isa::avx512: return philox_avx512(key, ctr, blocks, out);
    case Isa::avx2: return philox_avx2(key, ctr, blocks, out);
    case Isa::scalar: break;
  }
  philox_scalar(key, ctr, blocks, out);
}

std::size_t ziggurat_accept_run(Isa isa, const std::uint64_t* words, std::size_t n, double* out,
                                const std::uint64_t* accept_below, const double* width) {
  switch (isa) {
    case Isa::avx512: return accept_run_avx512(words, n, out, accept_below, width);
    case Isa::avx2: return accept_run_avx2(words, n, out, accept_below, width);
    case Isa::scalar: break;
  }
  return accept_run_scalar(words, n, out, accept_below, width);
}

}  // namespace vibench::rng_kernels
