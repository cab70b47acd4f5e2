#pragma once
// Kind `family`: a variational family q_φ(z) with flat parameters φ ∈ R^P.
#include <optional>
#include <string>
#include <vector>

#include "vibench/math/matrix.hpp"
#include "vibench/math/rng.hpp"
#include "vibench/vi/target.hpp"

namespace vibench {

// Mean and covariance of a Gaussian member of a family.
struct GaussianMoments {
  std::vector<double> mean;
  Matrix cov;
};

// A diagonal Gaussian member seen coordinate by coordinate, for estimators that perturb one coordinate
// at a time (measure-valued derivatives): z_i ~ N(mean_i, sigma_i²); φ[mean_index[i]] is mean_i and
// ∂sigma_i/∂φ[scale_index[i]] = scale_jacobian[i].
struct DiagonalGaussianView {
  std::vector<double> mean, sigma, scale_jacobian;
  std::vector<std::size_t> mean_index, scale_index;
};

class Family {
 public:
  virtual ~Family() = default;
  static constexpr const char* kind = "family";

  virtual std::size_t dim() const = 0;
  virtual std::size_t num_params() const = 0;
  virtual std::vector<std::string> param_names() const = 0;  // e.g. "mean[0]", "sigma[0]"
  virtual bool reparameterizable() const = 0;
  // Discrete support (no density in z, no ∇_z log q).
  virtual bool discrete() const { return false; }
  // A default starting member (e.g. N(0, I)).
  virtual std::vector<double> init() const = 0;

  // Draw S samples: noise ε (S×noise_dim) from rng, then z = T(ε; φ) (S×D).
  virtual void sample(const double* phi, Rng& rng, std::size_t s, Matrix& eps, Matrix& z) const = 0;
  virtual void log_q(const double* phi, const Matrix& z, double* out) const = 0;
  // Row s = ∇_φ log q_φ(z_s) (S×P), z held fixed.
  virtual void score(const double* phi, const Matrix& z, Matrix& out) const = 0;
  // Row s = ∇_z log q_φ(z_s) (S×D); continuous (reparameterizable) families only.
  virtual void grad_z_log_q(const double* phi, const Matrix& z, Matrix& out) const = 0;
  // Row s = (∂z_s/∂φ)ᵀ v_s at ε_s (S×P), for V (S×D): the pathwise chain rule (reparameterizable only).
  virtual void reparam_pullback(const double* phi, const Matrix& eps, const Matrix& v, Matrix& out) const = 0;

  // Every point of a finite support (one per row) when there are at most max_support_size of them:
  // exact expectations then enumerate it.
  static constexpr std::size_t max_support_size = 4096;
  virtual std::optional<Matrix> support() const { return std::nullopt; }

  // The continuous relaxation of a discrete family (Gumbel-softmax / concrete: Jang et al. 2017, Maddison et
  // al. 2017): from one noise draw, the discrete sample `hard` (distributed as q_φ) and the relaxed sample
  // `soft` at temperature λ. False if the family has none.
  virtual bool relaxed_sample(const double* phi, Rng& rng, std::size_t s, double temperature, Matrix& noise,
                              Matrix& soft, Matrix& hard) const {
    return false;
  }
  // Row s = (∂soft_s/∂φ)ᵀ v_s at fixed noise.
  virtual void relaxed_pullback(const double* phi, const Matrix& noise, double temperature, const Matrix& v,
                                Matrix& out) const {}

  // REBAR's pair of relaxations (Tucker et al. 2017, §3 and Appendix) for factorized families whose φ_i
  // drives coordinate i alone: from the noise and hard sample of relaxed_sample and fresh uniforms v, the
  // conditional relaxed sample z̃ ~ p(z | b); writes soft = σ_λ(z), soft_tilde = σ_λ(z̃) and their derivatives
  // ∂soft_i/∂φ_i, ∂soft_tilde_i/∂φ_i (all S×D). False if the family has none.
  virtual bool conditional_relaxation(const double* phi, const Matrix& noise, const Matrix& hard, const Matrix& v,
                                      double temperature, Matrix& soft, Matrix& soft_tilde, Matrix& d_soft,
                                      Matrix& d_soft_tilde) const {
    return false;
  }

  // Closed forms, where they exist.
  virtual std::optional<double> entropy(const double* phi) const { return std::nullopt; }
  virtual bool grad_entropy(const double* phi, double* out) const { return false; }
  virtual std::optional<GaussianMoments> gaussian_moments(const double* phi) const { return std::nullopt; }
  // Only for families whose every member is a diagonal Gaussian with φ = (means, scales).
  virtual std::optional<DiagonalGaussianView> diagonal_gaussian(const double* phi) const { return std::nullopt; }
  // out = ∇_φ of a function of (mean, cov) given its gradients (gm, gC) at this φ.
  virtual bool pullback_moments(const double* phi, const std::vector<double>& gm, const Matrix& gc,
                                double* out) const {
    return false;
  }
  // φ of the member equal to N(mean, cov); nullopt and *why set if no member is.
  virtual std::optional<std::vector<double>> from_gaussian(const std::vector<double>& mean, const Matrix& cov,
                                                           std::string* why) const {
    if (why) *why = "this family has no Gaussian members";
    return std::nullopt;
  }
  // φ maximising the ELBO when the exact posterior is Gaussian (equals from_gaussian when representable).
  virtual std::optional<std::vector<double>> elbo_optimum(const GaussianPosterior& post) const {
    return std::nullopt;
  }
};

}  // namespace vibench
