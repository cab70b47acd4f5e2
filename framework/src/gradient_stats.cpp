#include "vibench/gradient_stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace vibench {

GradientStats gradient_statistics(const Target& t, const Family& q, const Objective& o, const Estimator& e,
                                  const std::vector<double>& phi, std::uint64_t seed, std::uint64_t cell_key,
                                  std::size_t replicates, std::size_t samples) {
  if (samples < e.min_samples())
    throw std::invalid_argument("this estimator needs samples >= " + std::to_string(e.min_samples()));
  const std::size_t p = q.num_params() + t.num_model_params();
  // Values per replicate: the P + T gradient components (φ, then θ), then the objective estimate.
  ReplicateMoments m = reduce_replicates<EstimatorWorkspace>(
      seed, cell_key, replicates, p + 1, [&](EstimatorWorkspace& ws, Rng& rng, double* out) {
        ws.reset_state();  // replicates are independent
        out[p] = e.estimate(t, q, o, phi.data(), rng, samples, ws, out);
      });
  GradientStats s;
  s.grad.assign(m.values.begin(), m.values.begin() + static_cast<long>(p));
  s.objective = m.values[p];
  s.thread_seconds = m.thread_seconds;
  s.replicates = m.replicates;
  return s;
}

double bias_standard_error(double se, double mean, double variance, double exact, std::size_t replicates) {
  constexpr double u = std::numeric_limits<double>::epsilon() / 2;  // unit round-off, 2^-53
  const double rms = std::sqrt(mean * mean + variance);
  const double floor = u * ((1 + std::sqrt(static_cast<double>(replicates) / 3)) * rms + std::abs(exact));
  return std::max(se, floor);
}

}  // namespace vibench
