#include "vibench/estimator.hpp"

#include <algorithm>

namespace vibench {

double finish_gradient(const Target& t, const Family& q, const Objective& o, const double* phi, const Matrix& z,
                       const std::vector<double>& theta_weight, double phi_scale, EstimatorWorkspace& ws, double* grad) {
  const std::size_t p = q.num_params();
  for (std::size_t i = 0; i < p; ++i) grad[i] *= phi_scale;
  double offset = 0;
  if (auto a = o.analytic_term(t, q, phi)) {
    for (std::size_t i = 0; i < p; ++i) grad[i] += a->grad[i];
    offset = a->value;
  }
  const std::size_t n_theta = t.num_model_params();
  if (n_theta == 0) return offset;
  double* grad_theta = grad + p;
  std::fill(grad_theta, grad_theta + n_theta, 0.0);
  t.grad_theta_log_joint(z, ws.grad_theta);
  for (std::size_t r = 0; r < z.rows(); ++r) {
    if (theta_weight[r] == 0.0) continue;
    const double* row = ws.grad_theta.row(r);
    for (std::size_t i = 0; i < n_theta; ++i) grad_theta[i] += theta_weight[r] * row[i];
  }
  return offset;
}

}  // namespace vibench
