// control variate `delta_method` (K = 1; Paisley, Blei & Jordan 2012; Mohamed et al. 2020, §7): f̃ is the
// second-order Taylor expansion of f(z) = log p(x, z) − c·log q_φ(z) (φ frozen) at the mean m of Gaussian q,
//   f̃(z) = f(m) + gᵀ(z − m) + ½(z − m)ᵀH(z − m),  g = ∇_z f(m),  H = ∇²_z log p(m) + c·Λ_q (+ Λ₀ for an
//   analytic KL, whose integrand lacks −log p(z)),
// with ∇_φ E_q[f̃] = pullback of (∂/∂m = g, ∂/∂C = ½H) through the family's moments, added exactly. It
// removes all variance when f is quadratic (the quadratic cost; the ELBO of a linear-Gaussian model).
#include <algorithm>

#include "vibench/math/linalg.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/control_variate.hpp"
#include "vibench/vi/objective.hpp"

namespace {

using namespace vibench;

class TaylorExpansion final : public Surrogate {
 public:
  std::vector<double> m, g;
  Matrix h;
  double f0 = 0;

  double value(const double* z) const override {
    const std::size_t d = m.size();
    double lin = 0, quad = 0;
    for (std::size_t i = 0; i < d; ++i) {
      const double ui = z[i] - m[i];
      lin += g[i] * ui;
      for (std::size_t j = 0; j < d; ++j) quad += ui * h(i, j) * (z[j] - m[j]);
    }
    return f0 + lin + 0.5 * quad;
  }
  void add_expected_gradient(const Family& q, const double* phi, double* grad) const override {
    Matrix half_h = h;
    for (std::size_t i = 0; i < half_h.rows() * half_h.cols(); ++i) half_h.data()[i] *= 0.5;
    std::vector<double> cg(q.num_params());
    q.pullback_moments(phi, g, half_h, cg.data());
    for (std::size_t i = 0; i < cg.size(); ++i) grad[i] += cg[i];
  }
};

class DeltaMethod final : public ControlVariate {
 public:
  explicit DeltaMethod(const Params&) {}

  Needs needs() const override {
    return {.family = {Capability::gaussian_moments, Capability::moment_pullback},
            .target = {Capability::hessian},
            .objective = ObjectiveForm::single_sample};
  }

  std::unique_ptr<Surrogate> surrogate(const Target& t, const Family& q, const Objective& o, const double* phi,
                                       ControlVariateScratch& cs) const override {
    const GaussianMoments mom = *q.gaussian_moments(phi);
    const std::size_t d = mom.mean.size();
    auto e = std::make_unique<TaylorExpansion>();
    e->m = mom.mean;
    e->h = Matrix(d, d);
    cs.point.resize(1, d);
    std::copy(mom.mean.begin(), mom.mean.end(), cs.point.row(0));
    Matrix grad;
    o.log_weights(t, q, q.at(phi), cs.point, cs.log_weights, &e->f0, &grad);  // f(m), ∇f(m)
    e->g.assign(grad.row(0), grad.row(0) + d);
    t.hessian_log_joint(cs.point.row(0), e->h);
    // ∇²f = ∇² log p + c·Λ_q (from −c·log q) + Λ₀ (from −log p(z), analytic KL)
    const double c = o.log_q_coefficient();
    if (c != 0.0) {
      const Matrix prec = linalg::spd_inverse(mom.cov);
      for (std::size_t i = 0; i < d; ++i)
        for (std::size_t j = 0; j < d; ++j) e->h(i, j) += c * prec(i, j);
    }
    if (o.analytic_kl()) {
      const Matrix prec0 = linalg::spd_inverse(t.gaussian_prior()->cov);
      for (std::size_t i = 0; i < d; ++i)
        for (std::size_t j = 0; j < d; ++j) e->h(i, j) += prec0(i, j);
    }
    return e;
  }
};

const Register<ControlVariate, DeltaMethod> registration{{
    .name = "delta_method",
    .description = "subtract the second-order Taylor expansion of f at the mean of q and add its exact expected "
                   "gradient (Gaussian q, target with a Hessian, k = 1)",
    .reference = "Paisley, Blei & Jordan 2012; Mohamed et al. 2020 §7",
}};

}  // namespace
