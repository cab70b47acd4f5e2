// family `concrete`: factorized binary Concrete (relaxed Bernoulli) q_φ(y), y ∈ (0, 1)^D, with logits
// η = φ and a fixed temperature λ (Maddison, Mnih, Teh 2017, §3.3; Jang et al. 2017). Reparameterized by
// logistic noise L: y = σ((η + L)/λ). With s = σ(η − λ·logit y):
//   log q(y) = log λ + η − (λ + 1)(log y + log(1 − y)) − 2 log(e^η y^{−λ} + (1 − y)^{−λ})
//   ∂ log q/∂η = 1 − 2s,   ∂ log q/∂y = −(λ + 1)(1/y − 1/(1 − y)) + 2λ s/y − 2λ(1 − s)/(1 − y)
//   ∂y/∂η = y(1 − y)/λ.
// A continuous, reparameterizable stand-in for `bernoulli`: as λ → 0, y → b ~ Bern(σ(η)).
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "vibench/family.hpp"

namespace {

using namespace vibench;

double sigmoid(double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }
double log1p_exp(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

class Concrete final : public Family {
 public:
  Concrete(const Params& p, const PluginContext& ctx) : d_(ctx.dim), lambda_(p.get_double("temperature")) {
    if (d_ == 0) throw ParamError(p.full_key("name"), "concrete needs the target's dimension");
  }

  std::size_t dim() const override { return d_; }
  std::size_t num_params() const override { return d_; }
  std::vector<std::string> param_names() const override {
    std::vector<std::string> n;
    for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("logit[{}]", i));
    return n;
  }
  bool reparameterizable() const override { return true; }
  std::vector<double> init() const override { return std::vector<double>(d_, 0.0); }

  void sample(const double* phi, Rng& rng, std::size_t s, Matrix& eps, Matrix& z) const override {
    eps.resize(s, d_);
    z.resize(s, d_);
    rng.uniforms(eps.data(), s * d_);
    for (std::size_t r = 0; r < s; ++r)
      for (std::size_t i = 0; i < d_; ++i) {
        const double u = eps(r, i) > 0 ? eps(r, i) : 0x1p-53;
        eps(r, i) = std::log(u) - std::log1p(-u);  // logistic
        // Kept inside (0, 1): σ rounds to exactly 0 or 1 for |η + L|/λ ≳ 37, where log q would be −∞.
        z(r, i) = std::clamp(sigmoid((phi[i] + eps(r, i)) / lambda_), 0x1p-53, 1 - 0x1p-53);
      }
  }

  // Written in logit y = t: log y + log(1 − y) = −log1p(e^t) − log1p(e^{−t}), and
  // log(e^η y^{−λ} + (1 − y)^{−λ}) = −λ log(1 − y) + log1p_exp(η − λt).
  void log_q(const double* phi, const Matrix& z, double* out) const override {
    for (std::size_t r = 0; r < z.rows(); ++r) {
      double v = 0;
      for (std::size_t i = 0; i < d_; ++i) {
        const double y = z(r, i), t = std::log(y) - std::log1p(-y), log1m = std::log1p(-y);
        v += std::log(lambda_) + phi[i] - (lambda_ + 1) * (std::log(y) + log1m) -
             2 * (-lambda_ * log1m + log1p_exp(phi[i] - lambda_ * t));
      }
      out[r] = v;
    }
  }
  void score(const double* phi, const Matrix& z, Matrix& out) const override {
    out.resize(z.rows(), d_);
    for (std::size_t r = 0; r < z.rows(); ++r)
      for (std::size_t i = 0; i < d_; ++i) out(r, i) = 1 - 2 * shape(phi[i], z(r, i));
  }
  void grad_z_log_q(const double* phi, const Matrix& z, Matrix& out) const override {
    out.resize(z.rows(), d_);
    for (std::size_t r = 0; r < z.rows(); ++r)
      for (std::size_t i = 0; i < d_; ++i) {
        const double y = z(r, i), s = shape(phi[i], y);
        out(r, i) = -(lambda_ + 1) * (1 / y - 1 / (1 - y)) + 2 * lambda_ * s / y - 2 * lambda_ * (1 - s) / (1 - y);
      }
  }
  void reparam_pullback(const double* phi, const Matrix& eps, const Matrix& v, Matrix& out) const override {
    out.resize(v.rows(), d_);
    for (std::size_t r = 0; r < v.rows(); ++r)
      for (std::size_t i = 0; i < d_; ++i) {
        const double y = sigmoid((phi[i] + eps(r, i)) / lambda_);
        out(r, i) = v(r, i) * y * (1 - y) / lambda_;
      }
  }

 private:
  double shape(double eta, double y) const { return sigmoid(eta - lambda_ * (std::log(y) - std::log1p(-y))); }

  std::size_t d_;
  double lambda_;
};

const Register<Family, Concrete> registration{{
    .name = "concrete",
    .description = "binary Concrete (relaxed Bernoulli) on (0,1)^D with logits and fixed temperature; reparameterizable",
    .reference = "Maddison, Mnih, Teh 2017, The Concrete Distribution, ICLR, §3.3; Jang, Gu, Poole 2017",
    .params = {ParamSpec::real("temperature", 1.0, "temperature lambda (<= 1 keeps the density unimodal in logit space)").positive()},
}};

}  // namespace
