#pragma once
// Kind `objective`: the quantity whose gradient ∇_φ an estimator estimates.
//
// With log-weights l_k = log p(x, z_k) − c·log q_φ(z_k) of K samples z_1..z_K ~ q_φ, an objective is the
// expectation of the K-sample estimate
//   L̂_K = (1/γ) log (1/K) Σ_k exp(γ·l_k)          (γ = 0: L̂_K = (1/K) Σ_k l_k)
//   expectation: c = 0, K = 1 (∇_φ E_q[log p(x, z)], the cost-function setting of Mohamed et al. 2020)
//   elbo:        c = 1, K = 1
//   iwae:        c = 1, γ = 1       (Burda et al. 2016)
//   renyi:       c = 1, γ = 1 − α   (Li & Turner 2016, the VR bound's K-sample estimate)
//   cubo:        c = 1, γ = n       (Dieng et al. 2017, χ upper bound (1/n) log E_q[w^n])
// For K = 1 every L̂_1 = l_1, so its expectation is the ELBO (c = 1) whatever γ is.
#include <optional>
#include <string>
#include <vector>

#include "vibench/vi/family.hpp"
#include "vibench/vi/target.hpp"

namespace vibench {

// The Gaussian prior's precision Λ₀ = C₀⁻¹ and log|C₀| for the analytic-KL ELBO, recomputed only when the
// prior's covariance C₀ changes (a model parameter may move its mean, never refactor it per estimate).
struct PriorCache {
  Matrix cov, precision;
  double logdet = 0;
  void refresh(const Matrix& prior_cov);  // no work when prior_cov has the cached bits
};

// Scratch for Objective::log_weights (kept in an estimator's workspace so the hot loop does not allocate).
struct LogWeightScratch {
  std::vector<double> log_q, log_prior, diff, prec_diff;
  Matrix grad_q;
  PriorCache prior;
};

// −KL(q_φ ‖ p(z)) in closed form with its φ-gradient (the analytic part of the analytic-KL ELBO).
struct AnalyticTerm {
  double value = 0;
  std::vector<double> grad;  // P entries
};

class Objective {
 public:
  virtual ~Objective() = default;
  static constexpr const char* kind = "objective";

  virtual double log_q_coefficient() const = 0;                   // c above
  // The ELBO as E_q[log p(x | z)] − KL(q ‖ p(z)) with the KL in closed form: then l_k = log p(x | z_k) and
  // analytic_term() is added to every estimate (value and φ-gradient).
  virtual bool analytic_kl() const { return false; }
  // What it needs of the target and family (capabilities.hpp; its objective form is unused).
  virtual Needs needs() const { return {}; }

  // l(z_r) for every row of z — log p(x, z) − c·log q_φ(z), or log p(x | z) with an analytic KL — and, when
  // grad_l is given, the path derivatives ∂l/∂z (φ held fixed).
  void log_weights(const Target& t, const Family& q, const Member& qphi, const Matrix& z, LogWeightScratch& scratch,
                   double* l, Matrix* grad_l) const;
  // The analytic KL term at φ (nullopt unless analytic_kl()); prior caches Λ₀ and log|C₀| across calls.
  std::optional<AnalyticTerm> analytic_term(const Target& t, const Family& q, const double* phi, PriorCache& prior) const;
  virtual std::size_t num_importance_samples() const { return 1; }  // K above
  virtual double weight_exponent() const { return 1.0; }           // γ above (used when K > 1)

  // Exact E[L̂_K] and its gradient (φ, then the target's θ), where a closed form exists (K = 1 with
  // Gaussian q and target).
  virtual std::optional<double> exact_value(const Target& t, const Family& q, const double* phi) const = 0;
  virtual std::optional<std::vector<double>> exact_gradient(const Target& t, const Family& q,
                                                            const double* phi) const = 0;
  // The bound E[L̂_K] tends to as K → ∞ ((1/γ) log E_q[w^γ], w = p(x,z)/q(z)), where it has a closed form.
  virtual std::optional<double> limit_value(const Target& t, const Family& q, const double* phi) const {
    return exact_value(t, q, phi);
  }
};

// Base of the K-sample objectives with c = 1 (iwae, renyi, cubo): exact values for K = 1 (E[L̂_1] is the
// ELBO) and, for families with a small finite support, by enumerating K-tuples; the K → ∞ limit
// (1/γ) log E_q[w^γ] in closed form for Gaussian q and target.
class KSampleObjective : public Objective {
 public:
  KSampleObjective(std::size_t k, double gamma) : k_(k), gamma_(gamma) {}
  double log_q_coefficient() const override { return 1.0; }
  std::size_t num_importance_samples() const override { return k_; }
  double weight_exponent() const override { return gamma_; }
  std::optional<double> exact_value(const Target& t, const Family& q, const double* phi) const override;
  std::optional<std::vector<double>> exact_gradient(const Target& t, const Family& q, const double* phi) const override;
  std::optional<double> limit_value(const Target& t, const Family& q, const double* phi) const override;

 private:
  std::size_t k_;
  double gamma_;
};

// Exact E_{q_φ}[log p(x,z)] − c·E_{q_φ}[log q_φ(z)] and its gradient (φ, then θ): in closed form when q_φ
// is Gaussian and the target provides Gaussian expectations, or by enumerating a finite support
// (∇_φ = Σ_z q(z) f(z) ∇_φ log q(z), since Σ_z q(z) ∇_φ log q(z) = 0). nullopt when neither applies.
std::optional<double> exact_integrand_value(const Target& t, const Family& q, const double* phi, double c);
std::optional<std::vector<double>> exact_integrand_gradient(const Target& t, const Family& q,
                                                               const double* phi, double c);

// log E_{q_φ}[w^γ], w = p(x, z)/q_φ(z), in closed form when q_φ is Gaussian and the target has an exact
// Gaussian posterior and log evidence. With p(x, z) = p(x)·N(z; m_p, C_p), q = N(m_q, C_q),
// Λ = γΛ_p + (1 − γ)Λ_q, η = γΛ_p m_p + (1 − γ)Λ_q m_q:
//   log E_q[w^γ] = γ log p(x) − (γ/2) log|C_p| − ((1−γ)/2) log|C_q| − ½ log|Λ| + ½ ηᵀΛ⁻¹η
//                  − ½ [γ m_pᵀΛ_p m_p + (1−γ) m_qᵀΛ_q m_q].
// nullopt when a piece is missing or Λ is not positive definite (the expectation is infinite).
std::optional<double> gaussian_log_weight_moment(const Target& t, const Family& q, const double* phi, double gamma);

// The K-sample bound limit (1/γ) log E_q[w^γ] (γ = 0: the ELBO), from the closed form above.
std::optional<double> gaussian_power_bound(const Target& t, const Family& q, const double* phi, double gamma);

// L̂ = (1/γ) log (1/K) Σ_k exp(γ l_k) and the normalized weights w̃_k = ∂L̂/∂l_k = softmax(γ l)_k
// (uniform 1/K when γ = 0). Stable for any magnitude of l.
double log_mean_exp_weights(const double* l, std::size_t k, double gamma, double* w_tilde);

}  // namespace vibench
