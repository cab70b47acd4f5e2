// study `mi_estimation`: how a mutual-information bound behaves on a task with closed-form I(X;Y). With the
// `oracle` critic (the true log density ratio, shifted to the bound's optimal constant) nothing is trained:
// each of `replicates` independent batches of `batch_size` joint draws gives one estimate, and the cell
// stores their mean, standard deviation, standard error and confidence interval beside the exact MI, so the
// bound's own bias and variance are measured as functions of I and B (Poole et al. 2019, Fig. 2 setting;
// Song & Ermon 2020, Thm. 1–2).
#include <cmath>
#include <limits>

#include "vibench/mi.hpp"
#include "vibench/replicate_reduction.hpp"
#include "vibench/stats.hpp"
#include "vibench/study.hpp"

namespace {

using namespace vibench;

struct MiPlugins {
  std::unique_ptr<MiTask> task;
  std::unique_ptr<Critic> critic;
  std::unique_ptr<Bound> bound;
};

MiPlugins build(const Config& config) {
  return {make_plugin<MiTask>(Params(config, "target.")), make_plugin<Critic>(Params(config, "critic.")),
          make_plugin<Bound>(Params(config, "bound."))};
}

struct BatchWorkspace {
  Matrix x, y, f;
};

class MiEstimationStudy final : public Study {
 public:
  explicit MiEstimationStudy(const Params&) {}

  std::uint64_t work_units(const Config& cell) const override {
    return static_cast<std::uint64_t>(Params(cell, "").get_int("replicates"));
  }
  const char* work_unit_name() const override { return "batches"; }

  std::optional<std::string> unsupported(const Config& cell) const override {
    MiPlugins p = build(cell);
    if (p.bound->needs_decoder() && !p.critic->is_oracle())
      return std::string("bound 'ba' needs a normalized decoder critic (the oracle)");
    return std::nullopt;
  }

  CellResult run(const CellContext& ctx) const override {
    MiPlugins p = build(ctx.config);
    Params cell(ctx.config, "");
    const auto replicates = static_cast<std::size_t>(cell.get_int("replicates"));
    const auto batch = static_cast<std::size_t>(cell.get_int("batch_size"));
    const double z = normal_critical_value(cell.get_double("confidence"));
    const double shift = p.bound->optimal_shift();

    ReplicateMoments m = reduce_replicates<BatchWorkspace>(
        ctx.seed, ctx.cell_key, replicates, 1, [&](BatchWorkspace& ws, Rng& rng, double* out) {
          p.task->sample(rng, batch, ws.x, ws.y);
          p.critic->scores(*p.task, ws.x, ws.y, shift, ws.f);
          out[0] = p.bound->value(ws.f);
        });
    const Moments& est = m.values[0];
    const double truth = p.task->exact_mi(), sd = std::sqrt(est.variance());
    const double se = sd / std::sqrt(static_cast<double>(replicates));

    CellResult r;
    r.add_scalar("mi_true", truth);
    r.add_scalar("mi_estimate_mean", est.mean());
    r.add_scalar("mi_estimate_std", sd);
    r.add_scalar("mi_estimate_se", se);
    r.add_scalar("mi_estimate_var", est.variance());
    r.add_scalar("mi_estimate_var_se", est.variance_standard_error());  // from the fourth moment
    r.add_scalar("mi_ci_low", est.mean() - z * se);
    r.add_scalar("mi_ci_high", est.mean() + z * se);
    r.add_scalar("bias", est.mean() - truth);
    r.add_scalar("bias_z", se > 0 ? (est.mean() - truth) / se : std::numeric_limits<double>::quiet_NaN());
    r.add_scalar("mse", (est.mean() - truth) * (est.mean() - truth) + est.variance());
    r.add_scalar("batch_ceiling", p.bound->ceiling(batch));  // +inf when the bound has none
    r.timings.emplace_back("ns_per_batch", 1e9 * m.thread_seconds / static_cast<double>(replicates));
    if (!std::isfinite(est.mean()) || !std::isfinite(sd)) {
      r.status = "diverged";
      r.reason = "a batch estimate is not finite";
    }
    return r;
  }
};

const Register<Study, MiEstimationStudy> registration{{
    .name = "mi_estimation",
    .description = "bias and variance of a mutual-information bound on a task with closed-form MI",
    .reference = "Poole et al. 2019; Song & Ermon 2020",
    .params = {ParamSpec::plugin("target", "mi_task", std::nullopt, "the joint p(x, y) with exact I(X;Y)"),
               ParamSpec::plugin("critic", "critic", std::string("oracle"), "the critic f(x, y)"),
               ParamSpec::plugin("bound", "bound", std::nullopt, "the MI bound computed from the score matrix"),
               ParamSpec::integer("batch_size", 64, "B, joint draws per batch (B(B-1) product pairs)").at_least(2),
               ParamSpec::integer("replicates", 500, "independent evaluation batches").at_least(2),
               ParamSpec::real("confidence", 0.95, "level of the stored confidence intervals").positive().at_most(0.999999)},
}};

}  // namespace
