// mi_task `multivariate_normal`: (x, y) ~ N(0, Σ) with identity blocks and dense or sparse cross-covariance
// (mi_block_covariance.hpp), optionally observed through an invertible elementwise map — the BMI benchmark's
// "multinormal" tasks (Czyż et al. 2023). I(X;Y) = −½ Σ_i log(1 − s_i²) over the canonical correlations.
#include <cmath>

#include "vibench/mi/mi.hpp"
#include "vibench/plugin/block_covariance_params.hpp"
#include "vibench/plugin/registry.hpp"

namespace {

using namespace vibench;

class MultivariateNormal final : public MiTask {
 public:
  explicit MultivariateNormal(const Params& p) : cov_(make_block_covariance(p)) {}

  std::size_t dim_x() const override { return cov_.dx; }
  std::size_t dim_y() const override { return cov_.dy; }
  double exact_mi() const override { return cov_.gaussian_mi; }

  void sample(Rng& rng, std::size_t n, Matrix& x, Matrix& y) const override {
    const std::size_t d = cov_.dx + cov_.dy;
    x.resize(n, cov_.dx);
    y.resize(n, cov_.dy);
    std::vector<double> e(n * d), w(d);
    rng.normals(e.data(), e.size());
    for (std::size_t s = 0; s < n; ++s) {
      cov_.correlate(e.data() + s * d, w);
      cov_.emit(w, x.row(s), y.row(s));
    }
  }

  // log N(w; 0, Σ) − log N(x; 0, I) − log N(y; 0, I) = −½ log det Σ − ½ wᵀΣ⁻¹w + ½ xᵀx + ½ yᵀy.
  double log_ratio(const double* x, const double* y) const override {
    double qx, qy;
    const double q = cov_.quadratic(x, y, qx, qy);
    return -0.5 * cov_.log_det - 0.5 * q + 0.5 * qx + 0.5 * qy;
  }

 private:
  BlockCovariance cov_;
};

const Register<MiTask, MultivariateNormal> registration{{
    .name = "multivariate_normal",
    .description = "(x, y) jointly Gaussian, dense or sparse cross-covariance, optional invertible map; closed-form MI",
    .reference = "Czyz et al. 2023 (BMI benchmark), multinormal tasks",
    .params = block_covariance_params(),
}};

}  // namespace
