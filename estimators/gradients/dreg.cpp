// estimator `dreg` (doubly reparameterized): ĝ = Σ_k ((1−γ)w̃_k + γw̃_k²) (∂z_k/∂φ)ᵀ ∂l_k/∂z, unbiased for
// ∇_φ E[L̂_K] (γ = 1: Tucker et al. 2018, eq. (5), weights w̃_k²). Derivation in pathwise_gradient.hpp.
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/pathwise_gradient.hpp"

namespace {

using namespace vibench;

class Dreg final : public EstimatorWith<PathwiseScratch> {
 public:
  explicit Dreg(const Params&) {}

  Needs needs() const override { return {.family = {Capability::reparameterization}}; }

  double estimate_with(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                       std::size_t samples, PathwiseScratch& ws, double* grad) const override {
    return pathwise_gradient(PathwiseRule::doubly_reparameterized, t, q, o, phi, rng, samples, ws, grad);
  }
};

const Register<Estimator, Dreg> registration{{
    .name = "dreg",
    .description = "doubly reparameterized gradient of a K-sample bound, weights (1-gamma)w~ + gamma w~^2",
    .reference = "Tucker, Lawson, Gu, Maddison 2018, Doubly Reparameterized Gradient Estimators, ICLR",
}};

}  // namespace
