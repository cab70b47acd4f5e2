// estimator `score_function` (REINFORCE / likelihood ratio), no baseline:
//   ĝ = (1/S) Σ_s f_φ(z_s) ∇_φ log q_φ(z_s),  z_s ~ q_φ,  f_φ(z) = log p(x, z) − c·log q_φ(z).
// For c ≠ 0 the exact gradient also has the term −c·E_q[∇_φ log q_φ(z)], which is zero: it is dropped
// (still unbiased).
#include "vibench/estimator.hpp"

namespace {

using namespace vibench;

class ScoreFunction final : public Estimator {
 public:
  explicit ScoreFunction(const Params&) {}

  std::optional<std::string> unsupported(const Target&, const Family&, const Objective&) const override {
    return std::nullopt;  // needs only log q and its score: any family, any target
  }

  double estimate(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                  std::size_t samples, EstimatorWorkspace& ws, double* grad) const override {
    const double c = o.log_q_coefficient();
    const std::size_t p = q.num_params();
    q.sample(phi, rng, samples, ws.eps, ws.z);
    ws.log_p.resize(samples);
    ws.f.resize(samples);
    t.log_joint(ws.z, ws.log_p.data());
    if (c != 0.0) {
      ws.log_q.resize(samples);
      q.log_q(phi, ws.z, ws.log_q.data());
    }
    q.score(phi, ws.z, ws.per_sample);
    std::fill(grad, grad + p, 0.0);
    double value = 0;
    for (std::size_t s = 0; s < samples; ++s) {
      double f = ws.log_p[s] - (c != 0.0 ? c * ws.log_q[s] : 0.0);
      value += f;
      const double* sc = ws.per_sample.row(s);
      for (std::size_t i = 0; i < p; ++i) grad[i] += f * sc[i];
    }
    const double inv = 1.0 / static_cast<double>(samples);
    for (std::size_t i = 0; i < p; ++i) grad[i] *= inv;
    return value * inv;
  }
};

const Register<Estimator, ScoreFunction> registration{{
    .name = "score_function",
    .description = "REINFORCE: mean of f(z) * grad log q(z), no baseline",
    .reference = "Williams 1992; Mohamed et al. 2020 §4",
}};

}  // namespace
