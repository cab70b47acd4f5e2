// estimator `score_function` (REINFORCE / likelihood ratio) with an optional baseline and the delta-method
// control variate: for K = 1 objectives and no baseline,
//   ĝ = (1/S) Σ_s f_φ(z_s) ∇_φ log q_φ(z_s),  z_s ~ q_φ,  f_φ(z) = log p(x, z) − c·log q_φ(z);
// the term −c·E_q[∇_φ log q_φ(z)] of the exact gradient is zero and dropped (still unbiased).
// Baselines, the control variate and K-sample objectives: see score_function_gradient.hpp.
#include "vibench/vi/score_function_gradient.hpp"
#include "vibench/plugin/registry.hpp"

namespace {

using namespace vibench;

ScoreBaseline parse_baseline(const std::string& s) {
  if (s == "leave_one_out") return ScoreBaseline::leave_one_out;
  if (s == "moving_average") return ScoreBaseline::moving_average;
  if (s == "optimal") return ScoreBaseline::optimal;
  return ScoreBaseline::none;
}

class ScoreFunction final : public Estimator {
 public:
  explicit ScoreFunction(const Params& p) {
    opt_.baseline = parse_baseline(p.get_string("baseline"));
    opt_.decay = p.get_double("decay");
    opt_.warmup = static_cast<std::size_t>(p.get_int("warmup"));
    opt_.delta_method = p.get_string("control_variate") == "delta_method";
  }

  std::optional<std::string> unsupported(const Target& t, const Family& q, const Objective& o) const override {
    if (opt_.delta_method) return delta_method_unsupported(t, q, o);
    return std::nullopt;  // needs only log q and its score: any family, any target
  }
  std::size_t min_samples() const override {
    return opt_.baseline == ScoreBaseline::leave_one_out || opt_.baseline == ScoreBaseline::optimal ? 2 : 1;
  }

  double estimate(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                  std::size_t samples, EstimatorWorkspace& ws, double* grad) const override {
    return score_function_gradient(opt_, t, q, o, phi, rng, samples, ws, grad);
  }

 private:
  ScoreFunctionOptions opt_;
};

const Register<Estimator, ScoreFunction> registration{{
    .name = "score_function",
    .description = "REINFORCE: mean of (f(z) - baseline) * grad log q(z), optional delta-method control variate",
    .reference = "Williams 1992; Mohamed et al. 2020 §4 and §7; Paisley, Blei, Jordan 2012 (delta method)",
    .params = {ParamSpec::choice("baseline", {"none", "moving_average", "leave_one_out", "optimal"}, "none",
                                 "none; moving_average (EMA over earlier samples/calls); leave_one_out (mean of the "
                                 "other samples, S >= 2); optimal (per-component E[f s^2]/E[s^2] from the other "
                                 "samples, S >= 2)"),
               ParamSpec::real("decay", 0.9, "moving_average: weight of the old average per sample").at_least(0).at_most(1),
               ParamSpec::integer("warmup", 100, "moving_average: samples drawn to start a cold average").at_least(0),
               ParamSpec::choice("control_variate", {"none", "delta_method"}, "none",
                                 "delta_method: subtract the second-order Taylor expansion of f at the mean of q and add "
                                 "its exact expected gradient (Gaussian q, target with a Hessian, k = 1)")},
}};

}  // namespace
