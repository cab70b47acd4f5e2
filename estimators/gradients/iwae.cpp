// estimator `iwae`: the reparameterized gradient of a K-sample bound,
//   ĝ = Σ_k w̃_k [(∂z_k/∂φ)ᵀ ∂l_k/∂z − c·∇_φ log q_φ(z_k)],  w̃ = softmax(γ l),
// the exact derivative of L̂_K at fixed noise (Burda et al. 2016, eq. (14)); for K = 1 it equals `reparam`.
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/pathwise_gradient.hpp"

namespace {

using namespace vibench;

class Iwae final : public EstimatorWith<PathwiseScratch> {
 public:
  explicit Iwae(const Params&) {}

  Needs needs() const override { return {.family = {Capability::reparameterization}}; }

  double estimate_with(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                       std::size_t samples, PathwiseScratch& ws, double* grad) const override {
    return pathwise_gradient(PathwiseRule::total, t, q, o, phi, rng, samples, ws, grad);
  }
};

const Register<Estimator, Iwae> registration{{
    .name = "iwae",
    .description = "reparameterized gradient of a K-sample bound (IWAE, Renyi, CUBO): sum_k w~_k d log w_k",
    .reference = "Burda, Grosse, Salakhutdinov 2016, ICLR, eq. (14)",
}};

}  // namespace
