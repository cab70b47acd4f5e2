#include "vibench/objective.hpp"

#include <algorithm>
#include <cmath>

#include "vibench/linalg.hpp"

namespace vibench {

std::optional<double> gaussian_integrand_value(const Target& t, const Family& q, const double* phi, double c) {
  auto moments = q.gaussian_moments(phi);
  if (!moments) return std::nullopt;
  auto e = t.gaussian_expectation(moments->mean, moments->cov);
  if (!e) return std::nullopt;
  if (c == 0.0) return e->value;
  auto h = q.entropy(phi);
  if (!h) return std::nullopt;
  return e->value + c * *h;  // −c·E_q[log q] = c·H[q]
}

std::optional<std::vector<double>> gaussian_integrand_gradient(const Target& t, const Family& q, const double* phi,
                                                               double c) {
  auto moments = q.gaussian_moments(phi);
  if (!moments) return std::nullopt;
  auto e = t.gaussian_expectation(moments->mean, moments->cov);
  if (!e) return std::nullopt;
  const std::size_t p = q.num_params(), n_theta = t.num_model_params();
  if (e->grad_theta.size() != n_theta) return std::nullopt;
  std::vector<double> grad(p + n_theta);
  if (!q.pullback_moments(phi, e->grad_mean, e->grad_cov, grad.data())) return std::nullopt;
  if (c != 0.0) {
    std::vector<double> gh(p);
    if (!q.grad_entropy(phi, gh.data())) return std::nullopt;
    for (std::size_t i = 0; i < p; ++i) grad[i] += c * gh[i];
  }
  std::copy(e->grad_theta.begin(), e->grad_theta.end(), grad.begin() + static_cast<long>(p));  // θ: no log q term
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
  if (gamma == 0.0) return gaussian_integrand_value(t, q, phi, 1.0);
  auto m = gaussian_log_weight_moment(t, q, phi, gamma);
  if (!m) return std::nullopt;
  return *m / gamma;
}

std::optional<double> KSampleObjective::exact_value(const Target& t, const Family& q, const double* phi) const {
  if (k_ != 1) return std::nullopt;
  return gaussian_integrand_value(t, q, phi, 1.0);
}

std::optional<std::vector<double>> KSampleObjective::exact_gradient(const Target& t, const Family& q,
                                                                    const double* phi) const {
  if (k_ != 1) return std::nullopt;
  return gaussian_integrand_gradient(t, q, phi, 1.0);
}

std::optional<double> KSampleObjective::limit_value(const Target& t, const Family& q, const double* phi) const {
  if (gamma_ == 1.0) return t.log_evidence();  // E_q[w] = p(x) for any q
  return gaussian_power_bound(t, q, phi, gamma_);
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
