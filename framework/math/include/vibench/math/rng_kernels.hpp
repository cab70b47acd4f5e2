#pragma once
// The two inner loops of Rng, one body per instruction set (baseline x86-64, AVX2, AVX-512), picked once for
// the CPU. Both are exact integer and IEEE operations in a fixed order, so every body gives the same bits:
// which one runs changes speed, never a draw. Rng uses them; tests and benchmarks call each body directly.
#include <cstddef>
#include <cstdint>

#include "vibench/math/cpu_isa.hpp"

namespace vibench::rng_kernels {

// Philox4x64-10 (Random123) of the counters (ctr[0], ctr[1], ctr[2], ctr[3] + b) under `key`, for
// b = 0 … blocks − 1 (the last word wraps modulo 2⁶⁴ as Rng's ++ does): out[4b + j] = word j of block b.
void philox_blocks(Isa isa, const std::uint64_t key[2], const std::uint64_t ctr[4], std::size_t blocks,
                   std::uint64_t* out);

// A ziggurat word's disjoint bits: layer (bits 0–7), sign (bit 8, set = +), u·2⁵² (bits 12–63). The sign is
// ±1 without a branch.
struct ZigguratWord {
  unsigned layer;
  std::uint64_t u;
  double sign;
};
inline ZigguratWord decode_ziggurat_word(std::uint64_t w) {
  return {static_cast<unsigned>(w & 0xff), w >> 12, static_cast<double>(static_cast<int>((w >> 7) & 2) - 1)};
}

// The ziggurat's fast path (rng.cpp) over words[0 … n): word i becomes out[i] = ±u·width[layer] while
// u < accept_below[layer]. Returns how many leading words passed; it stops at the first that does not
// (that word needs the slow path, which may take further words) or at n.
std::size_t ziggurat_accept_run(Isa isa, const std::uint64_t* words, std::size_t n, double* out,
                                const std::uint64_t* accept_below, const double* width);

}  // namespace vibench::rng_kernels
