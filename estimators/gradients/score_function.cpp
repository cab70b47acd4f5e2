// estimator `score_function` (REINFORCE / likelihood ratio) with a control variate (kind `control_variate`,
// default `none`): for K = 1 objectives and no control variate,
//   ĝ = (1/S) Σ_s f_φ(z_s) ∇_φ log q_φ(z_s),  z_s ~ q_φ,  f_φ(z) = log p(x, z) − c·log q_φ(z);
// the term −c·E_q[∇_φ log q_φ(z)] of the exact gradient is zero and dropped (still unbiased).
// Control variates and K-sample objectives: see score_function_gradient.hpp and control_variate.hpp.
#include <memory>

#include "vibench/plugin/registry.hpp"
#include "vibench/vi/score_function_gradient.hpp"

namespace {

using namespace vibench;

class ScoreFunction final : public EstimatorWith<ScoreFunctionScratch> {
 public:
  explicit ScoreFunction(const Params& p) : control_(make_plugin<ControlVariate>(p.sub("control_variate"))) {}

  Needs needs() const override { return control_->needs(); }
  std::size_t min_samples() const override { return control_->min_samples(); }

  double estimate_with(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                       std::size_t samples, ScoreFunctionScratch& ws, double* grad) const override {
    return score_function_gradient({.control_variate = control_.get()}, t, q, o, phi, rng, samples, ws, grad);
  }

 private:
  std::unique_ptr<ControlVariate> control_;
};

// The estimator's keys before control variates were plugins (`baseline`, `decay`, `warmup`, and
// `control_variate: none | delta_method`): stored cells keep their ids, and so their random streams, when the
// experiment is written with the new `control_variate: {name: ...}`. A control variate added since then
// keeps its own keys.
void legacy_id_keys(const std::string& prefix, Config& c) {
  const std::string slot = prefix + "control_variate";
  const auto name = c.find(slot + ".name");
  if (name == c.end()) return;
  const std::string cv = std::get<std::string>(name->second);
  if (cv != "none" && cv != "moving_average" && cv != "leave_one_out" && cv != "optimal" && cv != "delta_method") return;
  Value decay = 0.9, warmup = std::int64_t{100};
  if (cv == "moving_average") {
    decay = c.at(slot + ".decay");
    warmup = c.at(slot + ".warmup");
  }
  for (const char* k : {".name", ".decay", ".warmup"}) c.erase(slot + k);  // any other key stays in the id
  c[prefix + "baseline"] = cv == "delta_method" ? std::string("none") : cv;
  c[prefix + "control_variate"] = cv == "delta_method" ? cv : std::string("none");
  c[prefix + "decay"] = decay;
  c[prefix + "warmup"] = warmup;
}

const Register<Estimator, ScoreFunction> registration{{
    .name = "score_function",
    .description = "REINFORCE: mean of (f(z) - baseline) * grad log q(z), with a control variate",
    .reference = "Williams 1992; Mohamed et al. 2020 §4 and §7",
    .params = {ParamSpec::plugin("control_variate", "control_variate", "none",
                                 "what is subtracted from f: a baseline or control variate, a plugin of kind "
                                 "control_variate with its own parameters ({name: moving_average, decay: 0.9})")},
    .legacy_id_keys = legacy_id_keys,
}};

}  // namespace
