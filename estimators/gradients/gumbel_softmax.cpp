// estimator `gumbel_softmax` for discrete families with a relaxation (bernoulli, categorical), objective
// `expectation` (∇_φ E_q[f(b)]): draw noise, the discrete b and its relaxation y_λ(φ, noise), then
//   relaxed:           ĝ = (∂y/∂φ)ᵀ ∇f(y)      (Jang et al. 2017; Maddison et al. 2017)
//   straight_through:  ĝ = (∂y/∂φ)ᵀ ∇f(b)      (Bengio et al. 2013; Jang et al. 2017 §2.2)
// Both are biased for ∇_φ E_q[f(b)]; the bias is measured (gradient_stats stores grad_bias), never assumed
// zero. The returned objective estimate is f(b), unbiased for E_q[f(b)].
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/estimator.hpp"

namespace {

using namespace vibench;

class GumbelSoftmax final : public Estimator {
 public:
  explicit GumbelSoftmax(const Params& p)
      : temperature_(p.get_double("temperature")), straight_through_(p.get_bool("straight_through")) {}

  std::optional<std::string> unsupported(const Target&, const Family& q, const Objective& o) const override {
    if (o.log_q_coefficient() != 0.0 || o.analytic_kl() || o.num_importance_samples() != 1)
      return std::string("gumbel_softmax estimates gradients of the objective 'expectation' (E_q[f(b)]) only");
    Matrix noise, soft, hard;
    Rng probe(0, 0, 0, streams::estimator);
    const std::vector<double> phi = q.init();
    if (!q.relaxed_sample(phi.data(), probe, 1, temperature_, noise, soft, hard))
      return std::string("gumbel_softmax needs a discrete family with a relaxation (bernoulli, categorical)");
    return std::nullopt;
  }
  bool unbiased_for(const Objective&) const override { return false; }

  double estimate(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                  std::size_t samples, EstimatorWorkspace& ws, double* grad) const override {
    const std::size_t p = q.num_params();
    q.relaxed_sample(phi, rng, samples, temperature_, ws.eps, ws.points, ws.z);  // noise, soft y, hard b
    ws.log_p.resize(samples);
    ws.f.resize(samples);
    t.log_joint(ws.z, ws.f.data());  // f(b)
    t.grad_log_joint(straight_through_ ? ws.z : ws.points, ws.grad_z, ws.log_p.data());
    q.relaxed_pullback(phi, ws.eps, temperature_, ws.grad_z, ws.per_sample);
    std::fill(grad, grad + p, 0.0);
    double value = 0;
    for (std::size_t s = 0; s < samples; ++s) {
      value += ws.f[s];
      const double* row = ws.per_sample.row(s);
      for (std::size_t i = 0; i < p; ++i) grad[i] += row[i];
    }
    const double inv = 1.0 / static_cast<double>(samples);
    ws.row_weight.assign(samples, inv);
    return value * inv + finish_gradient(t, q, o, phi, ws.z, ws.row_weight, inv, ws, grad);
  }

 private:
  double temperature_;
  bool straight_through_;
};

const Register<Estimator, GumbelSoftmax> registration{{
    .name = "gumbel_softmax",
    .description = "relaxed (Gumbel-softmax / concrete) or straight-through gradient for discrete families; biased",
    .reference = "Jang, Gu, Poole 2017; Maddison, Mnih, Teh 2017; Bengio, Léonard, Courville 2013 (straight-through)",
    .params = {ParamSpec::real("temperature", 0.5, "relaxation temperature lambda").positive(),
               ParamSpec::boolean("straight_through", false, "f and its gradient at the discrete sample b")},
}};

}  // namespace
