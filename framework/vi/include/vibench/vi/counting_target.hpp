#pragma once
// A Target that forwards every call to another one and counts the evaluations of log p(x, z): the cost of a
// gradient estimate in the unit of Mohamed et al. 2020 (§3.3, "computational cost": evaluations of the
// integrand), measured exactly by `gradient_stats` without touching any estimator.
//
// What counts (per row z_s of the matrix passed in):
//   log_joint_evals       rows given to log_joint or grad_log_joint. A value with its gradient ∇_z counts 1:
//                         reverse-mode differentiation costs a small constant multiple of the value, and this
//                         is the convention of the paper (pathwise and score function both cost S evaluations).
//   grad_log_joint_evals  the rows of those that also computed ∇_z log p (a subset, for who needs the split).
//   hessian_evals         calls of hessian_log_joint (the delta-method control variate: one, at the mean).
// ∇_θ log p_θ (grad_theta_log_joint) is not counted: it is taken at rows already evaluated (the same backward
// pass in an AD implementation). Counters are atomic, so an estimator that evaluates in parallel still counts
// exactly; each chunk of replicates owns its own wrapper, so they are never contended.
#include <atomic>
#include <cstdint>
#include <stdexcept>

#include "vibench/vi/target.hpp"

namespace vibench {

class CountingTarget final : public Target {
 public:
  explicit CountingTarget(const Target& inner) : t_(inner) {}

  std::uint64_t log_joint_evals() const { return log_joint_.load(std::memory_order_relaxed); }
  std::uint64_t grad_log_joint_evals() const { return grad_.load(std::memory_order_relaxed); }
  std::uint64_t hessian_evals() const { return hessian_.load(std::memory_order_relaxed); }

  std::size_t dim() const override { return t_.dim(); }
  void log_joint(const Matrix& z, double* lp) const override {
    log_joint_.fetch_add(z.rows(), std::memory_order_relaxed);
    t_.log_joint(z, lp);
  }
  void grad_log_joint(const Matrix& z, Matrix& g, double* lp) const override {
    log_joint_.fetch_add(z.rows(), std::memory_order_relaxed);
    grad_.fetch_add(z.rows(), std::memory_order_relaxed);
    t_.grad_log_joint(z, g, lp);
  }
  std::size_t num_model_params() const override { return t_.num_model_params(); }
  std::vector<std::string> model_param_names() const override { return t_.model_param_names(); }
  std::vector<double> model_params() const override { return t_.model_params(); }
  // The wrapped target is read-only: θ is set on it before estimation starts.
  void set_model_params(const double*) override {
    throw std::logic_error("CountingTarget is read-only: set the model parameters on the wrapped target");
  }
  void grad_theta_log_joint(const Matrix& z, Matrix& out) const override { t_.grad_theta_log_joint(z, out); }
  std::optional<std::vector<double>> model_optimum() const override { return t_.model_optimum(); }
  std::optional<std::vector<double>> observation() const override { return t_.observation(); }
  bool hessian_log_joint(const double* z, Matrix& h) const override {
    hessian_.fetch_add(1, std::memory_order_relaxed);
    return t_.hessian_log_joint(z, h);
  }
  Capabilities offers() const override { return t_.offers(); }
  std::optional<GaussianPrior> gaussian_prior() const override { return t_.gaussian_prior(); }
  std::optional<double> log_evidence() const override { return t_.log_evidence(); }
  std::optional<GaussianPosterior> exact_posterior() const override { return t_.exact_posterior(); }
  std::optional<GaussianExpectation> gaussian_expectation(const std::vector<double>& mean,
                                                          const Matrix& cov) const override {
    return t_.gaussian_expectation(mean, cov);
  }

 private:
  const Target& t_;
  mutable std::atomic<std::uint64_t> log_joint_{0}, grad_{0}, hessian_{0};
};

}  // namespace vibench
