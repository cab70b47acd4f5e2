#include "vibench/vi/pathwise_gradient.hpp"

#include <algorithm>


namespace vibench {

double pathwise_gradient(PathwiseRule rule, const Target& t, const Family& q, const Objective& o, const double* phi,
                         Rng& rng, std::size_t samples, PathwiseScratch& ws, double* grad) {
  draw_base_noise(q.reparameterization()->base_noise(), rng, samples * o.num_importance_samples(), ws.eps);
  return pathwise_gradient_at_noise(rule, t, q, o, phi, samples, ws, grad);
}

double pathwise_gradient_at_noise(PathwiseRule rule, const Target& t, const Family& q, const Objective& o,
                                  const double* phi, std::size_t samples, PathwiseScratch& ws, double* grad) {
  const Reparameterization& reparam = *q.reparameterization();
  const double c = o.log_q_coefficient(), gamma = o.weight_exponent();
  const std::size_t k = o.num_importance_samples(), n = samples * k, p = q.num_params(), d = q.dim();
  q.bind_if_changed(phi, ws.qphi);
  reparam.transform(ws.qphi, ws.eps, ws.z);
  ws.log_w.resize(n);
  o.log_weights(t, q, ws.qphi, ws.z, ws.log_weights, ws.log_w.data(), &ws.grad_z);  // l and ∂l/∂z
  ws.w_tilde.resize(n);
  ws.coef.resize(n);
  double value = 0;
  for (std::size_t s = 0; s < samples; ++s) {
    value += log_mean_exp_weights(&ws.log_w[s * k], k, gamma, &ws.w_tilde[s * k]);
    for (std::size_t r = s * k; r < (s + 1) * k; ++r) {
      const double w = ws.w_tilde[r];
      ws.coef[r] = rule == PathwiseRule::doubly_reparameterized ? (1 - gamma) * w + gamma * w * w : w;
      if (ws.coef[r] != 1.0)  // ×1 changes no bit: skip the pass (every single-sample estimate)
        for (std::size_t i = 0; i < d; ++i) ws.grad_z(r, i) *= ws.coef[r];
    }
  }
  std::fill(grad, grad + p, 0.0);
  reparam.add_pullback_sum(ws.qphi, ws.eps, ws.grad_z, ws.rows, grad);
  if (rule == PathwiseRule::total && c != 0.0) {  // the score term of −c·log q_φ, z held fixed
    ws.row_weight.resize(n);
    for (std::size_t r = 0; r < n; ++r) ws.row_weight[r] = -(c * ws.w_tilde[r]);
    q.add_weighted_score(ws.qphi, ws.z, ws.row_weight.data(), ws.rows, grad);
  }
  const double inv = 1.0 / static_cast<double>(samples);
  ws.row_weight.resize(n);
  for (std::size_t r = 0; r < n; ++r) ws.row_weight[r] = ws.w_tilde[r] * inv;
  return value * inv + finish_gradient(t, q, o, phi, ws.z, ws.row_weight, inv, ws.grad_theta, ws.log_weights.prior, grad);
}

}  // namespace vibench
