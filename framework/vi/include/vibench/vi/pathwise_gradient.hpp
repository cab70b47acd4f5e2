#pragma once
// The pathwise (reparameterization) family of estimators of ∇_φ E[L̂_K] for the objectives of
// objective.hpp. Per group of K draws z_k = T(ε_k; φ), with l_k = log p(x, z_k) − c·log q_φ(z_k),
// w̃ = softmax(γ l), and ∂l_k/∂z the path derivative (φ held fixed in log q):
//   total   (reparam, iwae):  Σ_k w̃_k [(∂z_k/∂φ)ᵀ ∂l_k/∂z − c·∇_φ log q_φ(z_k)]      exact d L̂_K/dφ
//   path    (stl):            Σ_k w̃_k (∂z_k/∂φ)ᵀ ∂l_k/∂z                             Roeder et al. 2017
//   dreg:                     Σ_k ((1−γ)w̃_k + γw̃_k²) (∂z_k/∂φ)ᵀ ∂l_k/∂z             Tucker et al. 2018
// DReG comes from E_q[g(z_k)·∇_φ log q_φ(z_k)] = E[(∂z_k/∂φ)ᵀ ∇_z g] applied to g = w̃_k (φ frozen),
// ∂w̃_k/∂z_k = γ w̃_k (1 − w̃_k) ∂l_k/∂z; γ = 1 gives the published w̃_k². It is unbiased for every K;
// stl is unbiased only for K = 1. At the exact posterior ∂l_k/∂z = 0, so stl and dreg are exactly zero.
#include "vibench/vi/estimator.hpp"
#include "vibench/vi/objective.hpp"

namespace vibench {

enum class PathwiseRule { total, path_only, doubly_reparameterized };

// The scratch of the pathwise estimators: base noise ε, z = T_φ(ε), log-weights, ∂l/∂z and the pulled-back rows.
struct PathwiseScratch : EstimatorScratch {
  Member qphi;  // q_φ, bound once per estimate
  Matrix eps, z, grad_z, rows, grad_theta;
  std::vector<double> log_w, w_tilde, coef, row_weight;
  LogWeightScratch log_weights;
};

// Averages over `samples` groups of K = o.num_importance_samples() draws; returns the mean L̂_K. The noise ε
// of the S·K draws comes from the family's base noise (q must offer a Reparameterization).
double pathwise_gradient(PathwiseRule rule, const Target& t, const Family& q, const Objective& o, const double* phi,
                         Rng& rng, std::size_t samples, PathwiseScratch& ws, double* grad);
// The same from given noise: ws.eps holds S·K rows of base noise (group s = rows sK … sK + K − 1), chosen
// by the caller (e.g. antithetic pairs); z_r = T_φ(ε_r).
double pathwise_gradient_at_noise(PathwiseRule rule, const Target& t, const Family& q, const Objective& o,
                                  const double* phi, std::size_t samples, PathwiseScratch& ws, double* grad);

}  // namespace vibench
