#include "vibench/plugin/gradient_stats.hpp"
#include "vibench/plugin/registry.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "vibench/vi/counting_target.hpp"

namespace vibench {

namespace {

// One chunk's scratch: the estimator's own scratch and a counting view of the target (both built on the
// chunk's first replicate), so neither is shared between threads.
struct CountingWorkspace {
  std::unique_ptr<EstimatorScratch> scratch;
  std::optional<CountingTarget> target;
};

}  // namespace

GradientStats gradient_statistics(const Target& t, const Family& q, const Objective& o, const Estimator& e,
                                  const std::vector<double>& phi, std::uint64_t seed, std::uint64_t cell_key,
                                  std::size_t replicates, std::size_t samples, std::uint64_t stream) {
  if (samples < e.min_samples())
    throw std::invalid_argument("this estimator needs samples >= " + std::to_string(e.min_samples()));
  const std::size_t p = q.num_params() + t.num_model_params();
  // Values per replicate: the P + T gradient components (φ, then θ), the objective estimate, then the
  // estimate's cost (log-joint rows, of them with ∇_z, Hessians). Each column has its own moments, so the
  // cost columns leave the others' bits unchanged.
  ReplicateMoments m = reduce_replicates<CountingWorkspace>(
      seed, cell_key, replicates, p + 4,
      [&](CountingWorkspace& st, Rng& rng, double* out) {
        if (!st.target) {
          st.target.emplace(t);
          st.scratch = e.make_scratch();
        }
        const CountingTarget& ct = *st.target;
        const std::uint64_t lj = ct.log_joint_evals(), gr = ct.grad_log_joint_evals(), he = ct.hessian_evals();
        st.scratch->reset_state();  // replicates are independent
        out[p] = e.estimate(ct, q, o, phi.data(), rng, samples, *st.scratch, out);
        out[p + 1] = static_cast<double>(ct.log_joint_evals() - lj);
        out[p + 2] = static_cast<double>(ct.grad_log_joint_evals() - gr);
        out[p + 3] = static_cast<double>(ct.hessian_evals() - he);
      },
      stream);
  GradientStats s;
  s.grad.assign(m.values.begin(), m.values.begin() + static_cast<long>(p));
  s.objective = m.values[p];
  s.log_joint_evals = m.values[p + 1];
  s.grad_log_joint_evals = m.values[p + 2];
  s.hessian_evals = m.values[p + 3];
  s.thread_seconds = m.thread_seconds;
  s.replicates = m.replicates;
  return s;
}

namespace {
// Every parameter of a plugin at its default, nested plugins (and their parameters) included.
void add_defaults(const std::vector<ParamSpec>& specs, const std::string& prefix, Config& config) {
  for (const ParamSpec& spec : specs) {
    const std::string key = prefix + spec.name;
    if (spec.type == ParamType::Group) {
      add_defaults(spec.fields, key + ".", config);
    } else if (spec.type == ParamType::Plugin) {
      if (!spec.default_value) throw std::logic_error("reference estimator parameter '" + key + "' has no default");
      const std::string& nested = std::get<std::string>(*spec.default_value);
      config[key + ".name"] = nested;
      if (const PluginInfo* info = Registry::instance().find(spec.plugin_kind, nested))
        add_defaults(info->params, key + ".", config);
    } else if (spec.default_value && !spec.absent_unless_given) {
      config[key] = *spec.default_value;
    }
  }
}
}  // namespace

ReferenceEstimator reference_estimator(const Target& t, const Family& q, const Objective& o) {
  std::string why;
  for (const char* name : {"reparam", "score_function"}) {
    const PluginInfo* info = Registry::instance().find(Estimator::kind, name);
    if (!info) throw std::logic_error(std::string("reference estimator '") + name + "' is not registered");
    Config config{{"name", std::string(name)}};
    add_defaults(info->params, "", config);  // plain: control variate `none`
    std::unique_ptr<Estimator> e = make_plugin<Estimator>(Params(config, ""));
    std::optional<std::string> no = unmet_needs(name, e->needs(), t, q, o);
    if (!no && !e->unbiased_for(o)) no = std::string(name) + " is biased for this objective";
    if (!no) return {name, std::move(e), ""};
    why += (why.empty() ? "" : "; ") + *no;
  }
  return {"", nullptr, why};
}

double bias_standard_error(double se, double mean, double variance, double exact, std::size_t replicates) {
  constexpr double u = std::numeric_limits<double>::epsilon() / 2;  // unit round-off, 2^-53
  const double rms = std::sqrt(mean * mean + variance);
  const double floor = u * ((1 + std::sqrt(static_cast<double>(replicates) / 3)) * rms + std::abs(exact));
  return std::max(se, floor);
}

}  // namespace vibench
