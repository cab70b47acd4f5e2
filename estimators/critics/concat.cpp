// critic `concat`: f(x, y) = m([x, y]) with one MLP on the concatenated pair (Poole et al. 2019, §4: "concat
// critic"). One batch costs B² network evaluations, one per (x_i, y_j) pair.
#include "vibench/mi/mi.hpp"
#include "vibench/plugin/registry.hpp"

namespace {

using namespace vibench;

class ConcatCritic final : public Critic {
 public:
  ConcatCritic(const Params& p, const PluginContext& c) : dx_(c.dim), dy_(c.dim_y) {
    const std::vector<std::size_t> hidden(static_cast<std::size_t>(p.get_int("hidden_layers")),
                                          static_cast<std::size_t>(p.get_int("hidden_units")));
    net_ = Mlp(layer_sizes(dx_ + dy_, hidden, 1), parse_activation(p.get_string("activation")), Activation::identity);
  }

  std::size_t num_params() const override { return net_.num_params(); }
  void init(double* params, Rng& rng) const override { net_.init(params, rng); }

  void scores(const MiTask&, const Matrix& x, const Matrix& y, const double* params, double shift, Matrix& f,
              CriticWorkspace& ws) const override {
    const std::size_t b = x.rows();
    ws.pairs.resize(b * b, dx_ + dy_);  // row i·B + j = [x_i, y_j]
    for (std::size_t i = 0; i < b; ++i)
      for (std::size_t j = 0; j < b; ++j) {
        double* row = ws.pairs.row(i * b + j);
        std::copy(x.row(i), x.row(i) + dx_, row);
        std::copy(y.row(j), y.row(j) + dy_, row + dx_);
      }
    net_.forward(params, ws.pairs, ws.first, ws.out);
    f.resize(b, b);
    for (std::size_t k = 0; k < b * b; ++k) f.data()[k] = ws.out.data()[k] + shift;
  }

  void backward(const double* params, const Matrix& df, CriticWorkspace& ws, double* grad) const override {
    ws.d_out.resize(df.rows() * df.cols(), 1);
    std::copy(df.data(), df.data() + df.rows() * df.cols(), ws.d_out.data());
    net_.backward(params, ws.d_out, ws.first, grad, nullptr);
  }

 private:
  std::size_t dx_, dy_;
  Mlp net_;
};

const Register<Critic, ConcatCritic> registration{{
    .name = "concat",
    .description = "f(x, y) = MLP([x, y]) on every pair of the batch",
    .reference = "Poole et al. 2019, section 4",
    .params = {ParamSpec::integer("hidden_layers", 2, "hidden layers").at_least(0),
               ParamSpec::integer("hidden_units", 256, "units per hidden layer").at_least(1),
               ParamSpec::choice("activation", {"relu", "tanh", "softplus"}, "relu", "hidden activation")},
}};

}  // namespace
