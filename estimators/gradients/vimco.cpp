// estimator `vimco`: score-function gradient of a K-sample bound with the leave-one-out baseline
// L̂_{−k} (l_k replaced by the geometric mean of the others), unbiased for ∇_φ E[L̂_K], any family.
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/score_function_gradient.hpp"

namespace {

using namespace vibench;

class Vimco final : public EstimatorWith<ScoreFunctionScratch> {
 public:
  explicit Vimco(const Params&) {}

  Needs needs() const override { return {.objective = ObjectiveForm::multi_sample}; }

  double estimate_with(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                       std::size_t samples, ScoreFunctionScratch& ws, double* grad) const override {
    return score_function_gradient({.leave_one_out_in_group = true}, t, q, o, phi, rng, samples, ws, grad);
  }
};

const Register<Estimator, Vimco> registration{{
    .name = "vimco",
    .description = "score function for K-sample bounds with VIMCO's leave-one-out baselines",
    .reference = "Mnih & Rezende 2016, Variational Inference for Monte Carlo Objectives, ICML, eq. (8)",
}};

}  // namespace
