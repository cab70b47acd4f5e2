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

// The noise, the relaxed y and discrete b, f(b), ∇f at y (or b) and the pulled-back rows.
struct GumbelSoftmaxScratch : EstimatorScratch {
  Member qphi;
  Matrix noise, soft, hard, grad_f, rows, grad_theta;
  PriorCache prior;
  std::vector<double> f_hard, f_at_grad, row_weight;
};

class GumbelSoftmax final : public EstimatorWith<GumbelSoftmaxScratch> {
 public:
  explicit GumbelSoftmax(const Params& p)
      : temperature_(p.get_double("temperature")), straight_through_(p.get_bool("straight_through")) {}

  Needs needs() const override {
    return {.family = {Capability::relaxation}, .objective = ObjectiveForm::expectation};
  }
  bool unbiased_for(const Objective&) const override { return false; }

  double estimate_with(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                       std::size_t samples, GumbelSoftmaxScratch& ws, double* grad) const override {
    const std::size_t p = q.num_params();
    q.bind_if_changed(phi, ws.qphi);
    q.relaxed_sample(ws.qphi, rng, samples, temperature_, ws.noise, ws.soft, ws.hard);
    ws.f_at_grad.resize(samples);
    ws.f_hard.resize(samples);
    t.log_joint(ws.hard, ws.f_hard.data());  // f(b)
    t.grad_log_joint(straight_through_ ? ws.hard : ws.soft, ws.grad_f, ws.f_at_grad.data());
    q.relaxed_pullback(ws.qphi, ws.noise, temperature_, ws.grad_f, ws.rows);
    std::fill(grad, grad + p, 0.0);
    double value = 0;
    for (std::size_t s = 0; s < samples; ++s) {
      value += ws.f_hard[s];
      const double* row = ws.rows.row(s);
      for (std::size_t i = 0; i < p; ++i) grad[i] += row[i];
    }
    const double inv = 1.0 / static_cast<double>(samples);
    ws.row_weight.assign(samples, inv);
    return value * inv + finish_gradient(t, q, o, phi, ws.hard, ws.row_weight, inv, ws.grad_theta, ws.prior, grad);
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
