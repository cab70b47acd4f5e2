#pragma once
// Mutual-information estimation: kinds `mi_task` (a joint p(x, y) with a closed-form I(X;Y)), `critic`
// (scores f(x, y)) and `bound` (a variational MI bound computed from a batch's score matrix).
//
// Score matrix convention (Poole et al. 2019): for a batch of B joint draws (x_i, y_i) ~ p(x, y),
// F(i, j) = f(x_i, y_j). The diagonal holds joint pairs, the off-diagonal pairs (i ≠ j) stand in for
// draws of p(x)p(y). A bound's value uses F only; its gradient with respect to F is what trains a critic.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "vibench/math/matrix.hpp"
#include "vibench/math/rng.hpp"
#include "vibench/nn/nn.hpp"

namespace vibench {

class MiTask {
 public:
  virtual ~MiTask() = default;
  static constexpr const char* kind = "mi_task";

  virtual std::size_t dim_x() const = 0;
  virtual std::size_t dim_y() const = 0;
  // n joint draws: rows of x (n×dim_x) and y (n×dim_y).
  virtual void sample(Rng& rng, std::size_t n, Matrix& x, Matrix& y) const = 0;
  // log r(x, y) = log p(x, y) − log p(x) − log p(y), the optimal critic up to a constant.
  virtual double log_ratio(const double* x, const double* y) const = 0;
  // F(i, j) = log r(x_i, y_j) + shift for every pair of rows (the oracle critic's score matrix). The default
  // calls log_ratio per pair; a task may compute the same numbers faster for the whole batch.
  virtual void log_ratios(const Matrix& x, const Matrix& y, double shift, Matrix& f) const {
    f.resize(x.rows(), y.rows());
    for (std::size_t i = 0; i < x.rows(); ++i)
      for (std::size_t j = 0; j < y.rows(); ++j) f(i, j) = log_ratio(x.row(i), y.row(j)) + shift;
  }
  virtual double exact_mi() const = 0;  // nats
};

// Scratch of a critic's forward and backward passes over one batch; reused across batches.
struct CriticWorkspace {
  MlpWorkspace first, second;  // the critic's networks' activations
  Matrix a, b, pairs, out, d_out, d_a, d_b;
};

class Critic {
 public:
  virtual ~Critic() = default;
  static constexpr const char* kind = "critic";

  // Trainable parameters (none for the oracle), initialized from a Philox stream.
  virtual std::size_t num_params() const { return 0; }
  virtual void init(double* params, Rng& rng) const {}
  // F(i, j) = f(x_i, y_j) + shift for all pairs of a batch (B×B).
  virtual void scores(const MiTask& task, const Matrix& x, const Matrix& y, const double* params, double shift, Matrix& f,
                      CriticWorkspace& ws) const = 0;
  // After scores() on the same workspace: grad += ∂L/∂params given dF = ∂L/∂F.
  virtual void backward(const double* params, const Matrix& df, CriticWorkspace& ws, double* grad) const {}
  // The critic is the true log density ratio: no training, bias and variance are the bound's own.
  virtual bool is_oracle() const { return false; }
};

class Bound {
 public:
  virtual ~Bound() = default;
  static constexpr const char* kind = "bound";

  // The bound's value on one batch (an estimate of a lower bound on I(X;Y), nats).
  virtual double value(const Matrix& f) const = 0;
  // value(f) and g = ∂(training objective)/∂F, the direction a critic is trained along (for most bounds the
  // bound itself; `js` and `smile` train on the Jensen–Shannon objective, `mine` corrects the bias of
  // DV's gradient with a moving average kept in `state`, empty before the first step).
  virtual double value_and_grad(const Matrix& f, Matrix& g, std::vector<double>& state) const = 0;
  // The objective whose ∂/∂F value_and_grad returns with an empty state (the bound itself unless the
  // critic is trained on another objective); lets the gradients be checked by finite differences.
  virtual double training_objective(const Matrix& f) const { return value(f); }
  // c such that the bound is tight (as B → ∞) at f = log r + c; the oracle critic scores with this shift.
  virtual double optimal_shift() const { return 0.0; }
  // The largest value the bound can take on a batch of B (InfoNCE: log B), if any.
  virtual double ceiling(std::size_t batch) const;
  // Whether the bound needs a decoder critic (e^f p(x) normalized in x for every y), as Barber–Agakov does.
  virtual bool needs_decoder() const { return false; }
};

// A bound whose critic is trained on the Jensen–Shannon f-GAN objective (js, smile): value() is the bound's,
// the gradient and training objective are js_fgan_objective's.
class JsTrainedBound : public Bound {
 public:
  double value_and_grad(const Matrix& f, Matrix& g, std::vector<double>& state) const override;
  double training_objective(const Matrix& f) const override;
};

// Shared pieces of the bounds (all over the off-diagonal entries i ≠ j of a B×B matrix).
double mean_diagonal(const Matrix& f);
double log_mean_exp_off_diagonal(const Matrix& f);  // log( 1/(B(B−1)) Σ_{i≠j} e^{F(i,j)} ), stable

}  // namespace vibench

namespace vibench {

// I_TUBA(a) = 1 + mean_i (F_ii − a) − (1/(B(B−1))) Σ_{i≠j} e^{F_ij − a} (Poole et al. 2019, eq. 9 with a
// constant log-baseline a); NWJ is a = 1. Writes ∂/∂F to *g when given.
double tuba_bound(const Matrix& f, double a, Matrix* g);
// I_DV = mean_i F_ii − log (1/(B(B−1))) Σ_{i≠j} e^{F_ij} (Donsker–Varadhan), with ∂/∂F to *g when given.
double dv_bound(const Matrix& f, Matrix* g);
// ∂/∂F of the Jensen–Shannon f-GAN objective mean_i −softplus(−F_ii) − mean_{i≠j} softplus(F_ij)
// (Nowozin et al. 2016; its maximizer is F = log r). Returns the objective.
double js_fgan_objective(const Matrix& f, Matrix& g);

}  // namespace vibench
