#include "vibench/mi/mi_block_covariance.hpp"

#include <cmath>
#include <stdexcept>

#include "vibench/math/linalg.hpp"

namespace vibench {

BlockCovariance::BlockCovariance(std::size_t dim_x, std::size_t dim_y, bool dense, double s, std::size_t k,
                                 MiTransform transform_)
    : dx(dim_x), dy(dim_y), transform(transform_) {
  const std::size_t d = dx + dy;
  Matrix sigma = Matrix::identity(d);
  if (dense) {
    const double c = s / std::sqrt(static_cast<double>(dx * dy));  // C = s · (1/√dx)(1/√dy) 1 1ᵀ
    for (std::size_t i = 0; i < dx; ++i)
      for (std::size_t j = 0; j < dy; ++j) sigma(i, dx + j) = sigma(dx + j, i) = c;
    gaussian_mi = -0.5 * std::log(1 - s * s);
  } else {
    if (k > std::min(dx, dy)) throw std::invalid_argument("BlockCovariance: more interacting pairs than min(dim_x, dim_y)");
    for (std::size_t i = 0; i < k; ++i) sigma(i, dx + i) = sigma(dx + i, i) = s;
    gaussian_mi = -0.5 * static_cast<double>(k) * std::log(1 - s * s);
  }
  chol = linalg::cholesky(sigma);
  log_det = linalg::logdet_from_cholesky(chol);
}

double BlockCovariance::quadratic(const double* x, const double* y, double& qx, double& qy) const {
  const std::size_t d = dx + dy;
  thread_local std::vector<double> w;  // called for every (x, y) pair of an oracle batch: no allocation per call
  w.resize(d);
  for (std::size_t i = 0; i < dx; ++i) w[i] = invert_mi_transform(transform, x[i]);
  for (std::size_t i = 0; i < dy; ++i) w[dx + i] = invert_mi_transform(transform, y[i]);
  qx = qy = 0;
  for (std::size_t i = 0; i < dx; ++i) qx += w[i] * w[i];
  for (std::size_t i = 0; i < dy; ++i) qy += w[dx + i] * w[dx + i];
  // Forward substitution L u = w; wᵀΣ⁻¹w = ‖u‖².
  double q = 0;
  for (std::size_t i = 0; i < d; ++i) {
    double v = w[i];
    for (std::size_t j = 0; j < i; ++j) v -= chol(i, j) * w[j];
    w[i] = v / chol(i, i);
    q += w[i] * w[i];
  }
  return q;
}

void BlockCovariance::correlate(const double* e, std::vector<double>& w) const {
  const std::size_t d = dx + dy;
  w.resize(d);
  for (std::size_t i = 0; i < d; ++i) {
    double v = 0;
    for (std::size_t j = 0; j <= i; ++j) v += chol(i, j) * e[j];
    w[i] = v;
  }
}

void BlockCovariance::emit(const std::vector<double>& w, double* x, double* y) const {
  for (std::size_t i = 0; i < dx; ++i) x[i] = apply_mi_transform(transform, w[i]);
  for (std::size_t i = 0; i < dy; ++i) y[i] = apply_mi_transform(transform, w[dx + i]);
}

}  // namespace vibench
