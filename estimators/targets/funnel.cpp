// target `funnel` (Neal 2003, "Slice sampling", §8): v ~ N(0, s²), x_i | v ~ N(0, e^v) for i = 1..D−1,
// z = (v, x). A normalized density, so log p(x) = log Z = 0 exactly: every lower bound is ≤ 0.
//   log p = log N(v; 0, s²) + Σ_i [−½ log 2π − v/2 − ½ x_i² e^{−v}]
//   ∂/∂v = −v/s² − (D−1)/2 + ½ Σ x_i² e^{−v},   ∂/∂x_i = −x_i e^{−v}
//   ∂²/∂v² = −1/s² − ½ Σ x_i² e^{−v},   ∂²/∂v∂x_i = x_i e^{−v},   ∂²/∂x_i² = −e^{−v}
#include <cmath>
#include <numbers>

#include "vibench/math/batch.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/target.hpp"

namespace {

using namespace vibench;

class Funnel final : public Target {
 public:
  explicit Funnel(const Params& p) : d_(static_cast<std::size_t>(p.get_int("dim"))), s_(p.get_double("scale")) {}

  std::size_t dim() const override { return d_; }

  void log_joint(const Matrix& z, double* lp) const override {
    const double half_log_2pi = 0.5 * std::log(2 * std::numbers::pi);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      const double v = z(r, 0), ev = std::exp(-v);
      const auto x = row_of(z, r, 1, d_ - 1);
      const double sum = sum_in_order(x * x);
      lp[r] = -0.5 * v * v / (s_ * s_) - std::log(s_) - half_log_2pi -
              static_cast<double>(d_ - 1) * (half_log_2pi + 0.5 * v) - 0.5 * sum * ev;
    }
  }

  void grad_log_joint(const Matrix& z, Matrix& g, double* lp) const override {
    log_joint(z, lp);
    g.resize(z.rows(), d_);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      const double v = z(r, 0), ev = std::exp(-v);
      const auto x = row_of(z, r, 1, d_ - 1);
      const double sum = sum_in_order(x * x);
      xt::noalias(row_of(g, r, 1, d_ - 1)) = -x * ev;
      g(r, 0) = -v / (s_ * s_) - 0.5 * static_cast<double>(d_ - 1) + 0.5 * sum * ev;
    }
  }

  Capabilities offers() const override { return Target::offers().with(Capability::hessian); }
  bool hessian_log_joint(const double* z, Matrix& h) const override {
    h.resize(d_, d_);
    const double ev = std::exp(-z[0]);
    double sum = 0;
    for (std::size_t i = 1; i < d_; ++i) {
      sum += z[i] * z[i];
      h(0, i) = h(i, 0) = z[i] * ev;
      h(i, i) = -ev;
    }
    h(0, 0) = -1 / (s_ * s_) - 0.5 * sum * ev;
    return true;
  }

  std::optional<double> log_evidence() const override { return 0.0; }  // normalized

 private:
  std::size_t d_;
  double s_;
};

const Register<Target, Funnel> registration{{
    .name = "funnel",
    .description = "Neal's funnel: v ~ N(0, s^2), x_i | v ~ N(0, e^v); normalized (log Z = 0)",
    .reference = "Neal 2003, Slice sampling, Annals of Statistics, §8",
    .params = {ParamSpec::integer("dim", 10, "dimension D (v and D - 1 x's)").at_least(2),
               ParamSpec::real("scale", 3.0, "standard deviation s of v").positive()},
}};

}  // namespace
