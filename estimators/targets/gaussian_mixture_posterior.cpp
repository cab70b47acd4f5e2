// target `gaussian_mixture_posterior`: a multi-modal density p(z) = (1/K) Σ_k N(z; m_k, s² I), normalized
// (log Z = 0). Means on a circle of radius separation/2 in the first two coordinates (on a line when D = 1):
// m_k = (r cos 2πk/K, r sin 2πk/K, 0, …). With responsibilities ρ_k and d_k = (m_k − z)/s²:
//   ∇ log p = Σ_k ρ_k d_k,   ∇² log p = Σ_k ρ_k d_k d_kᵀ − (Σ_k ρ_k d_k)(Σ_k ρ_k d_k)ᵀ − I/s².
#include <algorithm>
#include <cmath>
#include <numbers>

#include "vibench/plugin/registry.hpp"
#include "vibench/vi/target.hpp"

namespace {

using namespace vibench;

class GaussianMixturePosterior final : public Target {
 public:
  explicit GaussianMixturePosterior(const Params& p)
      : d_(static_cast<std::size_t>(p.get_int("dim"))),
        k_(static_cast<std::size_t>(p.get_int("components"))),
        s_(p.get_double("scale")),
        means_(k_, d_) {
    const double radius = 0.5 * p.get_double("separation");
    for (std::size_t c = 0; c < k_; ++c) {
      const double angle = 2 * std::numbers::pi * static_cast<double>(c) / static_cast<double>(k_);
      means_(c, 0) = radius * std::cos(angle);
      if (d_ > 1) means_(c, 1) = radius * std::sin(angle);
    }
  }

  std::size_t dim() const override { return d_; }

  void log_joint(const Matrix& z, double* lp) const override {
    std::vector<double> rho(k_);
    for (std::size_t r = 0; r < z.rows(); ++r) lp[r] = responsibilities(z.row(r), rho.data());
  }

  void grad_log_joint(const Matrix& z, Matrix& g, double* lp) const override {
    g.resize(z.rows(), d_);
    std::vector<double> rho(k_);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      lp[r] = responsibilities(z.row(r), rho.data());
      for (std::size_t i = 0; i < d_; ++i) {
        double v = 0;
        for (std::size_t c = 0; c < k_; ++c) v += rho[c] * (means_(c, i) - z(r, i)) / (s_ * s_);
        g(r, i) = v;
      }
    }
  }

  Capabilities offers() const override { return Target::offers().with(Capability::hessian); }
  bool hessian_log_joint(const double* z, Matrix& h) const override {
    std::vector<double> rho(k_), mean_d(d_, 0.0);
    responsibilities(z, rho.data());
    h.resize(d_, d_);
    const double s2 = s_ * s_;
    for (std::size_t c = 0; c < k_; ++c)
      for (std::size_t i = 0; i < d_; ++i) {
        const double di = (means_(c, i) - z[i]) / s2;
        mean_d[i] += rho[c] * di;
        for (std::size_t j = 0; j < d_; ++j) h(i, j) += rho[c] * di * (means_(c, j) - z[j]) / s2;
      }
    for (std::size_t i = 0; i < d_; ++i) {
      for (std::size_t j = 0; j < d_; ++j) h(i, j) -= mean_d[i] * mean_d[j];
      h(i, i) -= 1 / s2;
    }
    return true;
  }

  std::optional<double> log_evidence() const override { return 0.0; }  // normalized

 private:
  // Writes ρ and returns log p(z).
  double responsibilities(const double* z, double* rho) const {
    const double log_norm = -0.5 * static_cast<double>(d_) * std::log(2 * std::numbers::pi * s_ * s_) -
                            std::log(static_cast<double>(k_));
    double m = -INFINITY;
    for (std::size_t c = 0; c < k_; ++c) {
      double q = 0;
      for (std::size_t i = 0; i < d_; ++i) q += (z[i] - means_(c, i)) * (z[i] - means_(c, i));
      rho[c] = -0.5 * q / (s_ * s_);
      m = std::max(m, rho[c]);
    }
    double sum = 0;
    for (std::size_t c = 0; c < k_; ++c) sum += (rho[c] = std::exp(rho[c] - m));
    for (std::size_t c = 0; c < k_; ++c) rho[c] /= sum;
    return log_norm + m + std::log(sum);
  }

  std::size_t d_, k_;
  double s_;
  Matrix means_;
};

const Register<Target, GaussianMixturePosterior> registration{{
    .name = "gaussian_mixture_posterior",
    .description = "equal-weight mixture of K isotropic Gaussians on a circle (multi-modal); normalized (log Z = 0)",
    .params = {ParamSpec::integer("dim", 2, "dimension D").at_least(1),
               ParamSpec::integer("components", 2, "number of modes K").at_least(1),
               ParamSpec::real("separation", 6.0, "distance between opposite modes (circle diameter)").at_least(0),
               ParamSpec::real("scale", 1.0, "standard deviation s of each mode").positive()},
}};

}  // namespace
