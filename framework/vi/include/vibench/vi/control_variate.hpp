#pragma once
// Kind `control_variate`: what a score-function estimator subtracts from its integrand to lower the variance
// without moving the mean. Per group s of K draws, with v_s = L̂_s − f̃(z_s) and G_s = Σ_k ∇_φ log q_φ(z_{s,k}),
//   ĝ = (1/S) Σ_s (v_s − b_s) G_s + ∇_φ E_q[f̃]   (+ the K-sample terms of score_function_gradient.hpp)
// A control variate supplies either or both of
//   - a surrogate f̃ whose expected gradient ∇_φ E_q[f̃] is known exactly (the delta method), and
//   - a baseline b_s (a scalar or one value per component of φ) that never depends on group s itself, so
//     E[b_s G_s] = E[b_s]·E[G_s] = 0 (Mohamed et al. 2020, §7).
// An estimator that can take one declares the nested plugin parameter `control_variate` (score_function).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vibench/vi/estimator.hpp"
#include "vibench/vi/objective.hpp"

namespace vibench {

// A control variate's scratch and carried state, held in the scratch of the estimator that uses it.
struct ControlVariateScratch {
  std::vector<double> per_group;  // one value per group (the optimal scalar baseline's ‖G_s‖²)
  std::vector<double> sums;       // running sums (the optimal baseline's Σ v‖G‖², Σ ‖G‖² per component)
  Matrix point;                   // one evaluation point (the delta method's mean)
  LogWeightScratch log_weights;
  // A baseline carried across calls (moving_average): reset between independent replicates, checkpointed.
  bool warm = false;
  double carried = 0;
};

// The groups of one estimate as a baseline sees them (views into the estimator's scratch).
struct ScoreGroups {
  std::size_t groups = 0, params = 0;  // S, P
  const std::vector<double>& values;   // v_s, s < S
  const std::vector<double>& scores;   // G_s, row-major S × P
};

// f̃ of one estimate, fixed at the current φ (it is not differentiated through the draws).
class Surrogate {
 public:
  virtual ~Surrogate() = default;
  virtual double value(const double* z) const = 0;
  // grad[0, P) += ∇_φ E_q[f̃], the exact gradient of the subtracted term.
  virtual void add_expected_gradient(const Family& q, const double* phi, double* grad) const = 0;
};

// Extra groups drawn from q_φ on the estimate's own stream, before its own draws: their values v.
class ExtraGroups {
 public:
  virtual const std::vector<double>& values(std::size_t groups) = 0;

 protected:
  ~ExtraGroups() = default;
};

class ControlVariate {
 public:
  virtual ~ControlVariate() = default;
  static constexpr const char* kind = "control_variate";

  // What it needs of the family, target and objective (capabilities.hpp); the estimator that takes it
  // needs that too.
  virtual Needs needs() const { return {}; }
  // Smallest number of groups S it works with (2 for baselines estimated from the other groups).
  virtual std::size_t min_samples() const { return 1; }

  // The surrogate f̃ for this estimate, or null (values are then v_s = L̂_s).
  virtual std::unique_ptr<Surrogate> surrogate(const Target&, const Family&, const Objective&, const double* /*phi*/,
                                               ControlVariateScratch&) const {
    return nullptr;
  }
  // Called once per estimate before its draws: a baseline carried across calls may start itself here from
  // extra groups (the carried state in the scratch, reset by the estimator scratch's reset_state()).
  virtual void before_draws(ExtraGroups&, ControlVariateScratch&) const {}
  // Whether subtract_baseline does anything (the estimator then forms the group scores G_s).
  virtual bool has_baseline() const { return false; }
  // grad[0, P) −= Σ_s b_s ∘ G_s (before the 1/S scaling).
  virtual void subtract_baseline(const ScoreGroups&, ControlVariateScratch&, double* /*grad*/) const {}
};

}  // namespace vibench
