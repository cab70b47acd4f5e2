// control variate `optimal`: per component i of φ the variance-minimizing constant baseline
// b_i* = E[v G_i²] / E[G_i²], estimated without group s: b_{s,i} = Σ_{s'≠s} v_{s'} G_{s',i}² / Σ_{s'≠s} G_{s',i}²
// (0 when the denominator vanishes), S ≥ 2 (Peters & Schaal 2008; Mohamed et al. 2020, §7).
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/control_variate.hpp"

namespace {

using namespace vibench;

class OptimalBaseline final : public ControlVariate {
 public:
  explicit OptimalBaseline(const Params&) {}

  std::size_t min_samples() const override { return 2; }
  bool has_baseline() const override { return true; }
  void subtract_baseline(const ScoreGroups& g, ControlVariateScratch& cs, double* grad) const override {
    const std::size_t p = g.params;
    cs.sums.assign(2 * p, 0.0);  // Σ_s v_s G_si², Σ_s G_si²
    for (std::size_t s = 0; s < g.groups; ++s)
      for (std::size_t i = 0; i < p; ++i) {
        const double g2 = g.scores[s * p + i] * g.scores[s * p + i];
        cs.sums[i] += g.values[s] * g2;
        cs.sums[p + i] += g2;
      }
    for (std::size_t s = 0; s < g.groups; ++s)
      for (std::size_t i = 0; i < p; ++i) {
        const double gsi = g.scores[s * p + i], g2 = gsi * gsi;
        const double den = cs.sums[p + i] - g2;
        const double b = den > 0 ? (cs.sums[i] - g.values[s] * g2) / den : 0.0;
        grad[i] -= b * gsi;
      }
  }
};

const Register<ControlVariate, OptimalBaseline> registration{{
    .name = "optimal",
    .description = "baseline: per-component E[v G_i^2]/E[G_i^2] from the other groups (samples >= 2)",
    .reference = "Peters & Schaal 2008, Reinforcement learning of motor skills with policy gradients; Mohamed et al. 2020 §7",
}};

}  // namespace
