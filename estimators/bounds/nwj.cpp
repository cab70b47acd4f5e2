// bound `nwj`: I ≥ E_p[f] − e⁻¹ E_{p(x)p(y)}[e^f] (Nguyen, Wainwright & Jordan 2010; f-GAN KL; TUBA with
// log-baseline a = 1, Poole et al. 2019 eq. 10). Tight at f = 1 + log r; unbiased on a batch, with a variance
// that grows like e^{I} (Song & Ermon 2020, Thm. 2).
#include "vibench/mi/mi.hpp"
#include "vibench/plugin/registry.hpp"

namespace {

using namespace vibench;

class Nwj final : public Bound {
 public:
  explicit Nwj(const Params&) {}
  double value(const Matrix& f) const override { return tuba_bound(f, 1.0, nullptr); }
  double value_and_grad(const Matrix& f, Matrix& g, std::vector<double>&) const override { return tuba_bound(f, 1.0, &g); }
  double optimal_shift() const override { return 1.0; }
};

const Register<Bound, Nwj> registration{{
    .name = "nwj",
    .description = "NWJ / f-GAN KL: E_p[f] - exp(-1) E_{p(x)p(y)}[exp(f)] (TUBA with a = 1)",
    .reference = "Nguyen, Wainwright & Jordan 2010; Poole et al. 2019, eq. 10",
    .params = {},
}};

}  // namespace
