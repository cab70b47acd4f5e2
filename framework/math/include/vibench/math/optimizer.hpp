#pragma once
// The gradient optimizers of every study that takes gradient steps (optimize, vib, rate_distortion,
// mi_estimation): SGD with a constant or cosine step size, and Adam (Kingma & Ba 2015, Alg. 1, bias-corrected).
// Each keeps its own step count t (steps taken), so step t of a run is the same update whether or not the run
// was resumed from a checkpoint (write_state / read_state hold every bit of the state).
//
// Adam comes in two roundings of the same update θ ← θ ± α·m̂/(√v̂ + ε), m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ):
//   step_size_first   (α·m̂)/(√v̂ + ε), Alg. 1 as written and evaluated left to right (the network studies);
//   direction_first   α·(m̂/(√v̂ + ε)), the direction first, then its length (the optimize study).
// They differ in the last bit of about a third of the updates; each study's stored results were computed with
// one of them, so each keeps it (a change would change every trained number).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "vibench/math/state_stream.hpp"

namespace vibench {

// What every optimizer offers: step over the `size()` first coordinates of params, ascending (maximizing)
// or descending; its exact state for checkpoints.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::size_t size() const = 0;
  virtual void step(double* params, const double* grad, bool ascend) = 0;
  std::size_t steps_taken() const { return t_; }
  // read_state expects the layout (and size) write_state wrote; it throws StateFormatError otherwise.
  virtual void write_state(StateWriter& out) const = 0;
  virtual void read_state(StateReader& in) = 0;

 protected:
  std::size_t t_ = 0;  // steps taken
};

enum class StepSizeSchedule {
  constant,  // α_t = α
  cosine,    // α_t = α·cos(πt/(2T)) at step t = 0, …, T−1 of T (Mohamed et al. 2020's logistic regression)
};

// θ ← θ ± α_t·g.
class Sgd final : public Optimizer {
 public:
  // total_steps: T of the cosine schedule (unused by constant).
  Sgd(std::size_t n, double learning_rate, StepSizeSchedule schedule = StepSizeSchedule::constant,
      std::size_t total_steps = 0);
  std::size_t size() const override { return n_; }
  double step_size() const;  // α_t of the next step
  void step(double* params, const double* grad, bool ascend) override;
  void write_state(StateWriter& out) const override;  // t
  void read_state(StateReader& in) override;

 private:
  std::size_t n_;
  double lr_;
  StepSizeSchedule schedule_;
  std::size_t total_;
};

enum class AdamRounding { step_size_first, direction_first };  // see the top of this file

class Adam final : public Optimizer {
 public:
  Adam(std::size_t n, double learning_rate, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
       AdamRounding rounding = AdamRounding::step_size_first);
  std::size_t size() const override { return m_.size(); }
  void step(double* params, const double* grad, bool ascend) override;
  void set_learning_rate(double lr) { lr_ = lr; }  // a schedule the caller runs (e.g. decay per epoch)
  // The learning rate, step count and moments, exactly.
  void write_state(StateWriter& out) const override;
  void read_state(StateReader& in) override;

 private:
  double lr_, b1_, b2_, eps_;
  AdamRounding rounding_;
  std::vector<double> m_, v_;
};

}  // namespace vibench
