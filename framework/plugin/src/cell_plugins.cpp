#include "vibench/plugin/cell_plugins.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "vibench/plugin/replicate_reduction.hpp"

namespace vibench {

CellPlugins build_cell_plugins(const Config& cell) {
  CellPlugins p;
  p.target = make_plugin<Target>(Params(cell, "target."));
  PluginContext ctx{.dim = p.target->dim(), .target = p.target.get()};
  p.family = make_plugin<Family>(Params(cell, "family."), ctx);
  if (cell.count("objective.name")) p.objective = make_plugin<Objective>(Params(cell, "objective."), ctx);
  if (cell.count("estimator.name")) p.estimator = make_plugin<Estimator>(Params(cell, "estimator."), ctx);
  return p;
}

std::optional<std::string> unmet_plugin_needs(const CellPlugins& p, const Config& cell) {
  auto name = [&](const std::string& key) {
    const auto it = cell.find(key);
    return it == cell.end() ? std::string() : std::get<std::string>(it->second);
  };
  if (p.objective)
    if (auto why = unmet_needs(name("objective.name"), p.objective->needs(), *p.target, *p.family)) return why;
  if (!p.estimator || !p.objective) return std::nullopt;
  std::string who = name("estimator.name");
  if (const std::string cv = name("estimator.control_variate.name"); !cv.empty() && cv != "none")
    who += " with the control variate " + cv;
  return unmet_needs(who, p.estimator->needs(), *p.target, *p.family, *p.objective);
}

bool plugins_run(const CellPlugins& p) { return p.objective && p.estimator && !unmet_plugin_needs(p, Config{}); }

std::optional<std::string> estimator_cell_unsupported(const Config& cell) {
  CellPlugins p = build_cell_plugins(cell);
  if (auto why = unmet_plugin_needs(p, cell)) return why;
  const auto samples = static_cast<std::size_t>(Params(cell, "").get_int("samples"));
  if (samples < p.estimator->min_samples())
    return fmt::format("{} needs samples >= {} (this cell has {})", Params(cell, "estimator.").get_string("name"),
                       p.estimator->min_samples(), samples);
  evaluation_point(Params(cell, "point."), *p.target, *p.family, 0, 0);  // throws if φ cannot be built
  return std::nullopt;
}

MemoryEstimate estimator_cell_memory(const Config& cell, double trajectory_records) {
  const double d = cell_size(cell, "target.dim", 64);  // targets without `dim` read a small data set
  const double m = std::max(cell_size(cell, "target.obs_dim", 0), d);
  double family_sizes = 1;  // components, rank, layers, categories: each multiplies per-dimension vectors
  for (const auto& [key, value] : cell)
    if (key.rfind("family.", 0) == 0 && std::holds_alternative<std::int64_t>(value))
      family_sizes *= std::max(1.0, static_cast<double>(std::get<std::int64_t>(value)));
  // phi's length: at most a full covariance (D(D+3)/2) plus per-component / per-layer vectors.
  const double params = d * (d + 3) / 2 + family_sizes * (2 * d + 2);
  const std::string dim_key = m > d ? "target.obs_dim" : "target.dim";
  MemoryEstimate e;
  e.add("the target and family: dense D x D and M x D matrices", doubles(8 * d * d + 4 * m * d), dim_key);
  e.add("phi, its gradient and their statistics", doubles(16 * params), "target.dim");
  const double s = cell_size(cell, "samples", 1), k = cell_size(cell, "objective.k", 1);
  const std::string batch_key = s >= k && s >= d ? "samples" : k >= d ? "objective.k" : "target.dim";
  // Per sample: noise, z, gradients in z and the like (D wide each), and one score row (phi's length).
  e.add("sample batches of every worker thread: samples x objective.k x (6 D + phi's length) doubles",
        worker_threads() * doubles(s * k * (6 * d + params)), batch_key);
  const double chunks = std::ceil(cell_size(cell, "replicates", 1) / static_cast<double>(replicate_chunk));
  e.add("replicate moments: phi's length x the chunks of one block",
        std::min(chunks, static_cast<double>(replicate_block)) * (params + 1) * sizeof(Moments), "target.dim");
  if (trajectory_records > 0) e.add("the stored trajectory", doubles(trajectory_records * (params + 8)), "steps");
  return e;
}

ParamSpec point_param() {
  return ParamSpec::group(
      "point",
      {ParamSpec::choice("kind", {"given", "exact_posterior", "optimum", "perturbed_optimum", "init", "phi"}, "given",
                         "given: mean/sigma below; exact_posterior: the target's exact posterior (the family must "
                         "contain it); optimum / perturbed_optimum: the family's ELBO optimum for a Gaussian posterior; "
                         "init: the family's default member; phi: the raw parameter vector phi below"),
       ParamSpec::reals("mean", "given: mean (length D, or 1 = broadcast; default 0)"),
       ParamSpec::reals("sigma", "given: standard deviations (length D, or 1 = broadcast; default 1)"),
       ParamSpec::reals("phi", "phi: the family's parameters in its own coordinates (length P, or 1 = broadcast)"),
       ParamSpec::choice("theta", {"given", "optimum"}, "given",
                         "model parameters theta of targets that have them: given = the target's own; optimum = the "
                         "theta maximizing log p(x) (set before phi is built, so phi's optimum is for that theta)"),
       ParamSpec::real("sd", 0.0, "standard deviation of a Gaussian perturbation added to every coordinate of phi "
                                  "(and of theta)")
           .at_least(0),
       ParamSpec::integer("noise_seed", 0, "0: the perturbation is drawn from the cell's own stream (a different one "
                                           "in every cell); > 0: from this seed alone, the same in every cell (one "
                                           "perturbed parameter vector shared by the cells, e.g. by their data points)")
           .at_least(0)
           .unless_given()},
      "where phi is evaluated");
}

std::vector<double> evaluation_point(const Params& point, Target& t, const Family& q, std::uint64_t seed,
                                     std::uint64_t cell_key) {
  const std::string& kind = point.get_string("kind");
  if (point.get_string("theta") == "optimum") {
    if (t.num_model_params() == 0)
      throw ParamError(point.full_key("theta"), "'optimum' needs a target with model parameters");
    auto theta = t.model_optimum();
    if (!theta) throw ParamError(point.full_key("theta"), "this target has no unique closed-form optimum of log p(x)");
    t.set_model_params(theta->data());
  }
  const std::size_t d = t.dim();
  std::optional<std::vector<double>> phi;
  std::string why;
  if (kind == "given") {
    auto broadcast = [&](const char* key, double def) {
      std::vector<double> v = point.get_doubles(key);
      if (v.empty()) v.assign(d, def);
      if (v.size() == 1) v.assign(d, v[0]);
      if (v.size() != d)
        throw ParamError(point.full_key(key), fmt::format("expected 1 or {} numbers (the target's dimension), got {}", d, v.size()));
      return v;
    };
    std::vector<double> mean = broadcast("mean", 0.0), sigma = broadcast("sigma", 1.0);
    Matrix cov(d, d);
    for (std::size_t i = 0; i < d; ++i) {
      if (!(sigma[i] > 0)) throw ParamError(point.full_key("sigma"), "every sigma must be > 0");
      cov(i, i) = sigma[i] * sigma[i];
    }
    phi = q.from_gaussian(mean, cov, &why);
  } else if (kind == "init") {
    phi = q.init();
  } else if (kind == "phi") {
    std::vector<double> v = point.get_doubles("phi");
    const std::size_t n = q.num_params();
    if (v.size() == 1) v.assign(n, v[0]);
    if (v.size() != n)
      throw ParamError(point.full_key("phi"), fmt::format("expected 1 or {} numbers (the family's parameters: {}), got {}",
                                                          n, fmt::join(q.param_names(), ", "), v.size()));
    phi = v;
  } else {
    auto post = t.exact_posterior();
    if (!post) throw ParamError(point.full_key("kind"), "point kind '" + kind + "' needs a target with an exact posterior");
    if (kind == "exact_posterior") {
      phi = q.from_gaussian(post->mean, post->cov, &why);
    } else {
      phi = q.elbo_optimum(*post);
      if (!phi) why = "this family has no closed-form ELBO optimum";
    }
  }
  if (!phi) throw ParamError(point.full_key("kind"), why);
  const double sd = point.get_double("sd");
  if (sd > 0) {  // one draw for (φ, θ): φ first
    const std::size_t n_theta = t.num_model_params();
    std::vector<double> noise(phi->size() + n_theta), theta = t.model_params();
    // noise_seed is absent from configs that do not set it (older cells keep their ids).
    const std::int64_t noise_seed = point.has("noise_seed") ? point.get_int("noise_seed") : 0;
    if (noise_seed > 0)
      Rng(static_cast<std::uint64_t>(noise_seed), 0, 0, streams::point).normals(noise.data(), noise.size());
    else
      Rng(seed, cell_key, 0, streams::point).normals(noise.data(), noise.size());
    for (std::size_t i = 0; i < phi->size(); ++i) (*phi)[i] += sd * noise[i];
    for (std::size_t i = 0; i < n_theta; ++i) theta[i] += sd * noise[phi->size() + i];
    if (n_theta > 0) t.set_model_params(theta.data());
  }
  return *phi;
}

}  // namespace vibench
