// target `categorical_toy`: the categorical analogue of the REBAR/RELAX toy (`bernoulli_toy`),
// f(z) = Σ_v ‖z_v − t‖² over the V = D/C blocks z_v ∈ R^C of z, with t ∈ R^C (C = len(t)).
// Like `quadratic`, it is a cost, not a density: "log p(x, z)" is f, and objective `expectation` gives
// ∇_φ E_q[f(z)]. On one-hot blocks (family `categorical`, z_v = e_c with c ~ Cat(π_v), π_v = softmax(φ_v))
// f(z) = Σ_v (1 + ‖t‖² − 2 t_{c_v}), so E_q f = Σ_v (1 + ‖t‖² − 2 π_v·t) and
// ∂E_q f/∂φ_{v,k} = −2 π_{v,k} (t_k − π_v·t): the minimum puts all mass on argmax t. With t's entries close
// (default 0.499, 0.5, 0.501) the exact gradient is tiny next to f ≈ 1 + ‖t‖² − 2·t̄, as in the Bernoulli
// toy. Off the one-hot points (the Gumbel-softmax relaxation) f is the plain quadratic, ∇f = 2(z − t).
#include <fmt/format.h>

#include "vibench/math/batch.hpp"
#include "vibench/plugin/errors.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/target.hpp"

namespace {

using namespace vibench;

std::vector<double> targets_of(const Params& p) {
  std::vector<double> t = p.get_doubles("t");
  if (t.empty()) t = {0.499, 0.5, 0.501};
  if (t.size() < 2) throw ParamError(p.full_key("t"), "categorical_toy needs at least 2 categories (len(t) >= 2)");
  return t;
}

class CategoricalToy final : public Target {
  auto tiled() const { return block(tiled_.data(), dim_); }  // t repeated over the V blocks, as an expression

 public:
  explicit CategoricalToy(const Params& p)
      : dim_(static_cast<std::size_t>(p.get_int("dim"))), t_(targets_of(p)) {
    if (dim_ % t_.size() != 0)
      throw ParamError(p.full_key("dim"), fmt::format("categorical_toy: dim {} is not a multiple of len(t) = {} "
                                                      "(one block of C = len(t) coordinates per variable)",
                                                      dim_, t_.size()));
    tiled_.resize(dim_);
    for (std::size_t i = 0; i < dim_; ++i) tiled_[i] = t_[i % t_.size()];
  }

  std::size_t dim() const override { return dim_; }

  void log_joint(const Matrix& z, double* lp) const override {
    for (std::size_t s = 0; s < z.rows(); ++s) {
      const auto u = row_of(z, s) - tiled();
      lp[s] = sum_in_order(u * u);
    }
  }

  void grad_log_joint(const Matrix& z, Matrix& g, double* lp) const override {
    g.resize(z.rows(), dim_);
    log_joint(z, lp);
    for (std::size_t s = 0; s < z.rows(); ++s) xt::noalias(row_of(g, s)) = 2 * (row_of(z, s) - tiled());
  }

  Capabilities offers() const override { return Target::offers().with(Capability::hessian); }
  bool hessian_log_joint(const double*, Matrix& h) const override {  // 2I
    h = Matrix::identity(dim_);
    for (std::size_t i = 0; i < dim_; ++i) h(i, i) = 2.0;
    return true;
  }

  // E_{N(m,C)} Σ (zᵢ − tᵢ)² = Σ (mᵢ − tᵢ)² + Cᵢᵢ  (t repeated per block)
  std::optional<GaussianExpectation> gaussian_expectation(const std::vector<double>& m, const Matrix& cov) const override {
    const std::size_t c = t_.size();
    GaussianExpectation e;
    e.grad_mean.resize(dim_);
    e.grad_cov = Matrix::identity(dim_);
    for (std::size_t i = 0; i < dim_; ++i) {
      e.value += (m[i] - t_[i % c]) * (m[i] - t_[i % c]) + cov(i, i);
      e.grad_mean[i] = 2 * (m[i] - t_[i % c]);
    }
    return e;
  }

 private:
  std::size_t dim_;
  std::vector<double> t_, tiled_;  // tiled_: t repeated over the V blocks (D values)
};

const Register<Target, CategoricalToy> registration{{
    .name = "categorical_toy",
    .description = "f(z) = sum_v ||z_v - t||^2 over blocks of C = len(t) (default t = 0.499, 0.5, 0.501): the "
                   "categorical RELAX-style toy; use with family categorical (categories = len(t))",
    .reference = "categorical analogue of Tucker et al. 2017 (REBAR) §6.1 and Grathwohl et al. 2018 (RELAX) §6.1",
    .params = {ParamSpec::integer("dim", 3, "dimension D = V·C of z (V one-hot blocks of C = len(t))").at_least(1),
               ParamSpec::reals("t", "per-category targets t_1..t_C (empty: 0.499, 0.5, 0.501)")},
}};

}  // namespace
