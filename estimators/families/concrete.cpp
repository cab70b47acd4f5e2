// family `concrete`: the Concrete (relaxed discrete) distribution with logits φ and a fixed temperature λ
// (Maddison, Mnih, Teh 2017; Jang, Gu, Poole 2017), reparameterizable.
// kind: binary — factorized binary Concrete on (0, 1)^D, y = σ((η + L)/λ) with logistic noise L. With
//   s = σ(η − λ·logit y):
//   log q(y) = log λ + η − (λ + 1)(log y + log(1 − y)) − 2 log(e^η y^{−λ} + (1 − y)^{−λ})
//   ∂ log q/∂η = 1 − 2s,   ∂ log q/∂y = −(λ + 1)(1/y − 1/(1 − y)) + 2λ s/y − 2λ(1 − s)/(1 − y),   ∂y/∂η = y(1 − y)/λ.
// kind: categorical — V = D/C independent blocks on the simplex Δ^{C−1}, y = softmax((φ + G)/λ) with Gumbel
//   noise G (their Definition 1). With π̃ = softmax(φ − λ log y) per block (n = C):
//   log q(y) = log Γ(n) + (n − 1) log λ + Σ_k (φ_k − (λ + 1) log y_k) − n log Σ_k e^{φ_k} y_k^{−λ}
//   ∂ log q/∂φ_k = 1 − n π̃_k,   ∂ log q/∂y_k = (−(λ + 1) + nλ π̃_k)/y_k,   (∂y/∂φ)ᵀv = y ⊙ (v − ⟨y, v⟩)/λ.
// As λ → 0, y → the one-hot / binary sample of `bernoulli` / `categorical` with the same logits.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "vibench/math/scalar_functions.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/family.hpp"

namespace {

using namespace vibench;

double log1p_exp(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

class Concrete final : public ReparameterizedFamily {
 public:
  Concrete(const Params& p, const PluginContext& ctx)
      : d_(ctx.dim),
        lambda_(p.get_double("temperature")),
        categorical_(p.get_string("kind") == "categorical"),
        c_(categorical_ ? static_cast<std::size_t>(p.get_int("categories")) : 1) {
    if (d_ == 0) throw ParamError(p.full_key("name"), "concrete needs the target's dimension");
    if (categorical_ && d_ % c_ != 0)
      throw Unsupported(fmt::format("concrete (categorical, {} categories) needs a target dimension divisible by {}; "
                                    "the target has {}", c_, c_, d_));
  }

  std::size_t dim() const override { return d_; }
  std::size_t num_params() const override { return d_; }
  std::vector<std::string> param_names() const override {
    std::vector<std::string> n;
    for (std::size_t i = 0; i < d_; ++i)
      n.push_back(categorical_ ? fmt::format("logit[{},{}]", i / c_, i % c_) : fmt::format("logit[{}]", i));
    return n;
  }
  std::vector<double> init() const override { return std::vector<double>(d_, 0.0); }

  // Kept strictly inside the support: σ/softmax round to exactly 0 or 1 far out, where log q is −∞.
  // ε: logistic noise (binary) or Gumbel noise (categorical); z = σ((φ + ε)/λ) or softmax((φ + ε)/λ).
  BaseNoise base_noise() const override {
    return {categorical_ ? BaseNoise::Law::gumbel : BaseNoise::Law::logistic, d_};
  }
  void transform(const Member& qphi, const Matrix& eps, Matrix& z) const override {
    const double* phi = qphi.phi;
    const std::size_t s = eps.rows();
    z.resize(s, d_);
    for (std::size_t r = 0; r < s; ++r) {
      if (!categorical_) {
        for (std::size_t i = 0; i < d_; ++i)
          z(r, i) = std::clamp(sigmoid((phi[i] + eps(r, i)) / lambda_), 0x1p-53, 1 - 0x1p-53);
      } else {
        for (std::size_t b = 0; b < d_; b += c_) softmax_block(phi + b, eps.row(r) + b, z.row(r) + b);
      }
    }
  }

  void log_q(const Member& qphi, const Matrix& z, double* out) const override {
    const double* phi = qphi.phi;
    for (std::size_t r = 0; r < z.rows(); ++r) {
      double v = 0;
      if (!categorical_) {
        for (std::size_t i = 0; i < d_; ++i) {
          const double y = z(r, i), t = std::log(y) - std::log1p(-y), log1m = std::log1p(-y);
          v += std::log(lambda_) + phi[i] - (lambda_ + 1) * (std::log(y) + log1m) -
               2 * (-lambda_ * log1m + log1p_exp(phi[i] - lambda_ * t));
        }
      } else {
        const double n = static_cast<double>(c_);
        for (std::size_t b = 0; b < d_; b += c_) {
          double m = -INFINITY;
          for (std::size_t k = 0; k < c_; ++k) m = std::max(m, phi[b + k] - lambda_ * std::log(z(r, b + k)));
          double sum = 0;
          for (std::size_t k = 0; k < c_; ++k) {
            sum += std::exp(phi[b + k] - lambda_ * std::log(z(r, b + k)) - m);
            v += phi[b + k] - (lambda_ + 1) * std::log(z(r, b + k));
          }
          v += std::lgamma(n) + (n - 1) * std::log(lambda_) - n * (m + std::log(sum));
        }
      }
      out[r] = v;
    }
  }
  void score(const Member& qphi, const Matrix& z, Matrix& out) const override {
    const double* phi = qphi.phi;
    out.resize(z.rows(), d_);
    std::vector<double> pt(c_);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      if (!categorical_) {
        for (std::size_t i = 0; i < d_; ++i) out(r, i) = 1 - 2 * shape(phi[i], z(r, i));
      } else {
        for (std::size_t b = 0; b < d_; b += c_) {
          tilted(phi + b, z.row(r) + b, pt.data());
          for (std::size_t k = 0; k < c_; ++k) out(r, b + k) = 1 - static_cast<double>(c_) * pt[k];
        }
      }
    }
  }
  void grad_z_log_q(const Member& qphi, const Matrix& z, Matrix& out) const override {
    const double* phi = qphi.phi;
    out.resize(z.rows(), d_);
    std::vector<double> pt(c_);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      if (!categorical_) {
        for (std::size_t i = 0; i < d_; ++i) {
          const double y = z(r, i), s = shape(phi[i], y);
          out(r, i) = -(lambda_ + 1) * (1 / y - 1 / (1 - y)) + 2 * lambda_ * s / y - 2 * lambda_ * (1 - s) / (1 - y);
        }
      } else {
        for (std::size_t b = 0; b < d_; b += c_) {
          tilted(phi + b, z.row(r) + b, pt.data());
          for (std::size_t k = 0; k < c_; ++k)
            out(r, b + k) = (-(lambda_ + 1) + static_cast<double>(c_) * lambda_ * pt[k]) / z(r, b + k);
        }
      }
    }
  }
  void pullback(const Member& qphi, const Matrix& eps, const Matrix& v, Matrix& out) const override {
    const double* phi = qphi.phi;
    out.resize(v.rows(), d_);
    std::vector<double> y(c_);
    for (std::size_t r = 0; r < v.rows(); ++r) {
      if (!categorical_) {
        for (std::size_t i = 0; i < d_; ++i) {
          const double yi = sigmoid((phi[i] + eps(r, i)) / lambda_);
          out(r, i) = v(r, i) * yi * (1 - yi) / lambda_;
        }
      } else {
        for (std::size_t b = 0; b < d_; b += c_) {
          softmax_block(phi + b, eps.row(r) + b, y.data());
          double dot = 0;
          for (std::size_t k = 0; k < c_; ++k) dot += y[k] * v(r, b + k);
          for (std::size_t k = 0; k < c_; ++k) out(r, b + k) = y[k] * (v(r, b + k) - dot) / lambda_;
        }
      }
    }
  }

 private:
  double shape(double eta, double y) const { return sigmoid(eta - lambda_ * (std::log(y) - std::log1p(-y))); }
  // π̃ = softmax(φ − λ log y) over one block.
  void tilted(const double* phi, const double* y, double* out) const {
    double m = -INFINITY;
    for (std::size_t k = 0; k < c_; ++k) m = std::max(m, out[k] = phi[k] - lambda_ * std::log(y[k]));
    double sum = 0;
    for (std::size_t k = 0; k < c_; ++k) sum += (out[k] = std::exp(out[k] - m));
    for (std::size_t k = 0; k < c_; ++k) out[k] /= sum;
  }
  void softmax_block(const double* phi, const double* gumbel, double* y) const {
    double m = -INFINITY;
    for (std::size_t k = 0; k < c_; ++k) m = std::max(m, (phi[k] + gumbel[k]) / lambda_);
    double sum = 0;
    for (std::size_t k = 0; k < c_; ++k) sum += (y[k] = std::exp((phi[k] + gumbel[k]) / lambda_ - m));
    for (std::size_t k = 0; k < c_; ++k) y[k] = std::max(y[k] / sum, 1e-300);
  }

  std::size_t d_;
  double lambda_;
  bool categorical_;
  std::size_t c_;
};

const Register<Family, Concrete> registration{{
    .name = "concrete",
    .description = "Concrete (relaxed Bernoulli or categorical) with logits and fixed temperature; reparameterizable",
    .reference = "Maddison, Mnih, Teh 2017, The Concrete Distribution, ICLR, Def. 1 and §3.3; Jang, Gu, Poole 2017",
    .params = {ParamSpec::choice("kind", {"binary", "categorical"}, "binary",
                                 "binary: each coordinate on (0, 1); categorical: blocks of C coordinates on the simplex"),
               ParamSpec::integer("categories", 3, "categorical: C per block (the target's dimension is V·C)").at_least(2),
               ParamSpec::real("temperature", 1.0, "temperature lambda (<= 1/(C-1) keeps the density unimodal)").positive()},
}};

}  // namespace
