// study `gradient_stats`: at a fixed φ, draw `replicates` independent gradient estimates (each from
// `samples` samples) and store per-parameter (φ, then the target's model parameters θ) mean, variance,
// standard errors, confidence intervals,
// SNR = |mean|/std, and bias against the exact gradient where the objective has a closed form.
#include <cmath>
#include <limits>

#include <fmt/format.h>


#include "vibench/cell_plugins.hpp"
#include "vibench/gradient_stats.hpp"
#include "vibench/study.hpp"

namespace {

using namespace vibench;

class GradientStatsStudy final : public Study {
 public:
  explicit GradientStatsStudy(const Params&) {}

  std::uint64_t work_units(const Config& cell) const override {
    return static_cast<std::uint64_t>(Params(cell, "").get_int("replicates"));
  }
  const char* work_unit_name() const override { return "replicates"; }

  MemoryEstimate memory_estimate(const Config& cell) const override { return estimator_cell_memory(cell); }

  std::optional<std::string> unsupported(const Config& cell) const override {
    return estimator_cell_unsupported(cell);
  }

  CellResult run(const CellContext& ctx) const override {
    CellPlugins p = build_cell_plugins(ctx.config);
    Params cell(ctx.config, "");
    std::vector<double> phi = evaluation_point(Params(ctx.config, "point."), *p.target, *p.family, ctx.seed, ctx.cell_key);
    const auto replicates = static_cast<std::size_t>(cell.get_int("replicates"));
    const auto samples = static_cast<std::size_t>(cell.get_int("samples"));
    const double z = normal_critical_value(cell.get_double("confidence"));

    GradientStats stats = gradient_statistics(*p.target, *p.family, *p.objective, *p.estimator, phi, ctx.seed,
                                              ctx.cell_key, replicates, samples);
    auto exact = p.objective->exact_gradient(*p.target, *p.family, phi.data());
    const std::size_t n = stats.grad.size();  // φ, then the target's θ
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> mean(n), var(n), var_se(n), se(n), lo(n), hi(n), snr(n), bias(n, nan), bias_z(n, nan);
    double max_abs_bias_z = exact ? 0.0 : nan;
    for (std::size_t i = 0; i < n; ++i) {
      const Moments& m = stats.grad[i];
      mean[i] = m.mean();
      var[i] = m.variance();
      var_se[i] = m.variance_standard_error();
      se[i] = m.standard_error();
      lo[i] = mean[i] - z * se[i];
      hi[i] = mean[i] + z * se[i];
      snr[i] = var[i] > 0 ? std::abs(mean[i]) / std::sqrt(var[i]) : nan;
      if (exact) {
        bias[i] = mean[i] - (*exact)[i];
        // se floored at round-off (see bias_standard_error), so zero-variance estimators do not score as biased
        const double bias_se = bias_standard_error(se[i], mean[i], var[i], (*exact)[i], replicates);
        bias_z[i] = bias_se > 0 ? bias[i] / bias_se : (bias[i] == 0 ? 0.0 : nan);
        max_abs_bias_z = std::max(max_abs_bias_z, std::abs(bias_z[i]));
      }
    }
    CellResult r;
    std::vector<std::string> names = p.family->param_names();
    for (const auto& m : p.target->model_param_names()) names.push_back(m);
    r.add_strings("param_names", names);
    r.add("phi", phi);
    if (p.target->num_model_params() > 0) r.add("theta", p.target->model_params());
    if (auto x = p.target->observation()) r.add("observation", *x);  // the x an amortized q(z | x) reads
    r.add("grad_mean", mean);
    r.add("grad_var", var);
    r.add("grad_var_se", var_se);
    r.add("grad_se", se);
    r.add("grad_ci_low", lo);
    r.add("grad_ci_high", hi);
    r.add("grad_snr", snr);
    if (exact) {
      r.add("exact_grad", *exact);
      r.add("grad_bias", bias);
      r.add("grad_bias_z", bias_z);
    }
    r.add_scalar("max_abs_bias_z", max_abs_bias_z);
    r.add_scalar("objective_mean", stats.objective.mean());
    r.add_scalar("objective_se", stats.objective.standard_error());
    if (auto v = p.objective->exact_value(*p.target, *p.family, phi.data())) r.add_scalar("exact_objective", *v);
    if (auto lz = p.target->log_evidence()) r.add_scalar("exact_log_evidence", *lz);
    r.timings.emplace_back("ns_per_estimate", 1e9 * stats.thread_seconds / static_cast<double>(replicates));
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isfinite(mean[i]) || !std::isfinite(var[i])) {
        r.status = "diverged";
        r.reason = fmt::format("non-finite gradient estimates (first in parameter {})", i < names.size() ? names[i] : std::to_string(i));
        break;
      }
    if (r.status == "ok" && !std::isfinite(stats.objective.mean())) {
      r.status = "diverged";
      r.reason = "non-finite objective estimates";
    }
    return r;
  }
};

const Register<Study, GradientStatsStudy> registration{{
    .name = "gradient_stats",
    .description = "mean, variance, CI, SNR and bias of repeated gradient estimates at a fixed phi",
    .params = {ParamSpec::plugin("target", "target", std::nullopt, "the model p(x, z)"),
               ParamSpec::plugin("family", "family", std::string("gaussian_diag"), "the variational family q_phi"),
               ParamSpec::plugin("objective", "objective", std::string("elbo"), "what is differentiated"),
               ParamSpec::plugin("estimator", "estimator", std::nullopt, "the gradient estimator"),
               point_param(),
               ParamSpec::integer("samples", 1, "samples S per gradient estimate").at_least(1),
               ParamSpec::integer("replicates", 1000, "independent gradient estimates").at_least(2),
               ParamSpec::real("confidence", 0.95, "level of the stored confidence intervals").positive().at_most(0.999999)},
}};

}  // namespace
