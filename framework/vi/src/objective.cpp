#include "vibench/vi/objective.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <numbers>

#include "vibench/math/linalg.hpp"

namespace vibench {

namespace {

// q(z) and f(z) = log p(x, z) − c·log q(z) over a finite support.
struct Enumeration {
  Matrix points;
  std::vector<double> prob, f;
};
std::optional<Enumeration> enumerate(const Target& t, const Family& q, const double* phi, double c) {
  auto support = q.support();
  if (!support) return std::nullopt;
  Enumeration e{*support, std::vector<double>(support->rows()), std::vector<double>(support->rows())};
  std::vector<double> lq(support->rows());
  q.log_q(q.at(phi), e.points, lq.data());
  t.log_joint(e.points, e.f.data());
  for (std::size_t r = 0; r < lq.size(); ++r) {
    e.prob[r] = std::exp(lq[r]);
    e.f[r] -= c * lq[r];
  }
  return e;
}

}  // namespace

std::optional<double> exact_integrand_value(const Target& t, const Family& q, const double* phi, double c) {
  if (auto moments = q.gaussian_moments(phi)) {
    auto e = t.gaussian_expectation(moments->mean, moments->cov);
    if (!e) return std::nullopt;
    if (c == 0.0) return e->value;
    auto h = q.entropy(phi);
    if (!h) return std::nullopt;
    return e->value + c * *h;  // −c·E_q[log q] = c·H[q]
  }
  auto e = enumerate(t, q, phi, c);
  if (!e) return std::nullopt;
  double v = 0;
  for (std::size_t r = 0; r < e->prob.size(); ++r) v += e->prob[r] * e->f[r];
  return v;
}

std::optional<std::vector<double>> exact_integrand_gradient(const Target& t, const Family& q, const double* phi,
                                                             double c) {
  const std::size_t p = q.num_params(), n_theta = t.num_model_params();
  std::vector<double> grad(p + n_theta, 0.0);
  if (auto moments = q.gaussian_moments(phi)) {
    auto e = t.gaussian_expectation(moments->mean, moments->cov);
    if (!e || e->grad_theta.size() != n_theta) return std::nullopt;
    if (!q.pullback_moments(phi, e->grad_mean, e->grad_cov, grad.data())) return std::nullopt;
    if (c != 0.0) {
      std::vector<double> gh(p);
      if (!q.grad_entropy(phi, gh.data())) return std::nullopt;
      for (std::size_t i = 0; i < p; ++i) grad[i] += c * gh[i];
    }
    std::copy(e->grad_theta.begin(), e->grad_theta.end(), grad.begin() + static_cast<long>(p));  // θ: no log q term
    return grad;
  }
  auto e = enumerate(t, q, phi, c);
  if (!e) return std::nullopt;
  Matrix score, grad_theta;
  q.score(q.at(phi), e->points, score);
  if (n_theta) t.grad_theta_log_joint(e->points, grad_theta);
  for (std::size_t r = 0; r < e->prob.size(); ++r) {
    for (std::size_t i = 0; i < p; ++i) grad[i] += e->prob[r] * e->f[r] * score(r, i);
    for (std::size_t i = 0; i < n_theta; ++i) grad[p + i] += e->prob[r] * grad_theta(r, i);
  }
  return grad;
}

namespace {
double quad_form(const Matrix& a, const std::vector<double>& x) {
  const std::vector<double> ax = linalg::matvec(a, x);
  double s = 0;
  for (std::size_t i = 0; i < x.size(); ++i) s += x[i] * ax[i];
  return s;
}
}  // namespace

std::optional<double> gaussian_log_weight_moment(const Target& t, const Family& q, const double* phi, double gamma) {
  auto post = t.exact_posterior();
  auto log_z = t.log_evidence();
  auto mq = q.gaussian_moments(phi);
  if (!post || !log_z || !mq) return std::nullopt;
  const std::size_t d = post->mean.size();
  Matrix lq_chol;
  try {
    lq_chol = linalg::cholesky(mq->cov);
  } catch (const std::exception&) {
    return std::nullopt;  // degenerate q
  }
  const Matrix prec_q = linalg::spd_inverse(mq->cov);
  Matrix lambda(d, d);
  std::vector<double> eta(d, 0.0);
  const std::vector<double> pm = linalg::matvec(post->precision, post->mean), qm = linalg::matvec(prec_q, mq->mean);
  for (std::size_t i = 0; i < d; ++i) {
    eta[i] = gamma * pm[i] + (1 - gamma) * qm[i];
    for (std::size_t j = 0; j < d; ++j) lambda(i, j) = gamma * post->precision(i, j) + (1 - gamma) * prec_q(i, j);
  }
  Matrix l_lambda;
  try {
    l_lambda = linalg::cholesky(lambda);
  } catch (const std::exception&) {
    return std::nullopt;  // E_q[w^γ] = ∞
  }
  const double logdet_cp = linalg::logdet_from_cholesky(linalg::cholesky(post->cov));
  const double logdet_cq = linalg::logdet_from_cholesky(lq_chol);
  const std::vector<double> lambda_inv_eta = linalg::cholesky_solve(l_lambda, eta);
  double eta_term = 0;
  for (std::size_t i = 0; i < d; ++i) eta_term += eta[i] * lambda_inv_eta[i];
  return gamma * *log_z - 0.5 * gamma * logdet_cp - 0.5 * (1 - gamma) * logdet_cq -
         0.5 * linalg::logdet_from_cholesky(l_lambda) + 0.5 * eta_term -
         0.5 * (gamma * quad_form(post->precision, post->mean) + (1 - gamma) * quad_form(prec_q, mq->mean));
}

std::optional<double> gaussian_power_bound(const Target& t, const Family& q, const double* phi, double gamma) {
  if (gamma == 0.0) return exact_integrand_value(t, q, phi, 1.0);
  auto m = gaussian_log_weight_moment(t, q, phi, gamma);
  if (!m) return std::nullopt;
  return *m / gamma;
}

namespace {

// E[L̂_K] and its gradient (φ, then θ) by enumerating every K-tuple of a finite support, when there are at
// most Family::max_support_size tuples: the value Σ Π_k q(z_k)·L̂, and by the score-function identity the
// gradient Σ Π_k q(z_k) [L̂ Σ_k s_k − c Σ_k w̃_k s_k ; Σ_k w̃_k ∇_θ log p(z_k)].
struct TupleExpectation {
  double value = 0;
  std::vector<double> grad;
};
std::optional<TupleExpectation> enumerate_tuples(const Target& t, const Family& q, const double* phi, std::size_t k,
                                                 double gamma, double c) {
  auto support = q.support();
  if (!support) return std::nullopt;
  const std::size_t n = support->rows();
  std::size_t tuples = 1;
  for (std::size_t j = 0; j < k; ++j)
    if ((tuples *= n) > Family::max_support_size) return std::nullopt;
  const std::size_t p = q.num_params(), n_theta = t.num_model_params();
  std::vector<double> lq(n), lp(n);
  const Member qphi = q.at(phi);
  q.log_q(qphi, *support, lq.data());
  t.log_joint(*support, lp.data());
  Matrix score, grad_theta;
  q.score(qphi, *support, score);
  if (n_theta) t.grad_theta_log_joint(*support, grad_theta);
  TupleExpectation out{0, std::vector<double>(p + n_theta, 0.0)};
  std::vector<std::size_t> idx(k);
  std::vector<double> l(k), w(k);
  for (std::size_t code = 0; code < tuples; ++code) {
    std::size_t rest = code;
    double log_prob = 0;
    for (std::size_t j = 0; j < k; ++j, rest /= n) {
      idx[j] = rest % n;
      log_prob += lq[idx[j]];
      l[j] = lp[idx[j]] - c * lq[idx[j]];
    }
    const double prob = std::exp(log_prob), bound = log_mean_exp_weights(l.data(), k, gamma, w.data());
    out.value += prob * bound;
    for (std::size_t j = 0; j < k; ++j) {
      const double a = prob * (bound - c * w[j]);
      for (std::size_t i = 0; i < p; ++i) out.grad[i] += a * score(idx[j], i);
      for (std::size_t i = 0; i < n_theta; ++i) out.grad[p + i] += prob * w[j] * grad_theta(idx[j], i);
    }
  }
  return out;
}

}  // namespace

std::optional<double> KSampleObjective::exact_value(const Target& t, const Family& q, const double* phi) const {
  if (k_ == 1) return exact_integrand_value(t, q, phi, 1.0);
  auto e = enumerate_tuples(t, q, phi, k_, gamma_, 1.0);
  if (!e) return std::nullopt;
  return e->value;
}

std::optional<std::vector<double>> KSampleObjective::exact_gradient(const Target& t, const Family& q,
                                                                    const double* phi) const {
  if (k_ == 1) return exact_integrand_gradient(t, q, phi, 1.0);
  auto e = enumerate_tuples(t, q, phi, k_, gamma_, 1.0);
  if (!e) return std::nullopt;
  return e->grad;
}

std::optional<double> KSampleObjective::limit_value(const Target& t, const Family& q, const double* phi) const {
  if (gamma_ == 1.0) return t.log_evidence();  // E_q[w] = p(x) for any q
  return gaussian_power_bound(t, q, phi, gamma_);
}

void Objective::log_weights(const Target& t, const Family& q, const Member& qphi, const Matrix& z,
                            LogWeightScratch& scratch, double* l, Matrix* grad_l) const {
  const std::size_t n = z.rows(), d = z.cols();
  if (grad_l)
    t.grad_log_joint(z, *grad_l, l);
  else
    t.log_joint(z, l);
  const double c = log_q_coefficient();
  if (c != 0.0) {
    scratch.log_q.resize(n);
    q.log_q(qphi, z, scratch.log_q.data());
    for (std::size_t r = 0; r < n; ++r) l[r] -= c * scratch.log_q[r];
    if (grad_l) {
      const DensityGradient* density = q.density_gradient();
      if (!density) throw std::logic_error("∂l/∂z needs ∇_z log q: the estimator must declare it needs a density gradient");
      density->grad_z_log_q(qphi, z, scratch.grad_q);
      for (std::size_t r = 0; r < n; ++r)
        for (std::size_t i = 0; i < d; ++i) (*grad_l)(r, i) -= c * scratch.grad_q(r, i);
    }
  }
  if (analytic_kl()) {  // l = log p(x, z) − log p(z), ∂l/∂z += Λ₀(z − m₀)
    const GaussianPrior prior = *t.gaussian_prior();
    scratch.prior.refresh(prior.cov);
    const double log_norm = 0.5 * scratch.prior.logdet + 0.5 * static_cast<double>(d) * std::log(2 * std::numbers::pi);
    const Matrix& prec = scratch.prior.precision;
    std::vector<double>& u = scratch.diff;
    u.resize(d);
    for (std::size_t r = 0; r < n; ++r) {
      for (std::size_t i = 0; i < d; ++i) u[i] = z(r, i) - prior.mean[i];
      double quad = 0;
      for (std::size_t i = 0; i < d; ++i) {
        double pu = 0;
        for (std::size_t j = 0; j < d; ++j) pu += prec(i, j) * u[j];
        quad += u[i] * pu;
        if (grad_l) (*grad_l)(r, i) += pu;
      }
      l[r] -= -0.5 * quad - log_norm;
    }
  }
}

void PriorCache::refresh(const Matrix& prior_cov) {
  const std::size_t d = prior_cov.rows();
  if (cov.rows() == d && cov.cols() == prior_cov.cols() &&
      std::equal(prior_cov.data(), prior_cov.data() + d * prior_cov.cols(), cov.data()))
    return;
  cov = prior_cov;
  precision = linalg::spd_inverse(prior_cov);
  logdet = linalg::logdet_from_cholesky(linalg::cholesky(prior_cov));
}

std::optional<AnalyticTerm> Objective::analytic_term(const Target& t, const Family& q, const double* phi,
                                                     PriorCache& prior_cache) const {
  if (!analytic_kl()) return std::nullopt;
  // −KL(N(m, C) ‖ N(m₀, C₀)) = −½[tr(Λ₀C) + (m − m₀)ᵀΛ₀(m − m₀) − D + log|C₀| − log|C|];
  // ∂/∂m = −Λ₀(m − m₀), ∂/∂C = −½(Λ₀ − C⁻¹).
  const GaussianPrior prior = *t.gaussian_prior();
  const GaussianMoments mom = *q.gaussian_moments(phi);
  const std::size_t d = mom.mean.size();
  prior_cache.refresh(prior.cov);
  const Matrix& prec0 = prior_cache.precision;
  const Matrix prec = linalg::spd_inverse(mom.cov);
  std::vector<double> diff(d), gm(d, 0.0);
  for (std::size_t i = 0; i < d; ++i) diff[i] = mom.mean[i] - prior.mean[i];
  double trace = 0, quad = 0;
  Matrix gc(d, d);
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      trace += prec0(i, j) * mom.cov(j, i);
      quad += diff[i] * prec0(i, j) * diff[j];
      gm[i] -= prec0(i, j) * diff[j];
      gc(i, j) = -0.5 * (prec0(i, j) - prec(i, j));
    }
  AnalyticTerm a;
  a.value = -0.5 * (trace + quad - static_cast<double>(d) + prior_cache.logdet -
                    linalg::logdet_from_cholesky(linalg::cholesky(mom.cov)));
  a.grad.assign(q.num_params(), 0.0);
  q.pullback_moments(phi, gm, gc, a.grad.data());
  return a;
}

double log_mean_exp_weights(const double* l, std::size_t k, double gamma, double* w_tilde) {
  if (gamma == 0.0 || k == 1) {
    double mean = 0;
    for (std::size_t i = 0; i < k; ++i) {
      mean += l[i];
      w_tilde[i] = 1.0 / static_cast<double>(k);
    }
    return mean / static_cast<double>(k);
  }
  double m = gamma * l[0];
  for (std::size_t i = 1; i < k; ++i) m = std::max(m, gamma * l[i]);
  double sum = 0;
  for (std::size_t i = 0; i < k; ++i) sum += (w_tilde[i] = std::exp(gamma * l[i] - m));
  for (std::size_t i = 0; i < k; ++i) w_tilde[i] /= sum;
  return (m + std::log(sum / static_cast<double>(k))) / gamma;
}

}  // namespace vibench
