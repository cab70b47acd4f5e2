// bound `tuba`: I ≥ 1 + E_p[f − a] − E_{p(x)p(y)}[e^{f − a}] with a constant log-baseline a (Poole et al. 2019,
// eq. 9, the "tractable unnormalized Barber–Agakov" bound). Tight at f = a + log r; unbiased on a batch.
#include "vibench/mi/mi.hpp"
#include "vibench/plugin/registry.hpp"

namespace {

using namespace vibench;

class Tuba final : public Bound {
 public:
  explicit Tuba(const Params& p) : a_(p.get_double("log_baseline")) {}
  double value(const Matrix& f) const override { return tuba_bound(f, a_, nullptr); }
  double value_and_grad(const Matrix& f, Matrix& g, std::vector<double>&) const override { return tuba_bound(f, a_, &g); }
  double optimal_shift() const override { return a_; }

 private:
  double a_;
};

const Register<Bound, Tuba> registration{{
    .name = "tuba",
    .description = "TUBA: 1 + E_p[f - a] - E_{p(x)p(y)}[exp(f - a)] with a constant log-baseline a",
    .reference = "Poole et al. 2019, eq. 9",
    .params = {ParamSpec::real("log_baseline", 0.0, "the constant log-baseline a")},
}};

}  // namespace
