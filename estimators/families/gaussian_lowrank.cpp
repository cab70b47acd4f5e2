// family `gaussian_lowrank`: q_φ(z) = N(μ, Σ), Σ = diag(d²) + BBᵀ with B ∈ R^{D×r} (Rezende et al. 2014;
// Ong, Nott, Smith 2018). z = μ + d ⊙ ε₁ + Bε₂ with ε = (ε₁, ε₂) ~ N(0, I_{D+r}). φ = (μ, log d, B row-major).
// With a = Σ⁻¹(z − μ) and G = ½(aaᵀ − Σ⁻¹) = ∂ log q/∂Σ:
//   ∇_μ log q = a,  ∂ log q/∂B = 2GB,  ∂ log q/∂log d_i = 2 d_i² G_ii,  ∇_z log q = −a
//   (∂z/∂φ)ᵀv = (v, v_i d_i ε₁ᵢ, v_i ε₂ⱼ);  H = ½ log|Σ| + (D/2)(1 + log 2π), ∂H/∂Σ = ½Σ⁻¹.
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "vibench/math/linalg.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/family.hpp"

namespace {

using namespace vibench;

class GaussianLowrank final : public ReparameterizedFamily {
 public:
  GaussianLowrank(const Params& p, const PluginContext& ctx) : d_(ctx.dim), r_(static_cast<std::size_t>(p.get_int("rank"))) {
    if (d_ == 0) throw ParamError(p.full_key("name"), "gaussian_lowrank needs the target's dimension");
  }

  std::size_t dim() const override { return d_; }
  std::size_t num_params() const override { return 2 * d_ + d_ * r_; }
  std::vector<std::string> param_names() const override {
    std::vector<std::string> n;
    for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("mean[{}]", i));
    for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("log_d[{}]", i));
    for (std::size_t i = 0; i < d_; ++i)
      for (std::size_t j = 0; j < r_; ++j) n.push_back(fmt::format("B[{},{}]", i, j));
    return n;
  }
  // μ = 0, d = 1, B = 0.1 on its leading diagonal (B = 0 would be a saddle: ∂/∂B = 2GB = 0 there).
  std::vector<double> init() const override {
    std::vector<double> phi(num_params(), 0.0);
    for (std::size_t j = 0; j < std::min(d_, r_); ++j) phi[b_index(j, j)] = 0.1;
    return phi;
  }

  // Member layout: factor = the Cholesky factor L of Σ = diag(d²) + BBᵀ, inverse = Σ⁻¹,
  // log_norm = ½ log|Σ| + (D/2) log 2π.
  void precompute(const double* phi, Member& qphi) const override {
    const Matrix cov = covariance(phi);
    qphi.factor = linalg::cholesky(cov);
    qphi.inverse = linalg::spd_inverse(cov);
    qphi.log_norm = 0.5 * linalg::logdet_from_cholesky(qphi.factor) + 0.5 * static_cast<double>(d_) * std::log(2 * std::numbers::pi);
  }

  BaseNoise base_noise() const override { return {BaseNoise::Law::standard_normal, d_ + r_}; }
  void transform(const Member& qphi, const Matrix& eps, Matrix& z) const override {
    const double* phi = qphi.phi;
    const std::size_t s = eps.rows();
    z.resize(s, d_);
    for (std::size_t row = 0; row < s; ++row)
      for (std::size_t i = 0; i < d_; ++i) {
        double v = phi[i] + std::exp(phi[d_ + i]) * eps(row, i);
        for (std::size_t j = 0; j < r_; ++j) v += phi[b_index(i, j)] * eps(row, d_ + j);
        z(row, i) = v;
      }
  }

  void log_q(const Member& qphi, const Matrix& z, double* out) const override {
    const double* phi = qphi.phi;
    const Matrix& l = qphi.factor;
    const double norm = qphi.log_norm;
    std::vector<double> r(d_);
    for (std::size_t row = 0; row < z.rows(); ++row) {
      for (std::size_t i = 0; i < d_; ++i) r[i] = z(row, i) - phi[i];
      const std::vector<double> a = linalg::cholesky_solve(l, r);
      double q = 0;
      for (std::size_t i = 0; i < d_; ++i) q += r[i] * a[i];
      out[row] = -0.5 * q - norm;
    }
  }

  void score(const Member& qphi, const Matrix& z, Matrix& out) const override {
    const double* phi = qphi.phi;
    const Matrix &l = qphi.factor, &prec = qphi.inverse;
    out.resize(z.rows(), num_params());
    std::vector<double> r(d_);
    Matrix g(d_, d_);
    for (std::size_t row = 0; row < z.rows(); ++row) {
      for (std::size_t i = 0; i < d_; ++i) r[i] = z(row, i) - phi[i];
      const std::vector<double> a = linalg::cholesky_solve(l, r);
      for (std::size_t i = 0; i < d_; ++i)
        for (std::size_t k = 0; k < d_; ++k) g(i, k) = 0.5 * (a[i] * a[k] - prec(i, k));
      write_covariance_gradient(phi, g, out.row(row));
      for (std::size_t i = 0; i < d_; ++i) out(row, i) = a[i];
    }
  }

  void grad_z_log_q(const Member& qphi, const Matrix& z, Matrix& out) const override {
    const double* phi = qphi.phi;
    const Matrix& l = qphi.factor;
    out.resize(z.rows(), d_);
    std::vector<double> r(d_);
    for (std::size_t row = 0; row < z.rows(); ++row) {
      for (std::size_t i = 0; i < d_; ++i) r[i] = z(row, i) - phi[i];
      const std::vector<double> a = linalg::cholesky_solve(l, r);
      for (std::size_t i = 0; i < d_; ++i) out(row, i) = -a[i];
    }
  }

  void pullback(const Member& qphi, const Matrix& eps, const Matrix& v, Matrix& out) const override {
    const double* phi = qphi.phi;
    out.resize(v.rows(), num_params());
    for (std::size_t row = 0; row < v.rows(); ++row) {
      double* o = out.row(row);
      for (std::size_t i = 0; i < d_; ++i) {
        o[i] = v(row, i);
        o[d_ + i] = v(row, i) * std::exp(phi[d_ + i]) * eps(row, i);
        for (std::size_t j = 0; j < r_; ++j) o[b_index(i, j)] = v(row, i) * eps(row, d_ + j);
      }
    }
  }

  std::optional<double> entropy(const double* phi) const override {
    const Matrix l = linalg::cholesky(covariance(phi));
    return 0.5 * linalg::logdet_from_cholesky(l) + 0.5 * static_cast<double>(d_) * (1 + std::log(2 * std::numbers::pi));
  }
  bool grad_entropy(const double* phi, double* out) const override {
    Matrix half_prec = linalg::spd_inverse(covariance(phi));
    for (std::size_t i = 0; i < d_ * d_; ++i) half_prec.data()[i] *= 0.5;
    std::fill(out, out + d_, 0.0);
    write_covariance_gradient(phi, half_prec, out);
    return true;
  }

  Capabilities offers() const override {
    return Family::offers().with(Capability::gaussian_moments).with(Capability::moment_pullback);
  }
  std::optional<GaussianMoments> gaussian_moments(const double* phi) const override {
    return GaussianMoments{std::vector<double>(phi, phi + d_), covariance(phi)};
  }
  bool pullback_moments(const double* phi, const std::vector<double>& gm, const Matrix& gc, double* out) const override {
    Matrix sym(d_, d_);
    for (std::size_t i = 0; i < d_; ++i)
      for (std::size_t k = 0; k < d_; ++k) sym(i, k) = 0.5 * (gc(i, k) + gc(k, i));
    write_covariance_gradient(phi, sym, out);
    for (std::size_t i = 0; i < d_; ++i) out[i] = gm[i];
    return true;
  }

  // Only diagonal Gaussians are representable in general (B = 0 there).
  std::optional<std::vector<double>> from_gaussian(const std::vector<double>& mean, const Matrix& cov,
                                                   std::string* why) const override {
    std::vector<double> phi(num_params(), 0.0);
    for (std::size_t i = 0; i < d_; ++i) {
      for (std::size_t k = 0; k < d_; ++k)
        if (i != k && cov(i, k) != 0.0) {
          if (why) *why = "gaussian_lowrank builds members from diagonal Gaussians only (B = 0)";
          return std::nullopt;
        }
      phi[i] = mean[i];
      phi[d_ + i] = 0.5 * std::log(cov(i, i));
    }
    return phi;
  }

 private:
  std::size_t b_index(std::size_t i, std::size_t j) const { return 2 * d_ + i * r_ + j; }
  Matrix covariance(const double* phi) const {
    Matrix c(d_, d_);
    for (std::size_t i = 0; i < d_; ++i) {
      c(i, i) = std::exp(2 * phi[d_ + i]);
      for (std::size_t k = 0; k < d_; ++k)
        for (std::size_t j = 0; j < r_; ++j) c(i, k) += phi[b_index(i, j)] * phi[b_index(k, j)];
    }
    return c;
  }
  // Given symmetric G = ∂f/∂Σ, write ∂f/∂log d (2d²·G_ii) and ∂f/∂B (2GB) into out (μ entries untouched).
  void write_covariance_gradient(const double* phi, const Matrix& g, double* out) const {
    for (std::size_t i = 0; i < d_; ++i) {
      out[d_ + i] = 2 * std::exp(2 * phi[d_ + i]) * g(i, i);
      for (std::size_t j = 0; j < r_; ++j) {
        double v = 0;
        for (std::size_t k = 0; k < d_; ++k) v += g(i, k) * phi[b_index(k, j)];
        out[b_index(i, j)] = 2 * v;
      }
    }
  }

  std::size_t d_, r_;
};

const Register<Family, GaussianLowrank> registration{{
    .name = "gaussian_lowrank",
    .description = "Gaussian with diagonal-plus-rank-r covariance diag(d^2) + B B^T, reparameterizable",
    .reference = "Rezende, Mohamed, Wierstra 2014 §4; Ong, Nott, Smith 2018",
    .params = {ParamSpec::integer("rank", 1, "rank r of the factor B").at_least(1)},
}};

}  // namespace
