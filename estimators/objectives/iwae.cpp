// objective `iwae`: the importance-weighted bound E[log (1/K) Σ_k w_k] with w_k = p(x, z_k)/q_φ(z_k),
// z_1..z_K ~ q_φ i.i.d.; ELBO = IWAE-1 ≤ IWAE-K ≤ IWAE-2K ≤ log p(x) (Burda et al. 2016, Thm. 1).
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/objective.hpp"

namespace {

using namespace vibench;

class Iwae final : public KSampleObjective {
 public:
  explicit Iwae(const Params& p) : KSampleObjective(static_cast<std::size_t>(p.get_int("k")), 1.0) {}
};

const Register<Objective, Iwae> registration{{
    .name = "iwae",
    .description = "importance-weighted bound IWAE-K = E[log mean_k w_k], tends to log p(x) as K grows",
    .reference = "Burda, Grosse, Salakhutdinov 2016, ICLR",
    .params = {ParamSpec::integer("k", 10, "importance samples K per bound estimate").at_least(1)},
}};

}  // namespace
