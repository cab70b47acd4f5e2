// bound `mine`: the Donsker–Varadhan value, trained with MINE's bias-corrected gradient (Belghazi et al.
// 2018, §3.2): the denominator E_{p(x)p(y)}[e^f] of ∇ log E[e^f] = E[e^f ∇f] / E[e^f] is replaced by an
// exponential moving average m̄ ← (1 − α) m̄ + α · mean_{i≠j} e^{F_ij} kept across steps (log m̄ in state).
#include <cmath>

#include "vibench/mi/mi.hpp"
#include "vibench/plugin/registry.hpp"

namespace {

using namespace vibench;

class Mine final : public Bound {
 public:
  explicit Mine(const Params& p) : alpha_(p.get_double("ema")) {}

  double value(const Matrix& f) const override { return dv_bound(f, nullptr); }

  double value_and_grad(const Matrix& f, Matrix& g, std::vector<double>& state) const override {
    const std::size_t b = f.rows();
    const double lme = log_mean_exp_off_diagonal(f);
    if (state.empty()) {
      state.push_back(lme);  // the first batch initializes the average
    } else {
      const double x = std::log1p(-alpha_) + state[0], y = std::log(alpha_) + lme;  // log((1−α)m̄ + α·mean)
      state[0] = std::max(x, y) + std::log1p(std::exp(-std::abs(x - y)));
    }
    const double n = static_cast<double>(b * (b - 1));
    for (std::size_t i = 0; i < b; ++i)
      for (std::size_t j = 0; j < b; ++j)
        g(i, j) = i == j ? 1.0 / static_cast<double>(b) : -std::exp(f(i, j) - state[0]) / n;
    return mean_diagonal(f) - lme;
  }

 private:
  double alpha_;
};

const Register<Bound, Mine> registration{{
    .name = "mine",
    .description = "MINE: the DV value; gradient with a moving-average denominator (bias correction)",
    .reference = "Belghazi et al. 2018, section 3.2",
    .params = {ParamSpec::real("ema", 0.01, "moving-average rate alpha of the denominator").positive().at_most(1.0)},
}};

}  // namespace
