// bound `js`: the critic is trained on the Jensen–Shannon f-GAN objective, whose maximizer is f = log r
// (Nowozin et al. 2016); the MI estimate is NWJ evaluated at the density-ratio estimate f + 1, i.e.
// 1 + E_p[f] − E_{p(x)p(y)}[e^f] (Poole et al. 2019, §2.3; Song & Ermon 2020 use the same pairing).
#include "vibench/mi/mi.hpp"
#include "vibench/plugin/registry.hpp"

namespace {

using namespace vibench;

class Js final : public JsTrainedBound {
 public:
  explicit Js(const Params&) {}
  double value(const Matrix& f) const override { return tuba_bound(f, 0.0, nullptr); }
};

const Register<Bound, Js> registration{{
    .name = "js",
    .description = "trained with the Jensen-Shannon f-GAN objective, evaluated with NWJ at f + 1",
    .reference = "Nowozin et al. 2016; Poole et al. 2019, section 2.3",
    .params = {},
}};

}  // namespace
