#include "vibench/score_function_gradient.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "vibench/objective.hpp"

namespace vibench {

namespace {
double log_add_exp(double a, double b) {
  if (a == -std::numeric_limits<double>::infinity()) return b;
  if (b == -std::numeric_limits<double>::infinity()) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::abs(a - b)));
}
}  // namespace

void leave_one_out_bounds(const double* l, std::size_t k, double gamma, EstimatorWorkspace& ws, double* out) {
  double total = 0;
  for (std::size_t j = 0; j < k; ++j) total += l[j];
  const double kd = static_cast<double>(k);
  if (gamma == 0.0) {  // L̂ = mean l: replacing l_k by the others' mean l̄_{−k} gives l̄_{−k}
    for (std::size_t j = 0; j < k; ++j) out[j] = (total - l[j]) / (kd - 1);
    return;
  }
  // prefix[j] = log Σ_{i<j} e^{γ l_i}, suffix[j] = log Σ_{i≥j} e^{γ l_i}
  const double neg_inf = -std::numeric_limits<double>::infinity();
  ws.prefix.assign(k + 1, neg_inf);
  ws.suffix.assign(k + 1, neg_inf);
  for (std::size_t j = 0; j < k; ++j) ws.prefix[j + 1] = log_add_exp(ws.prefix[j], gamma * l[j]);
  for (std::size_t j = k; j-- > 0;) ws.suffix[j] = log_add_exp(ws.suffix[j + 1], gamma * l[j]);
  for (std::size_t j = 0; j < k; ++j) {
    const double others_mean = (total - l[j]) / (kd - 1);
    const double lse = log_add_exp(log_add_exp(ws.prefix[j], ws.suffix[j + 1]), gamma * others_mean);
    out[j] = (lse - std::log(kd)) / gamma;
  }
}

double score_function_gradient(ScoreBaseline baseline, const Target& t, const Family& q, const Objective& o,
                               const double* phi, Rng& rng, std::size_t samples, EstimatorWorkspace& ws, double* grad) {
  const double c = o.log_q_coefficient(), gamma = o.weight_exponent();
  const std::size_t k = o.num_importance_samples(), n = samples * k, p = q.num_params();
  q.sample(phi, rng, n, ws.eps, ws.z);
  ws.log_p.resize(n);
  t.log_joint(ws.z, ws.log_p.data());
  ws.log_w.assign(ws.log_p.begin(), ws.log_p.end());
  if (c != 0.0) {
    ws.log_q.resize(n);
    q.log_q(phi, ws.z, ws.log_q.data());
    for (std::size_t r = 0; r < n; ++r) ws.log_w[r] -= c * ws.log_q[r];
  }
  q.score(phi, ws.z, ws.per_sample);
  ws.w_tilde.resize(n);
  ws.coef.resize(n);
  ws.f.resize(k);
  std::fill(grad, grad + p, 0.0);
  double value = 0;
  for (std::size_t s = 0; s < samples; ++s) {
    const double* l = &ws.log_w[s * k];
    const double bound = log_mean_exp_weights(l, k, gamma, &ws.w_tilde[s * k]);
    value += bound;
    if (baseline == ScoreBaseline::leave_one_out) leave_one_out_bounds(l, k, gamma, ws, ws.f.data());
    for (std::size_t j = 0; j < k; ++j) {
      const std::size_t r = s * k + j;
      double a = bound - (baseline == ScoreBaseline::leave_one_out ? ws.f[j] : 0.0);
      if (k > 1) a -= c * ws.w_tilde[r];
      const double* row = ws.per_sample.row(r);
      for (std::size_t i = 0; i < p; ++i) grad[i] += a * row[i];
    }
  }
  const double inv = 1.0 / static_cast<double>(samples);
  for (std::size_t i = 0; i < p; ++i) grad[i] *= inv;
  return value * inv;
}

}  // namespace vibench
