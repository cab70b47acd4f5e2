// family `gaussian_mixture`: q_φ(z) = Σ_k π_k N(z; μ_k, diag σ_k²), π = softmax(α), φ = (α (K), μ (K×D),
// log σ (K×D)). Supports: sampling, log q, the score and ∇_z log q, so score-function estimators (and VIMCO)
// apply. Not reparameterizable (the component draw is discrete), no closed-form entropy or moments here.
// With responsibilities ρ_k(z) and u_k = (z − μ_k)/σ_k:
//   ∂ log q/∂α_k = ρ_k − π_k,  ∂/∂μ_ki = ρ_k u_ki/σ_ki,  ∂/∂log σ_ki = ρ_k (u_ki² − 1),  ∇_z = −Σ_k ρ_k u_k/σ_k
#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "vibench/plugin/registry.hpp"
#include "vibench/vi/family.hpp"

namespace {

using namespace vibench;

class GaussianMixture final : public Family, public DensityGradient {
 public:
  GaussianMixture(const Params& p, const PluginContext& ctx)
      : d_(ctx.dim), k_(static_cast<std::size_t>(p.get_int("components"))) {
    if (d_ == 0) throw ParamError(p.full_key("name"), "gaussian_mixture needs the target's dimension");
  }

  std::size_t dim() const override { return d_; }
  std::size_t num_params() const override { return k_ + 2 * k_ * d_; }
  std::vector<std::string> param_names() const override {
    std::vector<std::string> n;
    for (std::size_t c = 0; c < k_; ++c) n.push_back(fmt::format("logit[{}]", c));
    for (std::size_t c = 0; c < k_; ++c)
      for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("mean[{},{}]", c, i));
    for (std::size_t c = 0; c < k_; ++c)
      for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("log_sigma[{},{}]", c, i));
    return n;
  }
  // Equal weights, unit scales, means spread along the first axis (identical components would be a saddle).
  std::vector<double> init() const override {
    std::vector<double> phi(num_params(), 0.0);
    for (std::size_t c = 0; c < k_; ++c) phi[mean_index(c, 0)] = static_cast<double>(c) - 0.5 * static_cast<double>(k_ - 1);
    return phi;
  }

  // Member layout: values = (π (K), σ_ki, 1/σ_ki, σ_ki² (K×D each)), log_norm = log Σ_k e^{α_k}; each computed
  // as the per-sample loops did (1/σ as e^{−log σ}, σ² as e^{2 log σ}), so the bits stay those of the loops.
  void precompute(const double* phi, Member& qphi) const override {
    const std::size_t kd = k_ * d_;
    qphi.values.resize(k_ + 3 * kd);
    qphi.log_norm = weights(phi, qphi.values.data());
    double *sd = qphi.values.data() + k_, *inv = sd + kd, *var = inv + kd;
    for (std::size_t j = 0; j < kd; ++j) {
      const double ls = phi[k_ + kd + j];
      sd[j] = std::exp(ls);
      inv[j] = std::exp(-ls);
      var[j] = std::exp(2 * ls);
    }
  }

  // Noise row: one uniform (the component), then D normals.
  void sample(const Member& qphi, Rng& rng, std::size_t s, Matrix& eps, Matrix& z) const override {
    const double* phi = qphi.phi;
    eps.resize(s, 1 + d_);
    z.resize(s, d_);
    std::vector<double> u(s);
    rng.uniforms(u.data(), s);
    Matrix normals(s, d_);
    rng.normals(normals.data(), s * d_);
    const double* pi = weights(qphi);
    for (std::size_t r = 0; r < s; ++r) {
      std::size_t c = 0;
      for (double acc = pi[0]; c + 1 < k_ && u[r] >= acc; acc += pi[++c]) {
      }
      eps(r, 0) = u[r];
      for (std::size_t i = 0; i < d_; ++i) {
        eps(r, 1 + i) = normals(r, i);
        z(r, i) = phi[mean_index(c, i)] + sigma(qphi, c, i) * normals(r, i);
      }
    }
  }

  void log_q(const Member& qphi, const Matrix& z, double* out) const override {
    std::vector<double> rho(k_);
    for (std::size_t r = 0; r < z.rows(); ++r) out[r] = responsibilities(qphi, z.row(r), rho.data());
  }

  void score(const Member& qphi, const Matrix& z, Matrix& out) const override {
    const double* phi = qphi.phi;
    out.resize(z.rows(), num_params());
    std::vector<double> rho(k_);
    const double* pi = weights(qphi);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      responsibilities(qphi, z.row(r), rho.data());
      double* o = out.row(r);
      for (std::size_t c = 0; c < k_; ++c) {
        o[c] = rho[c] - pi[c];
        for (std::size_t i = 0; i < d_; ++i) {
          const double sd = sigma(qphi, c, i), u = (z(r, i) - phi[mean_index(c, i)]) / sd;
          o[mean_index(c, i)] = rho[c] * u / sd;
          o[scale_index(c, i)] = rho[c] * (u * u - 1);
        }
      }
    }
  }

  const DensityGradient* density_gradient() const override { return this; }
  void grad_z_log_q(const Member& qphi, const Matrix& z, Matrix& out) const override {
    const double* phi = qphi.phi;
    out.resize(z.rows(), d_);
    std::vector<double> rho(k_);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      responsibilities(qphi, z.row(r), rho.data());
      for (std::size_t i = 0; i < d_; ++i) {
        double g = 0;
        for (std::size_t c = 0; c < k_; ++c) {
          g -= rho[c] * (z(r, i) - phi[mean_index(c, i)]) / variance(qphi, c, i);
        }
        out(r, i) = g;
      }
    }
  }

 private:
  std::size_t mean_index(std::size_t c, std::size_t i) const { return k_ + c * d_ + i; }
  std::size_t scale_index(std::size_t c, std::size_t i) const { return k_ + k_ * d_ + c * d_ + i; }
  // Writes π = softmax(α) and returns log Σ_k e^{α_k}.
  double weights(const double* phi, double* pi) const {
    const double m = *std::max_element(phi, phi + k_);
    double sum = 0;
    for (std::size_t c = 0; c < k_; ++c) sum += (pi[c] = std::exp(phi[c] - m));
    for (std::size_t c = 0; c < k_; ++c) pi[c] /= sum;
    return m + std::log(sum);
  }
  const double* weights(const Member& qphi) const { return qphi.values.data(); }
  double sigma(const Member& qphi, std::size_t c, std::size_t i) const { return qphi.values[k_ + c * d_ + i]; }
  double inv_sigma(const Member& qphi, std::size_t c, std::size_t i) const {
    return qphi.values[k_ + k_ * d_ + c * d_ + i];
  }
  double variance(const Member& qphi, std::size_t c, std::size_t i) const {
    return qphi.values[k_ + 2 * k_ * d_ + c * d_ + i];
  }
  // Writes ρ(z) and returns log q(z).
  double responsibilities(const Member& qphi, const double* z, double* rho) const {
    const double* phi = qphi.phi;
    const double lse_alpha = qphi.log_norm;
    const double half_log_2pi = 0.5 * std::log(2 * std::numbers::pi);
    double m = -INFINITY;
    for (std::size_t c = 0; c < k_; ++c) {
      double v = phi[c] - lse_alpha;
      for (std::size_t i = 0; i < d_; ++i) {
        const double ls = phi[scale_index(c, i)], u = (z[i] - phi[mean_index(c, i)]) * inv_sigma(qphi, c, i);
        v -= 0.5 * u * u + ls + half_log_2pi;
      }
      rho[c] = v;
      m = std::max(m, v);
    }
    double sum = 0;
    for (std::size_t c = 0; c < k_; ++c) sum += (rho[c] = std::exp(rho[c] - m));
    for (std::size_t c = 0; c < k_; ++c) rho[c] /= sum;
    return m + std::log(sum);
  }

  std::size_t d_, k_;
};

const Register<Family, GaussianMixture> registration{{
    .name = "gaussian_mixture",
    .description = "mixture of K diagonal Gaussians; score-function estimators only (not reparameterizable)",
    .params = {ParamSpec::integer("components", 2, "number of components K").at_least(1)},
}};

}  // namespace
