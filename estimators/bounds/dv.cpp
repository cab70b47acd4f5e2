// bound `dv`: Donsker–Varadhan, I ≥ E_p[f] − log E_{p(x)p(y)}[e^f] (Poole et al. 2019, eq. 11). Invariant
// to adding a constant to f; the batch estimate is biased (log of a sample mean) and its variance grows
// like e^{I} (Song & Ermon 2020).
#include "vibench/mi/mi.hpp"
#include "vibench/plugin/registry.hpp"

namespace {

using namespace vibench;

class Dv final : public Bound {
 public:
  explicit Dv(const Params&) {}
  double value(const Matrix& f) const override { return dv_bound(f, nullptr); }
  double value_and_grad(const Matrix& f, Matrix& g, std::vector<double>&) const override { return dv_bound(f, &g); }
};

const Register<Bound, Dv> registration{{
    .name = "dv",
    .description = "Donsker-Varadhan: E_p[f] - log E_{p(x)p(y)}[exp f]",
    .reference = "Donsker & Varadhan 1983; Poole et al. 2019, eq. 11",
    .params = {},
}};

}  // namespace
