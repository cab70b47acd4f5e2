// estimator `relax` for factorized discrete families with a conditional relaxation (bernoulli), objective
// `expectation`. With b = H(z), y = σ_λ(z), ỹ = σ_λ(z̃), z̃ ~ p(z | b), s = ∇_φ log q(b) and a surrogate c(·):
//   ĝ = [f(b) − c(ỹ)] s + ∇_φ c(y) − ∇_φ c(ỹ)        (Grathwohl et al. 2018, eq. (7)), unbiased for any c.
// surrogate: rebar   c = η·f(·)                        (REBAR, Tucker et al. 2017; RELAX §3.2)
//            linear  c = ψ_f·f(·) + ψ₀ + Σ_i ψ_i y_i, with ψ minimizing E‖ĝ‖²: ĝ is affine in ψ, ĝ = A + Bψ
//                    (A = f(b)·s), so ψ = −(E[BᵀB])⁻¹ E[BᵀA], estimated by least squares from `warmup`
//                    independent draws at the current φ before each estimate (so ψ never depends on the draw
//                    it corrects). This stands in for RELAX's neural surrogate trained online by SGD on the
//                    variance (not implemented).
// Columns of B: ψ_f → −f(ỹ) s + (∇f(y)∂y − ∇f(ỹ)∂ỹ);  ψ₀ → −s;  ψ_i → −ỹ_i s + e_i (∂y_i/∂φ_i − ∂ỹ_i/∂φ_i).
#include <cmath>

#include "vibench/math/linalg.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/estimator.hpp"

namespace {

using namespace vibench;

// The noise and discrete b of the current draws, and the θ-gradient rows.
struct RelaxScratch : EstimatorScratch {
  Member qphi;
  Matrix noise, hard, grad_theta;
  PriorCache prior;
  std::vector<double> row_weight;
};

class Relax final : public EstimatorWith<RelaxScratch> {
 public:
  explicit Relax(const Params& p)
      : linear_(p.get_string("surrogate") == "linear"),
        scale_(p.get_double("scale")),
        temperature_(p.get_double("temperature")),
        warmup_(static_cast<std::size_t>(p.get_int("warmup"))) {}

  Needs needs() const override {
    return {.family = {Capability::relaxation, Capability::conditional_relaxation},
            .objective = ObjectiveForm::expectation};
  }

  double estimate_with(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                       std::size_t samples, RelaxScratch& ws, double* grad) const override {
    const std::size_t p = q.num_params();
    q.bind_if_changed(phi, ws.qphi);  // draw() reads it
    const std::vector<double> psi = linear_ ? fit_surrogate(t, q, phi, rng, ws) : std::vector<double>{scale_};
    Draws dr = draw(t, q, phi, rng, samples, ws);
    std::fill(grad, grad + p, 0.0);
    double value = 0;
    std::vector<double> g(p);
    for (std::size_t s = 0; s < samples; ++s) {
      value += dr.f_b[s];
      gradient(dr, s, psi, g.data());
      for (std::size_t i = 0; i < p; ++i) grad[i] += g[i];
    }
    const double inv = 1.0 / static_cast<double>(samples);
    ws.row_weight.assign(samples, inv);
    return value * inv + finish_gradient(t, q, o, phi, ws.hard, ws.row_weight, inv, ws.grad_theta, ws.prior, grad);
  }

 private:
  // One batch: f(b), f(ỹ), ∇f(y)·∂y, ∇f(ỹ)·∂ỹ (elementwise), the score s, and ỹ and the relaxation derivatives.
  struct Draws {
    std::vector<double> f_b, f_tilde;
    Matrix score, path, path_tilde, y_tilde, d_soft, d_soft_tilde;
  };
  Draws draw(const Target& t, const Family& q, const double* phi, Rng& rng, std::size_t n, RelaxScratch& ws) const {
    const std::size_t d = q.dim();
    Draws dr;
    Matrix soft, grad_f, grad_f_tilde, v(n, d);
    q.relaxed_sample(ws.qphi, rng, n, temperature_, ws.noise, soft, ws.hard);  // noise, y, hard b
    rng.uniforms(v.data(), n * d);
    q.conditional_relaxation(ws.qphi, ws.noise, ws.hard, v, temperature_, soft, dr.y_tilde, dr.d_soft, dr.d_soft_tilde);
    dr.f_b.resize(n);
    dr.f_tilde.resize(n);
    std::vector<double> f_soft(n);
    t.log_joint(ws.hard, dr.f_b.data());
    t.grad_log_joint(soft, grad_f, f_soft.data());
    t.grad_log_joint(dr.y_tilde, grad_f_tilde, dr.f_tilde.data());
    q.score(ws.qphi, ws.hard, dr.score);
    dr.path.resize(n, d);
    dr.path_tilde.resize(n, d);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t i = 0; i < d; ++i) {
        dr.path(r, i) = grad_f(r, i) * dr.d_soft(r, i);
        dr.path_tilde(r, i) = grad_f_tilde(r, i) * dr.d_soft_tilde(r, i);
      }
    return dr;
  }
  // ĝ for draw r (written out, B never formed): surrogate weights ψ = (ψ_f, ψ₀, ψ_1..P), or (η) for rebar.
  void gradient(const Draws& dr, std::size_t r, const std::vector<double>& psi, double* g) const {
    const std::size_t p = dr.score.cols();
    const double eta = psi.empty() ? 0.0 : psi[0];
    double c_tilde = eta * dr.f_tilde[r];
    if (psi.size() > 1) {
      c_tilde += psi[1];
      for (std::size_t i = 0; i < p; ++i) c_tilde += psi[2 + i] * dr.y_tilde(r, i);
    }
    for (std::size_t i = 0; i < p; ++i) {
      g[i] = (dr.f_b[r] - c_tilde) * dr.score(r, i) + eta * (dr.path(r, i) - dr.path_tilde(r, i));
      if (psi.size() > 1) g[i] += psi[2 + i] * (dr.d_soft(r, i) - dr.d_soft_tilde(r, i));
    }
  }
  // ψ = −(Σ BᵀB)⁻¹ Σ BᵀA over `warmup` draws (a 1e-12 relative ridge keeps the solve defined).
  std::vector<double> fit_surrogate(const Target& t, const Family& q, const double* phi, Rng& rng,
                                    RelaxScratch& ws) const {
    const std::size_t p = q.num_params(), m = p + 2;
    Draws dr = draw(t, q, phi, rng, warmup_, ws);
    Matrix btb(m, m);
    std::vector<double> bta(m, 0.0), a(p), zero;
    Matrix bcol(p, m);
    for (std::size_t r = 0; r < warmup_; ++r) {
      gradient(dr, r, zero, a.data());  // A = f(b)·s
      for (std::size_t i = 0; i < p; ++i) {
        bcol(i, 0) = -dr.f_tilde[r] * dr.score(r, i) + dr.path(r, i) - dr.path_tilde(r, i);
        bcol(i, 1) = -dr.score(r, i);
        for (std::size_t j = 0; j < p; ++j)
          bcol(i, 2 + j) = -dr.y_tilde(r, j) * dr.score(r, i) + (i == j ? dr.d_soft(r, i) - dr.d_soft_tilde(r, i) : 0.0);
      }
      for (std::size_t j = 0; j < m; ++j) {
        for (std::size_t i = 0; i < p; ++i) bta[j] += bcol(i, j) * a[i];
        for (std::size_t k = 0; k < m; ++k)
          for (std::size_t i = 0; i < p; ++i) btb(j, k) += bcol(i, j) * bcol(i, k);
      }
    }
    double trace = 0;
    for (std::size_t j = 0; j < m; ++j) trace += btb(j, j);
    for (std::size_t j = 0; j < m; ++j) btb(j, j) += 1e-12 * (trace + 1e-300);
    std::vector<double> psi = linalg::cholesky_solve(linalg::cholesky(btb), bta);
    for (double& x : psi) x = -x;
    return psi;
  }

  bool linear_;
  double scale_, temperature_;
  std::size_t warmup_;
};

const Register<Estimator, Relax> registration{{
    .name = "relax",
    .description = "RELAX control variate for discrete families (bernoulli): REBAR surrogate, or one fitted for minimum variance",
    .reference = "Grathwohl, Choi, Wu, Roeder, Duvenaud 2018 (RELAX); Tucker et al. 2017 (REBAR)",
    .params = {ParamSpec::choice("surrogate", {"rebar", "linear"}, "rebar",
                                 "rebar: eta*f(relaxed); linear: psi_f*f + psi0 + psi.y fitted for minimum variance"),
               ParamSpec::real("scale", 1.0, "rebar: surrogate scale eta"),
               ParamSpec::real("temperature", 0.5, "relaxation temperature lambda").positive(),
               ParamSpec::integer("warmup", 100, "linear: independent draws that fit psi before each estimate").at_least(2)},
}};

}  // namespace
