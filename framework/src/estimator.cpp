#include "vibench/estimator.hpp"

namespace vibench {

void add_model_gradient(const Target& t, const Matrix& z, const std::vector<double>& weight, EstimatorWorkspace& ws,
                        double* grad_theta) {
  const std::size_t n_theta = t.num_model_params();
  if (n_theta == 0) return;
  t.grad_theta_log_joint(z, ws.grad_theta);
  for (std::size_t r = 0; r < z.rows(); ++r) {
    if (weight[r] == 0.0) continue;
    const double* row = ws.grad_theta.row(r);
    for (std::size_t i = 0; i < n_theta; ++i) grad_theta[i] += weight[r] * row[i];
  }
}

}  // namespace vibench
