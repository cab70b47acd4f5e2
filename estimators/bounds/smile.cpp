// bound `smile`: E_p[f] − log E_{p(x)p(y)}[clip(e^f, e^{−τ}, e^{τ})], with the critic trained on the
// Jensen–Shannon objective (Song & Ermon 2020, eq. 17 and their reference code). Clipping trades the DV
// estimator's e^{I} variance for a bias that vanishes when |log r| ≤ τ.
#include <algorithm>

#include "vibench/mi/mi.hpp"
#include "vibench/plugin/registry.hpp"

namespace {

using namespace vibench;

class Smile final : public JsTrainedBound {
 public:
  explicit Smile(const Params& p) : tau_(p.get_double("clip")) {}

  double value(const Matrix& f) const override {
    Matrix clipped = f;
    for (std::size_t i = 0; i < f.rows(); ++i)
      for (std::size_t j = 0; j < f.cols(); ++j) clipped(i, j) = std::clamp(f(i, j), -tau_, tau_);
    return mean_diagonal(f) - log_mean_exp_off_diagonal(clipped);
  }

 private:
  double tau_;
};

const Register<Bound, Smile> registration{{
    .name = "smile",
    .description = "SMILE: DV with the denominator's exp(f) clipped to [exp(-tau), exp(tau)]; JS-trained critic",
    .reference = "Song & Ermon 2020, eq. 17",
    .params = {ParamSpec::real("clip", 5.0, "tau: log of the clipping range").positive()},
}};

}  // namespace
