// control variate `leave_one_out`: b_s = mean of v_{s'} over the other groups s' ≠ s (S ≥ 2); b_s does not
// depend on group s, so E[b_s G_s] = 0 (Kool, van Hoof & Welling 2019, "Buy 4 REINFORCE samples";
// Mohamed et al. 2020, §7).
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/control_variate.hpp"

namespace {

using namespace vibench;

class LeaveOneOut final : public ControlVariate {
 public:
  explicit LeaveOneOut(const Params&) {}

  std::size_t min_samples() const override { return 2; }
  bool has_baseline() const override { return true; }
  void subtract_baseline(const ScoreGroups& g, ControlVariateScratch&, double* grad) const override {
    double total = 0;
    for (std::size_t s = 0; s < g.groups; ++s) total += g.values[s];
    for (std::size_t s = 0; s < g.groups; ++s) {
      const double b = (total - g.values[s]) / static_cast<double>(g.groups - 1);
      for (std::size_t i = 0; i < g.params; ++i) grad[i] -= b * g.scores[s * g.params + i];
    }
  }
};

const Register<ControlVariate, LeaveOneOut> registration{{
    .name = "leave_one_out",
    .description = "baseline: mean value of the other groups (samples >= 2)",
    .reference = "Kool, van Hoof & Welling 2019; Mohamed et al. 2020 §7",
}};

}  // namespace
