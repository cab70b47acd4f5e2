// estimator `reparam` (pathwise), single-sample objectives: z = T(ε; φ), ĝ = (1/S) Σ_s d/dφ f_φ(T(ε_s; φ))
// with the total derivative d/dφ f_φ(T(ε; φ)) = (∂z/∂φ)ᵀ (∇_z log p(x, z) − c·∇_z log q_φ(z)) − c·∇_φ log q_φ(z)|_z.
// For K-sample objectives the same rule is `iwae`.
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/pathwise_gradient.hpp"

namespace {

using namespace vibench;

class Reparam final : public EstimatorWith<PathwiseScratch> {
 public:
  explicit Reparam(const Params&) {}

  Needs needs() const override {
    return {.family = {Capability::reparameterization},
            .objective = ObjectiveForm::single_sample,
            .advice = "for k > 1 use the estimator iwae"};
  }

  double estimate_with(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                       std::size_t samples, PathwiseScratch& ws, double* grad) const override {
    return pathwise_gradient(PathwiseRule::total, t, q, o, phi, rng, samples, ws, grad);
  }
};

const Register<Estimator, Reparam> registration{{
    .name = "reparam",
    .description = "pathwise (reparameterization) gradient through z = T(eps; phi)",
    .reference = "Kingma & Welling 2014; Rezende et al. 2014; Mohamed et al. 2020 §5",
}};

}  // namespace
