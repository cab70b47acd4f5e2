// Micro-benchmarks (Google Benchmark), one thread each: cost per gradient estimate of the estimators of the
// gradient_stats workloads on linear_gaussian (gaussian_diag, ELBO or IWAE-K), the cost of generating the same
// normals alone (the RNG floor), and Philox throughput. Names are workload keys shared with
// bench/torch_baseline.py, which times the same workloads in PyTorch; bench/run_bench.py joins the two.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <cblas.h>

#include "vibench/math/gemm.hpp"
#include "vibench/math/optimizer.hpp"
#include "vibench/math/rng.hpp"
#include "vibench/math/rng_kernels.hpp"
#include "vibench/nn/vib_model.hpp"
#include "vibench/plugin/cell_plugins.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/run/grid.hpp"
#include "vibench/run/runner.hpp"
#include "vibench/run/store.hpp"

using namespace vibench;

namespace {

// A fully resolved cell: every parameter at its default, then the overrides (dotted keys).
Config resolved_cell(const std::map<std::string, std::string>& slots, const Config& overrides) {
  const Location here{"<bench>", 0, 0};
  RawNode node = RawNode::make_map(here);
  std::vector<ParamSpec> specs;
  for (const auto& [slot, name] : slots) {
    node.set(slot, RawNode::make_scalar(name, here), here);
    specs.push_back(ParamSpec::plugin(slot, slot, std::nullopt, ""));
  }
  Config c;
  std::map<std::string, Location> locations;
  resolve_params(node, specs, "", c, locations);
  for (const auto& [k, v] : overrides) c[k] = v;
  return c;
}

// A per-process scratch directory for the benchmarks that write files.
std::string scratch_dir(const std::string& tag) {
  return (std::filesystem::temp_directory_path() / ("vibench_bench_" + tag + std::to_string(::getpid()))).string();
}

// One gradient estimate per iteration at the family's initial φ, `samples` groups each, a fresh replicate's
// stream every time.
void time_estimates(benchmark::State& state, const CellPlugins& p, std::size_t samples) {
  std::vector<double> phi = p.family->init(), grad(phi.size() + p.target->num_model_params());
  const std::unique_ptr<EstimatorScratch> ws = p.estimator->make_scratch();
  std::uint64_t rep = 0;
  for (auto _ : state) {
    Rng rng(1, 2, rep++, streams::estimator);
    benchmark::DoNotOptimize(
        p.estimator->estimate(*p.target, *p.family, *p.objective, phi.data(), rng, samples, *ws, grad.data()));
  }
  state.SetItemsProcessed(state.iterations());
}

// The workloads with a PyTorch twin: linear_gaussian (D = range(0)) with gaussian_diag.
void run_estimates(benchmark::State& state, const char* estimator, const char* objective, std::int64_t k,
                   std::int64_t samples) {
  Config over{{"target.dim", state.range(0)}, {"target.data_seed", std::int64_t{1}}};
  if (k > 1) over["objective.k"] = k;
  const CellPlugins p = build_cell_plugins(resolved_cell(
      {{"target", "linear_gaussian"}, {"family", "gaussian_diag"}, {"objective", objective}, {"estimator", estimator}}, over));
  time_estimates(state, p, static_cast<std::size_t>(samples));
}

}  // namespace

// estimate/<estimator>/D/S (ELBO, K = 1)
static void BM_Estimate(benchmark::State& state, const char* estimator) {
  run_estimates(state, estimator, "elbo", 1, state.range(1));
}
BENCHMARK_CAPTURE(BM_Estimate, reparam, "reparam")->ArgsProduct({{2, 20, 200}, {1, 10, 100}})->ArgNames({"D", "S"});
BENCHMARK_CAPTURE(BM_Estimate, score_function, "score_function")->ArgsProduct({{2, 20, 200}, {1, 10, 100}})->ArgNames({"D", "S"});

// estimate_iwae/<estimator>/D/K (IWAE-K, S = 1): the K draws are the samples
static void BM_EstimateIwae(benchmark::State& state, const char* estimator) {
  state.SetLabel("K=" + std::to_string(state.range(1)));
  run_estimates(state, estimator, "iwae", state.range(1), 1);
}
BENCHMARK_CAPTURE(BM_EstimateIwae, iwae, "iwae")->ArgsProduct({{2, 20, 200}, {10, 100, 1000}})->ArgNames({"D", "K"});
BENCHMARK_CAPTURE(BM_EstimateIwae, dreg, "dreg")->ArgsProduct({{2, 20, 200}, {10, 100, 1000}})->ArgNames({"D", "K"});

// normals/D/S: the S·D standard normals an estimate needs, alone (the floor of a reparam estimate)
static void BM_Normals(benchmark::State& state) {
  std::vector<double> out(static_cast<std::size_t>(state.range(0) * state.range(1)));
  std::uint64_t rep = 0;
  for (auto _ : state) {
    Rng rng(1, 2, rep++, streams::estimator);
    rng.normals(out.data(), out.size());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0) * state.range(1));
}
BENCHMARK(BM_Normals)->ArgsProduct({{2, 20, 200}, {1, 10, 100, 1000}})->ArgNames({"D", "S"});

// normals_body/<isa>/N: N normals on one instruction-set body of the generator (rng_kernels.hpp; the same
// numbers on each), and philox_body/<isa>: its Philox4x64 blocks alone, per 64-bit word. Bodies this CPU
// lacks are not registered.
static void BM_NormalsBody(benchmark::State& state, Isa isa) {
  std::vector<double> out(static_cast<std::size_t>(state.range(0)));
  std::uint64_t rep = 0;
  for (auto _ : state) {
    Rng rng(1, 2, rep++, streams::estimator);
    rng.normals(out.data(), out.size(), isa);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
static void BM_PhiloxBody(benchmark::State& state, Isa isa) {
  const std::size_t blocks = 256;
  std::vector<std::uint64_t> words(4 * blocks);
  const std::uint64_t key[2] = {1, 2};
  std::uint64_t ctr[4] = {0, streams::estimator, 0, 0};
  for (auto _ : state) {
    ++ctr[0];
    rng_kernels::philox_blocks(isa, key, ctr, blocks, words.data());
    benchmark::DoNotOptimize(words.data());
  }
  state.SetItemsProcessed(state.iterations() * 4 * blocks);
}
void register_rng_body_benchmarks() {
  for (Isa isa : supported_isas()) {
    const std::string name = isa_name(isa);
    benchmark::RegisterBenchmark(("BM_NormalsBody/" + name).c_str(), BM_NormalsBody, isa)->Arg(20)->Arg(4096)->ArgNames({"N"});
    benchmark::RegisterBenchmark(("BM_PhiloxBody/" + name).c_str(), BM_PhiloxBody, isa);
  }
}

// peak_arith: the core's peak rate of separate multiplies and adds (the instruction mix of vibench's kernels:
// FMA is off, see README "Reproducibility") on the widest vectors this CPU has, the same dispatch as the dense
// kernels (vector_kernels.cpp). Sixteen independent chains of 8-lane multiply-then-add cover the latency of
// both ports. Items are floating-point operations (2 per lane per step), so items_per_second is the peak.
namespace {
using Lane8 = double __attribute__((vector_size(64)));
__attribute__((target_clones("avx512f", "avx2", "default"), noinline)) void mul_add_chains(double* state, std::int64_t steps) {
  Lane8 acc[16];
  for (int c = 0; c < 16; ++c) __builtin_memcpy(&acc[c], state + 8 * c, sizeof(Lane8));
  const Lane8 m = {0.999999, 0.999999, 0.999999, 0.999999, 0.999999, 0.999999, 0.999999, 0.999999};
  const Lane8 a = {1e-7, 1e-7, 1e-7, 1e-7, 1e-7, 1e-7, 1e-7, 1e-7};
  for (std::int64_t s = 0; s < steps; ++s)
    for (int c = 0; c < 16; ++c) acc[c] = acc[c] * m + a;  // two instructions: -ffp-contract=off
  for (int c = 0; c < 16; ++c) __builtin_memcpy(state + 8 * c, &acc[c], sizeof(Lane8));
}
}  // namespace
static void BM_PeakArith(benchmark::State& state) {
  std::vector<double> chains(128, 1.0);
  const std::int64_t steps = 1000;
  for (auto _ : state) {
    mul_add_chains(chains.data(), steps);
    benchmark::DoNotOptimize(chains.data());
  }
  state.SetItemsProcessed(state.iterations() * steps * 16 * 8 * 2);
}
BENCHMARK(BM_PeakArith);

// One Deep VIB training step (forward, backward, Adam) on a batch of 100 Fashion-MNIST-sized inputs: encoder
// 784–H–H–2K, logistic-regression decoder, float64, one thread (serial OpenBLAS). Synthetic pixels: the cost
// does not depend on the values.
static void BM_VibStep(benchmark::State& state) {
  const auto h = static_cast<std::size_t>(state.range(0)), k = static_cast<std::size_t>(state.range(1));
  const VibModel model(784, {h, h}, k, {}, 10);
  std::vector<double> params(model.num_params()), grad(params.size());
  Rng init(1, 1, 0, streams::init);
  model.init(params.data(), init);
  Matrix x(100, 784), eps(100, k);
  Rng data(1, 2, 0, streams::data);
  data.uniforms(x.data(), 100 * 784);
  std::vector<std::uint8_t> labels(100);
  for (std::size_t i = 0; i < 100; ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  Adam adam(params.size(), 1e-4, 0.5, 0.999);
  VibWorkspace ws;
  std::uint64_t step = 0;
  for (auto _ : state) {
    Rng noise(1, 3, step++, streams::training);
    noise.normals(eps.data(), 100 * k);
    benchmark::DoNotOptimize(model.loss(params.data(), x, labels.data(), eps, 1e-3, grad.data(), ws));
    adam.step(params.data(), grad.data(), false);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VibStep)->Args({1024, 256})->Args({256, 32})->ArgNames({"H", "K"})->Unit(benchmark::kMillisecond);

// gemm/<op>/<body>: vibench's own product (gemm.hpp, the networks' products, the same bits on every CPU) at the
// paper VIB network's shapes (batch 100, 784–1024–1024), on each body this CPU runs, against OpenBLAS (one thread;
// its own kernels with FMA, which round differently per CPU). Items are flops (2mnk), so items_per_second is the rate.
extern "C" void openblas_set_num_threads(int);
namespace {
struct GemmCase {
  const char* op;  // what the product is in the network's step
  GemmShape shape;
};
const GemmCase gemm_cases[] = {
    {"forward_xWt", {100, 1024, 784, false, true, true}},   // pre = b + x Wᵀ
    {"weight_grad_dTx", {1024, 784, 100, true, false, true}},  // ∂W += δᵀ x
    {"input_grad_dW", {100, 784, 1024}},                       // ∂x = δ W
};
void BM_Gemm(benchmark::State& state, GemmCase g, int body) {  // body: an Isa, or −1 for OpenBLAS
  const GemmShape& s = g.shape;
  std::vector<double> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n);
  Rng rng(1, 2, 3, streams::data);
  rng.normals(a.data(), a.size());
  rng.normals(b.data(), b.size());
  const std::size_t lda = s.transpose_a ? s.m : s.k, ldb = s.transpose_b ? s.k : s.n;
  openblas_set_num_threads(1);
  for (auto _ : state) {
    if (body < 0)
      cblas_dgemm(CblasRowMajor, s.transpose_a ? CblasTrans : CblasNoTrans, s.transpose_b ? CblasTrans : CblasNoTrans,
                  static_cast<int>(s.m), static_cast<int>(s.n), static_cast<int>(s.k), 1.0, a.data(), static_cast<int>(lda),
                  b.data(), static_cast<int>(ldb), s.accumulate ? 1.0 : 0.0, c.data(), static_cast<int>(s.n));
    else
      gemm(static_cast<Isa>(body), s, a.data(), lda, b.data(), ldb, c.data(), s.n);
    benchmark::DoNotOptimize(c.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 2 * s.m * s.n * s.k));
}
}  // namespace
void register_gemm_benchmarks() {
  for (const GemmCase& g : gemm_cases) {
    const std::string op = g.op;
    benchmark::RegisterBenchmark(("BM_Gemm/" + op + "/openblas").c_str(), BM_Gemm, g, -1)->Unit(benchmark::kMicrosecond);
    for (Isa isa : supported_isas())
      if (isa != Isa::scalar)  // the baseline body (std::fma calls) is ~20x slower: not timed
        benchmark::RegisterBenchmark(("BM_Gemm/" + op + "/" + isa_name(isa)).c_str(), BM_Gemm, g, static_cast<int>(isa))
            ->Unit(benchmark::kMicrosecond);
  }
}

// Storing one finished cell (the store's path for every cell): 16 metrics of `n` doubles encoded, checksummed and
// appended to the process's part file. Throughput in bytes of metric data per second.
static void BM_WritePart(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::string dir = scratch_dir("part_");
  Experiment ex = load_experiment_text("name: bench\nstudy: gradient_stats\nseed: 1\nfixed: {target: quadratic, estimator: reparam}\n",
                                       "bench.yaml", {});
  ResultStore store(dir, "bench");
  CellResult result;
  for (int m = 0; m < 16; ++m) result.add("metric_" + std::to_string(m), std::vector<double>(n, 0.5 + m));
  for (auto _ : state) benchmark::DoNotOptimize(store.write_part(ex, ex.cells[0], result, 0.0));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * 16 * n * sizeof(double)));
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_WritePart)->Arg(100)->Arg(100000)->ArgNames({"doubles"})->Unit(benchmark::kMillisecond);

// family/<name>: one family's sample (S = 100 draws) + log q + score at its initial φ, per draw, D = 20 (the
// continuous families on linear_gaussian, the discrete ones on bernoulli_toy). Registered for every family in
// the registry, so a new family is benchmarked without touching this file.
void register_family_benchmarks() {
  for (const std::string& name : Registry::instance().names("family")) {
    std::shared_ptr<CellPlugins> p;
    std::int64_t dim = 0;
    // D = 21 for families whose dimension must be a multiple of their category count (categorical: 3).
    for (const auto& [target, d] : {std::pair{"linear_gaussian", 20}, {"bernoulli_toy", 20}, {"bernoulli_toy", 21}}) {
      try {
        p = std::make_shared<CellPlugins>(build_cell_plugins(resolved_cell(
            {{"target", target}, {"family", name}}, Config{{"target.dim", std::int64_t{d}}})));
        dim = d;
        break;
      } catch (const std::exception&) {
      }
    }
    if (!p) {
      std::fprintf(stderr, "bench: family %s builds on none of the benchmark targets; not timed\n", name.c_str());
      continue;
    }
    benchmark::RegisterBenchmark(("BM_Family/" + name + "/D:" + std::to_string(dim) + "/S:100").c_str(), [p](benchmark::State& state) {
      const Family& q = *p->family;
      const std::vector<double> phi = q.init();
      Matrix eps, z, score;
      std::vector<double> lq(100);
      Member qphi;
      std::uint64_t rep = 0;
      for (auto _ : state) {
        Rng rng(1, 2, rep++, streams::estimator);
        q.bind(phi.data(), qphi);  // as an estimate does: once, then three batch calls
        q.sample(qphi, rng, 100, eps, z);
        q.log_q(qphi, z, lq.data());
        q.score(qphi, z, score);
        benchmark::DoNotOptimize(score.data());
      }
      state.SetItemsProcessed(state.iterations() * 100);
    })->Unit(benchmark::kMicrosecond);
  }
}

// target/<name>: one target's log p(x, z) and ∇z log p(x, z) over a batch of S = 100 points z ~ N(0, ¼I), per
// point, at D = 20 where the target takes that dimension (21 for block-structured ones), else its default
// dimension. Registered for every target in the registry, like family/<name>.
void register_target_benchmarks() {
  for (const std::string& name : Registry::instance().names("target")) {
    std::shared_ptr<CellPlugins> p;
    for (const Config& over : {Config{{"target.dim", std::int64_t{20}}}, Config{{"target.dim", std::int64_t{21}}}, Config{}}) {
      try {
        p = std::make_shared<CellPlugins>(
            build_cell_plugins(resolved_cell({{"target", name}, {"family", "gaussian_diag"}}, over)));
        break;
      } catch (const std::exception&) {
      }
    }
    if (!p) {
      std::fprintf(stderr, "bench: target %s builds in no benchmark setting; not timed\n", name.c_str());
      continue;
    }
    const std::size_t dim = p->target->dim();
    benchmark::RegisterBenchmark(("BM_Target/" + name + "/D:" + std::to_string(dim) + "/S:100").c_str(), [p, dim](benchmark::State& state) {
      const Target& t = *p->target;
      Matrix z(100, dim), g;
      Rng rng(1, 2, 3, streams::estimator);
      rng.normals(z.data(), 100 * dim);
      for (std::size_t i = 0; i < 100 * dim; ++i) z.data()[i] *= 0.5;
      std::vector<double> lp(100);
      for (auto _ : state) {
        t.log_joint(z, lp.data());
        t.grad_log_joint(z, g, lp.data());
        benchmark::DoNotOptimize(g.data());
      }
      state.SetItemsProcessed(state.iterations() * 100);
    })->Unit(benchmark::kMicrosecond);
  }
}

// estimator/<name>/D/S[/K]: every registered estimator's cost per gradient estimate (vibench only; the four
// with a PyTorch twin are BM_Estimate/BM_EstimateIwae above), on the first setting it supports: linear_gaussian
// with gaussian_diag and the ELBO, then IWAE-10, then bernoulli_toy with bernoulli and the expectation.
void register_estimator_benchmarks() {
  struct Setting {
    const char *target, *family, *objective;
    std::int64_t k;
  };
  const Setting settings[] = {{"linear_gaussian", "gaussian_diag", "elbo", 1},
                              {"linear_gaussian", "gaussian_diag", "iwae", 10},
                              {"bernoulli_toy", "bernoulli", "expectation", 1}};
  for (const std::string& name : Registry::instance().names("estimator")) {
    if (name == "reparam" || name == "score_function" || name == "iwae" || name == "dreg") continue;
    for (std::int64_t d : {2, 20, 200})
      for (std::int64_t s : {1, 10, 100}) {
        std::shared_ptr<CellPlugins> p;
        std::int64_t k = 1;
        for (const Setting& st : settings) {
          try {
            Config over{{"target.dim", d}};
            if (st.k > 1) over["objective.k"] = st.k;
            auto built = std::make_shared<CellPlugins>(build_cell_plugins(resolved_cell(
                {{"target", st.target}, {"family", st.family}, {"objective", st.objective}, {"estimator", name}}, over)));
            if (unmet_needs("", built->estimator->needs(), *built->target, *built->family, *built->objective)) continue;
            p = built;
            k = st.k;
            break;
          } catch (const std::exception&) {
          }
        }
        if (!p) {
          if (d == 2 && s == 1)
            std::fprintf(stderr, "bench: estimator %s runs in none of the benchmark settings; not timed\n", name.c_str());
          continue;
        }
        const std::string label = "BM_EstimatorCost/" + name + "/D:" + std::to_string(d) + "/S:" + std::to_string(s) +
                                  (k > 1 ? "/K:" + std::to_string(k) : "");
        benchmark::RegisterBenchmark(label.c_str(), [p, s](benchmark::State& state) {
          time_estimates(state, *p, static_cast<std::size_t>(s));
        });
      }
  }
}

// The runner's own costs, measured through `vibench run`'s code path in-process (one thread, fresh each
// time) on the cheapest cells there are (quadratic target, D = 1, reparam, S = 1):
//   runner/per_cell:      a grid of 8 two-replicate cells, wall time per cell (setup, part file with fsync,
//                         assembly of the final file)
//   runner/per_replicate: one cell of 100000 replicates, wall time per replicate (an estimate of ~40 ns
//                         included: the floor of any replicate)
void run_grid(benchmark::State& state, const std::string& yaml_text, std::int64_t items) {
  const std::string dir = scratch_dir("runner_");
  std::filesystem::create_directories(dir);
  const std::string yaml = dir + "/runner.yaml";
  std::ofstream(yaml) << yaml_text;
  RunOptions options;
  options.out_dir = dir;
  options.threads = 1;
  options.fresh = true;
  std::ostringstream out, err;
  for (auto _ : state)
    if (run_experiment_command(yaml, options, out, err) != 0) state.SkipWithError(err.str().c_str());
  state.SetItemsProcessed(state.iterations() * items);
  std::filesystem::remove_all(dir);
}
constexpr const char* cheapest_cell =
    "study: gradient_stats\nseed: 1\nfixed: {target: {name: quadratic, dim: 1}, estimator: reparam, "
    "objective: expectation, samples: 1}\n";
static void BM_RunnerPerCell(benchmark::State& state) {
  run_grid(state, std::string("name: runner_cells\n") + cheapest_cell + "replicates: 2\ngrid: {target.k: [1, 2, 3, 4, 5, 6, 7, 8]}\n", 8);
}
BENCHMARK(BM_RunnerPerCell)->Name("BM_Runner/per_cell")->Unit(benchmark::kMillisecond)->UseRealTime();
static void BM_RunnerPerReplicate(benchmark::State& state) {
  run_grid(state, std::string("name: runner_replicates\n") + cheapest_cell + "replicates: 100000\n", 100000);
}
BENCHMARK(BM_RunnerPerReplicate)->Name("BM_Runner/per_replicate")->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
  register_family_benchmarks();
  register_target_benchmarks();
  register_estimator_benchmarks();
  register_rng_body_benchmarks();
  register_gemm_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
