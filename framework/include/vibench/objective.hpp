#pragma once
// Kind `objective`: the quantity whose gradient ∇_φ an estimator estimates.
// For this kind the integrand is f_φ(z) = log p(x, z) − c·log q_φ(z), and the objective is E_{q_φ}[f_φ(z)]:
//   expectation: c = 0 (∇_φ E_q[log p(x, z)], the cost-function setting of Mohamed et al. 2020)
//   elbo:        c = 1 (E_q[log p(x, z) − log q_φ(z)])
#include <optional>
#include <vector>

#include "vibench/family.hpp"
#include "vibench/registry.hpp"
#include "vibench/target.hpp"

namespace vibench {

class Objective : public PluginBase {
 public:
  static constexpr const char* kind = "objective";

  virtual double log_q_coefficient() const = 0;  // c above
  virtual std::optional<double> exact_value(const Target& t, const Family& q, const double* phi) const = 0;
  virtual std::optional<std::vector<double>> exact_gradient(const Target& t, const Family& q,
                                                            const double* phi) const = 0;
};

// Closed forms for E_{q_φ}[log p(x,z)] − c·E_{q_φ}[log q_φ(z)] when q_φ is Gaussian and the target
// provides Gaussian expectations: value and ∇_φ. nullopt when a piece has no closed form.
std::optional<double> gaussian_integrand_value(const Target& t, const Family& q, const double* phi, double c);
std::optional<std::vector<double>> gaussian_integrand_gradient(const Target& t, const Family& q,
                                                               const double* phi, double c);

}  // namespace vibench
