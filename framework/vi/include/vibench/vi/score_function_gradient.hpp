#pragma once
// Score-function (likelihood-ratio) estimators of ∇_φ E[L̂_K] for the objectives of objective.hpp.
// Per group s of K draws z_k ~ q_φ, with l_k = log p(x, z_k) − c·log q_φ(z_k), w̃ = softmax(γ l),
// s_k = ∇_φ log q_φ(z_k) and G_s = Σ_k s_k:
//   ĝ = (1/S) Σ_s [ Σ_k (L̂_s − f̃_s − b_{s,k}) s_k − c·[K > 1] Σ_k w̃_k s_k ] + ∇_φ E_q[f̃]
// The c-term is the explicit φ-dependence of l_k; for K = 1 its expectation −c·E_q[∇_φ log q] is zero and
// it is dropped. Baselines b never depend on the draws they multiply, so every variant is unbiased:
//   none:            b = 0 (REINFORCE, Williams 1992)
//   leave_one_out_k: b_{s,k} = L̂_s with l_k replaced by the mean of the other l_j (VIMCO, Mnih & Rezende
//                    2016, eq. (8), geometric-mean substitute); K ≥ 2
//   leave_one_out:   b_s = mean of v_{s'} = L̂_{s'} − f̃_{s'} over the other groups s' ≠ s; S ≥ 2
//   moving_average:  b_s = exponential moving average (decay β) of v over earlier groups (and earlier calls;
//                    a cold start is initialized with the mean of `warmup` extra groups)
//   optimal:         per component i, b_{s,i} = Σ_{s'≠s} v_{s'} G_{s',i}² / Σ_{s'≠s} G_{s',i}², the
//                    variance-minimizing constant estimated without group s; S ≥ 2
// Delta-method control variate (K = 1; Paisley et al. 2012; Mohamed et al. 2020 §7.4): f̃ is the second-
// order Taylor expansion of f(z) = log p(x, z) − c·log q_φ(z) (φ frozen) at the mean m of Gaussian q,
//   f̃(z) = f(m) + gᵀ(z − m) + ½(z − m)ᵀH(z − m),  g = ∇_z f(m),  H = ∇²_z log p(m) + c·Λ_q,
// with ∇_φ E_q[f̃] = pullback of (∂/∂m = g, ∂/∂C = ½H) through the family's moments. It removes all
// variance when f is quadratic (the quadratic cost; the ELBO of a linear-Gaussian model).
#include "vibench/vi/estimator.hpp"

namespace vibench {

enum class ScoreBaseline { none, leave_one_out_k, leave_one_out, moving_average, optimal };

struct ScoreFunctionOptions {
  ScoreBaseline baseline = ScoreBaseline::none;
  double decay = 0.9;        // moving_average
  std::size_t warmup = 100;  // moving_average: groups drawn to initialize a cold average
  bool delta_method = false;
};

// Averages over `samples` groups of K = o.num_importance_samples() draws; returns the mean L̂_K.
double score_function_gradient(const ScoreFunctionOptions& opt, const Target& t, const Family& q, const Objective& o,
                               const double* phi, Rng& rng, std::size_t samples, EstimatorWorkspace& ws, double* grad);

// Why the delta method cannot run here (nullopt if it can).
std::optional<std::string> delta_method_unsupported(const Target& t, const Family& q, const Objective& o);

// L̂_{−k} of the VIMCO baseline for every k of one group (O(K), stable): out[k].
void leave_one_out_bounds(const double* l, std::size_t k, double gamma, EstimatorWorkspace& ws, double* out);

}  // namespace vibench
