#pragma once
// Coordinate-ascent variational inference (CAVI): closed-form coordinate updates of mean-field families,
// each the exact maximizer of the ELBO in its coordinate with the others held fixed (Bishop 2006, PRML
// §10.1.1; Blei, Kucukelbir & McAuliffe 2017, Algorithm 1). Two models have them here:
//  - a Gaussian target with posterior N(m, Λ⁻¹) and q = Πᵢ N(μᵢ, σᵢ²) (the `optimize` study's `optimizer:
//    cavi`; PRML §10.1.2);
//  - the Bayesian mixture of unit-variance Gaussians of Blei et al. 2017, §2.1 and §3 (the `cavi_gmm` study).
#include <cstdint>
#include <vector>

#include "vibench/vi/target.hpp"

namespace vibench::cavi {

// ---- Gaussian posterior, mean-field Gaussian q ------------------------------------------------------
// ELBO(μ, σ²) = −½ (μ − m)ᵀΛ(μ − m) − ½ Σᵢ Λᵢᵢσᵢ² + ½ Σᵢ log σᵢ² + const, so coordinate i's maximizer is
// σᵢ² = 1/Λᵢᵢ and μᵢ = mᵢ − (1/Λᵢᵢ) Σ_{j≠i} Λᵢⱼ(μⱼ − mⱼ), whatever the other coordinates are.
void gaussian_coordinate_update(const GaussianPosterior& post, std::vector<double>& mean, std::vector<double>& var,
                                std::size_t i);
// One sweep: coordinates i = 0, …, D−1 in order, each update seeing the ones before it (Gauss–Seidel).
void gaussian_sweep(const GaussianPosterior& post, std::vector<double>& mean, std::vector<double>& var);

// ---- Bayesian mixture of unit-variance Gaussians (Blei et al. 2017, §2.1) ----------------------------
// μ_k ~ N(0, σ² I_p) (k = 1..K), c_i ~ Categorical(1/K), x_i | c_i, μ ~ N(μ_{c_i}, I_p) (i = 1..N). The paper
// writes p = 1; for p > 1 the covariance is the identity and every formula holds coordinate-wise.
struct MixtureData {
  std::size_t k = 0, n = 0, dim = 0;
  double prior_var = 1;                // σ²
  std::vector<double> x;               // N×p, row-major
  std::vector<double> true_means;      // K×p (empty when the data were given)
  std::vector<double> true_assignment; // N cluster indices (empty when the data were given)
};
// Data drawn from the model with Rng(data_seed, 0, 0, streams::data): the means, then each (c_i, x_i).
MixtureData simulate_mixture(std::size_t k, std::size_t n, std::size_t dim, double prior_var, std::uint64_t data_seed);

// q(μ, c) = Π_k N(μ_k; m_k, s_k² I_p) Π_i Categorical(c_i; φ_i).
struct MixtureQ {
  std::vector<double> m;    // K×p
  std::vector<double> s2;   // K
  std::vector<double> phi;  // N×K, each row on the simplex
};

// The ELBO in closed form (Blei et al. 2017, §3, written out for p dimensions):
//   Σ_k E[log p(μ_k)] + Σ_i (E[log p(c_i)] + E[log p(x_i | c_i, μ)]) − Σ_i E[log q(c_i)] − Σ_k E[log q(μ_k)]
// with E[log p(μ_k)] = −(p/2) log 2πσ² − (‖m_k‖² + p s_k²)/2σ², E[log p(c_i)] = −log K,
// E[log p(x_i | c_i, μ)] = Σ_k φ_ik [−(p/2) log 2π − ½(‖x_i‖² − 2x_iᵀm_k + ‖m_k‖² + p s_k²)],
// −E[log q(c_i)] = −Σ_k φ_ik log φ_ik (0 log 0 = 0), −E[log q(μ_k)] = (p/2)(1 + log 2πs_k²).
double mixture_elbo(const MixtureData& d, const MixtureQ& q);
// φ_ik ∝ exp{x_iᵀm_k − (‖m_k‖² + p s_k²)/2}  (normalized by a log-sum-exp)
void update_assignment(const MixtureData& d, MixtureQ& q, std::size_t i);
// m_k = Σ_i φ_ik x_i / (1/σ² + Σ_i φ_ik),  s_k² = 1/(1/σ² + Σ_i φ_ik)
void update_component(const MixtureData& d, MixtureQ& q, std::size_t k);
// One sweep of Blei et al.'s Algorithm 2: every φ_i, then every (m_k, s_k²).
void mixture_sweep(const MixtureData& d, MixtureQ& q);

}  // namespace vibench::cavi
