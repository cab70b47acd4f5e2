#pragma once
// Building a cell's plugins from its resolved config, and its evaluation point φ.
#include <cstdint>
#include <memory>
#include <vector>

#include "vibench/plugin/memory_estimate.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/estimator.hpp"
#include "vibench/vi/family.hpp"
#include "vibench/vi/objective.hpp"
#include "vibench/vi/target.hpp"

namespace vibench {

struct CellPlugins {
  std::unique_ptr<Target> target;
  std::unique_ptr<Family> family;        // dimension taken from the target
  std::unique_ptr<Objective> objective;  // null if the cell has no `objective` key
  std::unique_ptr<Estimator> estimator;  // null if the cell has no `estimator` key
};
CellPlugins build_cell_plugins(const Config& cell);

// Why the cell's objective, then its estimator (if any, with its control variate), cannot run on its target
// and family: the needs they declare that the target and family do not offer (vi/capabilities.hpp).
std::optional<std::string> unmet_plugin_needs(const CellPlugins& p, const Config& cell);
// Whether the objective and estimator (both present) run on the target and family: no unmet need.
bool plugins_run(const CellPlugins& p);

// Why a cell of an estimator study (target, family, objective, estimator, samples, point) cannot run:
// unmet needs, too few samples, or nullopt. Throws ParamError when φ cannot be built.
std::optional<std::string> estimator_cell_unsupported(const Config& cell);

// Peak memory of an estimator-study cell from its sizes (target.dim, target.obs_dim, the family's integer sizes,
// samples, objective.k, replicates), before anything is built; `trajectory_records` x phi's length more for
// studies that store the parameters along a path.
MemoryEstimate estimator_cell_memory(const Config& cell, double trajectory_records = 0);

// Schema of the `point:` group: where φ is evaluated.
ParamSpec point_param();

// φ for the cell's `point`: given mean/sigma, the exact posterior, or the family's ELBO optimum, plus an
// optional N(0, sd²) perturbation drawn from Rng(seed, cell_key, 0, streams::point) (or, with point.noise_seed
// > 0, from Rng(noise_seed, 0, 0, streams::point): the same in every cell). Sets the target's model
// parameters θ first when point.theta = optimum, and perturbs them with the same sd.
// Throws ParamError (naming point.*) when the point cannot be built.
std::vector<double> evaluation_point(const Params& point, Target& t, const Family& q, std::uint64_t seed,
                                     std::uint64_t cell_key);

}  // namespace vibench
