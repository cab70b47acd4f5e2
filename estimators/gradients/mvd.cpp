// estimator `mvd` (measure-valued derivative) for diagonal Gaussian families, single-sample objectives.
// ∂/∂θ N(z; μ, σ²) = c_θ (p⁺_θ − p⁻_θ) per coordinate i (Mohamed et al. 2020, §6, Table 1):
//   mean:  c = 1/(σ√(2π)),  p^± : z_i = μ_i ± σ_i R,  R ~ Rayleigh(1) (density r e^{−r²/2})
//   scale: c = 1/σ,         p⁺ : z_i = μ_i + σ_i M,  M ~ double-sided Maxwell (density m² φ(m)),  p⁻ = N(μ_i, σ_i²)
// with the other coordinates drawn from q, so ĝ_θ = c_θ (f(z⁺) − f(z⁻)) with f(z) = log p(x, z) − c·log q_φ(z)
// (φ frozen in f; the explicit term −c·E_q[∇_φ log q] is zero). `coupling: true` uses common random numbers:
// one draw of the other coordinates and of R for both sides; M = sign(ε_i)·√(ε_i² + a² + b²) shares ε_i with
// the p⁻ sample (a valid coupling: |M| ~ χ₃ and the sign is symmetric). Cost: 3D (coupled) or 4D extra
// evaluations of f per sample.
#include <cmath>
#include <numbers>

#include "vibench/plugin/registry.hpp"
#include "vibench/vi/estimator.hpp"

namespace {

using namespace vibench;

// The noise of every evaluation point, the uniforms of R, the normals of Maxwell's M, the points and f there.
struct MvdScratch : EstimatorScratch {
  Member qphi;
  Matrix eps, maxwell_normals, points, grad_theta;
  std::vector<double> uniforms, f, row_weight;
  LogWeightScratch log_weights;
};

class Mvd final : public EstimatorWith<MvdScratch> {
 public:
  explicit Mvd(const Params& p) : coupled_(p.get_bool("coupling")) {}

  Needs needs() const override {
    return {.family = {Capability::diagonal_gaussian}, .objective = ObjectiveForm::single_sample};
  }

  double estimate_with(const Target& t, const Family& q, const Objective& o, const double* phi, Rng& rng,
                       std::size_t samples, MvdScratch& ws, double* grad) const override {
    const DiagonalGaussianView g = *q.diagonal_gaussian(phi);
    const std::size_t d = g.mean.size(), p = q.num_params();
    const std::size_t per = coupled_ ? 1 + 3 * d : 1 + 4 * d;  // rows per sample
    const std::size_t rows = samples * per;
    // Noise: a full N(0, I) row for every evaluation point, uniforms for R, and normals for Maxwell's M.
    ws.eps.resize(rows, d);
    rng.normals(ws.eps.data(), rows * d);
    const std::size_t n_uniform = samples * d * (coupled_ ? 1 : 2), n_extra = coupled_ ? 2 : 4;
    ws.uniforms.resize(n_uniform);
    rng.uniforms(ws.uniforms.data(), n_uniform);
    ws.maxwell_normals.resize(samples * d, n_extra);
    rng.normals(ws.maxwell_normals.data(), samples * d * n_extra);

    ws.points.resize(rows, d);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t i = 0; i < d; ++i) ws.points(r, i) = g.mean[i] + g.sigma[i] * ws.eps(r, i);
    for (std::size_t s = 0; s < samples; ++s) {
      const std::size_t base = s * per;
      for (std::size_t i = 0; i < d; ++i) {
        const std::size_t si = s * d + i;
        const double mu = g.mean[i], sd = g.sigma[i];
        const double* extra = ws.maxwell_normals.row(si);
        if (coupled_) {
          const double rr = std::sqrt(-2.0 * std::log1p(-ws.uniforms[si]));  // Rayleigh(1) from U[0, 1)
          const double e = ws.eps(base, i);
          const double m = std::copysign(std::sqrt(e * e + extra[0] * extra[0] + extra[1] * extra[1]), e);
          const std::size_t plus = base + 1 + 3 * i, minus = plus + 1, scale_plus = plus + 2;
          for (std::size_t j = 0; j < d; ++j)  // the other coordinates: the base sample's
            ws.points(plus, j) = ws.points(minus, j) = ws.points(scale_plus, j) = ws.points(base, j);
          ws.points(plus, i) = mu + sd * rr;
          ws.points(minus, i) = mu - sd * rr;
          ws.points(scale_plus, i) = mu + sd * m;
        } else {
          const double r1 = std::sqrt(-2.0 * std::log1p(-ws.uniforms[si]));
          const double r2 = std::sqrt(-2.0 * std::log1p(-ws.uniforms[samples * d + si]));
          const double m = std::copysign(std::sqrt(extra[0] * extra[0] + extra[1] * extra[1] + extra[2] * extra[2]), extra[3]);
          const std::size_t plus = base + 1 + 4 * i;
          ws.points(plus, i) = mu + sd * r1;
          ws.points(plus + 1, i) = mu - sd * r2;
          ws.points(plus + 2, i) = mu + sd * m;  // plus + 3 keeps its own Gaussian draw: p⁻ of the scale
        }
      }
    }
    ws.f.resize(rows);
    q.bind_if_changed(phi, ws.qphi);
    o.log_weights(t, q, ws.qphi, ws.points, ws.log_weights, ws.f.data(), nullptr);  // f at every point
    const double* f = ws.f.data();
    std::fill(grad, grad + p, 0.0);
    double value = 0;
    const double inv_sqrt_2pi = 1.0 / std::sqrt(2 * std::numbers::pi);
    for (std::size_t s = 0; s < samples; ++s) {
      const std::size_t base = s * per;
      value += f[base];
      for (std::size_t i = 0; i < d; ++i) {
        const double sd = g.sigma[i];
        double mean_diff, scale_diff;
        if (coupled_) {
          const std::size_t plus = base + 1 + 3 * i;
          mean_diff = f[plus] - f[plus + 1];
          scale_diff = f[plus + 2] - f[base];
        } else {
          const std::size_t plus = base + 1 + 4 * i;
          mean_diff = f[plus] - f[plus + 1];
          scale_diff = f[plus + 2] - f[plus + 3];
        }
        grad[g.mean_index[i]] += mean_diff * inv_sqrt_2pi / sd;
        grad[g.scale_index[i]] += scale_diff / sd * g.scale_jacobian[i];
      }
    }
    const double inv = 1.0 / static_cast<double>(samples);
    ws.row_weight.assign(rows, 0.0);  // θ: the base samples z ~ q
    for (std::size_t s = 0; s < samples; ++s) ws.row_weight[s * per] = inv;
    return value * inv + finish_gradient(t, q, o, phi, ws.points, ws.row_weight, inv, ws.grad_theta, ws.log_weights.prior, grad);
  }

 private:
  bool coupled_;
};

const Register<Estimator, Mvd> registration{{
    .name = "mvd",
    .description = "measure-valued derivative for diagonal Gaussians (Rayleigh for the mean, Maxwell for the scale)",
    .reference = "Mohamed, Rosca, Figurnov, Mnih 2020, JMLR, §6 and Table 1; Pflug 1989",
    .params = {ParamSpec::boolean("coupling", true, "common random numbers for the positive and negative parts")},
}};

}  // namespace
