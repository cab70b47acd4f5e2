#pragma once
// Kind `family`: a variational family q_φ(z) with flat parameters φ ∈ R^P.
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "vibench/math/matrix.hpp"
#include "vibench/math/rng.hpp"
#include "vibench/vi/capabilities.hpp"
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

// The base noise of a reparameterizable family (z = T_φ(ε), ε independent of φ): `dim` independent
// coordinates, each standard normal, standard logistic or standard Gumbel.
struct BaseNoise {
  enum class Law { standard_normal, logistic, gumbel };
  Law law = Law::standard_normal;
  std::size_t dim = 0;
};

// S rows of base noise from rng (S×dim). Logistic and Gumbel coordinates come from uniforms u (u = 0 read
// as 2⁻⁵³) as log u − log(1 − u) and −log(−log u).
void draw_base_noise(const BaseNoise& noise, Rng& rng, std::size_t s, Matrix& eps);
// Antithetic partners: ε' = a(ε) has the law of ε and is a decreasing function of it, coordinate by
// coordinate: −ε for the symmetric laws (normal, logistic); F⁻¹(1 − F(ε)) with F(g) = exp(−e^{−g}) for Gumbel.
void antithetic_base_noise(const BaseNoise& noise, const Matrix& eps, Matrix& out);

// A member q_φ of a family with its parameters φ bound (Family::bind, or Family::at): what depends on φ
// alone — a Cholesky factor L, σ = exp(log σ), 1/σ, a log-normalizer — is computed once when φ is bound
// and read by every batch method (sample, log q, score, ∇z log q, T_φ, pullback) over S×D batches. The
// methods read φ through the pointer: bind again after φ changes. Kept in an estimator's scratch, rebinding
// reuses its storage.
class Family;
struct Member {
  const double* phi = nullptr;  // the family's P parameters
  // Filled by the family's bind (layout documented there); empty for families with nothing to precompute.
  std::vector<double> values;
  Matrix factor, inverse;
  double log_norm = 0;
  const Family* bound_by = nullptr;  // the family whose bind filled it,
  std::vector<double> bound_phi;     // and the φ values it bound (bind_if_changed compares them bit for bit)
};

// Capability of a family: the reparameterization z = T_φ(ε) (Kingma & Welling 2014; Mohamed et al. 2020 §5).
class Reparameterization {
 public:
  virtual ~Reparameterization() = default;
  virtual BaseNoise base_noise() const = 0;
  // Row s of Z = T_φ(ε_s) (S×D from S×noise dim).
  virtual void transform(const Member& qphi, const Matrix& eps, Matrix& z) const = 0;
  // Row s = (∂T_φ(ε_s)/∂φ)ᵀ v_s (S×P), for V (S×D): the pathwise chain rule at fixed noise.
  virtual void pullback(const Member& qphi, const Matrix& eps, const Matrix& v, Matrix& out) const = 0;
  // grad[0, P) += Σ_s (∂T_φ(ε_s)/∂φ)ᵀ v_s, the pathwise estimators' sum over the samples; rows is scratch. The
  // default forms the S×P rows with pullback() and adds them in row order; a family whose rows are structured
  // (an outer product with a fixed vector) overrides it to skip forming them.
  virtual void add_pullback_sum(const Member& qphi, const Matrix& eps, const Matrix& v, Matrix& rows, double* grad) const;
};

// Capability of a family with a differentiable density in z.
class DensityGradient {
 public:
  virtual ~DensityGradient() = default;
  // Row s = ∇_z log q_φ(z_s) (S×D).
  virtual void grad_z_log_q(const Member& qphi, const Matrix& z, Matrix& out) const = 0;
};

class Family {
 public:
  virtual ~Family() = default;
  static constexpr const char* kind = "family";

  virtual std::size_t dim() const = 0;
  virtual std::size_t num_params() const = 0;
  virtual std::vector<std::string> param_names() const = 0;  // e.g. "mean[0]", "sigma[0]"
  // Discrete support (no density in z).
  virtual bool discrete() const { return false; }
  // Capabilities: null when the family does not offer it (estimators declare which ones they need).
  virtual const Reparameterization* reparameterization() const { return nullptr; }
  virtual const DensityGradient* density_gradient() const { return nullptr; }
  // Everything it offers (capabilities.hpp): the two above, plus what an override declares for the
  // closed forms below (the family conformance test checks each declaration against the method).
  virtual Capabilities offers() const;
  // A default starting member (e.g. N(0, I)).
  virtual std::vector<double> init() const = 0;

  // Binds φ (see Member): precompute() fills the member, which then records this family and the φ values it
  // holds, so bind_if_changed can trust it whatever bound it last.
  void bind(const double* phi, Member& qphi) const {
    qphi.phi = phi;
    precompute(phi, qphi);
    qphi.bound_by = this;
    qphi.bound_phi.assign(phi, phi + num_params());
  }
  // Binds φ unless qphi already holds these very φ values (bit for bit) of this family: then only its pointer
  // moves. An estimator calls it once per estimate, so estimates at a fixed φ (every replicate of
  // gradient_stats) bind once, and a step of an optimizer (new φ) binds again.
  void bind_if_changed(const double* phi, Member& qphi) const {
    const std::size_t p = num_params();
    if (qphi.bound_by == this && qphi.bound_phi.size() == p &&
        std::memcmp(qphi.bound_phi.data(), phi, p * sizeof(double)) == 0) {
      qphi.phi = phi;
      return;
    }
    bind(phi, qphi);
  }
  // q_φ as a new member (for one-off calls; hot loops bind into a member they keep).
  Member at(const double* phi) const {
    Member m;
    bind(phi, m);
    return m;
  }

  // Batch methods on a bound member q_φ.
  // Draw S samples z (S×D) from rng; a reparameterizable family also writes their noise ε (z = T_φ(ε)).
  virtual void sample(const Member& qphi, Rng& rng, std::size_t s, Matrix& eps, Matrix& z) const = 0;
  virtual void log_q(const Member& qphi, const Matrix& z, double* out) const = 0;
  // grad[0, P) += Σ_s w_s ∇_φ log q_φ(z_s), samples with w_s = 0 skipped (w null: every w_s = 1); rows is
  // scratch. The default forms the S×P score rows and adds them in row order (add_weighted_rows); overridden
  // like add_pullback_sum.
  virtual void add_weighted_score(const Member& qphi, const Matrix& z, const double* w, Matrix& rows, double* grad) const;
  // Row s = ∇_φ log q_φ(z_s) (S×P), z held fixed.
  virtual void score(const Member& qphi, const Matrix& z, Matrix& out) const = 0;

  // Every point of a finite support (one per row) when there are at most max_support_size of them:
  // exact expectations then enumerate it.
  static constexpr std::size_t max_support_size = 4096;
  virtual std::optional<Matrix> support() const { return std::nullopt; }

  // The continuous relaxation of a discrete family (Gumbel-softmax / concrete: Jang et al. 2017, Maddison et
  // al. 2017): from one noise draw, the discrete sample `hard` (distributed as q_φ) and the relaxed sample
  // `soft` at temperature λ. False if the family has none.
  virtual bool relaxed_sample(const Member& qphi, Rng& rng, std::size_t s, double temperature, Matrix& noise,
                              Matrix& soft, Matrix& hard) const {
    return false;
  }
  // Row s = (∂soft_s/∂φ)ᵀ v_s at fixed noise.
  virtual void relaxed_pullback(const Member& qphi, const Matrix& noise, double temperature, const Matrix& v,
                                Matrix& out) const {}

  // REBAR's pair of relaxations (Tucker et al. 2017, §3 and Appendix) for factorized families whose φ_i
  // drives coordinate i alone: from the noise and hard sample of relaxed_sample and fresh uniforms v, the
  // conditional relaxed sample z̃ ~ p(z | b); writes soft = σ_λ(z), soft_tilde = σ_λ(z̃) and their derivatives
  // ∂soft_i/∂φ_i, ∂soft_tilde_i/∂φ_i (all S×D). False if the family has none.
  virtual bool conditional_relaxation(const Member& qphi, const Matrix& noise, const Matrix& hard, const Matrix& v,
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

 protected:
  // Fills qphi with what the batch methods share at this φ (qphi.phi is already set); the default keeps φ
  // alone. Called by bind only.
  virtual void precompute(const double* phi, Member& qphi) const {}
};

// Base of the reparameterizable families: offers both capabilities; a draw is ε from the base noise, then
// z = T_φ(ε).
class ReparameterizedFamily : public Family, public Reparameterization, public DensityGradient {
 public:
  const Reparameterization* reparameterization() const final { return this; }
  const DensityGradient* density_gradient() const final { return this; }
  void sample(const Member& qphi, Rng& rng, std::size_t s, Matrix& eps, Matrix& z) const final {
    draw_base_noise(base_noise(), rng, s, eps);
    transform(qphi, eps, z);
  }
};

}  // namespace vibench
