#include "vibench/vi/score_function_gradient.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "vibench/math/vector_kernels.hpp"
#include "vibench/vi/objective.hpp"

namespace vibench {

namespace {

double log_add_exp(double a, double b) {
  if (a == -std::numeric_limits<double>::infinity()) return b;
  if (b == -std::numeric_limits<double>::infinity()) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::abs(a - b)));
}

// L̂ of `groups` groups of K fresh draws from ws.qphi (and the f̃ correction): the values a baseline averages.
void group_values(const Surrogate* cv, const Target& t, const Family& q,
                  const Objective& o, Rng& rng, std::size_t groups, ScoreFunctionScratch& ws) {
  const double gamma = o.weight_exponent();
  const std::size_t k = o.num_importance_samples(), n = groups * k;
  q.sample(ws.qphi, rng, n, ws.eps, ws.z);
  ws.log_w.resize(n);
  o.log_weights(t, q, ws.qphi, ws.z, ws.log_weights, ws.log_w.data(), nullptr);
  ws.w_tilde.resize(n);
  ws.bound.resize(groups);
  ws.values.resize(groups);
  for (std::size_t s = 0; s < groups; ++s) {
    ws.bound[s] = log_mean_exp_weights(&ws.log_w[s * k], k, gamma, &ws.w_tilde[s * k]);
    ws.values[s] = ws.bound[s] - (cv ? cv->value(ws.z.row(s)) : 0.0);  // v_s (K = 1 with a surrogate)
  }
}

// The extra groups a control variate asks for before the estimate's draws.
class ExtraDraws final : public ExtraGroups {
 public:
  ExtraDraws(const Surrogate* cv, const Target& t, const Family& q, const Objective& o, Rng& rng,
             ScoreFunctionScratch& ws)
      : cv_(cv), t_(t), q_(q), o_(o), rng_(rng), ws_(ws) {}
  const std::vector<double>& values(std::size_t groups) override {
    group_values(cv_, t_, q_, o_, rng_, groups, ws_);
    return ws_.values;
  }

 private:
  const Surrogate* cv_;
  const Target& t_;
  const Family& q_;
  const Objective& o_;
  Rng& rng_;
  ScoreFunctionScratch& ws_;
};

}  // namespace

void leave_one_out_bounds(const double* l, std::size_t k, double gamma, std::vector<double>& prefix,
                          std::vector<double>& suffix, double* out) {
  double total = 0;
  for (std::size_t j = 0; j < k; ++j) total += l[j];
  const double kd = static_cast<double>(k);
  if (gamma == 0.0) {  // L̂ = mean l: replacing l_k by the others' mean l̄_{−k} gives l̄_{−k}
    for (std::size_t j = 0; j < k; ++j) out[j] = (total - l[j]) / (kd - 1);
    return;
  }
  // prefix[j] = log Σ_{i<j} e^{γ l_i}, suffix[j] = log Σ_{i≥j} e^{γ l_i}
  const double neg_inf = -std::numeric_limits<double>::infinity();
  prefix.assign(k + 1, neg_inf);
  suffix.assign(k + 1, neg_inf);
  for (std::size_t j = 0; j < k; ++j) prefix[j + 1] = log_add_exp(prefix[j], gamma * l[j]);
  for (std::size_t j = k; j-- > 0;) suffix[j] = log_add_exp(suffix[j + 1], gamma * l[j]);
  for (std::size_t j = 0; j < k; ++j) {
    const double others_mean = (total - l[j]) / (kd - 1);
    const double lse = log_add_exp(log_add_exp(prefix[j], suffix[j + 1]), gamma * others_mean);
    out[j] = (lse - std::log(kd)) / gamma;
  }
}

double score_function_gradient(const ScoreFunctionOptions& opt, const Target& t, const Family& q, const Objective& o,
                               const double* phi, Rng& rng, std::size_t samples, ScoreFunctionScratch& ws,
                               double* grad) {
  const double c = o.log_q_coefficient();
  const std::size_t k = o.num_importance_samples(), n = samples * k, p = q.num_params();
  const ControlVariate* control = opt.control_variate;
  q.bind_if_changed(phi, ws.qphi);
  const std::unique_ptr<Surrogate> cv = control ? control->surrogate(t, q, o, phi, ws.control) : nullptr;
  if (control) {
    ExtraDraws extra(cv.get(), t, q, o, rng, ws);
    control->before_draws(extra, ws.control);
  }
  group_values(cv.get(), t, q, o, rng, samples, ws);
  q.score(ws.qphi, ws.z, ws.scores);

  std::fill(grad, grad + p, 0.0);
  ws.loo_bounds.resize(k);
  ws.row_weight.resize(n);
  double value = 0;
  for (std::size_t s = 0; s < samples; ++s) {
    value += ws.bound[s];
    if (opt.leave_one_out_in_group)
      leave_one_out_bounds(&ws.log_w[s * k], k, o.weight_exponent(), ws.prefix, ws.suffix, ws.loo_bounds.data());
    for (std::size_t j = 0; j < k; ++j) {
      const std::size_t r = s * k + j;
      double a = ws.values[s];
      if (opt.leave_one_out_in_group) a -= ws.loo_bounds[j];
      if (k > 1) a -= c * ws.w_tilde[r];
      ws.row_weight[r] = a;
    }
  }
  add_weighted_rows(grad, ws.scores.data(), n, p, ws.row_weight.data());

  // Group baselines: subtract Σ_s b_s ∘ G_s.
  if (control && control->has_baseline()) {
    ws.score_sums.assign(samples * p, 0.0);  // G_s
    for (std::size_t r = 0; r < n; ++r) {
      const double* row = ws.scores.row(r);
      double* gs = &ws.score_sums[(r / k) * p];
      for (std::size_t i = 0; i < p; ++i) gs[i] += row[i];
    }
    control->subtract_baseline(ScoreGroups{samples, p, ws.values, ws.score_sums}, ws.control, grad);
  }

  const double inv = 1.0 / static_cast<double>(samples);
  ws.row_weight.resize(n);
  for (std::size_t r = 0; r < n; ++r) ws.row_weight[r] = ws.w_tilde[r] * inv;
  const double offset = finish_gradient(t, q, o, phi, ws.z, ws.row_weight, inv, ws.grad_theta, ws.log_weights.prior, grad);
  if (cv) cv->add_expected_gradient(q, phi, grad);  // + ∇_φ E_q[f̃]
  return value * inv + offset;
}

}  // namespace vibench
