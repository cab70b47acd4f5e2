// Every registered target: ∇_z log p against finite differences, Gaussian expectations against Monte
// Carlo and their gradients against finite differences; linear_gaussian's exact evidence and posterior.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>

#include "conformance.hpp"
#include "vibench/math/linalg.hpp"
#include "vibench/math/stats.hpp"
#include "vibench/vi/target.hpp"

using namespace vibench;
using namespace vibench::test;

namespace {
// Targets with minibatches are checked on one (B = 8, scaled by N/B): everything below then holds for the
// minibatch estimate that an optimize step differentiates; the full-data mode is checked separately below.
std::vector<std::pair<std::string, std::unique_ptr<Target>>> all_targets() {
  std::vector<std::pair<std::string, std::unique_ptr<Target>>> out;
  for (const PluginInfo* info : Registry::instance().list("target")) {
    std::map<std::string, Value> o;
    for (const auto& p : info->params) {
      if (p.name == "dim") o["dim"] = std::int64_t{3};
      if (p.name == "batch_size") o["batch_size"] = std::int64_t{8};
    }
    for (const Config& c : choice_variants("target", *info, o)) {
      auto t = make_plugin<Target>(Params(c, "target."));
      Rng rng(5, 5, 5, streams::minibatch);
      t->select_minibatch(rng);
      out.emplace_back(describe(c), std::move(t));
    }
  }
  return out;
}

// A breast-cancer-format CSV of `rows` generic rows with `features` columns, in a temporary file.
std::string tiny_csv(std::size_t rows, std::size_t features) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("vibench_tiny_lr_" + std::to_string(::getpid()) + ".csv")).string();
  std::ofstream out(path);
  out << rows << "," << features << ",benign,malignant\n";
  for (std::size_t n = 0; n < rows; ++n) {
    for (std::size_t i = 0; i < features; ++i) out << std::sin(1.3 * static_cast<double>(n + 1) + 0.7 * static_cast<double>(i * i)) << ",";
    out << (n % 3 == 0 ? 1 : 0) << "\n";
  }
  return path;
}
}  // namespace

TEST_CASE("target gradients match finite differences", "[target]") {
  for (const auto& [name, t] : all_targets()) {
    INFO(name);
    const std::size_t d = t->dim(), s = 5;
    Matrix z(s, d), g;
    Rng(3, 1, 4, streams::estimator).normals(z.data(), s * d);
    std::vector<double> lp(s), lp2(s);
    t->log_joint(z, lp.data());
    t->grad_log_joint(z, g, lp2.data());
    for (std::size_t r = 0; r < s; ++r) {
      CHECK(lp2[r] == Approx(lp[r]).epsilon(1e-10));
      for (std::size_t j = 0; j < d; ++j) {
        double fd = central_difference([&](const std::vector<double>& zr) {
          Matrix one(1, d);
          std::copy(zr.begin(), zr.end(), one.row(0));
          double v;
          t->log_joint(one, &v);
          return v;
        }, std::vector<double>(z.row(r), z.row(r) + d), j);
        CHECK(fd_close(g(r, j), fd));
      }
    }
  }
}

TEST_CASE("target Hessians match finite differences of the gradient", "[target]") {
  std::size_t checked = 0;
  for (const auto& [name, t] : all_targets()) {
    INFO(name);
    const std::size_t d = t->dim();
    Matrix z(1, d), h;
    Rng(3, 2, 4, streams::estimator).normals(z.data(), d);
    if (!t->hessian_log_joint(z.row(0), h)) continue;
    REQUIRE(h.rows() == d);
    REQUIRE(h.cols() == d);
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) {
        double fd = central_difference([&](const std::vector<double>& zr) {
          Matrix one(1, d), g;
          std::copy(zr.begin(), zr.end(), one.row(0));
          double lp;
          t->grad_log_joint(one, g, &lp);
          return g(0, i);
        }, std::vector<double>(z.row(0), z.row(0) + d), j);
        CHECK(fd_close(h(i, j), fd));
      }
    ++checked;
  }
  CHECK(checked >= 2);
}

TEST_CASE("target Gaussian expectations match Monte Carlo and finite differences", "[target]") {
  for (const auto& [name, t] : all_targets()) {
    INFO(name);
    const std::size_t d = t->dim();
    std::vector<double> m(d);
    Matrix c(d, d), chol(d, d);
    for (std::size_t i = 0; i < d; ++i) {  // a correlated covariance C = L Lᵀ
      m[i] = 0.3 * static_cast<double>(i) - 0.4;
      for (std::size_t j = 0; j <= i; ++j) chol(i, j) = i == j ? 0.8 + 0.1 * static_cast<double>(i) : 0.3;
    }
    c = linalg::matmul(chol, linalg::transpose(chol));
    auto e = t->gaussian_expectation(m, c);
    if (!e) continue;
    const std::size_t n = 400000;
    Matrix eps(n, d), z(n, d);
    Rng(11, 11, 11, streams::estimator).normals(eps.data(), n * d);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t i = 0; i < d; ++i) {
        z(r, i) = m[i];
        for (std::size_t j = 0; j <= i; ++j) z(r, i) += chol(i, j) * eps(r, j);
      }
    std::vector<double> lp(n);
    t->log_joint(z, lp.data());
    Moments mc;
    for (double v : lp) mc.add(v);
    CHECK(std::abs(mc.mean() - e->value) < normal_critical_value(0.9999) * mc.standard_error());
    for (std::size_t i = 0; i < d; ++i) {
      CHECK(fd_close(e->grad_mean[i], central_difference([&](const std::vector<double>& x) {
        return t->gaussian_expectation(x, c)->value;
      }, m, i)));
      for (std::size_t j = 0; j < d; ++j) {
        std::vector<double> flat(c.data(), c.data() + d * d);
        double fd = central_difference([&](const std::vector<double>& x) {
          Matrix cc(d, d);
          std::copy(x.begin(), x.end(), cc.data());
          return t->gaussian_expectation(m, cc)->value;
        }, flat, i * d + j);
        INFO("grad_cov(" << i << "," << j << ") = " << e->grad_cov(i, j) << ", finite difference " << fd);
        CHECK(fd_close(e->grad_cov(i, j), fd));
      }
    }
  }
}

TEST_CASE("linear_gaussian: exact evidence and posterior satisfy Bayes' rule", "[target]") {
  // log p(x) = log p(x, z) − log p(z | x) for every z.
  for (std::int64_t seed : {0, 1, 7}) {
    for (std::int64_t obs : {0, 2, 6}) {
      Config c = plugin_config("target", "target", "linear_gaussian",
                               {{"dim", std::int64_t{4}}, {"obs_dim", obs}, {"data_seed", seed}});
      auto t = make_plugin<Target>(Params(c, "target."));
      auto post = t->exact_posterior();
      auto lz = t->log_evidence();
      REQUIRE(post);
      REQUIRE(lz);
      Matrix z(3, 4);
      Rng(1, 1, 1, streams::estimator).normals(z.data(), 12);
      std::vector<double> lp(3);
      t->log_joint(z, lp.data());
      for (std::size_t r = 0; r < 3; ++r) {
        std::vector<double> zr(z.row(r), z.row(r) + 4);
        CHECK(lp[r] - linalg::gaussian_logpdf(zr, post->mean, post->cov) == Approx(*lz).epsilon(1e-10));
      }
      Matrix eye = linalg::matmul(post->precision, post->cov);
      for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 4; ++j) CHECK(eye(i, j) == Approx(i == j ? 1.0 : 0.0).margin(1e-10));
    }
  }
}

TEST_CASE("linear_gaussian with given data matches the scalar closed form", "[target]") {
  // D = M = 1: x | z ~ N(a z + b, s²), z ~ N(0, 1)  =>  x ~ N(b, a² + s²); posterior precision 1 + a²/s².
  const double a = 1.7, b = -0.4, s2 = 0.6, x = 2.3;
  Config c = plugin_config("target", "target", "linear_gaussian",
                           {{"dim", std::int64_t{1}},
                            {"A", std::vector<double>{a}},
                            {"b", std::vector<double>{b}},
                            {"noise_var", std::vector<double>{s2}},
                            {"x", std::vector<double>{x}}});
  auto t = make_plugin<Target>(Params(c, "target."));
  const double var = a * a + s2;
  CHECK(*t->log_evidence() == Approx(-0.5 * std::log(2 * std::numbers::pi * var) - 0.5 * (x - b) * (x - b) / var).epsilon(1e-12));
  auto post = *t->exact_posterior();
  CHECK(post.precision(0, 0) == Approx(1 + a * a / s2).epsilon(1e-12));
  CHECK(post.mean[0] == Approx((a * (x - b) / s2) / (1 + a * a / s2)).epsilon(1e-12));
}

TEST_CASE("linear_gaussian rejects data of the wrong size", "[target]") {
  Config c = plugin_config("target", "target", "linear_gaussian", {{"dim", std::int64_t{2}}, {"b", std::vector<double>{1, 2, 3}}});
  CHECK_THROWS_WITH(make_plugin<Target>(Params(c, "target.")), Catch::Contains("expected 2 numbers, got 3"));
}

TEST_CASE("model-parameter gradients, the evidence optimum and the affine posterior mean", "[target]") {
  std::size_t checked = 0;
  for (auto& [name, t] : all_targets()) {
    INFO(name);
    const std::size_t n_theta = t->num_model_params(), d = t->dim();
    if (n_theta == 0) continue;
    REQUIRE(t->model_param_names().size() == n_theta);
    std::vector<double> theta = t->model_params();
    for (std::size_t i = 0; i < n_theta; ++i) theta[i] += 0.1 * static_cast<double>(i + 1);
    t->set_model_params(theta.data());
    Matrix z(4, d), g;
    Rng(5, 1, 4, streams::estimator).normals(z.data(), 4 * d);
    t->grad_theta_log_joint(z, g);
    for (std::size_t r = 0; r < 4; ++r)
      for (std::size_t i = 0; i < n_theta; ++i) {
        double fd = central_difference([&](const std::vector<double>& th) {
          t->set_model_params(th.data());
          Matrix one(1, d);
          std::copy(z.row(r), z.row(r) + d, one.row(0));
          double v;
          t->log_joint(one, &v);
          t->set_model_params(theta.data());
          return v;
        }, theta, i);
        CHECK(fd_close(g(r, i), fd));
      }
    if (auto opt = t->model_optimum()) {  // ∇_θ log p_θ(x) = 0 there
      for (std::size_t i = 0; i < n_theta; ++i) {
        double fd = central_difference([&](const std::vector<double>& th) {
          t->set_model_params(th.data());
          return *t->log_evidence();
        }, *opt, i);
        CHECK(std::abs(fd) <= 1e-6);
      }
      t->set_model_params(theta.data());
    }
    if (auto post = t->exact_posterior(); post && post->mean_map.rows() > 0) {
      const std::vector<double> x = *t->observation();
      std::vector<double> m = linalg::matvec(post->mean_map, x);
      for (std::size_t i = 0; i < d; ++i) CHECK(m[i] + post->mean_offset[i] == Approx(post->mean[i]).epsilon(1e-12).margin(1e-12));
    }
    ++checked;
  }
  CHECK(checked >= 1);
}

TEST_CASE("normalized targets integrate to one (2-D trapezoid quadrature)", "[target]") {
  // banana and gaussian_mixture_posterior claim log Z = 0. Both have Gaussian tails, so the trapezoid rule
  // on a box covering ±8 standard deviations is accurate far below the 1e-6 tolerance.
  struct Box {
    const char* name;
    std::map<std::string, Value> params;
    double lo0, hi0, lo1, hi1;
  };
  for (const Box& box : {Box{"banana", {{"dim", std::int64_t{2}}, {"b", 0.1}, {"sigma1", 3.0}}, -24, 24, -10, 10 + 0.1 * 24 * 24},
                         Box{"gaussian_mixture_posterior", {{"dim", std::int64_t{2}}, {"components", std::int64_t{3}}}, -12, 12, -12, 12}}) {
    INFO(box.name);
    auto t = make_plugin<Target>(Params(plugin_config("target", "target", box.name, box.params), "target."));
    REQUIRE(t->log_evidence());
    const std::size_t n0 = 1200, n1 = 1500;
    const double h0 = (box.hi0 - box.lo0) / static_cast<double>(n0), h1 = (box.hi1 - box.lo1) / static_cast<double>(n1);
    Matrix z((n0 + 1) * (n1 + 1), 2);
    for (std::size_t i = 0; i <= n0; ++i)
      for (std::size_t j = 0; j <= n1; ++j) {
        z(i * (n1 + 1) + j, 0) = box.lo0 + h0 * static_cast<double>(i);
        z(i * (n1 + 1) + j, 1) = box.lo1 + h1 * static_cast<double>(j);
      }
    std::vector<double> lp(z.rows());
    t->log_joint(z, lp.data());
    double total = 0;
    for (std::size_t i = 0; i <= n0; ++i)
      for (std::size_t j = 0; j <= n1; ++j)
        total += (i == 0 || i == n0 ? 0.5 : 1.0) * (j == 0 || j == n1 ? 0.5 : 1.0) * std::exp(lp[i * (n1 + 1) + j]);
    CHECK(std::abs(total * h0 * h1 - std::exp(*t->log_evidence())) < 1e-6);
  }
}

TEST_CASE("logistic_regression loads breast_cancer as 569 x 31 and names a missing file", "[target]") {
  auto t = make_plugin<Target>(Params(plugin_config("target", "target", "logistic_regression"), "target."));
  CHECK(t->dim() == 31);
  // At w = 0 every η = 0: log p = −569·log 2 − (31/2)·log 2π (prior variance 1), whatever the data.
  Matrix zero(1, 31);
  double lp;
  t->log_joint(zero, &lp);
  CHECK(lp == Approx(-569 * std::log(2.0) - 15.5 * std::log(2 * std::numbers::pi)).epsilon(1e-12));
  CHECK_THROWS_WITH(make_plugin<Target>(Params(plugin_config("target", "target", "logistic_regression",
                                                             {{"data_path", std::string("/nonexistent/bc.csv")}}),
                                               "target.")),
                    Catch::Contains("cannot read '/nonexistent/bc.csv'"));
}

TEST_CASE("logistic_regression minibatches: E over batches = full log p, uniform batches, determinism", "[target]") {
  // N = 6 points, B = 2: C(6, 2) = 15 batches. Each batch's N/B-scaled value is distinct for generic data, so
  // the distinct values seen are the batches; their plain mean must equal the full log p(w, y) (every point is
  // in the same number of batches), and the draws must hit each batch equally often (χ², 14 dof).
  const std::string path = tiny_csv(6, 2);
  auto make = [&](std::int64_t b) {
    return make_plugin<Target>(Params(plugin_config("target", "target", "logistic_regression",
                                                    {{"data_path", path}, {"batch_size", b}}), "target."));
  };
  auto t = make(2);
  REQUIRE(t->dim() == 3);
  REQUIRE(t->minibatch_size() == 2);
  Matrix w(1, 3);
  w(0, 0) = 0.3, w(0, 1) = -1.1, w(0, 2) = 0.8;
  double full;
  t->log_joint(w, &full);
  std::map<double, std::size_t> seen;
  const std::size_t draws = 30000;
  for (std::size_t k = 0; k < draws; ++k) {
    Rng rng(1, 2, k, streams::minibatch);
    t->select_minibatch(rng);
    double v;
    t->log_joint(w, &v);
    ++seen[v];
  }
  REQUIRE(seen.size() == 15);
  double mean = 0, chi2 = 0;
  const double expected = static_cast<double>(draws) / 15;
  for (const auto& [v, count] : seen) {
    mean += v / 15;
    chi2 += (static_cast<double>(count) - expected) * (static_cast<double>(count) - expected) / expected;
  }
  CHECK(mean == Approx(full).epsilon(1e-12));
  CHECK(chi2 < 36.12);  // χ²₁₄ 0.999 quantile

  // Determinism: the batch is a function of the stream alone, whatever was selected before.
  Rng a(9, 9, 4, streams::minibatch), b(9, 9, 4, streams::minibatch);
  t->select_minibatch(a);
  double first, again, back;
  t->log_joint(w, &first);
  Rng other(9, 9, 5, streams::minibatch);
  t->select_minibatch(other);
  t->select_minibatch(b);
  t->log_joint(w, &again);
  CHECK(first == again);
  t->use_full_data();
  t->log_joint(w, &back);
  CHECK(back == full);

  // B = N: every point once, scale 1: the full value up to summation order.
  auto all = make(6);
  Rng r(3, 3, 3, streams::minibatch);
  all->select_minibatch(r);
  double v;
  all->log_joint(w, &v);
  CHECK(v == Approx(full).epsilon(1e-13));
  CHECK_THROWS_WITH(make(7), Catch::Contains("7 is more than the 6 data points"));
  std::filesystem::remove(path);
}

TEST_CASE("logistic_regression: the full-data Gaussian expectation (the exact ELBO) matches Monte Carlo", "[target]") {
  auto t = make_plugin<Target>(Params(plugin_config("target", "target", "logistic_regression"), "target."));
  const std::size_t d = t->dim(), n = 20000;
  std::vector<double> m(d), sd(d);
  Matrix c(d, d);
  for (std::size_t i = 0; i < d; ++i) {
    m[i] = 0.2 * std::sin(static_cast<double>(i));
    sd[i] = 0.2 + 0.02 * static_cast<double>(i);
    c(i, i) = sd[i] * sd[i];
  }
  auto e = t->gaussian_expectation(m, c);
  REQUIRE(e);
  Matrix z(n, d);
  Rng(12, 12, 12, streams::estimator).normals(z.data(), n * d);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t i = 0; i < d; ++i) z(r, i) = m[i] + sd[i] * z(r, i);
  std::vector<double> lp(n);
  t->log_joint(z, lp.data());
  Moments mc;
  for (double v : lp) mc.add(v);
  CHECK(std::abs(mc.mean() - e->value) < normal_critical_value(0.9999) * mc.standard_error());
  // The prior factor is N(0, prior_var·I).
  auto prior = t->gaussian_prior();
  REQUIRE(prior);
  CHECK(prior->cov(3, 3) == 1.0);
  CHECK(prior->cov(3, 4) == 0.0);
}

TEST_CASE("every target's declared capabilities match what its methods do", "[target]") {
  // Estimators and control variates are matched to targets by Target::offers() alone (capabilities.hpp).
  for (const auto& [name, t] : all_targets()) {
    INFO(name);
    const Capabilities offers = t->offers();
    Matrix z(1, t->dim()), h;
    Rng(3, 2, 5, streams::estimator).normals(z.data(), t->dim());
    CHECK(offers.has(Capability::hessian) == t->hessian_log_joint(z.row(0), h));
    CHECK(offers.has(Capability::gaussian_prior) == t->gaussian_prior().has_value());
    CHECK(offers.without({Capability::hessian, Capability::gaussian_prior}).empty());  // family capabilities
  }
}
