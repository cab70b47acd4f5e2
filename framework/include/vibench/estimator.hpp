#pragma once
// Kind `estimator`: a Monte Carlo estimator of ∇_φ of an objective from S samples.
#include <optional>
#include <string>
#include <vector>

#include "vibench/family.hpp"
#include "vibench/objective.hpp"
#include "vibench/registry.hpp"
#include "vibench/rng.hpp"
#include "vibench/target.hpp"

namespace vibench {

// Scratch buffers reused across replicates so the hot loop does not allocate.
struct EstimatorWorkspace {
  Matrix eps, z, grad_z, grad_q, per_sample;
  std::vector<double> log_p, log_q, f;
};

class Estimator : public PluginBase {
 public:
  static constexpr const char* kind = "estimator";

  // Why this estimator cannot estimate this objective for this family/target; nullopt if it can.
  virtual std::optional<std::string> unsupported(const Target& t, const Family& q, const Objective& o) const = 0;
  // Writes the gradient estimate (P values) to grad and returns the matching objective estimate.
  virtual double estimate(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                          std::size_t samples, EstimatorWorkspace& ws, double* grad) const = 0;
};

}  // namespace vibench
