// estimator `reparam` (pathwise): z = T(ε; φ), ĝ = (1/S) Σ_s d/dφ f_φ(T(ε_s; φ)) with the total derivative
//   d/dφ f_φ(T(ε; φ)) = (∂z/∂φ)ᵀ (∇_z log p(x, z) − c·∇_z log q_φ(z)) − c·∇_φ log q_φ(z)|_z fixed.
#include <fmt/format.h>

#include "vibench/estimator.hpp"

namespace {

using namespace vibench;

class Reparam final : public Estimator {
 public:
  explicit Reparam(const Params&) {}

  std::optional<std::string> unsupported(const Target&, const Family& q, const Objective&) const override {
    if (!q.reparameterizable()) return std::string("reparam needs a reparameterizable family; this family is not");
    return std::nullopt;
  }

  double estimate(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                  std::size_t samples, EstimatorWorkspace& ws, double* grad) const override {
    const double c = o.log_q_coefficient();
    const std::size_t p = q.num_params(), d = q.dim();
    q.sample(phi, rng, samples, ws.eps, ws.z);
    ws.log_p.resize(samples);
    t.grad_log_joint(ws.z, ws.grad_z, ws.log_p.data());
    double value = 0;
    for (std::size_t s = 0; s < samples; ++s) value += ws.log_p[s];
    if (c != 0.0) {
      ws.log_q.resize(samples);
      q.log_q(phi, ws.z, ws.log_q.data());
      q.grad_z_log_q(phi, ws.z, ws.grad_q);
      for (std::size_t s = 0; s < samples; ++s) {
        value -= c * ws.log_q[s];
        for (std::size_t i = 0; i < d; ++i) ws.grad_z(s, i) -= c * ws.grad_q(s, i);
      }
    }
    q.reparam_pullback(phi, ws.eps, ws.grad_z, ws.per_sample);
    std::fill(grad, grad + p, 0.0);
    for (std::size_t s = 0; s < samples; ++s) {
      const double* row = ws.per_sample.row(s);
      for (std::size_t i = 0; i < p; ++i) grad[i] += row[i];
    }
    if (c != 0.0) {
      q.score(phi, ws.z, ws.per_sample);
      for (std::size_t s = 0; s < samples; ++s) {
        const double* row = ws.per_sample.row(s);
        for (std::size_t i = 0; i < p; ++i) grad[i] -= c * row[i];
      }
    }
    const double inv = 1.0 / static_cast<double>(samples);
    for (std::size_t i = 0; i < p; ++i) grad[i] *= inv;
    return value * inv;
  }
};

const Register<Estimator, Reparam> registration{{
    .name = "reparam",
    .description = "pathwise (reparameterization) gradient through z = T(eps; phi)",
    .reference = "Kingma & Welling 2014; Rezende et al. 2014; Mohamed et al. 2020 §5",
}};

}  // namespace
