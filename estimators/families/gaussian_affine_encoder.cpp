// family `gaussian_affine_encoder`: amortized q_φ(z | x) = N(Ax + b, diag σ²) for the target's observation
// x ∈ R^M (Rainforth et al. 2018, §4: q(z|x) = N(Ax + b, (2/3) I)). φ = (A row-major D×M, b) and, with
// `scale: learned`, log σ (D); with `scale: fixed`, σ² = `variance` for every coordinate.
// With m = Ax + b, u = (z − m)/σ:  ∂ log q/∂b_i = u_i/σ_i,  ∂ log q/∂A_ij = x_j·u_i/σ_i,  ∂/∂log σ_i = u_i² − 1;
// z = m + σ ⊙ ε, so (∂z/∂φ)ᵀv = (v_i x_j, v_i, v_i σ_i ε_i).
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "vibench/plugin/registry.hpp"
#include "vibench/vi/family.hpp"

namespace {

using namespace vibench;

class GaussianAffineEncoder final : public ReparameterizedFamily {
 public:
  GaussianAffineEncoder(const Params& p, const PluginContext& ctx)
      : d_(ctx.dim), learned_(p.get_string("scale") == "learned"), fixed_sigma_(std::sqrt(p.get_double("variance"))) {
    if (d_ == 0 || !ctx.target) throw ParamError(p.full_key("name"), "gaussian_affine_encoder needs the cell's target");
    auto x = ctx.target->observation();
    if (!x) throw Unsupported("gaussian_affine_encoder needs a target with an observation x (e.g. linear_gaussian)");
    x_ = *x;
    m_ = x_.size();
  }

  std::size_t dim() const override { return d_; }
  std::size_t num_params() const override { return d_ * m_ + d_ + (learned_ ? d_ : 0); }
  std::vector<std::string> param_names() const override {
    std::vector<std::string> n;
    for (std::size_t i = 0; i < d_; ++i)
      for (std::size_t j = 0; j < m_; ++j) n.push_back(fmt::format("A[{},{}]", i, j));
    for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("b[{}]", i));
    if (learned_)
      for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("log_sigma[{}]", i));
    return n;
  }
  std::vector<double> init() const override {  // A = 0, b = 0: q = N(0, σ²I)
    std::vector<double> phi(num_params(), 0.0);
    if (learned_) std::fill(phi.begin() + static_cast<long>(d_ * m_ + d_), phi.end(), std::log(fixed_sigma_));
    return phi;
  }

  // Member layout: values = (m = Ax + b (D), σ (D)), log_norm = ½ D log 2π + Σ_i log σ_i.
  void precompute(const double* phi, Member& qphi) const override {
    qphi.values = mean(phi);
    qphi.values.resize(2 * d_);
    double norm = 0.5 * static_cast<double>(d_) * std::log(2 * std::numbers::pi);
    for (std::size_t i = 0; i < d_; ++i) {
      qphi.values[d_ + i] = sigma(phi, i);
      norm += std::log(qphi.values[d_ + i]);
    }
    qphi.log_norm = norm;
  }

  BaseNoise base_noise() const override { return {BaseNoise::Law::standard_normal, d_}; }
  // transform, log q and ∇z log q as loops, not row expressions: in snr_vs_k (D = 20, K up to 1000) the
  // expressions' per-row setup made transform and ∇z log q 31% of the run's time (perf); a 12-cell snr_vs_k grid
  // (one data point, 2000 replicates, one thread) took 4.0–4.5 s with them and 2.3–2.9 s with the loops, same bits.
  void transform(const Member& qphi, const Matrix& eps, Matrix& z) const override {
    const double *m = qphi.values.data(), *sd = m + d_;
    z.resize(eps.rows(), d_);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      const double* e = eps.row(r);
      double* zr = z.row(r);
      for (std::size_t i = 0; i < d_; ++i) zr[i] = m[i] + sd[i] * e[i];
    }
  }

  void log_q(const Member& qphi, const Matrix& z, double* out) const override {
    const double *m = qphi.values.data(), *sd = m + d_;
    for (std::size_t r = 0; r < z.rows(); ++r) {
      const double* zr = z.row(r);
      double ss = 0;
      for (std::size_t i = 0; i < d_; ++i) {
        const double u = (zr[i] - m[i]) / sd[i];
        ss += u * u;
      }
      out[r] = -0.5 * ss - qphi.log_norm;
    }
  }

  void score(const Member& qphi, const Matrix& z, Matrix& out) const override {
    const double *m = qphi.values.data(), *sd = m + d_;
    out.resize(z.rows(), num_params());
    for (std::size_t r = 0; r < z.rows(); ++r) {
      double* o = out.row(r);
      for (std::size_t i = 0; i < d_; ++i) {  // a loop: the A-block is the outer product (∂ log q/∂m) xᵀ
        const double s = sd[i], u = (z(r, i) - m[i]) / s, gm = u / s;  // ∂ log q/∂m_i
        for (std::size_t j = 0; j < m_; ++j) o[i * m_ + j] = gm * x_[j];
        o[d_ * m_ + i] = gm;
        if (learned_) o[d_ * m_ + d_ + i] = u * u - 1;
      }
    }
  }

  void grad_z_log_q(const Member& qphi, const Matrix& z, Matrix& out) const override {
    const double *m = qphi.values.data(), *sd = m + d_;
    out.resize(z.rows(), d_);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      const double* zr = z.row(r);
      double* o = out.row(r);
      for (std::size_t i = 0; i < d_; ++i) o[i] = -(zr[i] - m[i]) / (sd[i] * sd[i]);
    }
  }

  void pullback(const Member& qphi, const Matrix& eps, const Matrix& v, Matrix& out) const override {
    const double* sd = qphi.values.data() + d_;
    out.resize(v.rows(), num_params());
    for (std::size_t r = 0; r < v.rows(); ++r) {
      double* o = out.row(r);
      for (std::size_t i = 0; i < d_; ++i) {
        for (std::size_t j = 0; j < m_; ++j) o[i * m_ + j] = v(r, i) * x_[j];
        o[d_ * m_ + i] = v(r, i);
        if (learned_) o[d_ * m_ + d_ + i] = v(r, i) * eps(r, i) * sd[i];
      }
    }
  }

  // The A-block of every score and pullback row is an outer product a_s xᵀ, so its sum over the samples is
  // (Σ_s w_s a_s) xᵀ: S·D + D·M operations instead of S·D·M (the b- and log σ-blocks are added row by row, as
  // the default does).
  void add_weighted_score(const Member& qphi, const Matrix& z, const double* w, Matrix& rows, double* grad) const override {
    const double *m = qphi.values.data(), *sd = m + d_;
    rows.resize(1, d_);
    double* a = rows.row(0);  // Σ_s w_s ∂ log q/∂m (s)
    std::fill(a, a + d_, 0.0);
    for (std::size_t r = 0; r < z.rows(); ++r) {
      const double wr = w ? w[r] : 1.0;
      if (wr == 0.0) continue;
      for (std::size_t i = 0; i < d_; ++i) {
        const double u = (z(r, i) - m[i]) / sd[i], gm = u / sd[i];
        a[i] += wr * gm;
        grad[d_ * m_ + i] += wr * gm;
        if (learned_) grad[d_ * m_ + d_ + i] += wr * (u * u - 1);
      }
    }
    add_outer_with_x(a, grad);
  }
  void add_pullback_sum(const Member& qphi, const Matrix& eps, const Matrix& v, Matrix& rows, double* grad) const override {
    const double* sd = qphi.values.data() + d_;
    rows.resize(1, d_);
    double* a = rows.row(0);  // Σ_s v_s
    std::fill(a, a + d_, 0.0);
    for (std::size_t r = 0; r < v.rows(); ++r)
      for (std::size_t i = 0; i < d_; ++i) {
        a[i] += v(r, i);
        grad[d_ * m_ + i] += v(r, i);
        if (learned_) grad[d_ * m_ + d_ + i] += v(r, i) * eps(r, i) * sd[i];
      }
    add_outer_with_x(a, grad);
  }

  std::optional<double> entropy(const double* phi) const override {
    double h = 0.5 * static_cast<double>(d_) * (1 + std::log(2 * std::numbers::pi));
    for (std::size_t i = 0; i < d_; ++i) h += std::log(sigma(phi, i));
    return h;
  }
  bool grad_entropy(const double* phi, double* out) const override {
    std::fill(out, out + num_params(), 0.0);
    if (learned_) std::fill(out + d_ * m_ + d_, out + num_params(), 1.0);
    return true;
  }

  Capabilities offers() const override {
    return Family::offers().with(Capability::gaussian_moments).with(Capability::moment_pullback);
  }
  std::optional<GaussianMoments> gaussian_moments(const double* phi) const override {
    GaussianMoments g{mean(phi), Matrix(d_, d_)};
    for (std::size_t i = 0; i < d_; ++i) g.cov(i, i) = sigma(phi, i) * sigma(phi, i);
    return g;
  }
  bool pullback_moments(const double* phi, const std::vector<double>& gm, const Matrix& gc, double* out) const override {
    for (std::size_t i = 0; i < d_; ++i) {
      for (std::size_t j = 0; j < m_; ++j) out[i * m_ + j] = gm[i] * x_[j];
      out[d_ * m_ + i] = gm[i];
      if (learned_) out[d_ * m_ + d_ + i] = gc(i, i) * 2 * sigma(phi, i) * sigma(phi, i);
    }
    return true;
  }

  // A member with the given mean and diagonal covariance: A = 0, b = mean (the map from x is not
  // identifiable from one Gaussian); the covariance must be diagonal, and equal to σ²I when fixed.
  std::optional<std::vector<double>> from_gaussian(const std::vector<double>& mean, const Matrix& cov,
                                                   std::string* why) const override {
    std::vector<double> phi(num_params(), 0.0);
    for (std::size_t i = 0; i < d_; ++i) {
      for (std::size_t j = 0; j < d_; ++j)
        if (i != j && cov(i, j) != 0.0) {
          if (why) *why = "gaussian_affine_encoder has a diagonal covariance; this Gaussian is correlated";
          return std::nullopt;
        }
      if (!learned_ && std::abs(cov(i, i) - fixed_sigma_ * fixed_sigma_) > 1e-12 * fixed_sigma_ * fixed_sigma_) {
        if (why) *why = fmt::format("scale is fixed at variance {}; this Gaussian has variance {} in coordinate {}",
                                    fixed_sigma_ * fixed_sigma_, cov(i, i), i);
        return std::nullopt;
      }
      phi[d_ * m_ + i] = mean[i];
      if (learned_) phi[d_ * m_ + d_ + i] = 0.5 * std::log(cov(i, i));
    }
    return phi;
  }

  // The ELBO optimum over data sets: the mean map of the exact posterior (A = mean_map, b = mean_offset),
  // and σᵢ² = 1/Λᵢᵢ when learned (σ fixed otherwise).
  std::optional<std::vector<double>> elbo_optimum(const GaussianPosterior& post) const override {
    if (post.mean_map.rows() != d_ || post.mean_map.cols() != m_) return std::nullopt;
    std::vector<double> phi(num_params(), 0.0);
    for (std::size_t i = 0; i < d_; ++i) {
      for (std::size_t j = 0; j < m_; ++j) phi[i * m_ + j] = post.mean_map(i, j);
      phi[d_ * m_ + i] = post.mean_offset[i];
      if (learned_) phi[d_ * m_ + d_ + i] = -0.5 * std::log(post.precision(i, i));
    }
    return phi;
  }

 private:
  std::vector<double> mean(const double* phi) const {
    std::vector<double> m(d_);
    for (std::size_t i = 0; i < d_; ++i) {
      double v = phi[d_ * m_ + i];
      for (std::size_t j = 0; j < m_; ++j) v += phi[i * m_ + j] * x_[j];
      m[i] = v;
    }
    return m;
  }
  // grad[A-block] += a xᵀ.
  void add_outer_with_x(const double* a, double* grad) const {
    for (std::size_t i = 0; i < d_; ++i)
      for (std::size_t j = 0; j < m_; ++j) grad[i * m_ + j] += a[i] * x_[j];
  }
  double sigma(const double* phi, std::size_t i) const { return learned_ ? std::exp(phi[d_ * m_ + d_ + i]) : fixed_sigma_; }

  std::size_t d_, m_ = 0;
  bool learned_;
  double fixed_sigma_;
  std::vector<double> x_;
};

const Register<Family, GaussianAffineEncoder> registration{{
    .name = "gaussian_affine_encoder",
    .description = "amortized q(z|x) = N(Ax + b, diag sigma^2) for the target's observation x; sigma fixed or learned",
    .reference = "Rainforth et al. 2018, Tighter Variational Bounds are Not Necessarily Better, ICML, §4",
    .params = {ParamSpec::choice("scale", {"fixed", "learned"}, "fixed",
                                 "fixed: sigma^2 = variance for every coordinate; learned: log sigma are parameters"),
               ParamSpec::real("variance", 2.0 / 3.0, "fixed variance (and the learned scale's initial value)").positive()},
}};

}  // namespace
