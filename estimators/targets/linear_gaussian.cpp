// target `linear_gaussian`: p_θ(z) = N(μ, I_D), p(x | z) = N(Az + b, Σ), Σ = diag(noise_var), x ∈ R^M,
// with the model parameter θ = μ (prior_mean, default 0).
// Exact: log p(x) = log N(x; Aμ + b, AAᵀ + Σ); posterior N(Λ⁻¹h, Λ⁻¹) with Λ = I + AᵀΣ⁻¹A,
// h = μ + AᵀΣ⁻¹(x − b), so the posterior mean is affine in x: Λ⁻¹AᵀΣ⁻¹·x + Λ⁻¹(μ − AᵀΣ⁻¹b).
// ∇_μ log p(x, z) = z − μ;  the θ maximizing log p(x) solves (AᵀS⁻¹A)μ = AᵀS⁻¹(x − b), S = AAᵀ + Σ.
// likelihood: identity sets A = I, b = 0, Σ = I (M = D): the model of Rainforth et al. 2018, §4.
// A data set: `data_points` N draws x_1..x_N from the model; the target's observation x is x_n, n = `data_index`,
// and the θ optimum is the data set's: Σ_n log p(x_n) = −½ Σ_n (x_n − Aμ − b)ᵀS⁻¹(x_n − Aμ − b) + const is
// maximized where (AᵀS⁻¹A)μ = AᵀS⁻¹(x̄ − b), x̄ = (1/N) Σ_n x_n (μ = x̄ for the identity likelihood).
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "vibench/math/linalg.hpp"
#include "vibench/math/rng.hpp"
#include "vibench/math/vector_kernels.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/target.hpp"

namespace {

using namespace vibench;

class LinearGaussian final : public Target {
 public:
  explicit LinearGaussian(const Params& p) {
    d_ = static_cast<std::size_t>(p.get_int("dim"));
    identity_ = p.get_string("likelihood") == "identity";
    if (identity_ && p.get_int("obs_dim") > 0 && static_cast<std::size_t>(p.get_int("obs_dim")) != d_)
      throw ParamError(p.full_key("obs_dim"), "likelihood 'identity' needs obs_dim = dim (or 0)");
    m_ = p.get_int("obs_dim") > 0 ? static_cast<std::size_t>(p.get_int("obs_dim")) : d_;
    mu_ = p.get_doubles("prior_mean");
    if (mu_.empty()) mu_.assign(d_, 0.0);
    if (mu_.size() == 1) mu_.assign(d_, mu_[0]);
    if (mu_.size() != d_)
      throw ParamError(p.full_key("prior_mean"), fmt::format("expected 1 or {} numbers (dim), got {}", d_, mu_.size()));
    // data_points and data_index are absent from configs that do not set them (older cells keep their ids).
    const std::int64_t n_points = p.has("data_points") ? p.get_int("data_points") : 1;
    const std::int64_t index = p.has("data_index") ? p.get_int("data_index") : 0;
    if (index >= n_points)
      throw ParamError(p.full_key("data_index"),
                       fmt::format("{} is not a data point: data_points = {} (indices 0 to {})", index, n_points, n_points - 1));
    generate(static_cast<std::uint64_t>(p.get_int("data_seed")), static_cast<std::size_t>(n_points),
             static_cast<std::size_t>(index));
    // Given values replace generated ones, each checked for size.
    auto given = [&](const char* key, std::size_t n, std::vector<double>& dst) {
      const auto& v = p.get_doubles(key);
      if (v.empty()) return;
      if (v.size() != n)
        throw ParamError(p.full_key(key), fmt::format("expected {} numbers, got {}", n, v.size()));
      dst = v;
    };
    std::vector<double> a(a_.data(), a_.data() + m_ * d_);
    given("A", m_ * d_, a);
    std::copy(a.begin(), a.end(), a_.data());
    given("b", m_, b_);
    given("noise_var", m_, noise_var_);
    if (!p.get_doubles("x").empty() && n_points > 1)
      throw ParamError(p.full_key("x"), "a given x replaces the one observation; it cannot be combined with data_points > 1");
    given("x", m_, x_);
    if (n_points == 1) x_mean_ = x_;
    for (double v : noise_var_)
      if (!(v > 0)) throw ParamError(p.full_key("noise_var"), "every noise variance must be > 0");
    precompute();
  }

  std::size_t dim() const override { return d_; }

  std::size_t num_model_params() const override { return d_; }
  std::vector<std::string> model_param_names() const override {
    std::vector<std::string> n;
    for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("prior_mean[{}]", i));
    return n;
  }
  std::vector<double> model_params() const override { return mu_; }
  void set_model_params(const double* theta) override {
    mu_.assign(theta, theta + d_);
    precompute();
  }
  void grad_theta_log_joint(const Matrix& z, Matrix& out) const override {
    out.resize(z.rows(), d_);
    for (std::size_t s = 0; s < z.rows(); ++s)
      for (std::size_t i = 0; i < d_; ++i) out(s, i) = z(s, i) - mu_[i];
  }
  std::optional<std::vector<double>> model_optimum() const override {
    const Matrix s_inv = linalg::spd_inverse(marginal_cov());
    const Matrix at_s = linalg::matmul(linalg::transpose(a_), s_inv);  // AᵀS⁻¹ (D×M)
    std::vector<double> r(m_);
    for (std::size_t j = 0; j < m_; ++j) r[j] = x_mean_[j] - b_[j];  // x̄ − b (x̄ = x for one point)
    try {
      const Matrix l = linalg::cholesky(linalg::matmul(at_s, a_));
      return linalg::cholesky_solve(l, linalg::matvec(at_s, r));
    } catch (const std::exception&) {
      return std::nullopt;  // AᵀS⁻¹A singular (M < D): not unique
    }
  }
  std::optional<std::vector<double>> observation() const override { return x_; }

  // Direct form of the model (independent of Λ, h, c, which the gradient uses): log N(z; μ, I) + log N(x; Az + b, Σ),
  // with the residuals R = 1(x − b)ᵀ − ZAᵀ.
  void log_joint(const Matrix& z, double* lp) const override {
    thread_local Matrix residual;
    residual.resize(z.rows(), m_);
    for (std::size_t s = 0; s < z.rows(); ++s)
      for (std::size_t j = 0; j < m_; ++j) residual(s, j) = x_[j] - b_[j];
    if (a_diagonal_) {
      for (std::size_t s = 0; s < z.rows(); ++s)
        for (std::size_t j = 0; j < m_; ++j) residual(s, j) -= z(s, j) * a_(j, j);
    } else {
      subtract_product(residual.data(), z.data(), a_transposed_.data(), z.rows(), d_, m_);
    }
    for (std::size_t s = 0; s < z.rows(); ++s) {
      const double* zs = z.row(s);
      const double* rs = residual.row(s);
      double prior = 0, lik = 0;
      for (std::size_t i = 0; i < d_; ++i) prior += (zs[i] - mu_[i]) * (zs[i] - mu_[i]);
      for (std::size_t j = 0; j < m_; ++j) lik += rs[j] * rs[j] / noise_var_[j];
      lp[s] = -0.5 * (prior + lik) + log_norm_;
    }
  }

  // Quadratic form: log p(x, z) = −½ zᵀΛz + hᵀz + c, so ∇_z = h − Λz and log p = c + ½ zᵀ(∇_z + h).
  void grad_log_joint(const Matrix& z, Matrix& g, double* lp) const override {
    g.resize(z.rows(), d_);
    // G = 1hᵀ − ZΛ (Λ symmetric, so row j of Λ is its column j).
    for (std::size_t s = 0; s < z.rows(); ++s) std::copy(h_.begin(), h_.end(), g.row(s));
    if (lambda_diagonal_) {
      for (std::size_t s = 0; s < z.rows(); ++s)
        for (std::size_t i = 0; i < d_; ++i) g(s, i) -= z(s, i) * lambda_(i, i);
    } else {
      subtract_product(g.data(), z.data(), lambda_.data(), z.rows(), d_, d_);
    }
    for (std::size_t s = 0; s < z.rows(); ++s) {
      const double* zs = z.row(s);
      const double* gs = g.row(s);
      double quad = 0;
      for (std::size_t i = 0; i < d_; ++i) quad += zs[i] * (gs[i] + h_[i]);
      lp[s] = c_ + 0.5 * quad;
    }
  }

  Capabilities offers() const override { return Target::offers().with(Capability::hessian); }
  bool hessian_log_joint(const double*, Matrix& h) const override {  // −Λ, constant
    h = lambda_;
    for (std::size_t i = 0; i < d_ * d_; ++i) h.data()[i] = -h.data()[i];
    return true;
  }

  std::optional<GaussianPrior> gaussian_prior() const override { return GaussianPrior{mu_, Matrix::identity(d_)}; }

  std::optional<double> log_evidence() const override {
    std::vector<double> mean = linalg::matvec(a_, mu_);
    for (std::size_t j = 0; j < m_; ++j) mean[j] += b_[j];
    return linalg::gaussian_logpdf(x_, mean, marginal_cov());
  }

  std::optional<GaussianPosterior> exact_posterior() const override {
    GaussianPosterior post;
    post.precision = lambda_;
    post.cov = linalg::spd_inverse(lambda_);
    post.mean = linalg::matvec(post.cov, h_);
    // mean_map = Λ⁻¹AᵀΣ⁻¹, mean_offset = Λ⁻¹(μ − AᵀΣ⁻¹b)
    Matrix at_si = linalg::transpose(a_);
    for (std::size_t i = 0; i < d_; ++i)
      for (std::size_t j = 0; j < m_; ++j) at_si(i, j) /= noise_var_[j];
    post.mean_map = linalg::matmul(post.cov, at_si);
    std::vector<double> off = mu_, at_si_b = linalg::matvec(at_si, b_);
    for (std::size_t i = 0; i < d_; ++i) off[i] -= at_si_b[i];
    post.mean_offset = linalg::matvec(post.cov, off);
    return post;
  }

  // E_{N(m,C)}[log p(x,z)] = −½(mᵀΛm + tr(ΛC)) + hᵀm + c
  std::optional<GaussianExpectation> gaussian_expectation(const std::vector<double>& m, const Matrix& c) const override {
    GaussianExpectation e;
    e.grad_mean.assign(d_, 0.0);
    e.grad_cov.resize(d_, d_);
    double quad = 0, trace = 0, lin = 0;
    for (std::size_t i = 0; i < d_; ++i) {
      double lm = 0;
      for (std::size_t j = 0; j < d_; ++j) {
        lm += lambda_(i, j) * m[j];
        trace += lambda_(i, j) * c(j, i);
        e.grad_cov(i, j) = -0.5 * lambda_(i, j);
      }
      quad += m[i] * lm;
      lin += h_[i] * m[i];
      e.grad_mean[i] = h_[i] - lm;
      e.grad_theta.push_back(m[i] - mu_[i]);  // E_q[z − μ]
    }
    e.value = -0.5 * (quad + trace) + lin + c_;
    return e;
  }

 private:
  Matrix marginal_cov() const {  // S = AAᵀ + Σ
    Matrix cov = linalg::matmul(a_, linalg::transpose(a_));
    for (std::size_t j = 0; j < m_; ++j) cov(j, j) += noise_var_[j];
    return cov;
  }

  // x_1..x_N drawn in turn (z_n, then its noise), after the likelihood: point 0 is the same with any N.
  void generate(std::uint64_t data_seed, std::size_t n_points, std::size_t index) {
    // Stream keyed by data_seed alone: the same data whatever the experiment's seed or cell.
    Rng rng(data_seed, 0, 0, streams::data);
    if (identity_) {
      a_ = Matrix::identity(d_);
      b_.assign(m_, 0.0);
      noise_var_.assign(m_, 1.0);
    } else {
      draw_random_likelihood(rng);
    }
    std::vector<double> z_true(d_), eta(m_), x(m_);
    x_mean_.assign(m_, 0.0);
    for (std::size_t n = 0; n < n_points; ++n) {
      rng.normals(z_true.data(), d_);
      for (std::size_t i = 0; i < d_; ++i) z_true[i] += mu_[i];
      rng.normals(eta.data(), m_);
      std::vector<double> az = linalg::matvec(a_, z_true);
      for (std::size_t j = 0; j < m_; ++j) x[j] = az[j] + b_[j] + std::sqrt(noise_var_[j]) * eta[j];
      if (n == index) x_ = x;
      for (std::size_t j = 0; j < m_; ++j) x_mean_[j] += x[j];
    }
    for (double& v : x_mean_) v /= static_cast<double>(n_points);
  }

  void draw_random_likelihood(Rng& rng) {
    a_.resize(m_, d_);
    rng.normals(a_.data(), m_ * d_);
    const double scale = 1.0 / std::sqrt(static_cast<double>(d_));  // keeps AAᵀ of order 1 for any D
    for (std::size_t i = 0; i < m_ * d_; ++i) a_.data()[i] *= scale;
    b_.resize(m_);
    rng.normals(b_.data(), m_);
    noise_var_.resize(m_);
    rng.uniforms(noise_var_.data(), m_);
    for (double& v : noise_var_) v += 0.5;  // Σᵢᵢ ∈ [0.5, 1.5)
  }

  void precompute() {
    a_transposed_ = linalg::transpose(a_);
    const double log2pi = std::log(2 * std::numbers::pi);
    log_norm_ = -0.5 * static_cast<double>(d_ + m_) * log2pi;
    for (double v : noise_var_) log_norm_ -= 0.5 * std::log(v);
    lambda_ = Matrix::identity(d_);
    h_ = mu_;
    double rr = 0;
    for (std::size_t j = 0; j < m_; ++j) {
      double r = x_[j] - b_[j];
      rr += r * r / noise_var_[j];
      for (std::size_t i = 0; i < d_; ++i) {
        h_[i] += a_(j, i) * r / noise_var_[j];
        for (std::size_t k = 0; k < d_; ++k) lambda_(i, k) += a_(j, i) * a_(j, k) / noise_var_[j];
      }
    }
    double mm = 0;
    for (double v : mu_) mm += v * v;
    c_ = log_norm_ - 0.5 * (rr + mm);
    lambda_diagonal_ = off_diagonal_zero(lambda_);
    a_diagonal_ = m_ == d_ && off_diagonal_zero(a_);
  }

  static bool off_diagonal_zero(const Matrix& a) {
    for (std::size_t i = 0; i < a.rows(); ++i)
      for (std::size_t j = 0; j < a.cols(); ++j)
        if (i != j && a(i, j) != 0.0) return false;
    return true;
  }

  std::size_t d_ = 0, m_ = 0;
  Matrix a_, a_transposed_, lambda_;
  // Λ, or A with M = D, diagonal (the identity likelihood of Rainforth et al., snr_vs_k's model): the dense
  // products' off-diagonal terms are then exact zeros, which leave every sum unchanged (but for the sign of a
  // sum that is exactly zero), so the diagonal term alone gives the same numbers at 1/D of the work (the
  // product ZΛ was 21% of snr_vs_k, by perf).
  bool lambda_diagonal_ = false, a_diagonal_ = false;
  std::vector<double> b_, noise_var_, x_, x_mean_, h_, mu_;  // x_mean_: x̄ of the data set (x_ when N = 1)
  bool identity_ = false;
  double log_norm_ = 0, c_ = 0;
};

const Register<Target, LinearGaussian> registration{{
    .name = "linear_gaussian",
    .description = "p(z)=N(mu,I), p(x|z)=N(Az+b, diag noise), theta = mu; exact log p(x) and Gaussian posterior",
    .reference = "log p(x) = log N(x; A mu + b, AA^T + Sigma) (e.g. Bishop 2006, PRML §2.3.3); identity: Rainforth et al. 2018 §4",
    .params = {ParamSpec::integer("dim", 2, "latent dimension D").at_least(1),
               ParamSpec::choice("likelihood", {"random", "identity"}, "random",
                                 "random: A, b, noise_var drawn from data_seed; identity: A = I, b = 0, noise_var = 1"),
               ParamSpec::reals("prior_mean", "prior mean mu = the model parameter theta (length D, or 1 = broadcast; default 0)"),
               ParamSpec::integer("obs_dim", 0, "observed dimension M (0: M = D)").at_least(0),
               ParamSpec::integer("data_seed", 0, "seed generating A ~ N(0,1/D), b ~ N(0,1), noise_var ~ U[0.5,1.5) (random), and x ~ model").at_least(0),
               ParamSpec::reals("A", "given A, row-major M×D (replaces the generated one)"),
               ParamSpec::reals("b", "given b (length M)"),
               ParamSpec::reals("noise_var", "given diagonal of Σ (length M, each > 0)"),
               ParamSpec::reals("x", "given observation x (length M)"),
               ParamSpec::integer("data_points", 1, "N: a data set x_1..x_N drawn from the model with data_seed; the "
                                                    "theta optimum (point.theta: optimum) is the data set's (x-bar for identity)")
                   .at_least(1)
                   .unless_given(),
               ParamSpec::integer("data_index", 0, "n: the observation x of this target is x_n (0 <= n < data_points)")
                   .at_least(0)
                   .unless_given()},
}};

}  // namespace
