// mi_task `student_t`: (x, y) multivariate Student-t with `dof` ν and scale matrix Σ (mi_block_covariance.hpp):
// w = L e / √(u/ν), e ~ N(0, I), u ~ χ²_ν. Its marginals are Student-t with the same ν and identity scale, and
//   I(X;Y) = I_Gauss(Σ) + log[Γ(ν/2) Γ((ν+m+n)/2) / (Γ((ν+m)/2) Γ((ν+n)/2))]
//            + ((ν+m)/2) ψ((ν+m)/2) + ((ν+n)/2) ψ((ν+n)/2) − ((ν+m+n)/2) ψ((ν+m+n)/2) − (ν/2) ψ(ν/2)
// with m = dim_x, n = dim_y (Czyż et al. 2023, the BMI benchmark's Student-t tasks; positive even when Σ = I).
#include <cmath>

#include <boost/math/special_functions/digamma.hpp>

#include "vibench/mi/mi.hpp"
#include "vibench/plugin/block_covariance_params.hpp"
#include "vibench/plugin/registry.hpp"

namespace {

using namespace vibench;

class StudentT final : public MiTask {
 public:
  explicit StudentT(const Params& p) : cov_(make_block_covariance(p)), nu_(static_cast<double>(p.get_int("dof"))), dof_(static_cast<std::size_t>(p.get_int("dof"))) {}

  std::size_t dim_x() const override { return cov_.dx; }
  std::size_t dim_y() const override { return cov_.dy; }

  double exact_mi() const override {
    using boost::math::digamma;
    const double m = static_cast<double>(cov_.dx), n = static_cast<double>(cov_.dy), v = nu_;
    const double correction = std::lgamma(v / 2) + std::lgamma((v + m + n) / 2) - std::lgamma((v + m) / 2) -
                              std::lgamma((v + n) / 2) + (v + m) / 2 * digamma((v + m) / 2) +
                              (v + n) / 2 * digamma((v + n) / 2) - (v + m + n) / 2 * digamma((v + m + n) / 2) -
                              v / 2 * digamma(v / 2);
    return cov_.gaussian_mi + correction;
  }

  void sample(Rng& rng, std::size_t n, Matrix& x, Matrix& y) const override {
    const std::size_t d = cov_.dx + cov_.dy;
    x.resize(n, cov_.dx);
    y.resize(n, cov_.dy);
    std::vector<double> e(n * (d + dof_)), w(d);
    rng.normals(e.data(), e.size());
    for (std::size_t s = 0; s < n; ++s) {
      const double* es = e.data() + s * (d + dof_);
      double u = 0;  // χ²_ν as a sum of ν squared normals (ν is an integer)
      for (std::size_t k = 0; k < dof_; ++k) u += es[d + k] * es[d + k];
      const double scale = 1 / std::sqrt(u / nu_);
      cov_.correlate(es, w);
      for (double& v : w) v *= scale;
      cov_.emit(w, x.row(s), y.row(s));
    }
  }

  // log t_{m+n}(w; ν, Σ) − log t_m(x; ν, I) − log t_n(y; ν, I).
  double log_ratio(const double* x, const double* y) const override {
    double qx, qy;
    const double q = cov_.quadratic(x, y, qx, qy);
    const double m = static_cast<double>(cov_.dx), n = static_cast<double>(cov_.dy);
    return log_t(m + n, q, cov_.log_det) - log_t(m, qx, 0.0) - log_t(n, qy, 0.0);
  }

 private:
  // log density of a p-dimensional Student-t(ν) with scale of log-determinant log_det at Mahalanobis² q.
  double log_t(double p, double q, double log_det) const {
    return std::lgamma((nu_ + p) / 2) - std::lgamma(nu_ / 2) - p / 2 * std::log(nu_ * M_PI) - 0.5 * log_det -
           (nu_ + p) / 2 * std::log1p(q / nu_);
  }

  BlockCovariance cov_;
  double nu_;
  std::size_t dof_;
};

std::vector<ParamSpec> student_params() {
  std::vector<ParamSpec> p = block_covariance_params();
  p.push_back(ParamSpec::integer("dof", 3, "degrees of freedom nu").at_least(1));
  return p;
}

const Register<MiTask, StudentT> registration{{
    .name = "student_t",
    .description = "(x, y) multivariate Student-t (dof nu), dense or sparse scale, optional invertible map; closed-form MI",
    .reference = "Czyz et al. 2023 (BMI benchmark), Student-t tasks",
    .params = student_params(),
}};

}  // namespace
