// estimator `relax` with the REBAR surrogate (Tucker et al. 2017; the special case c_ψ = η·f(σ_λ(·)) of
// RELAX, Grathwohl et al. 2018, §3.2), for factorized discrete families with a conditional relaxation
// (bernoulli) and objective `expectation`. With b = H(z), soft = σ_λ(z), soft~ = σ_λ(z̃), z̃ ~ p(z | b):
//   ĝ = [f(b) − η·f(soft~)] ∇_φ log q(b) + η·[∇f(soft) ∂soft/∂φ − ∇f(soft~) ∂soft~/∂φ]
// unbiased for any η and λ. The learned neural surrogate of RELAX is not implemented.
#include "vibench/estimator.hpp"

namespace {

using namespace vibench;

class Relax final : public Estimator {
 public:
  explicit Relax(const Params& p) : scale_(p.get_double("scale")), temperature_(p.get_double("temperature")) {}

  std::optional<std::string> unsupported(const Target&, const Family& q, const Objective& o) const override {
    if (o.log_q_coefficient() != 0.0 || o.analytic_kl() || o.num_importance_samples() != 1)
      return std::string("relax (REBAR surrogate) estimates gradients of the objective 'expectation' only");
    const std::vector<double> phi = q.init();
    Matrix noise, soft, hard, v(1, q.dim()), a, b, c, d;
    Rng probe(0, 0, 0, streams::estimator);
    if (q.num_params() != q.dim() || !q.relaxed_sample(phi.data(), probe, 1, temperature_, noise, soft, hard) ||
        !q.conditional_relaxation(phi.data(), noise, hard, v, temperature_, a, b, c, d))
      return std::string("relax needs a factorized discrete family with a conditional relaxation (bernoulli)");
    return std::nullopt;
  }

  double estimate(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                  std::size_t samples, EstimatorWorkspace& ws, double* grad) const override {
    const std::size_t p = q.num_params(), d = q.dim();
    Matrix soft, soft_tilde, d_soft, d_soft_tilde, v(samples, d), g_tilde;
    q.relaxed_sample(phi, rng, samples, temperature_, ws.eps, soft, ws.z);  // noise, (soft), hard b
    rng.uniforms(v.data(), samples * d);
    q.conditional_relaxation(phi, ws.eps, ws.z, v, temperature_, soft, soft_tilde, d_soft, d_soft_tilde);
    ws.f.resize(samples);
    ws.log_p.resize(samples);
    ws.log_q.resize(samples);
    t.log_joint(ws.z, ws.f.data());                                // f(b)
    t.grad_log_joint(soft, ws.grad_z, ws.log_p.data());            // ∇f(soft)
    t.grad_log_joint(soft_tilde, g_tilde, ws.log_q.data());        // ∇f(soft~), and f(soft~) in log_q
    q.score(phi, ws.z, ws.per_sample);
    std::fill(grad, grad + p, 0.0);
    double value = 0;
    for (std::size_t s = 0; s < samples; ++s) {
      value += ws.f[s];
      const double a = ws.f[s] - scale_ * ws.log_q[s];
      const double* sc = ws.per_sample.row(s);
      for (std::size_t i = 0; i < p; ++i)
        grad[i] += a * sc[i] + scale_ * (ws.grad_z(s, i) * d_soft(s, i) - g_tilde(s, i) * d_soft_tilde(s, i));
    }
    const double inv = 1.0 / static_cast<double>(samples);
    ws.row_weight.assign(samples, inv);
    return value * inv + finish_gradient(t, q, o, phi, ws.z, ws.row_weight, inv, ws, grad);
  }

 private:
  double scale_, temperature_;
};

const Register<Estimator, Relax> registration{{
    .name = "relax",
    .description = "RELAX with the REBAR surrogate eta*f(sigma_lambda(.)): unbiased, low-variance, discrete (bernoulli)",
    .reference = "Tucker, Mnih, Maddison, Lawson, Sohl-Dickstein 2017 (REBAR); Grathwohl et al. 2018 (RELAX) §3.2",
    .params = {ParamSpec::choice("surrogate", {"rebar"}, "rebar", "control-variate surrogate (rebar: eta * f(relaxed))"),
               ParamSpec::real("scale", 1.0, "surrogate scale eta"),
               ParamSpec::real("temperature", 0.5, "relaxation temperature lambda").positive()},
}};

}  // namespace
