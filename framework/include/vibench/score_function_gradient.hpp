#pragma once
// Score-function (likelihood-ratio) estimators of ∇_φ E[L̂_K] for the objectives of objective.hpp.
// Per group of K draws z_k ~ q_φ with l_k = log p(x, z_k) − c·log q_φ(z_k), w̃ = softmax(γ l):
//   ĝ = Σ_k (L̂_K − b_k) ∇_φ log q_φ(z_k) − c Σ_k w̃_k ∇_φ log q_φ(z_k)
// The second term is the explicit φ-dependence of l_k; for K = 1 its expectation −c·E_q[∇_φ log q] is
// zero and it is dropped. Baselines b_k must not depend on z_k:
//   none:           b_k = 0 (REINFORCE, Williams 1992)
//   leave_one_out:  b_k = L̂_K with l_k replaced by the mean of the other l_j (VIMCO, Mnih & Rezende 2016,
//                   eq. (8) with the geometric-mean substitute)
#include "vibench/estimator.hpp"

namespace vibench {

enum class ScoreBaseline { none, leave_one_out };

// Averages over `samples` groups of K = o.num_importance_samples() draws; returns the mean L̂_K.
double score_function_gradient(ScoreBaseline baseline, const Target& t, const Family& q, const Objective& o,
                               const double* phi, Rng& rng, std::size_t samples, EstimatorWorkspace& ws, double* grad);

// L̂_{−k} of the VIMCO baseline for every k of one group (O(K), stable): out[k].
void leave_one_out_bounds(const double* l, std::size_t k, double gamma, EstimatorWorkspace& ws, double* out);

}  // namespace vibench
