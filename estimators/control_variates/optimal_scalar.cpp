// control variate `optimal_scalar`: one baseline for every component of φ, the constant minimizing the total
// variance tr Cov[(v − b) G], b* = E[v ‖G‖²] / E[‖G‖²] (Weaver & Tao 2001; Greensmith, Bartlett &
// Baxter 2004), estimated without group s:
//   b_s = Σ_{s'≠s} v_{s'} ‖G_{s'}‖² / Σ_{s'≠s} ‖G_{s'}‖²   (0 when the denominator vanishes), S ≥ 2.
// b_s does not depend on group s, so E[b_s G_s] = 0 and the estimate stays unbiased. Next to `optimal`
// (b per component) it pools the components: fewer effective parameters to estimate from S − 1 groups.
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/control_variate.hpp"

namespace {

using namespace vibench;

class OptimalScalarBaseline final : public ControlVariate {
 public:
  explicit OptimalScalarBaseline(const Params&) {}

  std::size_t min_samples() const override { return 2; }
  bool has_baseline() const override { return true; }
  void subtract_baseline(const ScoreGroups& g, ControlVariateScratch& cs, double* grad) const override {
    const std::size_t p = g.params;
    cs.per_group.assign(g.groups, 0.0);  // ‖G_s‖²
    double weighted = 0, total = 0;     // Σ_s v_s ‖G_s‖², Σ_s ‖G_s‖²
    for (std::size_t s = 0; s < g.groups; ++s) {
      double n2 = 0;
      for (std::size_t i = 0; i < p; ++i) n2 += g.scores[s * p + i] * g.scores[s * p + i];
      cs.per_group[s] = n2;
      weighted += g.values[s] * n2;
      total += n2;
    }
    for (std::size_t s = 0; s < g.groups; ++s) {
      const double den = total - cs.per_group[s];
      const double b = den > 0 ? (weighted - g.values[s] * cs.per_group[s]) / den : 0.0;
      for (std::size_t i = 0; i < p; ++i) grad[i] -= b * g.scores[s * p + i];
    }
  }
};

const Register<ControlVariate, OptimalScalarBaseline> registration{{
    .name = "optimal_scalar",
    .description = "baseline: one constant E[v |G|^2]/E[|G|^2] for all components, from the other groups (samples >= 2)",
    .reference = "Weaver & Tao 2001, The optimal reward baseline for gradient-based reinforcement learning; "
                 "Greensmith, Bartlett & Baxter 2004, JMLR 5",
}};

}  // namespace
