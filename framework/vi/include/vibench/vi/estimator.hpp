#pragma once
// Kind `estimator`: a Monte Carlo estimator of ∇_φ of an objective from S samples.
#include <optional>
#include <string>
#include <vector>

#include "vibench/math/rng.hpp"
#include "vibench/vi/family.hpp"
#include "vibench/vi/objective.hpp"
#include "vibench/vi/target.hpp"

namespace vibench {

// Scratch buffers reused across replicates so the hot loop does not allocate.
struct EstimatorWorkspace {
  Matrix eps, z, grad_z, grad_q, per_sample;
  std::vector<double> log_p, log_q, f;
  std::vector<double> log_w, w_tilde, coef, prefix, suffix;  // K-sample objectives
  LogWeightScratch log_weight_scratch;
  std::vector<double> bound, baseline, score_sum;          // score-function baselines
  Matrix points, h;                                        // extra evaluation points; a Hessian
  Matrix grad_theta;                                       // ∇_θ log p rows
  std::vector<double> row_weight;

  // State an estimator carries from one call to the next (a moving-average baseline). Studies that need
  // independent replicates call reset_state() before each; an optimizer keeps it across steps.
  bool state_warm = false;
  double moving_average = 0;
  void reset_state() { state_warm = false; }
};

class Estimator {
 public:
  virtual ~Estimator() = default;
  static constexpr const char* kind = "estimator";

  // Why this estimator cannot estimate this objective for this family/target; nullopt if it can.
  virtual std::optional<std::string> unsupported(const Target& t, const Family& q, const Objective& o) const = 0;
  // Smallest `samples` S the estimator works with (e.g. 2 for leave-one-out baselines).
  virtual std::size_t min_samples() const { return 1; }
  // Whether E[ĝ] = ∇_φ E[L̂_K] for this objective; biased estimators have their bias measured, and the
  // conformance suite tests unbiasedness only where this is true.
  virtual bool unbiased_for(const Objective&) const { return true; }
  // Writes the gradient estimate to grad — P = q.num_params() values for φ, then T = t.num_model_params()
  // values for the model parameters θ — and returns the matching objective estimate.
  // `samples` = S independent estimates of L̂_K averaged, i.e. S·K draws from q_φ.
  virtual double estimate(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                          std::size_t samples, EstimatorWorkspace& ws, double* grad) const = 0;
};

// The common last step of an estimate: scales the φ part grad[0, P) by phi_scale (1/S), adds the objective's
// analytic term (an analytic KL) to it, and writes the θ part grad[P, P + T) = Σ_r theta_weight[r]·∇_θ log p_θ(x, z_r).
// The θ-gradient of E[L̂_K] is E[Σ_k w̃_k ∇_θ log p_θ(x, z_k)] for every estimator (z does not depend on θ),
// so theta_weight = w̃/S. Returns the analytic term's value (0 without one), to add to the objective estimate.
double finish_gradient(const Target& t, const Family& q, const Objective& o, const double* phi, const Matrix& z,
                       const std::vector<double>& theta_weight, double phi_scale, EstimatorWorkspace& ws, double* grad);

}  // namespace vibench
