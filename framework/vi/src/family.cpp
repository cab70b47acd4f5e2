#include "vibench/vi/family.hpp"

#include <cmath>

#include "vibench/math/vector_kernels.hpp"

namespace vibench {

Capabilities Family::offers() const {
  Capabilities c;
  if (reparameterization()) c.add(Capability::reparameterization);
  if (density_gradient()) c.add(Capability::density_gradient);
  return c;
}

void Reparameterization::add_pullback_sum(const Member& qphi, const Matrix& eps, const Matrix& v, Matrix& rows,
                                         double* grad) const {
  pullback(qphi, eps, v, rows);
  add_weighted_rows(grad, rows.data(), rows.rows(), rows.cols(), nullptr);
}

void Family::add_weighted_score(const Member& qphi, const Matrix& z, const double* w, Matrix& rows, double* grad) const {
  score(qphi, z, rows);
  add_weighted_rows(grad, rows.data(), rows.rows(), rows.cols(), w);
}

void draw_base_noise(const BaseNoise& noise, Rng& rng, std::size_t s, Matrix& eps) {
  eps.resize(s, noise.dim);
  const std::size_t n = s * noise.dim;
  if (noise.law == BaseNoise::Law::standard_normal) {
    rng.normals(eps.data(), n);
    return;
  }
  rng.uniforms(eps.data(), n);
  double* e = eps.data();
  for (std::size_t i = 0; i < n; ++i) {
    const double u = e[i] > 0 ? e[i] : 0x1p-53;
    e[i] = noise.law == BaseNoise::Law::gumbel ? -std::log(-std::log(u)) : std::log(u) - std::log1p(-u);
  }
}

void antithetic_base_noise(const BaseNoise& noise, const Matrix& eps, Matrix& out) {
  out.resize(eps.rows(), eps.cols());
  const std::size_t n = eps.rows() * eps.cols();
  const double* e = eps.data();
  double* a = out.data();
  for (std::size_t i = 0; i < n; ++i) {
    if (noise.law != BaseNoise::Law::gumbel) {
      a[i] = -e[i];
    } else {  // 1 − F(g) = −expm1(−e^{−g}); F⁻¹(p) = −log(−log p)
      a[i] = -std::log(-std::log(-std::expm1(-std::exp(-e[i]))));
    }
  }
}

}  // namespace vibench
