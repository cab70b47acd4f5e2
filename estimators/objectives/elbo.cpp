// objective `elbo`: E_{q_φ}[log p(x, z) − log q_φ(z)] ≤ log p(x).
#include "vibench/objective.hpp"

namespace {

using namespace vibench;

class Elbo final : public Objective {
 public:
  explicit Elbo(const Params&) {}
  double log_q_coefficient() const override { return 1.0; }
  std::optional<double> exact_value(const Target& t, const Family& q, const double* phi) const override {
    return exact_integrand_value(t, q, phi, 1.0);
  }
  std::optional<std::vector<double>> exact_gradient(const Target& t, const Family& q, const double* phi) const override {
    return exact_integrand_gradient(t, q, phi, 1.0);
  }
};

const Register<Objective, Elbo> registration{{
    .name = "elbo",
    .description = "evidence lower bound E_q[log p(x,z) - log q(z)]",
    .reference = "Jordan et al. 1999; Blei, Kucukelbir, McAuliffe 2017",
}};

}  // namespace
