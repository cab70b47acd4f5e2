// Mutual-information bounds, critics and tasks: gradients against finite differences (every registered
// bound), identities between bounds, InfoNCE's ceiling, and — with the oracle critic — unbiasedness of the
// bounds that are unbiased on a batch (NWJ, TUBA, JS's NWJ evaluation, Barber–Agakov) by z-tests.
#include <catch2/catch.hpp>

#include <cmath>

#include "conformance.hpp"
#include "vibench/math/stats.hpp"
#include "vibench/mi/mi.hpp"
#include "vibench/plugin/study.hpp"
#include "vibench/run/grid.hpp"

using namespace vibench;
using namespace vibench::test;

namespace {

std::unique_ptr<MiTask> correlated_gaussian(double mi, std::size_t dim = 20, const std::string& transform = "none") {
  return make_plugin<MiTask>(Params(plugin_config("target", "mi_task", "correlated_gaussian",
                                                  {{"mi", mi}, {"dim", static_cast<std::int64_t>(dim)}, {"transform", transform}}),
                                    "target."));
}

std::unique_ptr<Bound> bound(const std::string& name, const std::map<std::string, Value>& params = {}) {
  return make_plugin<Bound>(Params(plugin_config("bound", "bound", name, params), "bound."));
}

Matrix random_scores(std::size_t b, std::uint64_t key, double scale) {
  Rng rng(1, key, 0, streams::data);
  Matrix f(b, b);
  rng.normals(f.data(), b * b);
  for (std::size_t i = 0; i < b * b; ++i) f.data()[i] *= scale;
  return f;
}

// Oracle-critic estimates of `bound` on `batches` independent batches of size b.
Moments oracle_estimates(const Bound& bnd, const MiTask& task, std::size_t b, std::size_t batches, std::uint64_t key) {
  const std::unique_ptr<Critic> oracle = make_plugin<Critic>(Params(plugin_config("critic", "critic", "oracle"), "critic."));
  Moments m;
  Matrix x, y, f;
  CriticWorkspace ws;
  for (std::size_t r = 0; r < batches; ++r) {
    Rng rng(7, key, r, streams::estimator);
    task.sample(rng, b, x, y);
    oracle->scores(task, x, y, nullptr, bnd.optimal_shift(), f, ws);
    m.add(bnd.value(f));
  }
  return m;
}

}  // namespace

TEST_CASE("every bound's gradient is the derivative of its training objective (finite differences)", "[mi]") {
  std::size_t checked = 0;
  for (const PluginInfo* info : Registry::instance().list("bound"))
    for (const Config& c : choice_variants("bound", *info)) {
      auto bnd = make_plugin<Bound>(Params(c, "bound."));
      INFO(describe(c));
      for (double scale : {0.5, 3.0}) {
        Matrix f = random_scores(5, 11 + checked, scale), g(5, 5);
        std::vector<double> state;  // first step: MINE's moving average is the batch's own mean
        const double v = bnd->value_and_grad(f, g, state);
        CHECK(v == Approx(bnd->value(f)).epsilon(1e-14));
        for (std::size_t k = 0; k < 25; ++k) {
          const double fd = central_difference(
              [&](const std::vector<double>& x) {
                Matrix h = f;
                std::copy(x.begin(), x.end(), h.data());
                return bnd->training_objective(h);
              },
              std::vector<double>(f.data(), f.data() + 25), k);
          INFO("entry " << k << " analytic " << g.data()[k] << " fd " << fd);
          CHECK(fd_close(g.data()[k], fd));
        }
      }
      ++checked;
    }
  CHECK(checked >= 8);
}

TEST_CASE("bound identities: NWJ = TUBA(a = 1), JS's value = NWJ(F + 1), DV and InfoNCE shift invariances, SMILE -> DV",
          "[mi]") {
  const Matrix f = random_scores(6, 3, 1.5);
  Matrix shifted = f, rows = f;
  for (std::size_t i = 0; i < 6; ++i)
    for (std::size_t j = 0; j < 6; ++j) {
      shifted(i, j) += 2.5;
      rows(i, j) += 0.3 * static_cast<double>(i);  // a per-x constant
    }
  CHECK(bound("nwj")->value(f) == Approx(bound("tuba", {{"log_baseline", 1.0}})->value(f)).epsilon(1e-14));
  Matrix plus_one = f;
  for (std::size_t k = 0; k < 36; ++k) plus_one.data()[k] += 1.0;
  CHECK(bound("js")->value(f) == Approx(bound("nwj")->value(plus_one)).epsilon(1e-13));
  CHECK(bound("dv")->value(shifted) == Approx(bound("dv")->value(f)).epsilon(1e-13));
  CHECK(bound("mine")->value(f) == bound("dv")->value(f));
  CHECK(bound("infonce")->value(rows) == Approx(bound("infonce")->value(f)).epsilon(1e-13));
  CHECK(bound("smile", {{"clip", 1e6}})->value(f) == Approx(bound("dv")->value(f)).epsilon(1e-13));
  CHECK(bound("smile", {{"clip", 0.1}})->value(f) != Approx(bound("dv")->value(f)).epsilon(1e-3));
  // interpolated: α = 0 is TUBA(a); α = 1 makes the marginal term exactly 1, leaving the leave-one-out
  // InfoNCE mean_{i, j≠i} (F_ii − log mean_{k≠j} e^{F_ik}).
  CHECK(bound("interpolated", {{"alpha", 0.0}, {"log_baseline", 0.7}})->value(f) ==
        Approx(bound("tuba", {{"log_baseline", 0.7}})->value(f)).epsilon(1e-13));
  double loo = 0;
  for (std::size_t i = 0; i < 6; ++i)
    for (std::size_t j = 0; j < 6; ++j) {
      if (j == i) continue;
      double s = 0;
      for (std::size_t k = 0; k < 6; ++k)
        if (k != j) s += std::exp(f(i, k));
      loo += f(i, i) - std::log(s / 5);
    }
  CHECK(bound("interpolated", {{"alpha", 1.0}})->value(f) == Approx(loo / 30).epsilon(1e-13));
}

TEST_CASE("InfoNCE never exceeds log B, whatever the scores", "[mi]") {
  auto nce = bound("infonce");
  for (std::size_t b : {2, 8, 64})
    for (double scale : {0.1, 10.0, 1e3}) {
      Matrix f = random_scores(b, b * 7 + static_cast<std::size_t>(scale), scale);
      for (std::size_t i = 0; i < b; ++i) f(i, i) += 10 * scale;  // a critic that separates joint pairs
      CHECK(nce->value(f) <= std::log(static_cast<double>(b)) + 1e-12);
      CHECK(nce->ceiling(b) == std::log(static_cast<double>(b)));
    }
  CHECK(std::isinf(bound("nwj")->ceiling(64)));
}

TEST_CASE("every MI task: E_p[log r] = exact I, E_{p(x)p(y)}[r] = 1 (Monte Carlo), for every variant", "[mi]") {
  // n draws; |mean − exact| ≤ z SE with z for a family-wise 1e-4 (two-sided) over all checks. The exact MI is
  // the task's closed form (Gaussian: canonical correlations; Student-t: Gaussian part + the ν correction),
  // so this checks closed form, sampler and log ratio against each other.
  std::vector<std::pair<std::string, std::unique_ptr<MiTask>>> tasks;
  for (const PluginInfo* info : Registry::instance().list("mi_task"))
    for (const Config& c : choice_variants("target", *info)) tasks.emplace_back(describe(c), make_plugin<MiTask>(Params(c, "target.")));
  const double z = normal_critical_value(1 - 1e-4 / (2 * tasks.size()));
  for (const auto& [name, task] : tasks) {
    const std::size_t n = 60000;
    Rng rng(3, 9, 0, streams::data);
    Matrix x, y;
    task->sample(rng, n, x, y);
    Moments joint, product;
    for (std::size_t i = 0; i < n; ++i) {
      joint.add(task->log_ratio(x.row(i), y.row(i)));
      product.add(std::exp(task->log_ratio(x.row(i), y.row((i + 1) % n))));  // y of another draw: p(x)p(y)
    }
    INFO(name << ": E log r = " << joint.mean() << " +- " << joint.standard_error() << ", exact " << task->exact_mi()
              << "; E r = " << product.mean() << " +- " << product.standard_error());
    CHECK(task->exact_mi() > 0);
    CHECK(std::abs(joint.mean() - task->exact_mi()) <= z * joint.standard_error());
    CHECK(std::abs(product.mean() - 1.0) <= z * product.standard_error());
  }
  CHECK(tasks.size() >= 9);
}

TEST_CASE("correlated_gaussian: corr(x_k, y_k) = rho for the requested I, with and without a map", "[mi]") {
  for (const std::string transform : {"none", "cube", "asinh"})
    for (double mi : {0.5, 4.0}) {
      auto task = correlated_gaussian(mi, 5, transform);
      Rng rng(3, 9, 0, streams::data);
      Matrix x, y;
      task->sample(rng, 40000, x, y);
      Moments xy;
      for (std::size_t i = 0; i < 40000; ++i)
        xy.add(x(i, 0) * (transform == "cube" ? std::cbrt(y(i, 0)) : transform == "asinh" ? std::sinh(y(i, 0)) : y(i, 0)));
      const double rho = std::sqrt(-std::expm1(-2 * mi / 5));
      INFO(transform << " I = " << mi);
      CHECK(std::abs(xy.mean() - rho) <= 4.42 * xy.standard_error());  // family-wise 1e-4 over 6 checks
      CHECK(task->exact_mi() == mi);
    }
}

TEST_CASE("with the oracle critic NWJ, TUBA, JS and BA are unbiased for I; InfoNCE and DV are not at high MI", "[mi]") {
  // 2000 batches of 64; |mean − I| ≤ 4.56 SE (family-wise 1e-4 over 16 checks, two-sided).
  const double z = 4.56;
  std::uint64_t key = 100;
  for (double mi : {2.0, 6.0}) {
    auto task = correlated_gaussian(mi);
    for (const auto& [name, params] : std::vector<std::pair<std::string, std::map<std::string, Value>>>{
             {"nwj", {}}, {"tuba", {}}, {"tuba", {{"log_baseline", -2.0}}}, {"js", {}}, {"ba", {}}}) {
      const Moments m = oracle_estimates(*bound(name, params), *task, 64, 2000, ++key);
      INFO(name << " I = " << mi << ": mean " << m.mean() << " se " << m.standard_error());
      CHECK(std::abs(m.mean() - mi) <= z * m.standard_error());
    }
  }
  // At I = 10 nats InfoNCE sits near log 64 ≈ 4.16, far below I; DV's log of a batch mean overestimates.
  auto task = correlated_gaussian(10.0);
  const Moments nce = oracle_estimates(*bound("infonce"), *task, 64, 400, 900);
  CHECK(nce.mean() < std::log(64.0) + 1e-12);
  CHECK(nce.mean() > std::log(64.0) - 0.2);
  const Moments dv = oracle_estimates(*bound("dv"), *task, 64, 400, 901);
  CHECK(dv.mean() - 10.0 > z * dv.standard_error());
}

TEST_CASE("every trainable critic's backward equals finite differences of sum(c * F)", "[mi]") {
  auto task = correlated_gaussian(1.0, 3);
  std::size_t checked = 0;
  for (const PluginInfo* info : Registry::instance().list("critic"))
    for (Config c : choice_variants("critic", *info)) {
      c["critic.hidden_units"] = std::int64_t{4};
      if (info->name == "separable") c["critic.embed_dim"] = std::int64_t{3};
      auto critic = make_plugin<Critic>(Params(c, "critic."), PluginContext{.dim = 3, .dim_y = 3});
      if (critic->num_params() == 0) continue;
      INFO(describe(c));
      std::vector<double> params(critic->num_params());
      Rng init(2, 3, 0, streams::init);
      critic->init(params.data(), init);
      for (std::size_t k = 0; k < params.size(); ++k) params[k] += 0.05 * std::cos(static_cast<double>(k));  // off ReLU kinks
      Matrix x, y, f;
      Rng rng(2, 3, 1, streams::training);
      task->sample(rng, 4, x, y);
      const Matrix weights = random_scores(4, 77, 1.0);
      CriticWorkspace ws;
      auto objective = [&](const std::vector<double>& p) {
        CriticWorkspace w;
        Matrix ff;
        critic->scores(*task, x, y, p.data(), 0.0, ff, w);
        double s = 0;
        for (std::size_t k = 0; k < 16; ++k) s += weights.data()[k] * ff.data()[k];
        return s;
      };
      critic->scores(*task, x, y, params.data(), 0.0, f, ws);
      std::vector<double> grad(params.size(), 0.0);
      critic->backward(params.data(), weights, ws, grad.data());
      for (std::size_t k = 0; k < params.size(); ++k) {
        INFO("param " << k);
        CHECK(fd_close(grad[k], central_difference(objective, params, k)));
      }
      ++checked;
    }
  CHECK(checked >= 2);
}

TEST_CASE("training a separable critic with InfoNCE learns most of I = 2 nats on a 5-d correlated Gaussian", "[mi]") {
  // The untrained critic scores about 0 nats and the oracle critic about 1.8 (InfoNCE's own bias at B = 64);
  // a trained critic must get most of the way (> 1.5) and, being InfoNCE, never above log B.
  const std::string yaml = R"(name: train
study: mi_estimation
seed: 3
replicates: 200
fixed:
  target: {name: correlated_gaussian, dim: 5, mi: 2}
  critic: {name: separable, hidden_units: 64, embed_dim: 16}
  bound: infonce
  steps: 1500
  learning_rate: 0.002
)";
  Experiment ex = load_experiment_text(yaml, "train.yaml", {});
  REQUIRE(ex.cells.size() == 1);
  auto study = make_plugin<Study>(Params(Config{{"name", ex.study}}, ""));
  CellResult r = study->run(CellContext{ex.cells[0].config, ex.seed, ex.cells[0].key});
  REQUIRE(r.status == "ok");
  double mean = 0;
  std::size_t trajectory = 0;
  for (const Metric& m : r.metrics) {
    if (m.name == "mi_estimate_mean") mean = m.values[0];
    if (m.name == "trajectory_estimate") trajectory = m.values.size();
  }
  INFO("trained InfoNCE estimate " << mean);
  CHECK(mean > 1.5);
  CHECK(mean <= std::log(64.0));
  CHECK(trajectory == 15);  // 1500 steps / log_every 100
}

TEST_CASE("interpolated bound: gradient by finite differences across alpha, including a dominant score", "[mi]") {
  for (double alpha : {0.01, 0.5, 1.0})
    for (double scale : {1.0, 8.0}) {
      auto bnd = bound("interpolated", {{"alpha", alpha}, {"log_baseline", 0.3}});
      Matrix f = random_scores(5, 40 + static_cast<std::uint64_t>(scale), scale), g(5, 5);
      f(2, 3) += 30;  // one entry dominates its row: the leave-one-out sums must not cancel
      std::vector<double> state;
      bnd->value_and_grad(f, g, state);
      for (std::size_t k = 0; k < 25; ++k) {
        const double fd = central_difference(
            [&](const std::vector<double>& x) {
              Matrix h = f;
              std::copy(x.begin(), x.end(), h.data());
              return bnd->value(h);
            },
            std::vector<double>(f.data(), f.data() + 25), k);
        INFO("alpha " << alpha << " scale " << scale << " entry " << k << ": " << g.data()[k] << " vs " << fd);
        CHECK(fd_close(g.data()[k], fd));
      }
    }
}
