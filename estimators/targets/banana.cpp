// target `banana` (Haario, Saksman, Tamminen 1999, twisted Gaussian): y = φ_b(x) with x ~ N(0, diag(σ₁², 1, …, 1))
// and φ_b(x) = (x₁, x₂ + b(x₁² − σ₁²), x₃, …), a volume-preserving map, so the density is normalized
// (log Z = 0). With u = y₂ − b(y₁² − σ₁²):
//   log p = log N(y₁; 0, σ₁²) + log N(u; 0, 1) + Σ_{i≥3} log N(y_i; 0, 1)
//   ∂/∂y₁ = −y₁/σ₁² + 2b y₁ u,   ∂/∂y₂ = −u,   ∂/∂y_i = −y_i
//   ∂²/∂y₁² = −1/σ₁² + 2bu − 4b²y₁²,   ∂²/∂y₁∂y₂ = 2b y₁,   ∂²/∂y₂² = −1,   ∂²/∂y_i² = −1
#include <cmath>
#include <numbers>

#include "vibench/plugin/registry.hpp"
#include "vibench/vi/target.hpp"

namespace {

using namespace vibench;

class Banana final : public Target {
 public:
  explicit Banana(const Params& p)
      : d_(static_cast<std::size_t>(p.get_int("dim"))), b_(p.get_double("b")), s1_(p.get_double("sigma1")) {}

  std::size_t dim() const override { return d_; }

  void log_joint(const Matrix& z, double* lp) const override {
    const double half_log_2pi = 0.5 * std::log(2 * std::numbers::pi);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      const double y1 = z(r, 0), u = twist(z.row(r));
      double rest = 0;
      for (std::size_t i = 2; i < d_; ++i) rest += z(r, i) * z(r, i);
      lp[r] = -0.5 * (y1 * y1 / (s1_ * s1_) + u * u + rest) - std::log(s1_) - static_cast<double>(d_) * half_log_2pi;
    }
  }

  void grad_log_joint(const Matrix& z, Matrix& g, double* lp) const override {
    log_joint(z, lp);
    g.resize(z.rows(), d_);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      const double y1 = z(r, 0), u = twist(z.row(r));
      g(r, 0) = -y1 / (s1_ * s1_) + 2 * b_ * y1 * u;
      g(r, 1) = -u;
      for (std::size_t i = 2; i < d_; ++i) g(r, i) = -z(r, i);
    }
  }

  Capabilities offers() const override { return Target::offers().with(Capability::hessian); }
  bool hessian_log_joint(const double* z, Matrix& h) const override {
    h = Matrix::identity(d_);
    for (std::size_t i = 0; i < d_ * d_; ++i) h.data()[i] = -h.data()[i];
    const double y1 = z[0], u = twist(z);
    h(0, 0) = -1 / (s1_ * s1_) + 2 * b_ * u - 4 * b_ * b_ * y1 * y1;
    h(0, 1) = h(1, 0) = 2 * b_ * y1;
    return true;
  }

  std::optional<double> log_evidence() const override { return 0.0; }  // normalized

 private:
  double twist(const double* y) const { return y[1] - b_ * (y[0] * y[0] - s1_ * s1_); }

  std::size_t d_;
  double b_, s1_;
};

const Register<Target, Banana> registration{{
    .name = "banana",
    .description = "twisted Gaussian (banana) of Haario et al.; normalized (log Z = 0)",
    .reference = "Haario, Saksman, Tamminen 1999, Adaptive proposal distribution for random walk Metropolis, Comput. Stat.",
    .params = {ParamSpec::integer("dim", 2, "dimension D").at_least(2),
               ParamSpec::real("b", 0.1, "curvature b"),
               ParamSpec::real("sigma1", 10.0, "standard deviation of the first coordinate").positive()},
}};

}  // namespace
