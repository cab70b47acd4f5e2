// The one training loop of the minibatch studies (vib, rate_distortion): a diverged step ends the run with
// every remaining step counted as done, whichever study runs it, and a whole run counts exactly its steps.
#include <catch2/catch.hpp>

#include <cstdint>

#include "vibench/plugin/minibatch_training.hpp"
#include "vibench/plugin/work_counter.hpp"

using namespace vibench;

namespace {
std::uint64_t counted = 0;
void count_units(std::uint64_t units) { counted += units; }
}  // namespace

TEST_CASE("train_minibatches counts a diverged run's remaining steps as done", "[study]") {
  const Config config;
  const CellContext ctx{config, 5, 9};
  // 10 examples in batches of 3: 4 steps per epoch (the last one short), 3 epochs.
  const std::size_t train_n = 10, batch = 3, epochs = 3, total = 12;
  REQUIRE(minibatch_steps(train_n, batch, epochs) == total);
  set_work_observer(count_units);
  for (std::size_t diverge_at : {std::size_t{0}, std::size_t{3}, std::size_t{4}, std::size_t{11}, total}) {
    INFO("diverging at step " << diverge_at);
    counted = 0;
    MinibatchTraining st(1, Adam(1, 0.1), 1, 1);
    std::size_t epochs_finished = 0;
    const bool finished = train_minibatches(
        ctx, st, train_n, batch, epochs, [](MinibatchTraining& s) { s.params[0] = 1.0; }, [](MinibatchTraining&) {},
        [&](MinibatchTraining& s, const std::vector<std::size_t>&, std::size_t begin, std::size_t end) {
          if (s.step == diverge_at) return false;
          const double g = static_cast<double>(end - begin);
          s.adam.step(s.params.data(), &g, /*ascend=*/false);
          return true;
        },
        [&](MinibatchTraining&) { ++epochs_finished; });
    CHECK(finished == (diverge_at == total));
    CHECK(st.step == diverge_at);
    CHECK(epochs_finished == diverge_at / 4);
    CHECK(counted == total);  // progress reaches the cell's work units either way
    if (!finished) {
      const CellResult r = diverged_training(st.step);
      CHECK(r.status == "diverged");
      CHECK(r.reason == "the loss is not finite at training step " + std::to_string(diverge_at));
    }
  }
  set_work_observer(nullptr);
}
