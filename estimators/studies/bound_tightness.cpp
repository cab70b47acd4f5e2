// study `bound_tightness`: at a fixed φ, draw `replicates` independent K-sample estimates L̂_K of the
// objective (objective.hpp) and store their mean, variance, standard error and confidence interval,
// beside the exact log p(x), the exact E[L̂_K] (K = 1) and the K → ∞ limit L_γ = (1/γ) log E_q[w^γ] where
// closed forms exist, and the asymptotic gap L_γ − E[L̂_K] ≈ Var_q[w^γ] / (2γK·E_q[w^γ]²) (delta method;
// for IWAE (γ = 1) this is the log p(x) − IWAE-K expansion of Maddison et al. 2017, Prop. 1, and
// Domke & Sheldon 2018, Thm. 3).
#include <cmath>
#include <limits>

#include "vibench/plugin/cell_plugins.hpp"
#include "vibench/plugin/replicate_reduction.hpp"
#include "vibench/plugin/study.hpp"

namespace {

using namespace vibench;

// One chunk's draws and their log-weights.
struct BoundScratch {
  Matrix eps, z;
  std::vector<double> log_w, w_tilde;
  LogWeightScratch log_weights;
};

class BoundTightnessStudy final : public Study {
 public:
  explicit BoundTightnessStudy(const Params&) {}

  std::uint64_t work_units(const Config& cell) const override {
    return static_cast<std::uint64_t>(Params(cell, "").get_int("replicates"));
  }
  const char* work_unit_name() const override { return "replicates"; }

  MemoryEstimate memory_estimate(const Config& cell) const override { return estimator_cell_memory(cell); }

  std::optional<std::string> unsupported(const Config& cell) const override {
    CellPlugins p = build_cell_plugins(cell);
    if (auto why = unmet_plugin_needs(p, cell)) return why;
    evaluation_point(Params(cell, "point."), *p.target, *p.family, 0, 0);  // throws if φ cannot be built
    return std::nullopt;
  }

  CellResult run(const CellContext& ctx) const override {
    CellPlugins p = build_cell_plugins(ctx.config);
    Params cell(ctx.config, "");
    const std::vector<double> phi =
        evaluation_point(Params(ctx.config, "point."), *p.target, *p.family, ctx.seed, ctx.cell_key);
    const auto replicates = static_cast<std::size_t>(cell.get_int("replicates"));
    const Family& q = *p.family;
    const Target& t = *p.target;
    const Objective& o = *p.objective;
    const Member qphi = q.at(phi.data());  // read by every replicate
    const std::size_t k = o.num_importance_samples();
    const double c = o.log_q_coefficient(), gamma = o.weight_exponent();
    PriorCache prior;
    const auto term = o.analytic_term(t, q, phi.data(), prior);
    const double analytic = term ? term->value : 0.0;

    ReplicateMoments m = reduce_replicates<BoundScratch>(
        ctx.seed, ctx.cell_key, replicates, 1, [&](BoundScratch& ws, Rng& rng, double* out) {
          q.sample(qphi, rng, k, ws.eps, ws.z);
          ws.log_w.resize(k);
          ws.w_tilde.resize(k);
          o.log_weights(t, q, qphi, ws.z, ws.log_weights, ws.log_w.data(), nullptr);
          out[0] = log_mean_exp_weights(ws.log_w.data(), k, gamma, ws.w_tilde.data()) + analytic;
        });
    const Moments& b = m.values[0];
    const double z = normal_critical_value(cell.get_double("confidence"));

    CellResult r;
    r.add_strings("param_names", q.param_names());
    r.add("phi", phi);
    r.add_scalar("importance_samples", static_cast<double>(k));
    r.add_scalar("weight_exponent", gamma);
    r.add_scalar("bound_mean", b.mean());
    r.add_scalar("bound_se", b.standard_error());
    r.add_scalar("bound_var", b.variance());
    r.add_scalar("bound_ci_low", b.mean() - z * b.standard_error());
    r.add_scalar("bound_ci_high", b.mean() + z * b.standard_error());
    if (auto lz = t.log_evidence()) {
      r.add_scalar("exact_log_evidence", *lz);
      r.add_scalar("evidence_gap", *lz - b.mean());  // log p(x) − E[L̂_K]; its standard error is bound_se
    }
    if (auto v = o.exact_value(t, q, phi.data())) r.add_scalar("exact_bound", *v);
    if (auto lim = o.limit_value(t, q, phi.data())) {
      r.add_scalar("limit_bound", *lim);
      r.add_scalar("limit_gap", *lim - b.mean());
    }
    if (c != 0.0 && gamma != 0.0) {
      auto m1 = gaussian_log_weight_moment(t, q, phi.data(), gamma);
      auto m2 = gaussian_log_weight_moment(t, q, phi.data(), 2 * gamma);
      // Var[w^γ]/E[w^γ]² = E[w^{2γ}]/E[w^γ]² − 1; absent (not stored) when E[w^{2γ}] is infinite.
      if (m1 && m2)
        r.add_scalar("asymptotic_limit_gap", std::expm1(*m2 - 2 * *m1) / (2 * gamma * static_cast<double>(k)));
    }
    r.timings.emplace_back("ns_per_estimate", 1e9 * m.thread_seconds / static_cast<double>(replicates));
    return r;
  }
};

const Register<Study, BoundTightnessStudy> registration{{
    .name = "bound_tightness",
    .description = "value of a (K-sample) bound at a fixed phi against exact log p(x) and its K -> infinity limit",
    .reference = "Burda et al. 2016; Maddison et al. 2017 Prop. 1; Domke & Sheldon 2018",
    .params = {ParamSpec::plugin("target", "target", std::nullopt, "the model p(x, z)"),
               ParamSpec::plugin("family", "family", std::string("gaussian_diag"), "the variational family q_phi"),
               ParamSpec::plugin("objective", "objective", std::string("iwae"), "the bound whose K-sample estimate is drawn"),
               point_param(),
               ParamSpec::integer("replicates", 10000, "independent K-sample estimates").at_least(2),
               ParamSpec::real("confidence", 0.95, "level of the stored confidence intervals").positive().at_most(0.999999)},
}};

}  // namespace
