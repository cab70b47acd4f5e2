// target `quadratic`: f(z) = Σᵢ (zᵢ − k)², the test cost of Mohamed et al. 2020 §3 (Fig. 2).
// It is not a density: "log p(x, z)" here is the cost f, so objective `expectation` gives ∇_φ E_q[f(z)].
// Registered a second time as `bernoulli_toy`, f(b) = Σᵢ (bᵢ − t)² with t = 0.499: the toy problem of
// Tucker et al. 2017 (REBAR) and Grathwohl et al. 2018 (RELAX), meant for discrete families, whose exact
// gradient for b ~ Bern(σ(η)) is (1 − 2t)·σ(η)(1 − σ(η)) per coordinate.
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/target.hpp"

namespace {

using namespace vibench;

class Quadratic final : public Target {
 public:
  explicit Quadratic(const Params& p)
      : dim_(static_cast<std::size_t>(p.get_int("dim"))), k_(p.get_double(p.has("t") ? "t" : "k")) {}

  std::size_t dim() const override { return dim_; }

  void log_joint(const Matrix& z, double* lp) const override {
    for (std::size_t s = 0; s < z.rows(); ++s) {
      const double* zs = z.row(s);
      double f = 0;
      for (std::size_t i = 0; i < dim_; ++i) f += (zs[i] - k_) * (zs[i] - k_);
      lp[s] = f;
    }
  }

  void grad_log_joint(const Matrix& z, Matrix& g, double* lp) const override {
    g.resize(z.rows(), dim_);
    log_joint(z, lp);
    for (std::size_t s = 0; s < z.rows(); ++s)
      for (std::size_t i = 0; i < dim_; ++i) g(s, i) = 2 * (z(s, i) - k_);
  }

  Capabilities offers() const override { return Target::offers().with(Capability::hessian); }
  bool hessian_log_joint(const double*, Matrix& h) const override {  // 2I
    h = Matrix::identity(dim_);
    for (std::size_t i = 0; i < dim_; ++i) h(i, i) = 2.0;
    return true;
  }

  // E_{N(m,C)} Σ (zᵢ − k)² = Σ (mᵢ − k)² + Cᵢᵢ
  std::optional<GaussianExpectation> gaussian_expectation(const std::vector<double>& m, const Matrix& c) const override {
    GaussianExpectation e;
    e.grad_mean.resize(dim_);
    e.grad_cov = Matrix::identity(dim_);
    for (std::size_t i = 0; i < dim_; ++i) {
      e.value += (m[i] - k_) * (m[i] - k_) + c(i, i);
      e.grad_mean[i] = 2 * (m[i] - k_);
    }
    return e;
  }

 private:
  std::size_t dim_;
  double k_;
};

const Register<Target, Quadratic> registration{{
    .name = "quadratic",
    .description = "cost f(z) = sum_i (z_i - k)^2 (Mohamed et al. 2020 test function); not a density",
    .reference = "Mohamed, Rosca, Figurnov, Mnih 2020, Monte Carlo Gradient Estimation in ML, JMLR, §3 and Fig. 2",
    .params = {ParamSpec::integer("dim", 1, "dimension D of z").at_least(1),
               ParamSpec::real("k", 0.0, "location of the minimum")},
}};

const Register<Target, Quadratic> bernoulli_toy{{
    .name = "bernoulli_toy",
    .description = "f(b) = sum_i (b_i - t)^2 with t = 0.499 (the REBAR/RELAX toy); use with discrete families",
    .reference = "Tucker et al. 2017, REBAR, §6.1; Grathwohl et al. 2018, RELAX, §6.1",
    .params = {ParamSpec::integer("dim", 1, "dimension D of b").at_least(1),
               ParamSpec::real("t", 0.499, "target value t")},
}};

}  // namespace
