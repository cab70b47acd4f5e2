#include "vibench/objective.hpp"

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
  std::vector<double> grad(q.num_params());
  if (!q.pullback_moments(phi, e->grad_mean, e->grad_cov, grad.data())) return std::nullopt;
  if (c != 0.0) {
    std::vector<double> gh(q.num_params());
    if (!q.grad_entropy(phi, gh.data())) return std::nullopt;
    for (std::size_t i = 0; i < grad.size(); ++i) grad[i] += c * gh[i];
  }
  return grad;
}

}  // namespace vibench
