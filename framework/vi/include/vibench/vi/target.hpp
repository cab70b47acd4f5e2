#pragma once
// Kind `target`: a model p(x, z) with the data x fixed, over latent z ∈ R^D.
#include <optional>
#include <string>
#include <vector>

#include "vibench/math/matrix.hpp"
#include "vibench/math/rng.hpp"
#include "vibench/vi/capabilities.hpp"

namespace vibench {

// Exact Gaussian posterior p(z | x) = N(mean, cov); precision = cov⁻¹. Where the posterior mean is affine
// in the observation x, mean = mean_map·x + mean_offset (mean_map empty otherwise): amortized families
// use it for their optimum.
struct GaussianPosterior {
  std::vector<double> mean;
  Matrix cov;
  Matrix precision;
  Matrix mean_map;
  std::vector<double> mean_offset;
};

// E_{z~N(m,C)}[log p(x, z)] and its gradients with respect to m and C (C treated as unconstrained,
// i.e. grad_cov(i,j) = ∂/∂C_ij); used for exact gradients of Gaussian families.
struct GaussianExpectation {
  double value = 0.0;
  std::vector<double> grad_mean;
  Matrix grad_cov;
  std::vector<double> grad_theta;  // ∇_θ of the value, one per model parameter
};

// A Gaussian prior p(z) = N(mean, cov) that is a factor of log p(x, z) = log p(z) + log p(x | z).
struct GaussianPrior {
  std::vector<double> mean;
  Matrix cov;
};

class Target {
 public:
  virtual ~Target() = default;
  static constexpr const char* kind = "target";

  virtual std::size_t dim() const = 0;
  // lp[s] = log p(x, z_s) for each row z_s of Z (S×D).
  virtual void log_joint(const Matrix& z, double* lp) const = 0;
  // Row s of G = ∇_z log p(x, z_s); also writes lp like log_joint.
  virtual void grad_log_joint(const Matrix& z, Matrix& g, double* lp) const = 0;

  // Model parameters θ (e.g. a prior mean), estimated alongside φ: gradients are ∇_θ of the objective.
  virtual std::size_t num_model_params() const { return 0; }
  virtual std::vector<std::string> model_param_names() const { return {}; }
  virtual std::vector<double> model_params() const { return {}; }
  virtual void set_model_params(const double* theta) {}
  // Row s = ∇_θ log p_θ(x, z_s) (S×T).
  virtual void grad_theta_log_joint(const Matrix& z, Matrix& out) const {}
  // θ maximizing log p_θ(x), where it has a closed form and is unique.
  virtual std::optional<std::vector<double>> model_optimum() const { return std::nullopt; }
  // The observation x, for amortized families q(z | x).
  virtual std::optional<std::vector<double>> observation() const { return std::nullopt; }

  // Minibatches (doubly stochastic VI: Titsias & Lázaro-Gredilla 2014; Mohamed et al. 2020, §8). A target
  // whose likelihood is a sum over N data points, log p(x, z) = log p(z) + Σ_n log p(x_n | z), may evaluate
  // the unbiased estimate log p(z) + (N/B) Σ_{n∈batch} log p(x_n | z) instead. minibatch_size() is B
  // (0: the target always uses all its data and the two calls below do nothing). select_minibatch() draws
  // the next batch — B distinct points, a function of rng alone — and every later evaluation (log_joint,
  // gradients, Hessian, Gaussian expectations) uses it until use_full_data() returns to the whole data set.
  virtual std::size_t minibatch_size() const { return 0; }
  virtual void select_minibatch(Rng& rng) {}
  virtual void use_full_data() {}

  // H = ∇²_z log p(x, z) at one point z (D×D); false if the target does not provide it.
  virtual bool hessian_log_joint(const double* z, Matrix& h) const { return false; }

  // What it offers (capabilities.hpp): a Gaussian prior when gaussian_prior() has one; a target that
  // implements hessian_log_joint adds Capability::hessian (the target conformance test checks both).
  virtual Capabilities offers() const {
    Capabilities c;
    if (gaussian_prior()) c.add(Capability::gaussian_prior);
    return c;
  }

  // Closed forms, where they exist.
  virtual std::optional<GaussianPrior> gaussian_prior() const { return std::nullopt; }
  virtual std::optional<double> log_evidence() const { return std::nullopt; }
  virtual std::optional<GaussianPosterior> exact_posterior() const { return std::nullopt; }
  virtual std::optional<GaussianExpectation> gaussian_expectation(const std::vector<double>& mean,
                                                                  const Matrix& cov) const {
    return std::nullopt;
  }
};

}  // namespace vibench
