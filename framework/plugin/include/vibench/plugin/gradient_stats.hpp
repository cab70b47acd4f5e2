#pragma once
// Statistics of repeated gradient estimates at a fixed φ: per-parameter moments of the estimates and of
// the objective estimate returned alongside each gradient.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vibench/plugin/replicate_reduction.hpp"
#include "vibench/vi/estimator.hpp"

namespace vibench {

struct GradientStats {
  std::vector<Moments> grad;  // one per parameter: φ, then the target's θ
  Moments objective;
  double thread_seconds = 0;  // summed over chunks: cost, independent of parallelism
  std::size_t replicates = 0;
  // Cost of one estimate, counted by a CountingTarget around t (see counting_target.hpp for what counts):
  // moments over replicates, so a constant cost has variance 0 and its mean is exact.
  Moments log_joint_evals, grad_log_joint_evals, hessian_evals;
};

// Replicate r draws its samples from Rng(seed, cell_key, r, stream): bitwise identical results for any
// number of threads (see replicate_reduction.hpp). The estimator sees t through a CountingTarget (same calls,
// same numbers), which only adds the cost columns.
GradientStats gradient_statistics(const Target& t, const Family& q, const Objective& o, const Estimator& e,
                                  const std::vector<double>& phi, std::uint64_t seed, std::uint64_t cell_key,
                                  std::size_t replicates, std::size_t samples,
                                  std::uint64_t stream = streams::estimator);

// Reference gradient for cells without a closed-form gradient: reference_factor × the cell's replicates
// estimates of the cell's `samples` samples each, by an unbiased estimator that applies to the cell's
// family — `reparam` where it applies (pathwise: reparameterizable families, K = 1), else `score_function`
// (plain, no baseline: unbiased for every family) — drawn from Rng(seed, cell_key, r, streams::reference),
// independent of the cell's estimates (streams::estimator).
inline constexpr std::size_t reference_factor = 100;

struct ReferenceEstimator {
  std::string name;                    // registry name, with its default parameters
  std::unique_ptr<Estimator> estimator;  // null when none applies
  std::string reason;                  // why none applies
};
ReferenceEstimator reference_estimator(const Target& t, const Family& q, const Objective& o);

// Standard error of bias = mean − exact for its z-score: the statistical standard error `se` of the mean,
// floored at the floating-point error of the two numbers compared. A zero-variance estimator (the delta-method
// control variate on a quadratic) gives replicates that agree to their last bits, so `se` is ~1e-18 while mean
// and exact differ by an ulp or two from round-off alone, and bias / se would read 30 to 300. With u = 2^-53
// (unit round-off), rms = sqrt(mean² + variance) (the replicates' magnitude) and R replicates:
//   floor = u · ((1 + sqrt(R/3)) · rms + |exact|)
//   - u·rms: the rounding of each replicate's own value, the same in every replicate, so it does not average out;
//   - sqrt(R/3)·u·rms: the running mean's accumulated rounding. Update k (m += (x − m)/k) rounds with relative
//     error ≤ u, and later updates shrink that error by k/R, so with independent roundings the mean's error has
//     standard deviation ≤ u·rms·sqrt(Σ_k (k/R)²) ≈ u·rms·sqrt(R/3) (the merges of chunks add a few roundings);
//   - u·|exact|: the rounding of the closed form.
// The floor is below 1e-12 relative to rms up to R = 10^8, so any bias large enough to matter still scores high.
double bias_standard_error(double se, double mean, double variance, double exact, std::size_t replicates);

}  // namespace vibench
