// estimator `score_function` (REINFORCE / likelihood ratio), no baseline: for K = 1 objectives
//   ĝ = (1/S) Σ_s f_φ(z_s) ∇_φ log q_φ(z_s),  z_s ~ q_φ,  f_φ(z) = log p(x, z) − c·log q_φ(z);
// the term −c·E_q[∇_φ log q_φ(z)] of the exact gradient is zero and dropped (still unbiased).
// K-sample objectives: see score_function_gradient.hpp.
#include "vibench/score_function_gradient.hpp"

namespace {

using namespace vibench;

class ScoreFunction final : public Estimator {
 public:
  explicit ScoreFunction(const Params&) {}

  std::optional<std::string> unsupported(const Target&, const Family&, const Objective&) const override {
    return std::nullopt;  // needs only log q and its score: any family, any target
  }

  double estimate(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                  std::size_t samples, EstimatorWorkspace& ws, double* grad) const override {
    return score_function_gradient(ScoreBaseline::none, t, q, o, phi, rng, samples, ws, grad);
  }
};

const Register<Estimator, ScoreFunction> registration{{
    .name = "score_function",
    .description = "REINFORCE: mean of f(z) * grad log q(z), no baseline",
    .reference = "Williams 1992; Mohamed et al. 2020 §4",
}};

}  // namespace
