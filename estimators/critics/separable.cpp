// critic `separable`: f(x, y) = g(x)ᵀ h(y) / √k with two MLPs g, h into R^k, k = `embed_dim` (Poole et al.
// 2019, §4: "separable critic"). The 1/√k keeps the initial scores O(1) (a sum of k products of O(1) terms
// otherwise), which the exponential bounds (NWJ, DV) need to start training; it does not change the class
// of functions. One batch costs 2B network evaluations; F = G Hᵀ/√k is one matrix product.
#include <cmath>

#include "vibench/mi/mi.hpp"
#include "vibench/plugin/registry.hpp"

namespace {

using namespace vibench;

std::vector<std::size_t> hidden(const Params& p) {
  return std::vector<std::size_t>(static_cast<std::size_t>(p.get_int("hidden_layers")), static_cast<std::size_t>(p.get_int("hidden_units")));
}

class SeparableCritic final : public Critic {
 public:
  SeparableCritic(const Params& p, const PluginContext& c)
      : g_(layer_sizes(c.dim, hidden(p), static_cast<std::size_t>(p.get_int("embed_dim"))), parse_activation(p.get_string("activation")),
           Activation::identity),
        h_(layer_sizes(c.dim_y, hidden(p), static_cast<std::size_t>(p.get_int("embed_dim"))), parse_activation(p.get_string("activation")),
           Activation::identity) {}

  std::size_t num_params() const override { return g_.num_params() + h_.num_params(); }
  void init(double* params, Rng& rng) const override {
    g_.init(params, rng);
    h_.init(params + g_.num_params(), rng);
  }

  void scores(const MiTask&, const Matrix& x, const Matrix& y, const double* params, double shift, Matrix& f,
              CriticWorkspace& ws) const override {
    g_.forward(params, x, ws.first, ws.a);
    h_.forward(params + g_.num_params(), y, ws.second, ws.b);
    matmul_abt(ws.a, ws.b, f);  // F = G Hᵀ / √k + shift
    for (std::size_t i = 0; i < f.rows() * f.cols(); ++i) f.data()[i] = f.data()[i] * scale() + shift;
  }

  void backward(const double* params, const Matrix& df, CriticWorkspace& ws, double* grad) const override {
    matmul_ab(df, ws.b, ws.d_a);   // ∂L/∂G = dF H / √k
    matmul_atb(df, ws.a, ws.d_b);  // ∂L/∂H = dFᵀ G / √k
    for (std::size_t i = 0; i < ws.d_a.rows() * ws.d_a.cols(); ++i) ws.d_a.data()[i] *= scale();
    for (std::size_t i = 0; i < ws.d_b.rows() * ws.d_b.cols(); ++i) ws.d_b.data()[i] *= scale();
    g_.backward(params, ws.d_a, ws.first, grad, nullptr);
    h_.backward(params + g_.num_params(), ws.d_b, ws.second, grad + g_.num_params(), nullptr);
  }

 private:
  double scale() const { return 1 / std::sqrt(static_cast<double>(g_.out())); }
  Mlp g_, h_;
};

const Register<Critic, SeparableCritic> registration{{
    .name = "separable",
    .description = "f(x, y) = g(x)^T h(y), two MLPs into R^embed_dim",
    .reference = "Poole et al. 2019, section 4",
    .params = {ParamSpec::integer("hidden_layers", 2, "hidden layers of each MLP").at_least(0),
               ParamSpec::integer("hidden_units", 256, "units per hidden layer").at_least(1),
               ParamSpec::integer("embed_dim", 32, "dimension of g(x) and h(y)").at_least(1),
               ParamSpec::choice("activation", {"relu", "tanh", "softplus"}, "relu", "hidden activation")},
}};

}  // namespace
