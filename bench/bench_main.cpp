// Micro-benchmarks (Google Benchmark). The side-by-side PyTorch comparison is a later issue.
#include <benchmark/benchmark.h>

#include "vibench/cell_plugins.hpp"
#include "vibench/rng.hpp"

using namespace vibench;

static void BM_PhiloxNormals(benchmark::State& state) {
  std::vector<double> out(static_cast<std::size_t>(state.range(0)));
  std::uint64_t rep = 0;
  for (auto _ : state) {
    Rng rng(1, 2, rep++, streams::estimator);
    rng.normals(out.data(), out.size());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_PhiloxNormals)->Arg(1)->Arg(20)->Arg(200)->Arg(2000);

// Cost of one gradient estimate on linear_gaussian with gaussian_diag, ELBO, S samples.
static void BM_Estimate(benchmark::State& state, const char* estimator) {
  Config cell{{"target.name", std::string("linear_gaussian")},
              {"target.dim", std::int64_t{state.range(0)}},
              {"target.obs_dim", std::int64_t{0}},
              {"target.data_seed", std::int64_t{1}},
              {"target.A", std::vector<double>{}},
              {"target.b", std::vector<double>{}},
              {"target.noise_var", std::vector<double>{}},
              {"target.x", std::vector<double>{}},
              {"family.name", std::string("gaussian_diag")},
              {"family.parameterization", std::string("mean_log_sigma")},
              {"objective.name", std::string("elbo")},
              {"estimator.name", std::string(estimator)}};
  CellPlugins p = build_cell_plugins(cell);
  std::vector<double> phi(p.family->num_params(), 0.0), grad(phi.size());
  EstimatorWorkspace ws;
  const auto samples = static_cast<std::size_t>(state.range(1));
  std::uint64_t rep = 0;
  for (auto _ : state) {
    Rng rng(1, 2, rep++, streams::estimator);
    benchmark::DoNotOptimize(p.estimator->estimate(*p.target, *p.family, *p.objective, phi.data(), rng, samples, ws, grad.data()));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_Estimate, reparam, "reparam")->ArgsProduct({{2, 20, 200}, {1, 10, 100}});
BENCHMARK_CAPTURE(BM_Estimate, score_function, "score_function")->ArgsProduct({{2, 20, 200}, {1, 10, 100}});

BENCHMARK_MAIN();
