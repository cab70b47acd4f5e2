#pragma once
// Score-function (likelihood-ratio) estimators of ∇_φ E[L̂_K] for the objectives of objective.hpp.
// Per group s of K draws z_k ~ q_φ, with l_k = log p(x, z_k) − c·log q_φ(z_k), w̃ = softmax(γ l),
// s_k = ∇_φ log q_φ(z_k) and G_s = Σ_k s_k:
//   ĝ = (1/S) Σ_s [ Σ_k (L̂_s − f̃_s − b_{s,k}) s_k − c·[K > 1] Σ_k w̃_k s_k ] + ∇_φ E_q[f̃]
// The c-term is the explicit φ-dependence of l_k; for K = 1 its expectation −c·E_q[∇_φ log q] is zero and
// it is dropped. b_{s,k} and f̃ come from a control variate (control_variate.hpp, plugins in
// estimators/control_variates/: baselines that never depend on the draws they multiply, so every variant is
// unbiased, and the delta method's f̃ with its exact expected gradient); without one b = 0 and f̃ = 0
// (REINFORCE, Williams 1992). VIMCO's per-draw baseline is built in (K ≥ 2):
//   b_{s,k} = L̂_s with l_k replaced by the mean of the other l_j (Mnih & Rezende 2016, eq. (8), geometric-mean
//   substitute).
#include "vibench/vi/control_variate.hpp"
#include "vibench/vi/estimator.hpp"

namespace vibench {

// The scratch of score_function and vimco: the draws, their log-weights and scores, the per-group values,
// and the control variate's own scratch (whose carried baseline is this scratch's carried state).
struct ScoreFunctionScratch : EstimatorScratch {
  Member qphi;  // q_φ, bound once per estimate
  Matrix eps, z, scores, grad_theta;
  std::vector<double> log_w, w_tilde, bound, values, row_weight, loo_bounds, score_sums, prefix, suffix;
  LogWeightScratch log_weights;
  ControlVariateScratch control;

  void reset_state() override {
    control.warm = false;
    control.carried = 0;
  }
  void save_state(StateWriter& out) const override {
    out.put(static_cast<std::uint8_t>(control.warm));
    out.put(control.carried);
  }
  void load_state(StateReader& in) override {
    control.warm = in.get<std::uint8_t>() != 0;
    in.get(control.carried);
  }
};

struct ScoreFunctionOptions {
  bool leave_one_out_in_group = false;              // VIMCO's b_{s,k}
  const ControlVariate* control_variate = nullptr;  // none: b = 0, f̃ = 0
};

// Averages over `samples` groups of K = o.num_importance_samples() draws; returns the mean L̂_K.
double score_function_gradient(const ScoreFunctionOptions& opt, const Target& t, const Family& q, const Objective& o,
                               const double* phi, Rng& rng, std::size_t samples, ScoreFunctionScratch& ws,
                               double* grad);

// L̂_{−k} of the VIMCO baseline for every k of one group (O(K), stable): out[k].
// prefix and suffix are scratch.
void leave_one_out_bounds(const double* l, std::size_t k, double gamma, std::vector<double>& prefix,
                          std::vector<double>& suffix, double* out);

}  // namespace vibench
