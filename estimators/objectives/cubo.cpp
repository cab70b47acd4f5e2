// objective `cubo`: the χ upper bound CUBO_n = (1/n) log E_q[w^n] ≥ log p(x) (n ≥ 1), through its K-sample
// estimate (1/n) log (1/K) Σ_k w_k^n, which is biased low for finite K (Dieng et al. 2017, §2–3).
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/objective.hpp"

namespace {

using namespace vibench;

class Cubo final : public KSampleObjective {
 public:
  explicit Cubo(const Params& p) : KSampleObjective(static_cast<std::size_t>(p.get_int("k")), p.get_double("n")) {}
};

const Register<Objective, Cubo> registration{{
    .name = "cubo",
    .description = "chi upper bound (1/n) log E[w^n] >= log p(x), K-sample estimate",
    .reference = "Dieng, Tran, Ranganath, Paisley, Blei 2017, Variational Inference via chi Upper Bound Minimization, NeurIPS",
    .params = {ParamSpec::real("n", 2.0, "order n of the chi divergence (n >= 1)").at_least(1.0),
               ParamSpec::integer("k", 10, "importance samples K per bound estimate").at_least(1)},
}};

}  // namespace
