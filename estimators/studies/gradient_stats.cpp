// study `gradient_stats`: at a fixed φ, draw `replicates` independent gradient estimates (each from
// `samples` samples) and store per-parameter (φ, then the target's model parameters θ) mean, variance,
// standard errors, confidence intervals,
// SNR = |mean|/std, and bias against the exact gradient where the objective has a closed form, else (K = 1)
// against a reference gradient from reference_factor × the replicates of an unbiased estimator (see
// gradient_stats.hpp). Also the cost of one estimate in log-joint evaluations (counted, see counting_target.hpp).
#include <cmath>
#include <limits>
#include <optional>

#include <fmt/format.h>


#include "vibench/plugin/cell_plugins.hpp"
#include "vibench/plugin/gradient_stats.hpp"
#include "vibench/plugin/study.hpp"

namespace {

using namespace vibench;

// Whether a cell's bias needs the reference gradient: no closed-form gradient, K = 1 (a K-sample reference
// would cost 100 × K draws per estimate: snr_vs_k's K = 1000 cells), and some unbiased estimator applies.
bool needs_reference(const Target& t, const Family& q, const Objective& o, const std::vector<double>& phi) {
  return o.num_importance_samples() == 1 && !o.exact_gradient(t, q, phi.data()) &&
         reference_estimator(t, q, o).estimator != nullptr;
}

class GradientStatsStudy final : public Study {
 public:
  explicit GradientStatsStudy(const Params&) {}

  std::uint64_t work_units(const Config& cell) const override {
    const auto replicates = static_cast<std::uint64_t>(Params(cell, "").get_int("replicates"));
    bool reference = false;
    try {  // progress only: a cell that cannot be built is reported by unsupported()/run()
      CellPlugins p = build_cell_plugins(cell);
      const std::vector<double> phi = p.family->init();
      reference = needs_reference(*p.target, *p.family, *p.objective, phi);
    } catch (const std::exception&) {
    }
    return replicates * (reference ? 1 + reference_factor : 1);
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
    // Without a closed form (and K = 1): an unbiased reference from reference_factor × the replicates, on its
    // own stream; the bias's standard error then combines both, sqrt(se² + se_ref²).
    std::optional<GradientStats> ref;
    std::string ref_name, ref_reason;
    if (!exact && p.objective->num_importance_samples() == 1) {
      ReferenceEstimator re = reference_estimator(*p.target, *p.family, *p.objective);
      ref_name = re.name;
      ref_reason = re.reason;
      if (re.estimator)
        ref = gradient_statistics(*p.target, *p.family, *p.objective, *re.estimator, phi, ctx.seed, ctx.cell_key,
                                  reference_factor * replicates, samples, streams::reference);
    }
    std::vector<double> ref_mean(ref ? n : 0), ref_se(ref ? n : 0);
    for (std::size_t i = 0; ref && i < n; ++i) {
      ref_mean[i] = ref->grad[i].mean();
      ref_se[i] = ref->grad[i].standard_error();
    }
    std::vector<double> mean(n), var(n), var_se(n), se(n), lo(n), hi(n), snr(n), bias(n, nan), bias_z(n, nan);
    double max_abs_bias_z = exact || ref ? 0.0 : nan;
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
      } else if (ref) {
        bias[i] = mean[i] - ref_mean[i];
        const double combined = std::sqrt(se[i] * se[i] + ref_se[i] * ref_se[i]);
        const double bias_se = bias_standard_error(combined, mean[i], var[i], ref_mean[i], replicates);
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
    } else if (ref) {
      r.add("reference_grad", ref_mean);
      r.add("reference_grad_se", ref_se);
      r.add_strings("reference_estimator", {ref_name});
      r.add_scalar("reference_replicates", static_cast<double>(ref->replicates));
      r.add_scalar("reference_samples", static_cast<double>(samples));
      r.add_scalar("reference_factor", static_cast<double>(reference_factor));
      r.add("grad_bias", bias);
      r.add("grad_bias_z", bias_z);
    } else if (!ref_reason.empty()) {
      r.add_strings("reference_unavailable", {ref_reason});
    }
    // Cost of one estimate, next to its variance (Mohamed et al. 2020 compare variance × cost): log-joint
    // evaluations (a value with its gradient counts 1), of them with ∇_z, and Hessians; exact counts, mean
    // over the replicates (constant for every estimator so far). Time per estimate is the attribute below.
    r.add_scalar("cost_log_joint_evals", stats.log_joint_evals.mean());
    r.add_scalar("cost_grad_log_joint_evals", stats.grad_log_joint_evals.mean());
    r.add_scalar("cost_hessian_evals", stats.hessian_evals.mean());
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
