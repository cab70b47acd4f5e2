// bound `ba`: Barber–Agakov, I ≥ H(X) + E_p[log q(x|y)] = E_p[log q(x|y) − log p(x)] for a normalized
// decoder q(x|y) (Barber & Agakov 2003; Poole et al. 2019, eq. 2). With scores f = log q(x|y) − log p(x) it
// is the mean of the diagonal; it needs a decoder critic (the `oracle` is the true decoder p(x|y)).
#include "vibench/mi/mi.hpp"
#include "vibench/plugin/registry.hpp"

namespace {

using namespace vibench;

class Ba final : public Bound {
 public:
  explicit Ba(const Params&) {}
  double value(const Matrix& f) const override { return mean_diagonal(f); }
  double value_and_grad(const Matrix& f, Matrix& g, std::vector<double>&) const override {
    g.fill(0.0);
    for (std::size_t i = 0; i < f.rows(); ++i) g(i, i) = 1.0 / static_cast<double>(f.rows());
    return value(f);
  }
  bool needs_decoder() const override { return true; }
};

const Register<Bound, Ba> registration{{
    .name = "ba",
    .description = "Barber-Agakov: E_p[log q(x|y) - log p(x)] with a given normalized decoder q(x|y)",
    .reference = "Barber & Agakov 2003; Poole et al. 2019, eq. 2",
    .params = {},
}};

}  // namespace
