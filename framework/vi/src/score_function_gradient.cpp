#include "vibench/vi/score_function_gradient.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "vibench/math/linalg.hpp"
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

// The Taylor expansion f̃ of the delta method at the mean m of q.
struct TaylorExpansion {
  std::vector<double> m, g;
  Matrix h;
  double f0 = 0;
  double operator()(const double* z) const {
    const std::size_t d = m.size();
    double lin = 0, quad = 0;
    for (std::size_t i = 0; i < d; ++i) {
      const double ui = z[i] - m[i];
      lin += g[i] * ui;
      for (std::size_t j = 0; j < d; ++j) quad += ui * h(i, j) * (z[j] - m[j]);
    }
    return f0 + lin + 0.5 * quad;
  }
};

TaylorExpansion expand(const Target& t, const Family& q, const Objective& o, const double* phi, EstimatorWorkspace& ws) {
  const GaussianMoments mom = *q.gaussian_moments(phi);
  const std::size_t d = mom.mean.size();
  TaylorExpansion e{mom.mean, {}, Matrix(d, d), 0};
  ws.points.resize(1, d);
  std::copy(mom.mean.begin(), mom.mean.end(), ws.points.row(0));
  Matrix grad;
  o.log_weights(t, q, phi, ws.points, ws.log_weight_scratch, &e.f0, &grad);  // f(m), ∇f(m)
  e.g.assign(grad.row(0), grad.row(0) + d);
  t.hessian_log_joint(ws.points.row(0), e.h);
  // ∇²f = ∇² log p + c·Λ_q (from −c·log q) + Λ₀ (from −log p(z), analytic KL)
  const double c = o.log_q_coefficient();
  if (c != 0.0) {
    const Matrix prec = linalg::spd_inverse(mom.cov);
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) e.h(i, j) += c * prec(i, j);
  }
  if (o.analytic_kl()) {
    const Matrix prec0 = linalg::spd_inverse(t.gaussian_prior()->cov);
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) e.h(i, j) += prec0(i, j);
  }
  return e;
}

// L̂ of `groups` groups of K fresh draws (and the f̃ correction): the values a baseline averages.
void group_values(const TaylorExpansion* cv, const Target& t, const Family& q,
                  const Objective& o, const double* phi, Rng& rng, std::size_t groups, EstimatorWorkspace& ws) {
  const double gamma = o.weight_exponent();
  const std::size_t k = o.num_importance_samples(), n = groups * k;
  q.sample(phi, rng, n, ws.eps, ws.z);
  ws.log_w.resize(n);
  o.log_weights(t, q, phi, ws.z, ws.log_weight_scratch, ws.log_w.data(), nullptr);
  ws.w_tilde.resize(n);
  ws.bound.resize(groups);
  ws.f.resize(groups);
  for (std::size_t s = 0; s < groups; ++s) {
    ws.bound[s] = log_mean_exp_weights(&ws.log_w[s * k], k, gamma, &ws.w_tilde[s * k]);
    ws.f[s] = ws.bound[s] - (cv ? (*cv)(ws.z.row(s)) : 0.0);  // v_s (K = 1 when cv is set)
  }
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

std::optional<std::string> delta_method_unsupported(const Target& t, const Family& q, const Objective& o) {
  if (o.num_importance_samples() != 1) return std::string("the delta-method control variate needs a single-sample objective (k = 1)");
  const std::vector<double> phi = q.init();
  auto mom = q.gaussian_moments(phi.data());
  if (!mom) return std::string("the delta-method control variate needs a Gaussian family");
  Matrix h;
  if (!t.hessian_log_joint(mom->mean.data(), h)) return std::string("the delta-method control variate needs the target's Hessian");
  std::vector<double> out(q.num_params());
  if (!q.pullback_moments(phi.data(), mom->mean, h, out.data()))
    return std::string("the delta-method control variate needs the family's moment pullback");
  return std::nullopt;
}

double score_function_gradient(const ScoreFunctionOptions& opt, const Target& t, const Family& q, const Objective& o,
                               const double* phi, Rng& rng, std::size_t samples, EstimatorWorkspace& ws, double* grad) {
  const double c = o.log_q_coefficient();
  const std::size_t k = o.num_importance_samples(), n = samples * k, p = q.num_params();
  std::optional<TaylorExpansion> cv;
  if (opt.delta_method) cv = expand(t, q, o, phi, ws);
  const TaylorExpansion* cvp = cv ? &*cv : nullptr;

  if (opt.baseline == ScoreBaseline::moving_average && !ws.state_warm) {
    group_values(cvp, t, q, o, phi, rng, opt.warmup, ws);
    double mean = 0;
    for (double v : ws.f) mean += v;
    ws.moving_average = opt.warmup ? mean / static_cast<double>(opt.warmup) : 0.0;
    ws.state_warm = true;
  }
  group_values(cvp, t, q, o, phi, rng, samples, ws);
  q.score(phi, ws.z, ws.per_sample);

  std::fill(grad, grad + p, 0.0);
  ws.coef.resize(k);
  ws.row_weight.resize(n);
  double value = 0;
  for (std::size_t s = 0; s < samples; ++s) {
    value += ws.bound[s];
    if (opt.baseline == ScoreBaseline::leave_one_out_k) leave_one_out_bounds(&ws.log_w[s * k], k, o.weight_exponent(), ws, ws.coef.data());
    for (std::size_t j = 0; j < k; ++j) {
      const std::size_t r = s * k + j;
      double a = ws.f[s];
      if (opt.baseline == ScoreBaseline::leave_one_out_k) a -= ws.coef[j];
      if (k > 1) a -= c * ws.w_tilde[r];
      ws.row_weight[r] = a;
    }
  }
  add_weighted_rows(grad, ws.per_sample.data(), n, p, ws.row_weight.data());

  // Group baselines: subtract Σ_s b_s·G_s (b per component for `optimal`).
  if (opt.baseline == ScoreBaseline::leave_one_out || opt.baseline == ScoreBaseline::moving_average ||
      opt.baseline == ScoreBaseline::optimal) {
    ws.score_sum.assign(samples * p, 0.0);  // G_s
    for (std::size_t r = 0; r < n; ++r) {
      const double* row = ws.per_sample.row(r);
      double* gs = &ws.score_sum[(r / k) * p];
      for (std::size_t i = 0; i < p; ++i) gs[i] += row[i];
    }
    if (opt.baseline == ScoreBaseline::optimal) {
      ws.baseline.assign(2 * p, 0.0);  // Σ_s v_s G_si², Σ_s G_si²
      for (std::size_t s = 0; s < samples; ++s)
        for (std::size_t i = 0; i < p; ++i) {
          const double g2 = ws.score_sum[s * p + i] * ws.score_sum[s * p + i];
          ws.baseline[i] += ws.f[s] * g2;
          ws.baseline[p + i] += g2;
        }
      for (std::size_t s = 0; s < samples; ++s)
        for (std::size_t i = 0; i < p; ++i) {
          const double gsi = ws.score_sum[s * p + i], g2 = gsi * gsi;
          const double den = ws.baseline[p + i] - g2;
          const double b = den > 0 ? (ws.baseline[i] - ws.f[s] * g2) / den : 0.0;
          grad[i] -= b * gsi;
        }
    } else {
      double total = 0;
      for (std::size_t s = 0; s < samples; ++s) total += ws.f[s];
      for (std::size_t s = 0; s < samples; ++s) {
        double b;
        if (opt.baseline == ScoreBaseline::leave_one_out) {
          b = (total - ws.f[s]) / static_cast<double>(samples - 1);
        } else {
          b = ws.moving_average;
          ws.moving_average = opt.decay * ws.moving_average + (1 - opt.decay) * ws.f[s];
        }
        for (std::size_t i = 0; i < p; ++i) grad[i] -= b * ws.score_sum[s * p + i];
      }
    }
  }

  const double inv = 1.0 / static_cast<double>(samples);
  ws.row_weight.resize(n);
  for (std::size_t r = 0; r < n; ++r) ws.row_weight[r] = ws.w_tilde[r] * inv;
  const double offset = finish_gradient(t, q, o, phi, ws.z, ws.row_weight, inv, ws, grad);
  if (cv) {  // + ∇_φ E_q[f̃]
    Matrix half_h = cv->h;
    for (std::size_t i = 0; i < half_h.rows() * half_h.cols(); ++i) half_h.data()[i] *= 0.5;
    std::vector<double> cg(p);
    q.pullback_moments(phi, cv->g, half_h, cg.data());
    for (std::size_t i = 0; i < p; ++i) grad[i] += cg[i];
  }
  return value * inv + offset;
}

}  // namespace vibench
