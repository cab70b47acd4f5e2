// study `mi_estimation`: how a mutual-information bound behaves on a task with closed-form I(X;Y).
// - With the `oracle` critic (the true log density ratio, shifted to the bound's optimal constant) nothing is
//   trained: each of `replicates` independent batches of `batch_size` joint draws gives one estimate.
// - With a trainable critic (`separable`, `concat`) the critic is first trained for `steps` Adam steps on the
//   bound's training gradient, one fresh batch per step; `mi_schedule` (optional) moves the true MI through
//   equal-length stages (the staircase of Poole et al. 2019, Fig. 2 and Song & Ermon 2020, Fig. 1), and
//   the per-step estimates are stored as a trajectory (means over `log_every` steps). Then `replicates`
//   batches measure the trained critic at the last stage's MI.
// Every cell stores the estimates' mean, standard deviation, standard error and confidence interval beside
// the exact MI.
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "vibench/math/optimizer.hpp"
#include "vibench/math/stats.hpp"
#include "vibench/mi/mi.hpp"
#include "vibench/plugin/replicate_reduction.hpp"
#include "vibench/plugin/stop_request.hpp"
#include "vibench/plugin/study.hpp"
#include "vibench/plugin/work_counter.hpp"

namespace {

using namespace vibench;

std::unique_ptr<MiTask> build_task(const Config& config, std::optional<double> mi = std::nullopt) {
  if (!mi) return make_plugin<MiTask>(Params(config, "target."));
  Config c = config;
  c["target.mi"] = *mi;
  return make_plugin<MiTask>(Params(c, "target."));
}

std::unique_ptr<Critic> build_critic(const Config& config, const MiTask& task) {
  return make_plugin<Critic>(Params(config, "critic."), PluginContext{.dim = task.dim_x(), .dim_y = task.dim_y()});
}

struct BatchWorkspace {
  Matrix x, y, f;
  CriticWorkspace critic;
};

class MiEstimationStudy final : public Study {
 public:
  explicit MiEstimationStudy(const Params&) {}

  std::uint64_t work_units(const Config& cell) const override {
    Params p(cell, "");
    return static_cast<std::uint64_t>(p.get_int("replicates") + p.get_int("steps"));
  }
  const char* work_unit_name() const override { return "batches"; }

  MemoryEstimate memory_estimate(const Config& cell) const override {
    const double b = cell_size(cell, "batch_size", 2), d = cell_size(cell, "target.dim", 1);
    const double h = cell_size(cell, "critic.hidden_units", 1), layers = cell_size(cell, "critic.hidden_layers", 0) + 1;
    const double embed = cell_size(cell, "critic.embed_dim", 1);
    MemoryEstimate e;
    e.add("the task: dense dim x dim covariances", doubles(8 * d * d), "target.dim");
    // Per worker: x and y, the B x B score matrix and its gradient, and a critic's activations, which for a
    // concat critic are one row per (x, y) pair.
    e.add("score matrices and critic activations of every worker thread",
          worker_threads() * doubles(4 * b * b * (1 + h * layers) + 4 * b * (2 * d + embed)), b * b > h ? "batch_size" : "critic.hidden_units");
    e.add("critic parameters, gradient and Adam moments", doubles(4 * (2 * (d + 1) * h + layers * h * h + h * embed + h)),
          "critic.hidden_units");
    const double records = std::floor(cell_size(cell, "steps", 0) / cell_size(cell, "log_every", 1)) + 2;
    e.add("the stored trajectory", doubles(3 * records), "steps");
    return e;
  }

  std::optional<std::string> unsupported(const Config& cell) const override {
    auto task = build_task(cell);
    auto critic = build_critic(cell, *task);
    auto bound = make_plugin<Bound>(Params(cell, "bound."));
    const Params p(cell, "");
    if (bound->needs_decoder() && !critic->is_oracle())
      return fmt::format("bound '{}' needs a normalized decoder critic (the oracle)", p.get_string("bound.name"));
    if (critic->is_oracle() && p.get_int("steps") > 0)
      return std::string("the oracle critic is not trained: set steps to 0");
    if (!critic->is_oracle() && p.get_int("steps") == 0)
      return fmt::format("critic '{}' must be trained: set steps > 0", p.get_string("critic.name"));
    if (!p.get_doubles("mi_schedule").empty() && critic->is_oracle())
      return std::string("mi_schedule needs a trained critic (the oracle has no training steps)");
    return std::nullopt;
  }

  CellResult run(const CellContext& ctx) const override {
    const Params cell(ctx.config, "");
    const auto replicates = static_cast<std::size_t>(cell.get_int("replicates"));
    const auto batch = static_cast<std::size_t>(cell.get_int("batch_size"));
    const auto steps = static_cast<std::size_t>(cell.get_int("steps"));
    const auto log_every = static_cast<std::size_t>(cell.get_int("log_every"));
    const std::vector<double> schedule = cell.get_doubles("mi_schedule");
    const double z = normal_critical_value(cell.get_double("confidence"));
    const auto bound = make_plugin<Bound>(Params(ctx.config, "bound."));
    const double nan = std::numeric_limits<double>::quiet_NaN();

    std::unique_ptr<MiTask> task = build_task(ctx.config, schedule.empty() ? std::nullopt : std::optional(schedule.back()));
    const auto critic = build_critic(ctx.config, *task);
    const double shift = critic->is_oracle() ? bound->optimal_shift() : 0.0;
    std::vector<double> params(critic->num_params());
    CellResult r;

    if (steps > 0) {  // train the critic
      Rng init_rng(ctx.seed, ctx.cell_key, 0, streams::init);
      critic->init(params.data(), init_rng);
      Adam adam(params.size(), cell.get_double("learning_rate"));
      std::vector<double> grad(params.size()), state, rec_step, rec_estimate, rec_truth;
      BatchWorkspace ws;
      Matrix df;
      Moments window;
      const std::size_t stages = std::max<std::size_t>(schedule.size(), 1);
      double diverged_at = -1;
      for (std::size_t stage = 0; stage < stages && diverged_at < 0; ++stage) {
        const auto stage_task = schedule.empty() ? build_task(ctx.config) : build_task(ctx.config, schedule[stage]);
        const std::size_t first = stage * steps / stages, last = (stage + 1) * steps / stages;
        for (std::size_t step = first; step < last; ++step) {
          throw_if_stop_requested();  // critic training is not checkpointed: a stop abandons the cell
          Rng rng(ctx.seed, ctx.cell_key, step, streams::training);
          stage_task->sample(rng, batch, ws.x, ws.y);
          critic->scores(*stage_task, ws.x, ws.y, params.data(), 0.0, ws.f, ws.critic);
          df.resize(batch, batch);
          const double value = bound->value_and_grad(ws.f, df, state);
          if (!std::isfinite(value)) {
            diverged_at = static_cast<double>(step);
            break;
          }
          std::fill(grad.begin(), grad.end(), 0.0);
          critic->backward(params.data(), df, ws.critic, grad.data());
          adam.step(params.data(), grad.data(), /*ascend=*/true);
          window.add(value);
          count_work(1);
          if ((step + 1) % log_every == 0 || step + 1 == last) {
            rec_step.push_back(static_cast<double>(step + 1));
            rec_estimate.push_back(window.mean());
            rec_truth.push_back(stage_task->exact_mi());
            window = Moments{};
          }
        }
      }
      r.add("trajectory_step", rec_step);
      r.add("trajectory_estimate", rec_estimate);
      r.add("trajectory_mi_true", rec_truth);
      r.add_scalar("diverged_at_step", diverged_at);
      if (diverged_at >= 0) {
        r.status = "diverged";
        r.reason = fmt::format("the bound's value is not finite at training step {}", static_cast<std::size_t>(diverged_at));
        count_work(steps - static_cast<std::size_t>(diverged_at) + replicates);
        r.add_scalar("mi_true", task->exact_mi());
        return r;
      }
    }

    ReplicateMoments m = reduce_replicates<BatchWorkspace>(
        ctx.seed, ctx.cell_key, replicates, 1, [&](BatchWorkspace& ws, Rng& rng, double* out) {
          task->sample(rng, batch, ws.x, ws.y);
          critic->scores(*task, ws.x, ws.y, params.data(), shift, ws.f, ws.critic);
          out[0] = bound->value(ws.f);
        });
    const Moments& est = m.values[0];
    const double truth = task->exact_mi(), sd = std::sqrt(est.variance());
    const double se = sd / std::sqrt(static_cast<double>(replicates));
    r.add_scalar("mi_true", truth);
    r.add_scalar("mi_estimate_mean", est.mean());
    r.add_scalar("mi_estimate_std", sd);
    r.add_scalar("mi_estimate_se", se);
    r.add_scalar("mi_estimate_var", est.variance());
    r.add_scalar("mi_estimate_var_se", est.variance_standard_error());  // from the fourth moment
    r.add_scalar("mi_ci_low", est.mean() - z * se);
    r.add_scalar("mi_ci_high", est.mean() + z * se);
    r.add_scalar("bias", est.mean() - truth);
    r.add_scalar("bias_z", se > 0 ? (est.mean() - truth) / se : nan);
    r.add_scalar("mse", (est.mean() - truth) * (est.mean() - truth) + est.variance());
    r.add_scalar("batch_ceiling", bound->ceiling(batch));  // +inf when the bound has none
    r.timings.emplace_back("ns_per_batch", 1e9 * m.thread_seconds / static_cast<double>(replicates));
    if (!std::isfinite(est.mean()) || !std::isfinite(sd)) {
      r.status = "diverged";
      r.reason = "an evaluation batch's estimate is not finite";
    }
    return r;
  }
};

const Register<Study, MiEstimationStudy> registration{{
    .name = "mi_estimation",
    .description = "bias and variance of a mutual-information bound on a task with closed-form MI; trains critics",
    .reference = "Poole et al. 2019; Song & Ermon 2020",
    .params = {ParamSpec::plugin("target", "mi_task", std::nullopt, "the joint p(x, y) with exact I(X;Y)"),
               ParamSpec::plugin("critic", "critic", std::string("oracle"), "the critic f(x, y)"),
               ParamSpec::plugin("bound", "bound", std::nullopt, "the MI bound computed from the score matrix"),
               ParamSpec::integer("batch_size", 64, "B, joint draws per batch (B(B-1) product pairs)").at_least(2),
               ParamSpec::integer("replicates", 500, "independent evaluation batches").at_least(2),
               ParamSpec::integer("steps", 0, "Adam steps training the critic (0 for the oracle)").at_least(0),
               ParamSpec::real("learning_rate", 5e-4, "Adam learning rate of the critic").positive(),
               ParamSpec::integer("log_every", 100, "training steps averaged into one trajectory point").at_least(1),
               ParamSpec::integer("repeat", 0, "repetition index: changes only the cell's random streams").at_least(0),
               ParamSpec::reals("mi_schedule", "true MI of each equal-length training stage (staircase); empty: target.mi"),
               ParamSpec::real("confidence", 0.95, "level of the stored confidence intervals").positive().at_most(0.999999)},
}};

}  // namespace
