#pragma once
// Statistics of repeated gradient estimates at a fixed φ: per-parameter mean, variance, standard
// errors, confidence intervals, SNR, and bias against an exact gradient.
#include <cstdint>
#include <optional>
#include <vector>

#include "vibench/estimator.hpp"
#include "vibench/stats.hpp"

namespace vibench {

// Replicates are processed in fixed chunks of this many; chunk results are merged in chunk order.
// The chunk size is therefore part of the numeric result (the last bits), not a tuning knob.
inline constexpr std::size_t replicate_chunk = 64;

struct GradientStats {
  std::vector<Moments> grad;  // one per parameter
  Moments objective;          // the objective estimate returned alongside each gradient
  double thread_seconds = 0;  // summed over chunks: cost, independent of parallelism
  std::size_t replicates = 0;
};

// Replicate r draws its samples from Rng(seed, cell_key, r, streams::estimator): bitwise identical
// results for any number of threads.
GradientStats gradient_statistics(const Target& t, const Family& q, const Objective& o, const Estimator& e,
                                  const std::vector<double>& phi, std::uint64_t seed, std::uint64_t cell_key,
                                  std::size_t replicates, std::size_t samples);

}  // namespace vibench
