#include "vibench/math/linalg.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>

namespace vibench::linalg {

Matrix cholesky(const Matrix& a) {
  const std::size_t n = a.rows();
  Matrix l(n, n);
  for (std::size_t j = 0; j < n; ++j) {
    double d = a(j, j);
    for (std::size_t k = 0; k < j; ++k) d -= l(j, k) * l(j, k);
    if (!(d > 0)) throw std::runtime_error("matrix is not positive definite");
    l(j, j) = std::sqrt(d);
    for (std::size_t i = j + 1; i < n; ++i) {
      double s = a(i, j);
      for (std::size_t k = 0; k < j; ++k) s -= l(i, k) * l(j, k);
      l(i, j) = s / l(j, j);
    }
  }
  return l;
}

double logdet_from_cholesky(const Matrix& l) {
  double s = 0;
  for (std::size_t i = 0; i < l.rows(); ++i) s += std::log(l(i, i));
  return 2 * s;
}

std::vector<double> cholesky_solve(const Matrix& l, const std::vector<double>& b) {
  const std::size_t n = l.rows();
  std::vector<double> y(b);
  for (std::size_t i = 0; i < n; ++i) {  // L y = b
    for (std::size_t k = 0; k < i; ++k) y[i] -= l(i, k) * y[k];
    y[i] /= l(i, i);
  }
  for (std::size_t i = n; i-- > 0;) {  // Lᵀ x = y
    for (std::size_t k = i + 1; k < n; ++k) y[i] -= l(k, i) * y[k];
    y[i] /= l(i, i);
  }
  return y;
}

Matrix spd_inverse(const Matrix& a) {
  const std::size_t n = a.rows();
  Matrix l = cholesky(a), inv(n, n);
  std::vector<double> e(n);
  for (std::size_t j = 0; j < n; ++j) {
    std::fill(e.begin(), e.end(), 0.0);
    e[j] = 1.0;
    std::vector<double> col = cholesky_solve(l, e);
    for (std::size_t i = 0; i < n; ++i) inv(i, j) = col[i];
  }
  // Exact symmetry, so downstream closed forms do not depend on round-off asymmetry.
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < i; ++j) inv(i, j) = inv(j, i) = 0.5 * (inv(i, j) + inv(j, i));
  return inv;
}

Matrix matmul(const Matrix& a, const Matrix& b) {
  if (a.cols() != b.rows()) throw std::invalid_argument("matmul: shape mismatch");
  Matrix c(a.rows(), b.cols());
  for (std::size_t i = 0; i < a.rows(); ++i)
    for (std::size_t k = 0; k < a.cols(); ++k) {
      double aik = a(i, k);
      for (std::size_t j = 0; j < b.cols(); ++j) c(i, j) += aik * b(k, j);
    }
  return c;
}

Matrix transpose(const Matrix& a) {
  Matrix t(a.cols(), a.rows());
  for (std::size_t i = 0; i < a.rows(); ++i)
    for (std::size_t j = 0; j < a.cols(); ++j) t(j, i) = a(i, j);
  return t;
}

std::vector<double> matvec(const Matrix& a, const std::vector<double>& x) {
  if (a.cols() != x.size()) throw std::invalid_argument("matvec: shape mismatch");
  std::vector<double> y(a.rows(), 0.0);
  for (std::size_t i = 0; i < a.rows(); ++i)
    for (std::size_t j = 0; j < a.cols(); ++j) y[i] += a(i, j) * x[j];
  return y;
}

double gaussian_logpdf(const std::vector<double>& x, const std::vector<double>& mean, const Matrix& cov) {
  const std::size_t n = x.size();
  Matrix l = cholesky(cov);
  std::vector<double> r(n);
  for (std::size_t i = 0; i < n; ++i) r[i] = x[i] - mean[i];
  std::vector<double> s = cholesky_solve(l, r);
  double quad = 0;
  for (std::size_t i = 0; i < n; ++i) quad += r[i] * s[i];
  return -0.5 * (static_cast<double>(n) * std::log(2 * std::numbers::pi) + logdet_from_cholesky(l) + quad);
}

}  // namespace vibench::linalg
