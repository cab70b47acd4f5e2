#pragma once
// Enumerating registered plugins with every combination of their choice parameters, so the
// conformance suite covers a new plugin (and a new parameterization) the moment it is registered.
#include <string>
#include <vector>

#include "helpers.hpp"
#include "vibench/plugin/cell_plugins.hpp"
#include "vibench/plugin/gradient_stats.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/family.hpp"

namespace vibench::test {

// All configs of plugin `info` under `slot`, one per combination of its Choice and Boolean parameters and of
// every registered plugin (with its own variants) in a nested plugin parameter (score_function's control_variate).
inline std::vector<Config> choice_variants(const std::string& slot, const PluginInfo& info,
                                           const std::map<std::string, Value>& overrides = {}) {
  std::vector<Config> out{plugin_config(slot, info.kind, info.name, overrides)};
  for (const ParamSpec& p : info.params) {
    if (p.type == ParamType::Plugin && !overrides.count(p.name + ".name")) {
      const std::string nested = slot + "." + p.name;
      std::vector<Config> next;
      for (const Config& c : out)
        for (const PluginInfo* ni : Registry::instance().list(p.plugin_kind))
          for (const Config& nc : choice_variants(nested, *ni)) {
            Config v = c;
            std::erase_if(v, [&](const auto& kv) { return kv.first.rfind(nested + ".", 0) == 0; });
            v.insert(nc.begin(), nc.end());
            next.push_back(v);
          }
      out = next;
      continue;
    }
    if ((p.type != ParamType::Choice && p.type != ParamType::Bool) || overrides.count(p.name)) continue;
    std::vector<Config> next;
    for (const Config& c : out) {
      if (p.type == ParamType::Bool)
        for (bool b : {false, true}) {
          Config v = c;
          v[slot + "." + p.name] = b;
          next.push_back(v);
        }
      for (const std::string& choice : p.choices) {
        Config v = c;
        v[slot + "." + p.name] = choice;
        next.push_back(v);
      }
    }
    out = next;
  }
  return out;
}

// score_function with control variate `name` (its parameters at their defaults).
inline Config score_function_config(const std::string& control_variate) {
  return merge({plugin_config("estimator.control_variate", "control_variate", control_variate),
                plugin_config("estimator", "estimator", "score_function")});  // merge keeps the first value of a key
}

inline std::string describe(const Config& c) {
  std::string s;
  for (const auto& [k, v] : c) s += k + "=" + canonical_text(v) + " ";
  return s;
}

// Central finite difference of f at x along coordinate i.
template <class F>
double central_difference(F&& f, std::vector<double> x, std::size_t i, double h = 1e-5) {
  const double x0 = x[i];
  x[i] = x0 + h;
  const double up = f(x);
  x[i] = x0 - h;
  const double down = f(x);
  return (up - down) / (2 * h);
}

// |analytic − fd| within 1e-6·(1 + |analytic|): central differences with h = 1e-5 are accurate to
// O(h²·f''') ≈ 1e-10 plus round-off ≈ 1e-16·|f|/h ≈ 1e-11·|f| for the smooth functions here.
inline bool fd_close(double analytic, double fd) { return std::abs(analytic - fd) <= 1e-6 * (1 + std::abs(analytic)); }

// φ away from any optimum, built from a fixed Gaussian: correlated (0.3) where the family can
// represent it, else the diagonal one.
inline std::vector<double> off_optimum_point(const Family& q) {
  const std::size_t d = q.dim();
  std::vector<double> mean(d);
  Matrix cov(d, d);
  for (std::size_t i = 0; i < d; ++i) {
    mean[i] = 0.5 - 0.4 * static_cast<double>(i);
    cov(i, i) = std::pow(0.6 + 0.3 * static_cast<double>(i), 2);
  }
  Matrix correlated = cov;
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j)
      if (i != j) correlated(i, j) = 0.3 * std::sqrt(cov(i, i) * cov(j, j));
  if (auto phi = q.from_gaussian(mean, correlated, nullptr)) return *phi;
  auto phi = q.from_gaussian(mean, cov, nullptr);
  return phi ? *phi : q.init();
}

// The cell's plugins, or nothing when the combination is unsupported (the runner would skip the cell).
inline std::optional<CellPlugins> try_build(const Config& cell) {
  try {
    return build_cell_plugins(cell);
  } catch (const Unsupported&) {
    return std::nullopt;
  }
}


// Names of every estimated parameter of a cell: φ, then the target's model parameters θ.
inline std::vector<std::string> all_param_names(const CellPlugins& p) {
  std::vector<std::string> n = p.family->param_names();
  for (const auto& m : p.target->model_param_names()) n.push_back(m);
  return n;
}

// x = (φ, θ) as one vector; f(phi pointer) evaluated with the target's θ set from x, θ restored after.
inline std::vector<double> joint_point(const CellPlugins& p, const std::vector<double>& phi) {
  std::vector<double> x = phi, theta = p.target->model_params();
  x.insert(x.end(), theta.begin(), theta.end());
  return x;
}
template <class F>
double at_joint(CellPlugins& p, const std::vector<double>& x, F&& f) {
  const std::size_t n_phi = p.family->num_params();
  const std::vector<double> saved = p.target->model_params();
  if (!saved.empty()) p.target->set_model_params(x.data() + n_phi);
  const double v = f(x.data());
  if (!saved.empty()) p.target->set_model_params(saved.data());
  return v;
}

// The targets of the conformance sweep (every estimator × family variant × objective variant on each).
inline std::vector<Config> sweep_targets() {
  return {plugin_config("target", "target", "quadratic", {{"dim", std::int64_t{2}}, {"k", 0.7}}),
          plugin_config("target", "target", "linear_gaussian",
                        {{"dim", std::int64_t{3}}, {"data_seed", std::int64_t{4}}, {"prior_mean", std::vector<double>{0.3, -0.2, 0.1}}}),
          plugin_config("target", "target", "bernoulli_toy", {{"dim", std::int64_t{2}}})};
}

// One combination of the sweep: the merged config and each slot's plugin variant.
struct SweepCell {
  Config config, target, family, objective, estimator;
  const PluginInfo *family_info, *objective_info, *estimator_info;
};

// Calls f(const SweepCell&, CellPlugins&) for every combination of the conformance sweep that the runner would
// run (builds and is supported by objective and estimator), in a fixed order.
template <class F>
void for_each_sweep_cell(F&& f) {
  for (const Config& tc : sweep_targets())
    for (const PluginInfo* fi : Registry::instance().list("family"))
      for (const Config& fc : choice_variants("family", *fi))
        for (const PluginInfo* oi : Registry::instance().list("objective"))
          for (const Config& oc : choice_variants("objective", *oi))
            for (const PluginInfo* ei : Registry::instance().list("estimator"))
              for (const Config& ec : choice_variants("estimator", *ei)) {
                SweepCell c{merge({tc, fc, oc, ec}), tc, fc, oc, ec, fi, oi, ei};
                auto built = try_build(c.config);
                if (!built || !plugins_run(*built)) continue;  // unsupported combination: skipped by the runner
                f(c, *built);
              }
}

// A plugin variant's name with its Choice and Boolean parameters and nested plugins, e.g. "mvd{coupling=true}",
// "score_function{control_variate=delta_method}": what
// choice_variants enumerates, so it names one variant of the sweep.
inline std::string variant_label(const std::string& slot, const Config& c, const PluginInfo& info) {
  std::string s = info.name, sep = "{";
  for (const ParamSpec& p : info.params)
    if (p.type == ParamType::Choice || p.type == ParamType::Bool) {
      s += sep + p.name + "=" + canonical_text(c.at(slot + "." + p.name));
      sep = ";";
    } else if (p.type == ParamType::Plugin) {
      const std::string nested = slot + "." + p.name;
      const PluginInfo* ni = Registry::instance().find(p.plugin_kind, std::get<std::string>(c.at(nested + ".name")));
      s += sep + p.name + "=" + variant_label(nested, c, *ni);
      sep = ";";
    }
  return sep == "{" ? s : s + "}";
}

// Every registered estimator variant (except `skip`) that runs on `base` and claims unbiasedness is checked
// against a reference gradient (φ, then θ): `replicates` estimates of max(min_samples, estimator's minimum)
// samples from cell key `key`, and per component |mean − ref| ≤ z·√(se² + ref_se²) + 1e-12 (round-off floor
// for zero-variance estimators), z = Φ⁻¹(1 − 1e-4/(2P)) (Bonferroni: family-wise false alarm ≤ 1e-4).
// ref_se = 0 for an exact reference. Returns how many estimators were checked.
inline std::size_t check_unbiased_estimators(const Config& base, const std::vector<double>& phi,
                                             const std::vector<double>& ref, const std::vector<double>& ref_se,
                                             std::size_t replicates, std::uint64_t key, std::size_t min_samples,
                                             const std::string& skip = "") {
  std::size_t checked = 0;
  for (const PluginInfo* ei : Registry::instance().list("estimator")) {
    if (ei->name == skip) continue;
    for (const Config& ec : choice_variants("estimator", *ei)) {
      Config cell = merge({base, ec});
      INFO(describe(cell));
      auto built = try_build(cell);
      if (!built) continue;
      CellPlugins& p = *built;
      if (!plugins_run(p) || !p.estimator->unbiased_for(*p.objective))
        continue;
      GradientStats s = gradient_statistics(*p.target, *p.family, *p.objective, *p.estimator, phi, 5, key, replicates,
                                            std::max(min_samples, p.estimator->min_samples()));
      REQUIRE(s.grad.size() == ref.size());
      const double z = normal_critical_value(1 - 1e-4 / static_cast<double>(ref.size()));
      for (std::size_t i = 0; i < ref.size(); ++i) {
        const double se = std::hypot(s.grad[i].standard_error(), ref_se[i]);
        INFO("param " << all_param_names(p)[i] << ": mean " << s.grad[i].mean() << " reference " << ref[i] << " se " << se);
        CHECK(std::abs(s.grad[i].mean() - ref[i]) <= z * se + 1e-12 * (1 + std::abs(ref[i])));
      }
      ++checked;
    }
  }
  return checked;
}

}  // namespace vibench::test
