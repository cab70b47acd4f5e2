#include "vibench/math/stats.hpp"

#include <algorithm>
#include <cmath>

#include <boost/math/distributions/normal.hpp>

namespace vibench {

void Moments::add(double x) {
  double n1 = n_;
  n_ += 1;
  double delta = x - mean_;
  double dn = delta / n_;
  double dn2 = dn * dn;
  double term1 = delta * dn * n1;
  mean_ += dn;
  m4_ += term1 * dn2 * (n_ * n_ - 3 * n_ + 3) + 6 * dn2 * m2_ - 4 * dn * m3_;
  m3_ += term1 * dn * (n_ - 2) - 3 * dn * m2_;
  m2_ += term1;
}

void Moments::merge(const Moments& o) {
  if (o.n_ == 0) return;
  if (n_ == 0) {
    *this = o;
    return;
  }
  double na = n_, nb = o.n_, n = na + nb;
  double d = o.mean_ - mean_, d2 = d * d, d3 = d2 * d, d4 = d2 * d2;
  double m2 = m2_ + o.m2_ + d2 * na * nb / n;
  double m3 = m3_ + o.m3_ + d3 * na * nb * (na - nb) / (n * n) + 3 * d * (na * o.m2_ - nb * m2_) / n;
  double m4 = m4_ + o.m4_ + d4 * na * nb * (na * na - na * nb + nb * nb) / (n * n * n) +
              6 * d2 * (na * na * o.m2_ + nb * nb * m2_) / (n * n) + 4 * d * (na * o.m3_ - nb * m3_) / n;
  mean_ += d * nb / n;
  n_ = n;
  m2_ = m2;
  m3_ = m3;
  m4_ = m4;
}

double Moments::variance() const { return n_ > 1 ? m2_ / (n_ - 1) : 0.0; }
double Moments::standard_error() const { return n_ > 1 ? std::sqrt(variance() / n_) : 0.0; }

double Moments::variance_standard_error() const {
  if (n_ < 4) return 0.0;
  double mu4 = m4_ / n_, s2 = variance();
  double v = mu4 / n_ - s2 * s2 * (n_ - 3) / (n_ * (n_ - 1));
  return std::sqrt(std::max(v, 0.0));
}

double normal_critical_value(double confidence) {
  return boost::math::quantile(boost::math::normal_distribution<double>(), 0.5 + confidence / 2);
}

}  // namespace vibench
