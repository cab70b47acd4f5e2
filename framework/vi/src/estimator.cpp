#include "vibench/vi/estimator.hpp"

#include <algorithm>

#include "vibench/math/vector_kernels.hpp"

namespace vibench {

double finish_gradient(const Target& t, const Family& q, const Objective& o, const double* phi, const Matrix& z,
                       const std::vector<double>& theta_weight, double phi_scale, Matrix& grad_theta_rows,
                       PriorCache& prior, double* grad) {
  const std::size_t p = q.num_params();
  for (std::size_t i = 0; i < p; ++i) grad[i] *= phi_scale;
  double offset = 0;
  if (auto a = o.analytic_term(t, q, phi, prior)) {
    for (std::size_t i = 0; i < p; ++i) grad[i] += a->grad[i];
    offset = a->value;
  }
  const std::size_t n_theta = t.num_model_params();
  if (n_theta == 0) return offset;
  double* grad_theta = grad + p;
  std::fill(grad_theta, grad_theta + n_theta, 0.0);
  t.grad_theta_log_joint(z, grad_theta_rows);
  add_weighted_rows(grad_theta, grad_theta_rows.data(), z.rows(), n_theta, theta_weight.data());
  return offset;
}

}  // namespace vibench
