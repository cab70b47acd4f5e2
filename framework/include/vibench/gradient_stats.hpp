#pragma once
// Statistics of repeated gradient estimates at a fixed φ: per-parameter moments of the estimates and of
// the objective estimate returned alongside each gradient.
#include <cstdint>
#include <vector>

#include "vibench/estimator.hpp"
#include "vibench/replicate_reduction.hpp"

namespace vibench {

struct GradientStats {
  std::vector<Moments> grad;  // one per parameter: φ, then the target's θ
  Moments objective;
  double thread_seconds = 0;  // summed over chunks: cost, independent of parallelism
  std::size_t replicates = 0;
};

// Replicate r draws its samples from Rng(seed, cell_key, r, streams::estimator): bitwise identical
// results for any number of threads (see replicate_reduction.hpp).
GradientStats gradient_statistics(const Target& t, const Family& q, const Objective& o, const Estimator& e,
                                  const std::vector<double>& phi, std::uint64_t seed, std::uint64_t cell_key,
                                  std::size_t replicates, std::size_t samples);

}  // namespace vibench
