#pragma once
// The diagonal Gaussian base of the normalizing-flow families: φ starts with (μ, log σ) (2D entries),
// x₀ = μ + σ ⊙ ε. Shared by flow_affine_coupling and flow_planar.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <vector>

#include "vibench/math/matrix.hpp"

namespace vibench::flow_base {

inline void forward(const double* phi, std::size_t d, const double* eps, double* x0) {
  for (std::size_t i = 0; i < d; ++i) x0[i] = phi[i] + std::exp(phi[d + i]) * eps[i];
}

// log N(ε; 0, I) − Σ log σ with ε = (x₀ − μ)/σ: the base log-density at x₀.
inline double log_density(const double* phi, std::size_t d, const double* x0) {
  double lq = -0.5 * static_cast<double>(d) * std::log(2 * std::numbers::pi);
  for (std::size_t i = 0; i < d; ++i) {
    const double e = (x0[i] - phi[i]) * std::exp(-phi[d + i]);
    lq += -0.5 * e * e - phi[d + i];
  }
  return lq;
}

// Its gradients: ∂μ = ε/σ and ∂log σ = ε² − 1 into grad_phi, and ∂/∂x₀ = −ε/σ into g.
inline void log_density_gradient(const double* phi, std::size_t d, const double* x0, double* grad_phi, double* g) {
  for (std::size_t i = 0; i < d; ++i) {
    const double sigma = std::exp(phi[d + i]), e = (x0[i] - phi[i]) / sigma;
    grad_phi[i] = e / sigma;
    grad_phi[d + i] = e * e - 1;
    g[i] = -e / sigma;
  }
}

// Reparameterization pullback through x₀ = μ + σε for the adjoint g of x₀: ∂μ += g, ∂log σ += g σ ε.
inline void pullback(const double* phi, std::size_t d, const double* eps, const double* g, double* out) {
  for (std::size_t i = 0; i < d; ++i) {
    out[i] += g[i];
    out[d + i] += g[i] * std::exp(phi[d + i]) * eps[i];
  }
}

// T_φ(ε) for a flow (base noise N(0, I), S×D): z = the last layer of forward(phi, ε_row, xs).
template <class Forward>
void transform(const double* phi, std::size_t d, const Matrix& eps, Matrix& z, Forward&& forward) {
  const std::size_t s = eps.rows();
  z.resize(s, d);
  std::vector<std::vector<double>> xs;
  for (std::size_t r = 0; r < s; ++r) {
    forward(phi, eps.row(r), xs);
    std::copy(xs.back().begin(), xs.back().end(), z.row(r));
  }
}

}  // namespace vibench::flow_base
