// critic `oracle`: f(x, y) = log p(x, y) − log p(x) − log p(y), the task's true log density ratio (shifted
// by each bound's optimal constant). With it a bound's bias and variance are its own, apart from any critic
// learning. It is also the true decoder log p(x|y) − log p(x) that Barber–Agakov needs.
#include "vibench/mi/mi.hpp"
#include "vibench/plugin/registry.hpp"

namespace {

using namespace vibench;

class OracleCritic final : public Critic {
 public:
  explicit OracleCritic(const Params&) {}
  void scores(const MiTask& task, const Matrix& x, const Matrix& y, const double*, double shift, Matrix& f,
              CriticWorkspace&) const override {
    task.log_ratios(x, y, shift, f);
  }
  bool is_oracle() const override { return true; }
};

const Register<Critic, OracleCritic> registration{{
    .name = "oracle",
    .description = "the task's true log density ratio log p(x,y)/(p(x)p(y)): no training",
    .reference = "",
    .params = {},
}};

}  // namespace
