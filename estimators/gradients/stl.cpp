// estimator `stl` (sticking the landing): the pathwise gradient without the score term of log q,
//   ĝ = Σ_k w̃_k (∂z_k/∂φ)ᵀ ∂l_k/∂z.
// Unbiased for K = 1 objectives (the dropped term has mean zero); biased for K > 1. Exactly zero at the
// exact posterior, where ∂l/∂z = 0.
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/pathwise_gradient.hpp"

namespace {

using namespace vibench;

class Stl final : public EstimatorWith<PathwiseScratch> {
 public:
  explicit Stl(const Params&) {}

  Needs needs() const override { return {.family = {Capability::reparameterization}}; }

  bool unbiased_for(const Objective& o) const override { return o.num_importance_samples() == 1; }

  double estimate_with(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                       std::size_t samples, PathwiseScratch& ws, double* grad) const override {
    return pathwise_gradient(PathwiseRule::path_only, t, q, o, phi, rng, samples, ws, grad);
  }
};

const Register<Estimator, Stl> registration{{
    .name = "stl",
    .description = "sticking the landing: path derivative only (drops the score term of log q); biased for K > 1",
    .reference = "Roeder, Wu, Duvenaud 2017, NeurIPS",
}};

}  // namespace
