#pragma once
// Counter-based random numbers (Random123 Philox4x64-10).
// Key = (global seed, cell key); counter = (replicate, stream, step, block). A replicate's numbers
// therefore never depend on thread count, shard, order of execution, or resume.
#include <cstddef>
#include <cstdint>

#include <Random123/philox.h>

#include "vibench/math/rng_kernels.hpp"

namespace vibench {

// Stream numbers: which purpose inside one replicate a draw serves.
namespace streams {
inline constexpr std::uint64_t estimator = 0;  // samples ε used by a gradient estimator
inline constexpr std::uint64_t point = 1;      // perturbation of the evaluation point φ
inline constexpr std::uint64_t data = 2;       // synthetic model data (key = data_seed)
inline constexpr std::uint64_t probe = 3;      // extra estimates that measure, never steer (optimize's variance probes)
inline constexpr std::uint64_t training = 4;   // batches that train a network (a critic's steps)
inline constexpr std::uint64_t init = 5;       // a network's initial weights
inline constexpr std::uint64_t minibatch = 6;  // which data points a step's minibatch holds (optimize, key = step)
inline constexpr std::uint64_t reference = 7;  // a reference gradient's estimates (gradient_stats), apart from the cell's
}  // namespace streams

class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t cell_key, std::uint64_t replicate, std::uint64_t stream, std::uint64_t step = 0);

  // Each call starts on a fresh 4-word block, so a call's output depends only on the stream and on
  // how many blocks earlier calls consumed: deterministic for deterministic code.
  void normals(double* out, std::size_t n);   // N(0, 1), ziggurat (256 layers) on 64-bit words
  void uniforms(double* out, std::size_t n);  // U[0, 1), 53-bit
  // normals() on a chosen instruction set's body (tests, benchmarks): the same numbers on every one.
  void normals(double* out, std::size_t n, Isa isa);

 private:
  class BlockWords;
  class WordBuffer;
  r123::Philox4x64::key_type key_;
  r123::Philox4x64::ctr_type ctr_;
};

}  // namespace vibench
