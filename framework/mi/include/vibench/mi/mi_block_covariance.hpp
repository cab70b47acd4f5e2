#pragma once
// The joint scale matrix of the BMI-style MI tasks (Czyż et al. 2023): w = (x, y) with identity blocks for x
// and y and a cross block C. `dense`: C = c·u vᵀ with unit vectors u ∝ 1, v ∝ 1 (every pair of coordinates
// interacts; one canonical correlation c). `sparse`: C_ii = ρ for the first `interacting` coordinates (k
// canonical correlations ρ). For a Gaussian with this covariance I(X;Y) = −½ Σ_i log(1 − s_i²) over the
// canonical correlations s_i.
#include <cstddef>
#include <string>
#include <vector>

#include "vibench/math/matrix.hpp"
#include "vibench/math/rng.hpp"
#include "vibench/mi/mi_transforms.hpp"

namespace vibench {

struct BlockCovariance {
  std::size_t dx = 0, dy = 0;
  Matrix chol;                 // lower Cholesky factor of Σ ((dx+dy)²)
  double log_det = 0;          // log det Σ
  double gaussian_mi = 0;      // I(X;Y) if w ~ N(0, Σ)
  MiTransform transform = MiTransform::none;

  // dense: every coordinate pair interacts; else the first `interacting` pairs (x_i, y_i), interacting ≤ min(dx, dy).
  BlockCovariance(std::size_t dim_x, std::size_t dim_y, bool dense, double strength, std::size_t interacting,
                  MiTransform transform);
  // For an observation (x, y): with w = (x, y) mapped back through the inverse of the task's elementwise map,
  // returns wᵀ Σ⁻¹ w and sets the marginal quadratic forms qx = w_xᵀw_x, qy = w_yᵀw_y.
  double quadratic(const double* x, const double* y, double& qx, double& qy) const;
  // w = L e (a draw of N(0, Σ) from standard normals e, dx + dy of them).
  void correlate(const double* e, std::vector<double>& w) const;
  // Observation from w (dx+dy) = (x, y): apply the map.
  void emit(const std::vector<double>& w, double* x, double* y) const;
};

}  // namespace vibench
