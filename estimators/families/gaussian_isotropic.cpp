// family `gaussian_isotropic`: q_φ(z) = N(μ, σ² I), z = μ + σ ε with ε ~ N(0, I); φ = (μ, log σ), D + 1 values.
// With u = (z − μ)/σ:  log q = −½ uᵀu − D (log σ + ½ log 2π);  ∇_μ log q = u/σ;  ∂ log q/∂log σ = uᵀu − D;
// ∇_z log q = −u/σ;  (∂z/∂φ)ᵀ v = (v, σ vᵀε);  H = D (log σ + ½ (1 + log 2π)).
#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "vibench/math/batch.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/family.hpp"

namespace {

using namespace vibench;

class GaussianIsotropic final : public ReparameterizedFamily {
  // Member layout: values = (σ, 1/σ), log_norm = D (log σ + ½ log 2π).
  auto mean(const Member& qphi) const { return block(qphi.phi, d_); }
  double sigma(const Member& qphi) const { return qphi.values[0]; }
  double inv_sigma(const Member& qphi) const { return qphi.values[1]; }

 public:
  GaussianIsotropic(const Params& p, const PluginContext& ctx) : d_(ctx.dim) {
    if (d_ == 0) throw ParamError(p.full_key("name"), "gaussian_isotropic needs the target's dimension");
  }

  std::size_t dim() const override { return d_; }
  std::size_t num_params() const override { return d_ + 1; }
  std::vector<std::string> param_names() const override {
    std::vector<std::string> n;
    for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("mean[{}]", i));
    n.push_back("log_sigma");
    return n;
  }
  std::vector<double> init() const override { return std::vector<double>(d_ + 1, 0.0); }  // N(0, I)

  void precompute(const double* phi, Member& qphi) const override {
    const double log_sigma = phi[d_];
    qphi.values = {std::exp(log_sigma), std::exp(-log_sigma)};
    qphi.log_norm = static_cast<double>(d_) * (log_sigma + 0.5 * std::log(2 * std::numbers::pi));
  }

  BaseNoise base_noise() const override { return {BaseNoise::Law::standard_normal, d_}; }
  void transform(const Member& qphi, const Matrix& eps, Matrix& z) const override {
    z.resize(eps.rows(), d_);
    for (std::size_t r = 0; r < z.rows(); ++r) xt::noalias(row_of(z, r)) = mean(qphi) + sigma(qphi) * row_of(eps, r);
  }
  void log_q(const Member& qphi, const Matrix& z, double* out) const override {
    for (std::size_t r = 0; r < z.rows(); ++r) {
      const auto u = (row_of(z, r) - mean(qphi)) * inv_sigma(qphi);
      out[r] = -0.5 * sum_in_order(u * u) - qphi.log_norm;
    }
  }
  void score(const Member& qphi, const Matrix& z, Matrix& out) const override {
    out.resize(z.rows(), d_ + 1);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      const auto u = (row_of(z, r) - mean(qphi)) * inv_sigma(qphi);
      xt::noalias(row_of(out, r, 0, d_)) = u * inv_sigma(qphi);
      out(r, d_) = sum_in_order(u * u) - static_cast<double>(d_);
    }
  }
  void grad_z_log_q(const Member& qphi, const Matrix& z, Matrix& out) const override {
    out.resize(z.rows(), d_);
    const double inv_var = inv_sigma(qphi) * inv_sigma(qphi);
    for (std::size_t r = 0; r < z.rows(); ++r) xt::noalias(row_of(out, r)) = (mean(qphi) - row_of(z, r)) * inv_var;
  }
  void pullback(const Member& qphi, const Matrix& eps, const Matrix& v, Matrix& out) const override {
    out.resize(v.rows(), d_ + 1);
    for (std::size_t r = 0; r < v.rows(); ++r) {
      xt::noalias(row_of(out, r, 0, d_)) = row_of(v, r);
      out(r, d_) = sigma(qphi) * sum_in_order(row_of(v, r) * row_of(eps, r));
    }
  }

  std::optional<double> entropy(const double* phi) const override {
    return static_cast<double>(d_) * (phi[d_] + 0.5 * (1 + std::log(2 * std::numbers::pi)));
  }
  bool grad_entropy(const double* phi, double* out) const override {
    std::fill(out, out + d_, 0.0);
    out[d_] = static_cast<double>(d_);
    return true;
  }

  Capabilities offers() const override {
    return Family::offers().with(Capability::gaussian_moments).with(Capability::moment_pullback);
  }
  std::optional<GaussianMoments> gaussian_moments(const double* phi) const override {
    GaussianMoments m{std::vector<double>(phi, phi + d_), Matrix(d_, d_)};
    for (std::size_t i = 0; i < d_; ++i) m.cov(i, i) = std::exp(2 * phi[d_]);
    return m;
  }
  // C = σ² I: ∂f/∂log σ = 2σ² tr G.
  bool pullback_moments(const double* phi, const std::vector<double>& gm, const Matrix& gc, double* out) const override {
    double trace = 0;
    for (std::size_t i = 0; i < d_; ++i) {
      out[i] = gm[i];
      trace += gc(i, i);
    }
    out[d_] = 2 * std::exp(2 * phi[d_]) * trace;
    return true;
  }

  std::optional<std::vector<double>> from_gaussian(const std::vector<double>& mean, const Matrix& cov,
                                                   std::string* why) const override {
    for (std::size_t i = 0; i < d_; ++i)
      for (std::size_t j = 0; j < d_; ++j)
        if (cov(i, j) != (i == j ? cov(0, 0) : 0.0) || !(cov(0, 0) > 0)) {
          if (why) *why = "gaussian_isotropic represents only covariances σ² I with σ > 0";
          return std::nullopt;
        }
    std::vector<double> phi(mean.begin(), mean.end());
    phi.push_back(0.5 * std::log(cov(0, 0)));
    return phi;
  }

  // KL(q ‖ N(m, Λ⁻¹)) = ½[σ² tr Λ + (μ − m)ᵀΛ(μ − m) − D log σ² + const]: minimized at μ = m, σ² = D / tr Λ.
  std::optional<std::vector<double>> elbo_optimum(const GaussianPosterior& post) const override {
    double trace = 0;
    for (std::size_t i = 0; i < d_; ++i) trace += post.precision(i, i);
    std::vector<double> phi(post.mean.begin(), post.mean.end());
    phi.push_back(0.5 * std::log(static_cast<double>(d_) / trace));
    return phi;
  }

 private:
  std::size_t d_;
};

const Register<Family, GaussianIsotropic> registration{{
    .name = "gaussian_isotropic",
    .description = "isotropic Gaussian N(mu, sigma^2 I), phi = (mu, log sigma), reparameterizable, closed-form entropy",
}};

}  // namespace
