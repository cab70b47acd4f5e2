#pragma once
// Kind `estimator`: a Monte Carlo estimator of ∇_φ of an objective from S samples.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vibench/math/rng.hpp"
#include "vibench/math/state_stream.hpp"
#include "vibench/vi/capabilities.hpp"
#include "vibench/vi/family.hpp"
#include "vibench/vi/objective.hpp"
#include "vibench/vi/target.hpp"

namespace vibench {

// The scratch buffers and carried state of one estimator, made by its make_scratch(): one per thread (a
// chunk of replicates) or per optimization run, so the hot loop does not allocate. Each estimator defines
// its own (EstimatorWith below); the base holds only the carried-state protocol.
class EstimatorScratch {
 public:
  virtual ~EstimatorScratch() = default;
  // State carried from one call to the next (a moving-average baseline). Studies that need independent
  // replicates call reset_state() before each; an optimizer keeps it across steps and checkpoints it.
  virtual void reset_state() {}
  virtual void save_state(StateWriter&) const {}
  virtual void load_state(StateReader&) {}
};

class Estimator {
 public:
  virtual ~Estimator() = default;
  static constexpr const char* kind = "estimator";

  // What it needs of the family, target and objective (capabilities.hpp); a cell whose plugins do not
  // offer it is skipped with the reason unmet_needs() derives.
  virtual Needs needs() const = 0;
  // Smallest `samples` S the estimator works with (e.g. 2 for leave-one-out baselines).
  virtual std::size_t min_samples() const { return 1; }
  // Whether E[ĝ] = ∇_φ E[L̂_K] for this objective; biased estimators have their bias measured, and the
  // conformance suite tests unbiasedness only where this is true.
  virtual bool unbiased_for(const Objective&) const { return true; }
  virtual std::unique_ptr<EstimatorScratch> make_scratch() const = 0;
  // Writes the gradient estimate to grad — P = q.num_params() values for φ, then T = t.num_model_params()
  // values for the model parameters θ — and returns the matching objective estimate.
  // `samples` = S independent estimates of L̂_K averaged, i.e. S·K draws from q_φ. `scratch` comes from this
  // estimator's make_scratch().
  virtual double estimate(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                          std::size_t samples, EstimatorScratch& scratch, double* grad) const = 0;
};

// An estimator whose scratch is a Scratch (derived from EstimatorScratch): it implements estimate_with.
template <class Scratch>
class EstimatorWith : public Estimator {
 public:
  std::unique_ptr<EstimatorScratch> make_scratch() const final { return std::make_unique<Scratch>(); }
  double estimate(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                  std::size_t samples, EstimatorScratch& scratch, double* grad) const final {
    return estimate_with(t, q, o, phi, rng, samples, static_cast<Scratch&>(scratch), grad);
  }
  virtual double estimate_with(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                               std::size_t samples, Scratch& scratch, double* grad) const = 0;
};

// The common last step of an estimate: scales the φ part grad[0, P) by phi_scale (1/S), adds the objective's
// analytic term (an analytic KL) to it, and writes the θ part grad[P, P + T) = Σ_r theta_weight[r]·∇_θ log p_θ(x, z_r).
// The θ-gradient of E[L̂_K] is E[Σ_k w̃_k ∇_θ log p_θ(x, z_k)] for every estimator (z does not depend on θ),
// so theta_weight = w̃/S. grad_theta_rows and prior are scratch. Returns the analytic term's value (0 without one), to add to
// the objective estimate.
double finish_gradient(const Target& t, const Family& q, const Objective& o, const double* phi, const Matrix& z,
                       const std::vector<double>& theta_weight, double phi_scale, Matrix& grad_theta_rows,
                       PriorCache& prior, double* grad);

}  // namespace vibench
