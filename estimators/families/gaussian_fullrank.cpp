// family `gaussian_fullrank`: q_φ(z) = N(μ, L Lᵀ), z = μ + L ε with ε ~ N(0, I), L lower triangular.
// φ = (μ, the rows of L's lower triangle) with the diagonal as log L_ii (unconstrained):
// names mean[i], L[i,j] (j < i), log_L[i,i]. With u = L⁻¹(z − μ):
//   log q = −(D/2) log 2π − Σ log L_ii − ½ uᵀu
//   ∇_μ log q = L⁻ᵀu;  ∂ log q/∂L_ij = (L⁻ᵀu)_i u_j − δ_ij/L_ii;  ∂/∂log L_ii = L_ii·∂/∂L_ii
//   ∇_z log q = −L⁻ᵀu;  (∂z/∂φ)ᵀ v = (v, v_i ε_j for L_ij, v_i ε_i L_ii for log L_ii)
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "vibench/math/linalg.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/family.hpp"

namespace {

using namespace vibench;

class GaussianFullrank final : public ReparameterizedFamily {
 public:
  GaussianFullrank(const Params& p, const PluginContext& ctx) : d_(ctx.dim) {
    if (d_ == 0) throw ParamError(p.full_key("name"), "gaussian_fullrank needs the target's dimension");
  }

  std::size_t dim() const override { return d_; }
  std::size_t num_params() const override { return d_ + d_ * (d_ + 1) / 2; }
  std::vector<std::string> param_names() const override {
    std::vector<std::string> n;
    for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("mean[{}]", i));
    for (std::size_t i = 0; i < d_; ++i)
      for (std::size_t j = 0; j <= i; ++j) n.push_back(fmt::format("{}[{},{}]", i == j ? "log_L" : "L", i, j));
    return n;
  }
  std::vector<double> init() const override { return std::vector<double>(num_params(), 0.0); }  // N(0, I)

  // Member layout: factor = L, log_norm = (D/2) log 2π + Σ log L_ii.
  void precompute(const double* phi, Member& qphi) const override {
    write_factor(phi, qphi.factor);
    qphi.log_norm = 0.5 * static_cast<double>(d_) * std::log(2 * std::numbers::pi);
    for (std::size_t i = 0; i < d_; ++i) qphi.log_norm += phi[tri(i, i)];
  }

  BaseNoise base_noise() const override { return {BaseNoise::Law::standard_normal, d_}; }
  void transform(const Member& qphi, const Matrix& eps, Matrix& z) const override {
    const double* phi = qphi.phi;
    const std::size_t s = eps.rows();
    z.resize(s, d_);
    const Matrix& l = qphi.factor;
    for (std::size_t r = 0; r < s; ++r)
      for (std::size_t i = 0; i < d_; ++i) {
        double v = phi[i];
        for (std::size_t j = 0; j <= i; ++j) v += l(i, j) * eps(r, j);
        z(r, i) = v;
      }
  }

  void log_q(const Member& qphi, const Matrix& z, double* out) const override {
    const double* phi = qphi.phi;
    const Matrix& l = qphi.factor;
    const double norm = qphi.log_norm;
    std::vector<double> u(d_);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      whiten(phi, l, z.row(r), u.data());
      double q = 0;
      for (double x : u) q += x * x;
      out[r] = -0.5 * q - norm;
    }
  }

  void score(const Member& qphi, const Matrix& z, Matrix& out) const override {
    const double* phi = qphi.phi;
    const Matrix& l = qphi.factor;
    out.resize(z.rows(), num_params());
    std::vector<double> u(d_), a(d_);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      whiten(phi, l, z.row(r), u.data());
      back_solve(l, u.data(), a.data());  // a = L⁻ᵀu
      double* o = out.row(r);
      for (std::size_t i = 0; i < d_; ++i) {
        o[i] = a[i];
        for (std::size_t j = 0; j < i; ++j) o[tri(i, j)] = a[i] * u[j];
        o[tri(i, i)] = l(i, i) * a[i] * u[i] - 1.0;
      }
    }
  }

  void grad_z_log_q(const Member& qphi, const Matrix& z, Matrix& out) const override {
    const double* phi = qphi.phi;
    const Matrix& l = qphi.factor;
    out.resize(z.rows(), d_);
    std::vector<double> u(d_);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      whiten(phi, l, z.row(r), u.data());
      back_solve(l, u.data(), out.row(r));
      for (std::size_t i = 0; i < d_; ++i) out(r, i) = -out(r, i);
    }
  }

  void pullback(const Member& qphi, const Matrix& eps, const Matrix& v, Matrix& out) const override {
    const Matrix& l = qphi.factor;
    out.resize(v.rows(), num_params());
    for (std::size_t r = 0; r < v.rows(); ++r) {
      double* o = out.row(r);
      for (std::size_t i = 0; i < d_; ++i) {
        o[i] = v(r, i);
        for (std::size_t j = 0; j < i; ++j) o[tri(i, j)] = v(r, i) * eps(r, j);
        o[tri(i, i)] = v(r, i) * eps(r, i) * l(i, i);
      }
    }
  }

  // H = Σ log L_ii + (D/2)(1 + log 2π)
  std::optional<double> entropy(const double* phi) const override {
    double h = 0.5 * static_cast<double>(d_) * (1 + std::log(2 * std::numbers::pi));
    for (std::size_t i = 0; i < d_; ++i) h += phi[tri(i, i)];
    return h;
  }
  bool grad_entropy(const double* phi, double* out) const override {
    std::fill(out, out + num_params(), 0.0);
    for (std::size_t i = 0; i < d_; ++i) out[tri(i, i)] = 1.0;
    return true;
  }

  Capabilities offers() const override {
    return Family::offers().with(Capability::gaussian_moments).with(Capability::moment_pullback);
  }
  std::optional<GaussianMoments> gaussian_moments(const double* phi) const override {
    const Matrix l = factor(phi);
    return GaussianMoments{std::vector<double>(phi, phi + d_), linalg::matmul(l, linalg::transpose(l))};
  }
  // C = L Lᵀ: ∂f/∂L = (G + Gᵀ) L for G = ∂f/∂C, restricted to the lower triangle; ×L_ii on the diagonal.
  bool pullback_moments(const double* phi, const std::vector<double>& gm, const Matrix& gc, double* out) const override {
    const Matrix l = factor(phi);
    for (std::size_t i = 0; i < d_; ++i) {
      out[i] = gm[i];
      for (std::size_t j = 0; j <= i; ++j) {
        double g = 0;
        for (std::size_t k = j; k < d_; ++k) g += (gc(i, k) + gc(k, i)) * l(k, j);
        out[tri(i, j)] = i == j ? g * l(i, i) : g;
      }
    }
    return true;
  }

  std::optional<std::vector<double>> from_gaussian(const std::vector<double>& mean, const Matrix& cov,
                                                   std::string* why) const override {
    Matrix l;
    try {
      l = linalg::cholesky(cov);
    } catch (const std::exception&) {
      if (why) *why = "the covariance is not positive definite";
      return std::nullopt;
    }
    std::vector<double> phi(num_params());
    for (std::size_t i = 0; i < d_; ++i) {
      phi[i] = mean[i];
      for (std::size_t j = 0; j <= i; ++j) phi[tri(i, j)] = i == j ? std::log(l(i, i)) : l(i, j);
    }
    return phi;
  }

  // The family contains every Gaussian: the ELBO optimum is the posterior itself.
  std::optional<std::vector<double>> elbo_optimum(const GaussianPosterior& post) const override {
    return from_gaussian(post.mean, post.cov, nullptr);
  }

 private:
  std::size_t tri(std::size_t i, std::size_t j) const { return d_ + i * (i + 1) / 2 + j; }
  Matrix factor(const double* phi) const {
    Matrix l;
    write_factor(phi, l);
    return l;
  }
  void write_factor(const double* phi, Matrix& l) const {
    l.resize(d_, d_);
    for (std::size_t i = 0; i < d_; ++i)
      for (std::size_t j = 0; j < d_; ++j) l(i, j) = j > i ? 0.0 : i == j ? std::exp(phi[tri(i, i)]) : phi[tri(i, j)];
  }
  // u = L⁻¹(z − μ) by forward substitution.
  void whiten(const double* phi, const Matrix& l, const double* z, double* u) const {
    for (std::size_t i = 0; i < d_; ++i) {
      double v = z[i] - phi[i];
      for (std::size_t j = 0; j < i; ++j) v -= l(i, j) * u[j];
      u[i] = v / l(i, i);
    }
  }
  // a = L⁻ᵀu by back substitution.
  void back_solve(const Matrix& l, const double* u, double* a) const {
    for (std::size_t i = d_; i-- > 0;) {
      double v = u[i];
      for (std::size_t k = i + 1; k < d_; ++k) v -= l(k, i) * a[k];
      a[i] = v / l(i, i);
    }
  }

  std::size_t d_;
};

const Register<Family, GaussianFullrank> registration{{
    .name = "gaussian_fullrank",
    .description = "full-covariance Gaussian N(mu, L L^T), Cholesky factor with log-diagonal, reparameterizable",
    .reference = "Kucukelbir et al. 2017 (ADVI full-rank); Titsias & Lázaro-Gredilla 2014",
}};

}  // namespace
