// Memory estimates reject cells that cannot fit before anything is built; the replicate reduction holds
// bounded memory whatever the number of replicates, with unchanged bits.
#include <catch2/catch.hpp>

#include <filesystem>

#include "helpers.hpp"
#include "vibench/plugin/replicate_reduction.hpp"
#include "vibench/plugin/study.hpp"
#include "vibench/run/grid.hpp"
#include "vibench/run/memory_limit.hpp"

using namespace vibench;
using namespace vibench::test;

TEST_CASE("every committed experiment validates at quick and paper scale within this machine's memory", "[study]") {
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(VIBENCH_SOURCE_DIR) + "/experiments")) {
    if (entry.path().extension() != ".yaml") continue;
    INFO(entry.path().string());
    const std::string text = read_text(entry.path().string());
    CHECK_NOTHROW(load_experiment(entry.path().string(), {}));
    if (text.find("paper:") != std::string::npos) CHECK_NOTHROW(load_experiment(entry.path().string(), {.scale = "paper"}));
    ++files;
  }
  CHECK(files >= 8);
}

TEST_CASE("each study's memory estimate grows with the sizes that drive it", "[study]") {
  auto estimate = [](const std::string& yaml, const std::string& set) {
    Experiment ex = load_experiment_text(yaml, "m.yaml", {.sets = {set}});
    auto study = make_plugin<Study>(Params(Config{{"name", ex.study}}, ""));
    return study->memory_estimate(ex.cells.at(0).config);
  };
  const std::string gradient = "name: m\nstudy: gradient_stats\nseed: 1\nfixed: {target: linear_gaussian, estimator: reparam}\n";
  const std::string mi = "name: m\nstudy: mi_estimation\nseed: 1\nfixed: {target: correlated_gaussian, bound: nwj}\n";
  const std::string vib = "name: m\nstudy: vib\nseed: 1\nfixed: {test_samples: 1}\n";
  const std::string rd = "name: m\nstudy: rate_distortion\nseed: 1\n";
  const std::string vae = "name: m\nstudy: vae\nseed: 1\n";
  struct Case {
    std::string yaml, small, large, key;
  };
  for (const Case& c : {Case{gradient, "target.dim=2", "target.dim=2000", "target.dim"},
                        Case{gradient, "samples=1", "samples=100000", "samples"}}) {
    INFO(c.large);
    const MemoryEstimate small = estimate(c.yaml, c.small), large = estimate(c.yaml, c.large);
    CHECK(large.total() > small.total());
    CHECK(large.largest()->key == c.key);
  }
  for (const Case& c : {Case{mi, "batch_size=64", "batch_size=5000", "batch_size"},
                        Case{vib, "hidden_units=16", "hidden_units=4000", "hidden_units"},
                        Case{rd, "latent_dim=2", "latent_dim=20000", "latent_dim"},
                        Case{vae, "k=1", "k=2000", "k"}, Case{vae, "eval_k=5", "eval_k=40000", "eval_k"}}) {
    INFO(c.large);
    const MemoryEstimate small = estimate(c.yaml, c.small), large = estimate(c.yaml, c.large);
    CHECK(small.total() > 0);
    CHECK(large.total() > 2 * small.total());
    CHECK(large.largest()->key == c.key);
  }
}

TEST_CASE("a size no machine can hold is a config error naming the key, the value and the memory", "[study]") {
  const std::string yaml = "name: m\nstudy: gradient_stats\nseed: 1\nfixed:\n  target: {name: linear_gaussian, dim: 1000000000}\n  estimator: reparam\n";
  try {
    load_experiment_text(yaml, "m.yaml", {});
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.where().str() == "m.yaml:5:40");
    CHECK(e.key() == "target.dim");
    CHECK(e.message().find("would need about") != std::string::npos);
    CHECK(e.message().find("target.dim = 1000000000") != std::string::npos);
    CHECK(e.message().find("more than this machine allows") != std::string::npos);
  }
  const MemoryLimit limit = machine_memory_limit();
  CHECK(limit.bytes > 0);
  CHECK(!limit.source.empty());
}

TEST_CASE("replicate moments are reduced in bounded blocks with the bits of one chunk-ordered merge", "[unit]") {
  const std::size_t replicates = replicate_chunk * replicate_block * 2 + 77;  // three blocks, the last partial
  struct None {};
  auto draw = [](None&, Rng& rng, double* out) {
    rng.normals(out, 2);
    out[1] = out[0] * out[1] + 1e-3 * out[0];
  };
  ReplicateMoments m = reduce_replicates<None>(5, 9, replicates, 2, draw);
  CHECK(m.replicates == replicates);
  std::vector<Moments> expected(2);
  for (std::size_t first = 0; first < replicates; first += replicate_chunk) {  // the reduction before blocks
    std::vector<Moments> chunk(2);
    None none;
    double out[2];
    for (std::size_t r = first; r < std::min(replicates, first + replicate_chunk); ++r) {
      Rng rng(5, 9, r, streams::estimator);
      draw(none, rng, out);
      for (int i = 0; i < 2; ++i) chunk[i].add(out[i]);
    }
    for (int i = 0; i < 2; ++i) expected[i].merge(chunk[i]);
  }
  for (int i = 0; i < 2; ++i) {
    CHECK(std::bit_cast<std::uint64_t>(m.values[i].mean()) == std::bit_cast<std::uint64_t>(expected[i].mean()));
    CHECK(std::bit_cast<std::uint64_t>(m.values[i].variance()) == std::bit_cast<std::uint64_t>(expected[i].variance()));
  }
}
