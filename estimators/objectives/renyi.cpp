// objective `renyi`: the variational Rényi bound L_α = 1/(1−α) log E_q[w^{1−α}] through its K-sample
// estimate 1/(1−α) log (1/K) Σ_k w_k^{1−α} (Li & Turner 2016, eq. (5) and §4.1). α → 1 gives the ELBO,
// α = 0 gives log p(x) in the limit K → ∞; α < 0 gives upper bounds.
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/objective.hpp"

namespace {

using namespace vibench;

class Renyi final : public KSampleObjective {
 public:
  explicit Renyi(const Params& p)
      : KSampleObjective(static_cast<std::size_t>(p.get_int("k")), 1.0 - p.get_double("alpha")) {}
};

const Register<Objective, Renyi> registration{{
    .name = "renyi",
    .description = "variational Renyi bound (1/(1-alpha)) log E[w^(1-alpha)], K-sample estimate",
    .reference = "Li & Turner 2016, Renyi Divergence Variational Inference, NeurIPS",
    .params = {ParamSpec::real("alpha", 0.5, "Renyi order alpha (1: ELBO, 0: log p(x) as K grows)"),
               ParamSpec::integer("k", 10, "importance samples K per bound estimate").at_least(1)},
}};

}  // namespace
