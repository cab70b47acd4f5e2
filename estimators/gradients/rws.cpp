// estimator `rws` (reweighted wake-sleep, wake-φ update; Bornschein & Bengio 2015, eq. (9)):
//   ĝ_φ = Σ_k w̃_k ∇_φ log q_φ(z_k),  w̃ = softmax(log p(x, z_k) − log q_φ(z_k)),
// a self-normalized importance-sampling estimate of E_{p(z|x)}[∇_φ log q_φ(z)] = −∇_φ KL(p(z|x) ‖ q_φ):
// it ascends the inclusive KL, not the bound, and is biased (consistent as K → ∞). Its grad_bias against
// the objective's exact gradient therefore measures that difference, not an error. The θ part is the usual
// Σ_k w̃_k ∇_θ log p(x, z_k) (wake-θ = the IWAE θ-gradient). Any family with a score, objective `iwae`.
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/estimator.hpp"
#include "vibench/vi/objective.hpp"

namespace {

using namespace vibench;

// The draws, their log-weights, log q and scores.
struct RwsScratch : EstimatorScratch {
  Member qphi;
  Matrix eps, z, scores, grad_theta;
  PriorCache prior;
  std::vector<double> log_w, log_q, w_tilde, row_weight;
};

class Rws final : public EstimatorWith<RwsScratch> {
 public:
  explicit Rws(const Params&) {}

  Needs needs() const override { return {.objective = ObjectiveForm::importance_weights}; }
  bool unbiased_for(const Objective&) const override { return false; }

  double estimate_with(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                       std::size_t samples, RwsScratch& ws, double* grad) const override {
    const std::size_t k = o.num_importance_samples(), n = samples * k, p = q.num_params();
    q.bind_if_changed(phi, ws.qphi);
    q.sample(ws.qphi, rng, n, ws.eps, ws.z);
    ws.log_w.resize(n);
    ws.log_q.resize(n);
    ws.w_tilde.resize(n);
    t.log_joint(ws.z, ws.log_w.data());
    q.log_q(ws.qphi, ws.z, ws.log_q.data());
    for (std::size_t r = 0; r < n; ++r) ws.log_w[r] -= ws.log_q[r];
    q.score(ws.qphi, ws.z, ws.scores);
    std::fill(grad, grad + p, 0.0);
    double value = 0;
    const double inv = 1.0 / static_cast<double>(samples);
    ws.row_weight.resize(n);
    for (std::size_t s = 0; s < samples; ++s) {
      value += log_mean_exp_weights(&ws.log_w[s * k], k, 1.0, &ws.w_tilde[s * k]);
      for (std::size_t r = s * k; r < (s + 1) * k; ++r) {
        ws.row_weight[r] = ws.w_tilde[r] * inv;
        const double* row = ws.scores.row(r);
        for (std::size_t i = 0; i < p; ++i) grad[i] += ws.row_weight[r] * row[i];
      }
    }
    return value * inv + finish_gradient(t, q, o, phi, ws.z, ws.row_weight, 1.0, ws.grad_theta, ws.prior, grad);  // φ already weighted by w̃/S
  }
};

const Register<Estimator, Rws> registration{{
    .name = "rws",
    .description = "reweighted wake-sleep wake-phi: sum_k w~_k grad log q(z_k), ascends -KL(p||q); biased",
    .reference = "Bornschein & Bengio 2015, Reweighted Wake-Sleep, ICLR; Le et al. 2019",
}};

}  // namespace
