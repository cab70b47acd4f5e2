// objective `elbo`: E_{q_φ}[log p(x, z) − log q_φ(z)] ≤ log p(x).
// kl: monte_carlo — the integrand l = log p(x, z) − log q_φ(z) (c = 1);
//     analytic    — E_q[log p(x | z)] − KL(q_φ ‖ p(z)) with the KL in closed form (Kingma & Welling 2014,
//                   eq. (10)): l = log p(x | z) (c = 0) plus the exact −KL and its φ-gradient in every
//                   estimate. Needs a Gaussian prior factor in the target and a Gaussian family. θ-gradients
//                   stay Monte Carlo (E_q[∇_θ log p(x, z)] is unbiased for both forms).
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/objective.hpp"

namespace {

using namespace vibench;

class Elbo final : public Objective {
 public:
  explicit Elbo(const Params& p) : analytic_(p.get_string("kl") == "analytic") {}
  double log_q_coefficient() const override { return analytic_ ? 0.0 : 1.0; }
  bool analytic_kl() const override { return analytic_; }
  Needs needs() const override {
    if (!analytic_) return {};
    return {.family = {Capability::gaussian_moments}, .target = {Capability::gaussian_prior}};
  }
  std::optional<double> exact_value(const Target& t, const Family& q, const double* phi) const override {
    return exact_integrand_value(t, q, phi, 1.0);
  }
  std::optional<std::vector<double>> exact_gradient(const Target& t, const Family& q, const double* phi) const override {
    return exact_integrand_gradient(t, q, phi, 1.0);
  }

 private:
  bool analytic_;
};

const Register<Objective, Elbo> registration{{
    .name = "elbo",
    .description = "evidence lower bound E_q[log p(x,z) - log q(z)]; KL by Monte Carlo or in closed form",
    .reference = "Jordan et al. 1999; Blei, Kucukelbir, McAuliffe 2017; Kingma & Welling 2014 eq. (10) (analytic KL)",
    .params = {ParamSpec::choice("kl", {"monte_carlo", "analytic"}, "monte_carlo",
                                 "monte_carlo: E_q[log p(x,z) - log q]; analytic: E_q[log p(x|z)] - KL(q || p(z)) in closed form")},
}};

}  // namespace
