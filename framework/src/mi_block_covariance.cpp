#include "vibench/mi_block_covariance.hpp"

#include <cmath>

#include <fmt/format.h>

#include "vibench/errors.hpp"
#include "vibench/linalg.hpp"

namespace vibench {

std::vector<ParamSpec> BlockCovariance::params() {
  return {ParamSpec::integer("dim_x", 5, "dimension of x").at_least(1),
          ParamSpec::integer("dim_y", 5, "dimension of y").at_least(1),
          ParamSpec::choice("interaction", {"dense", "sparse"}, "sparse",
                            "dense: every coordinate pair interacts (one canonical correlation); sparse: the first "
                            "`interacting` pairs (x_i, y_i)"),
          ParamSpec::real("strength", 0.75, "the canonical correlation(s), |strength| < 1").at_least(-0.999999).at_most(0.999999),
          ParamSpec::integer("interacting", 2, "sparse: number of correlated pairs").at_least(1),
          ParamSpec::choice("transform", mi_transform_names(), "none", "invertible map applied to every coordinate; I unchanged")};
}

BlockCovariance::BlockCovariance(const Params& p)
    : dx(static_cast<std::size_t>(p.get_int("dim_x"))),
      dy(static_cast<std::size_t>(p.get_int("dim_y"))),
      transform(parse_mi_transform(p.get_string("transform"))) {
  const double s = p.get_double("strength");
  const std::size_t d = dx + dy;
  Matrix sigma = Matrix::identity(d);
  if (p.get_string("interaction") == "dense") {
    const double c = s / std::sqrt(static_cast<double>(dx * dy));  // C = s · (1/√dx)(1/√dy) 1 1ᵀ
    for (std::size_t i = 0; i < dx; ++i)
      for (std::size_t j = 0; j < dy; ++j) sigma(i, dx + j) = sigma(dx + j, i) = c;
    gaussian_mi = -0.5 * std::log(1 - s * s);
  } else {
    const auto k = static_cast<std::size_t>(p.get_int("interacting"));
    if (k > std::min(dx, dy))
      throw ParamError(p.full_key("interacting"), fmt::format("at most min(dim_x, dim_y) = {} pairs", std::min(dx, dy)));
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
