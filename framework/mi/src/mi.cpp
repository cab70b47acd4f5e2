#include "vibench/mi/mi.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "vibench/math/scalar_functions.hpp"

namespace vibench {

double Bound::ceiling(std::size_t) const { return std::numeric_limits<double>::infinity(); }

double mean_diagonal(const Matrix& f) {
  double s = 0;
  for (std::size_t i = 0; i < f.rows(); ++i) s += f(i, i);
  return s / static_cast<double>(f.rows());
}

double log_mean_exp_off_diagonal(const Matrix& f) {
  const std::size_t b = f.rows();
  double m = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < b; ++i)
    for (std::size_t j = 0; j < b; ++j)
      if (i != j) m = std::max(m, f(i, j));
  double s = 0;
  for (std::size_t i = 0; i < b; ++i)
    for (std::size_t j = 0; j < b; ++j)
      if (i != j) s += std::exp(f(i, j) - m);
  return m + std::log(s / static_cast<double>(b * (b - 1)));
}

}  // namespace vibench

namespace vibench {

namespace {
double off_diagonal_count(const Matrix& f) { return static_cast<double>(f.rows() * (f.rows() - 1)); }
}  // namespace

double tuba_bound(const Matrix& f, double a, Matrix* g) {
  const std::size_t b = f.rows();
  const double n = off_diagonal_count(f);
  double marginal = 0;
  for (std::size_t i = 0; i < b; ++i)
    for (std::size_t j = 0; j < b; ++j)
      if (i != j) {
        const double e = std::exp(f(i, j) - a);
        marginal += e;
        if (g) (*g)(i, j) = -e / n;
      }
  if (g)
    for (std::size_t i = 0; i < b; ++i) (*g)(i, i) = 1.0 / static_cast<double>(b);
  return 1 + mean_diagonal(f) - a - marginal / n;
}

double dv_bound(const Matrix& f, Matrix* g) {
  const std::size_t b = f.rows();
  const double lme = log_mean_exp_off_diagonal(f);
  if (g) {
    // ∂/∂F_ij of −log mean e^F = −e^{F_ij} / Σ_{k≠l} e^{F_kl} = −e^{F_ij − lme} / (B(B−1)).
    const double n = off_diagonal_count(f);
    for (std::size_t i = 0; i < b; ++i)
      for (std::size_t j = 0; j < b; ++j) (*g)(i, j) = i == j ? 1.0 / static_cast<double>(b) : -std::exp(f(i, j) - lme) / n;
  }
  return mean_diagonal(f) - lme;
}

double js_fgan_objective(const Matrix& f, Matrix& g) {
  const std::size_t b = f.rows();
  const double n = off_diagonal_count(f);
  double joint = 0, marginal = 0;
  for (std::size_t i = 0; i < b; ++i)
    for (std::size_t j = 0; j < b; ++j) {
      if (i == j) {
        joint -= softplus(-f(i, i));
        g(i, i) = sigmoid(-f(i, i)) / static_cast<double>(b);
      } else {
        marginal += softplus(f(i, j));
        g(i, j) = -sigmoid(f(i, j)) / n;
      }
    }
  return joint / static_cast<double>(b) - marginal / n;
}

double JsTrainedBound::value_and_grad(const Matrix& f, Matrix& g, std::vector<double>&) const {
  js_fgan_objective(f, g);
  return value(f);
}

double JsTrainedBound::training_objective(const Matrix& f) const {
  Matrix unused(f.rows(), f.cols());
  return js_fgan_objective(f, unused);
}

}  // namespace vibench
