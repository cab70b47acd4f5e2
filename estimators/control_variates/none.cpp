// control variate `none`: b = 0 and no f̃, i.e. plain REINFORCE ĝ = (1/S) Σ_s L̂_s G_s (Williams 1992).
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/control_variate.hpp"

namespace {

using namespace vibench;

class NoControlVariate final : public ControlVariate {
 public:
  explicit NoControlVariate(const Params&) {}
};

const Register<ControlVariate, NoControlVariate> registration{{
    .name = "none",
    .description = "no control variate: plain REINFORCE",
    .reference = "Williams 1992",
}};

}  // namespace
