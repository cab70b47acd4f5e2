// control variate `moving_average`: b_s = exponential moving average m of the values v of earlier groups,
// m ← β·m + (1 − β)·v_s after group s, carried across calls (optimizer steps); a cold average (first call,
// or after the estimator scratch's reset_state()) starts at the mean v of `warmup` extra groups. b_s depends only on groups
// drawn before s, so it is independent of G_s and the estimate stays unbiased (Williams 1992;
// Mohamed et al. 2020, §7).
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/control_variate.hpp"

namespace {

using namespace vibench;

class MovingAverage final : public ControlVariate {
 public:
  explicit MovingAverage(const Params& p)
      : decay_(p.get_double("decay")), warmup_(static_cast<std::size_t>(p.get_int("warmup"))) {}

  void before_draws(ExtraGroups& extra, ControlVariateScratch& cs) const override {
    if (cs.warm) return;
    const std::vector<double>& v = extra.values(warmup_);
    double mean = 0;
    for (double x : v) mean += x;
    cs.carried = warmup_ ? mean / static_cast<double>(warmup_) : 0.0;
    cs.warm = true;
  }
  bool has_baseline() const override { return true; }
  void subtract_baseline(const ScoreGroups& g, ControlVariateScratch& cs, double* grad) const override {
    for (std::size_t s = 0; s < g.groups; ++s) {
      const double b = cs.carried;
      cs.carried = decay_ * cs.carried + (1 - decay_) * g.values[s];
      for (std::size_t i = 0; i < g.params; ++i) grad[i] -= b * g.scores[s * g.params + i];
    }
  }

 private:
  double decay_;
  std::size_t warmup_;
};

const Register<ControlVariate, MovingAverage> registration{{
    .name = "moving_average",
    .description = "baseline: exponential moving average of the values of earlier groups and calls",
    .reference = "Williams 1992; Mohamed et al. 2020 §7",
    .params = {ParamSpec::real("decay", 0.9, "weight β of the old average per group").at_least(0).at_most(1),
               ParamSpec::integer("warmup", 100, "groups drawn to start a cold average").at_least(0)},
}};

}  // namespace
