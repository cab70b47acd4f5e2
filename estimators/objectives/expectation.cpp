// objective `expectation`: E_{q_φ}[f(z)] with f = the target's log_joint (no entropy term): the
// cost-function setting of Mohamed et al. 2020 (∇_φ E_q[f(z)]).
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/objective.hpp"

namespace {

using namespace vibench;

class Expectation final : public Objective {
 public:
  explicit Expectation(const Params&) {}
  double log_q_coefficient() const override { return 0.0; }
  std::optional<double> exact_value(const Target& t, const Family& q, const double* phi) const override {
    return exact_integrand_value(t, q, phi, 0.0);
  }
  std::optional<std::vector<double>> exact_gradient(const Target& t, const Family& q, const double* phi) const override {
    return exact_integrand_gradient(t, q, phi, 0.0);
  }
};

const Register<Objective, Expectation> registration{{
    .name = "expectation",
    .description = "E_q[f(z)] with f the target's log_joint, no entropy term (cost-function setting)",
    .reference = "Mohamed et al. 2020, JMLR, eq. (1)",
}};

}  // namespace
