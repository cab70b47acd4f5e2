// Every registered estimator × objective × (target, family variant): unbiased against the exact
// gradient by a z-test whose tolerance comes from the estimated standard error; the exact gradients
// themselves against finite differences; the delta method's zero variance on quadratics. Closed-form and
// stored reference variances are in test_estimator_variance.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include "conformance.hpp"
#include "vibench/plugin/gradient_stats.hpp"

#include <tbb/task_arena.h>

using namespace vibench;
using namespace vibench::test;

TEST_CASE("exact objective gradients match finite differences of exact values", "[estimator]") {
  for (const Config& tc : sweep_targets())
    for (const PluginInfo* fi : Registry::instance().list("family"))
      for (const Config& fc : choice_variants("family", *fi))
        for (const PluginInfo* oi : Registry::instance().list("objective"))
          for (const Config& oc : choice_variants("objective", *oi)) {
          Config cell = merge({tc, fc, oc});
          INFO(describe(cell));
          auto built = try_build(cell);
          if (!built) continue;  // unsupported combination: skipped by the runner
          CellPlugins& p = *built;
          std::vector<double> phi = off_optimum_point(*p.family);
          auto g = p.objective->exact_gradient(*p.target, *p.family, phi.data());
          if (!g) continue;
          const std::vector<double> x0 = joint_point(p, phi);
          REQUIRE(g->size() == x0.size());
          for (std::size_t i = 0; i < x0.size(); ++i) {
            INFO("param " << all_param_names(p)[i]);
            CHECK(fd_close((*g)[i], central_difference([&](const std::vector<double>& x) {
              return at_joint(p, x, [&](const double* phi_x) { return *p.objective->exact_value(*p.target, *p.family, phi_x); });
            }, x0, i)));
          }
        }
}

TEST_CASE("every estimator is unbiased for every objective it supports", "[estimator]") {
  // 20000 replicates of S = 3 samples. Each component must satisfy |mean − exact| ≤ z·SE with
  // z = Φ⁻¹(1 − 1e-4/(2P)) (Bonferroni over the P components: family-wise false alarm ≤ 1e-4).
  std::size_t checked = 0;
  std::set<std::string> control_variates;  // of score_function, z-tested at least once
  for_each_sweep_cell([&](const SweepCell& c, CellPlugins& p) {
    INFO(describe(c.config));
    if (!p.estimator->unbiased_for(*p.objective)) return;
    std::vector<double> phi = off_optimum_point(*p.family);
    auto exact = p.objective->exact_gradient(*p.target, *p.family, phi.data());
    if (!exact) return;
    if (auto cv = c.config.find("estimator.control_variate.name"); cv != c.config.end())
      control_variates.insert(std::get<std::string>(cv->second));
    GradientStats s = gradient_statistics(*p.target, *p.family, *p.objective, *p.estimator, phi, 99, 1, 20000, 3);
    const std::size_t n = s.grad.size();
    REQUIRE(exact->size() == n);
    const double z = normal_critical_value(1 - 1e-4 / static_cast<double>(n));
    for (std::size_t i = 0; i < n; ++i) {
      INFO("param " << all_param_names(p)[i] << ": mean " << s.grad[i].mean() << " exact " << (*exact)[i] << " se "
                    << s.grad[i].standard_error());
      // + a round-off floor: zero-variance estimators (the delta method on a quadratic f) have se ≈ 0.
      CHECK(std::abs(s.grad[i].mean() - (*exact)[i]) <= z * s.grad[i].standard_error() + 1e-12 * (1 + std::abs((*exact)[i])));
    }
    auto v = p.objective->exact_value(*p.target, *p.family, phi.data());
    CHECK(std::abs(s.objective.mean() - *v) <= z * s.objective.standard_error());
    ++checked;
  });
  CHECK(checked >= 8);  // 2 targets × 2 parameterizations × 2 objectives × 2 estimators, at least
  const std::vector<std::string> registered = Registry::instance().names("control_variate");
  CHECK(std::vector<std::string>(control_variates.begin(), control_variates.end()) == registered);
}

TEST_CASE("K-sample bounds of discrete families: exact by enumeration, estimators unbiased against it", "[estimator]") {
  // E[L̂_K] over every K-tuple of a finite support (4 points, K = 3: 64 tuples). Its gradient is checked
  // against finite differences of its value; every estimator that runs and claims unbiasedness is z-tested
  // against it (20000 replicates, Bonferroni over components, family-wise 1e-4).
  std::size_t checked = 0;
  const Config target = plugin_config("target", "target", "linear_gaussian",
                                      {{"dim", std::int64_t{2}}, {"data_seed", std::int64_t{2}}, {"prior_mean", std::vector<double>{0.2}}});
  for (const char* family : {"bernoulli", "categorical"})
    for (const char* objective : {"iwae", "renyi", "cubo"}) {
      Config base = merge({target, plugin_config("family", "family", family),
                           plugin_config("objective", "objective", objective, {{"k", std::int64_t{3}}})});
      if (std::string(family) == "categorical") base["family.categories"] = std::int64_t{2};
      CellPlugins p0 = build_cell_plugins(base);
      std::vector<double> phi = p0.family->init();
      for (std::size_t i = 0; i < phi.size(); ++i) phi[i] += 0.3 * static_cast<double>(i + 1) - 0.5;
      auto exact = p0.objective->exact_gradient(*p0.target, *p0.family, phi.data());
      REQUIRE(exact);
      const std::vector<double> x0 = joint_point(p0, phi);
      for (std::size_t i = 0; i < x0.size(); ++i)
        CHECK(fd_close((*exact)[i], central_difference([&](const std::vector<double>& x) {
          return at_joint(p0, x, [&](const double* phi_x) { return *p0.objective->exact_value(*p0.target, *p0.family, phi_x); });
        }, x0, i)));
      checked += check_unbiased_estimators(base, phi, *exact, std::vector<double>(exact->size(), 0.0), 20000, 3, 2);
    }
  CHECK(checked >= 12);  // score_function variants and vimco × 2 families × 3 objectives
}

TEST_CASE("the delta-method control variate has zero variance when f is quadratic", "[estimator]") {
  // f = (z − k)² (expectation) and the linear-Gaussian ELBO integrand are quadratic in z, so f − f̃ = 0
  // and ĝ = ∇_φ E_q[f̃] exactly, for every sample: variance at round-off, mean = the exact gradient.
  std::size_t checked = 0;
  for (const char* objective : {"expectation", "elbo"})
    for (const Config& tc : {plugin_config("target", "target", "quadratic", {{"dim", std::int64_t{2}}, {"k", -3.0}}),
                             plugin_config("target", "target", "linear_gaussian", {{"dim", std::int64_t{3}}})}) {
      for (const PluginInfo* fi : Registry::instance().list("family"))
        for (const Config& fc : choice_variants("family", *fi)) {
          Config cell = merge({tc, fc, plugin_config("objective", "objective", objective),
                               score_function_config("delta_method")});
          INFO(describe(cell));
          auto built = try_build(cell);
          if (!built) continue;  // unsupported combination: skipped by the runner
          CellPlugins& p = *built;
          if (!plugins_run(p)) continue;
          std::vector<double> phi = off_optimum_point(*p.family);
          auto exact = *p.objective->exact_gradient(*p.target, *p.family, phi.data());
          GradientStats s = gradient_statistics(*p.target, *p.family, *p.objective, *p.estimator, phi, 1, 1, 500, 1);
          for (std::size_t i = 0; i < phi.size(); ++i) {
            CHECK(std::sqrt(s.grad[i].variance()) <= 1e-10 * (1 + std::abs(exact[i])));
            CHECK(std::abs(s.grad[i].mean() - exact[i]) <= 1e-10 * (1 + std::abs(exact[i])));
          }
          ++checked;
        }
    }
  CHECK(checked >= 12);  // 2 objectives × 2 targets × 3 Gaussian family variants
}

TEST_CASE("score-function baselines need their sample counts and say so", "[estimator]") {
  Config cell = merge({plugin_config("target", "target", "quadratic"), plugin_config("family", "family", "gaussian_diag"),
                       plugin_config("objective", "objective", "expectation")});
  for (const char* b : {"leave_one_out", "optimal", "optimal_scalar"}) {
    CellPlugins p = build_cell_plugins(merge({cell, score_function_config(b)}));
    CHECK(p.estimator->min_samples() == 2);
    CHECK_THROWS(gradient_statistics(*p.target, *p.family, *p.objective, *p.estimator, p.family->init(), 1, 1, 10, 1));
  }
}

TEST_CASE("gradient statistics do not depend on the number of threads", "[estimator]") {
  for (const Config& ec : {plugin_config("estimator", "estimator", "reparam"),
                           score_function_config("moving_average")}) {
  Config cell = merge({plugin_config("target", "target", "linear_gaussian", {{"dim", std::int64_t{5}}}),
                       plugin_config("family", "family", "gaussian_diag"), plugin_config("objective", "objective", "elbo"),
                       ec});
  CellPlugins p = build_cell_plugins(cell);
  std::vector<double> phi = p.family->init();
  auto run = [&](int threads) {
    tbb::task_arena arena(threads);
    GradientStats s;
    arena.execute([&] { s = gradient_statistics(*p.target, *p.family, *p.objective, *p.estimator, phi, 3, 3, 5000, 4); });
    return s;
  };
  GradientStats one = run(1), two = run(2);
  for (std::size_t i = 0; i < phi.size(); ++i) {
    CHECK(std::bit_cast<std::uint64_t>(one.grad[i].mean()) == std::bit_cast<std::uint64_t>(two.grad[i].mean()));
    CHECK(std::bit_cast<std::uint64_t>(one.grad[i].variance()) == std::bit_cast<std::uint64_t>(two.grad[i].variance()));
  }
  }
}

TEST_CASE("gumbel_softmax is the exact derivative of f at the relaxed sample, at fixed noise", "[estimator]") {
  // The relaxed estimator differentiates f(y_λ(φ, noise)), so it is unbiased for ∇_φ E[f(y_λ)] — not for
  // ∇_φ E_q[f(b)], whose bias gradient_stats measures. Straight-through has no such property.
  std::size_t checked = 0;
  for (const char* family : {"bernoulli", "categorical"}) {
    Config cell = merge({plugin_config("target", "target", "linear_gaussian", {{"dim", std::int64_t{3}}}),
                         plugin_config("family", "family", family), plugin_config("objective", "objective", "expectation"),
                         plugin_config("estimator", "estimator", "gumbel_softmax", {{"temperature", 0.6}})});
    CellPlugins p = build_cell_plugins(cell);
    REQUIRE(plugins_run(p));
    CHECK_FALSE(p.estimator->unbiased_for(*p.objective));
    std::vector<double> phi = p.family->init();
    for (std::size_t i = 0; i < phi.size(); ++i) phi[i] += 0.2 * static_cast<double>(i) - 0.3;
    const std::unique_ptr<EstimatorScratch> ws = p.estimator->make_scratch();
    std::vector<double> g(phi.size() + p.target->num_model_params());
    Rng rng(8, 8, 8, streams::estimator);
    p.estimator->estimate(*p.target, *p.family, *p.objective, phi.data(), rng, 2, *ws, g.data());
    for (std::size_t i = 0; i < phi.size(); ++i) {
      const double fd = central_difference([&](const std::vector<double>& x) {
        Rng same(8, 8, 8, streams::estimator);
        Matrix noise, soft, hard;
        p.family->relaxed_sample(p.family->at(x.data()), same, 2, 0.6, noise, soft, hard);
        std::vector<double> f(2);
        p.target->log_joint(soft, f.data());
        return 0.5 * (f[0] + f[1]);
      }, phi, i);
      CHECK(fd_close(g[i], fd));
    }
    ++checked;
  }
  CHECK(checked == 2);
}

TEST_CASE("the reference gradient (forced on targets with a closed form) agrees with the exact gradient", "[estimator]") {
  // gradient_stats stores a bias against a reference gradient where no closed form exists. Here the reference
  // path is forced where one does exist: the reference estimator must be chosen as documented (reparam for
  // reparameterizable families, score_function otherwise), draw from its own stream, and agree with the exact
  // gradient within its standard error: z-test at 99.9% overall, Bonferroni over every component checked.
  struct Case {
    Config cell;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {merge({plugin_config("target", "target", "quadratic", {{"dim", std::int64_t{2}}, {"k", 0.7}}),
              plugin_config("family", "family", "gaussian_diag"), plugin_config("objective", "objective", "expectation")}),
       "reparam"},
      {merge({plugin_config("target", "target", "linear_gaussian", {{"dim", std::int64_t{3}}, {"data_seed", std::int64_t{4}}}),
              plugin_config("family", "family", "gaussian_fullrank"), plugin_config("objective", "objective", "elbo")}),
       "reparam"},
      {merge({plugin_config("target", "target", "bernoulli_toy", {{"dim", std::int64_t{2}}}),
              plugin_config("family", "family", "bernoulli"), plugin_config("objective", "objective", "expectation")}),
       "score_function"},
  };
  struct Result {
    std::string what;
    double z;
  };
  std::vector<Result> results;
  const std::size_t cell_replicates = 100, samples = 2;
  for (const Case& c : cases) {
    INFO(describe(c.cell));
    CellPlugins p = build_cell_plugins(c.cell);
    ReferenceEstimator re = reference_estimator(*p.target, *p.family, *p.objective);
    REQUIRE(re.estimator);
    CHECK(re.name == c.expected);
    std::vector<double> phi = off_optimum_point(*p.family);
    const auto exact = *p.objective->exact_gradient(*p.target, *p.family, phi.data());
    GradientStats ref = gradient_statistics(*p.target, *p.family, *p.objective, *re.estimator, phi, 11, 12,
                                            reference_factor * cell_replicates, samples, streams::reference);
    REQUIRE(ref.replicates == reference_factor * cell_replicates);
    for (std::size_t i = 0; i < exact.size(); ++i)
      results.push_back({describe(c.cell) + " component " + std::to_string(i),
                         (ref.grad[i].mean() - exact[i]) / ref.grad[i].standard_error()});
    // Its own stream: the same estimator on the cell's stream gives other draws.
    GradientStats cell = gradient_statistics(*p.target, *p.family, *p.objective, *re.estimator, phi, 11, 12,
                                             cell_replicates, samples);
    GradientStats ref_head = gradient_statistics(*p.target, *p.family, *p.objective, *re.estimator, phi, 11, 12,
                                                 cell_replicates, samples, streams::reference);
    CHECK(cell.grad[0].mean() != ref_head.grad[0].mean());
  }
  const double zc = normal_critical_value(1 - 0.001 / static_cast<double>(results.size()));
  for (const Result& r : results) {
    INFO(r.what << ": z = " << r.z << ", limit " << zc);
    CHECK(std::abs(r.z) <= zc);
  }
}

TEST_CASE("gradient_stats counts the log-joint evaluations of one estimate exactly", "[estimator]") {
  // Per estimate of S samples on a D-dimensional target: score function S (values only); pathwise S, each with
  // ∇_z; the delta-method control variate S + 1 (f and ∇f at the mean) and one Hessian; mvd S·(1 + 3D)
  // coupled and S·(1 + 4D) uncoupled (mvd.cpp: a base sample, then per coordinate the ± Rayleigh points and
  // the Maxwell point, plus, uncoupled, a separate Gaussian point for the scale's negative part).
  const std::size_t d = 3, s = 4;
  struct Expect {
    Config estimator;
    double evals, grads, hessians;
  };
  const std::vector<Expect> expect = {
      {plugin_config("estimator", "estimator", "score_function"), s, 0, 0},
      {score_function_config("delta_method"),
       s + 1, 1, 1},
      {plugin_config("estimator", "estimator", "reparam"), s, s, 0},
      {plugin_config("estimator", "estimator", "mvd", {{"coupling", true}}), s * (1 + 3 * d), 0, 0},
      {plugin_config("estimator", "estimator", "mvd", {{"coupling", false}}), s * (1 + 4 * d), 0, 0},
  };
  for (const Expect& ex : expect) {
    Config cell = merge({plugin_config("target", "target", "quadratic", {{"dim", std::int64_t{3}}, {"k", 0.5}}),
                         plugin_config("family", "family", "gaussian_diag"),
                         plugin_config("objective", "objective", "expectation"), ex.estimator});
    INFO(describe(cell));
    CellPlugins p = build_cell_plugins(cell);
    const std::vector<double> phi = p.family->init();
    GradientStats st = gradient_statistics(*p.target, *p.family, *p.objective, *p.estimator, phi, 1, 2, 130, s);
    CHECK(st.log_joint_evals.mean() == ex.evals);
    CHECK(st.log_joint_evals.variance() == 0);
    CHECK(st.grad_log_joint_evals.mean() == ex.grads);
    CHECK(st.hessian_evals.mean() == ex.hessians);
    CHECK(st.log_joint_evals.count() == 130);
  }
}

TEST_CASE("SKIP reasons are derived from the declared needs and offers", "[estimator]") {
  // unmet_plugin_needs names every unmet need of the objective, the estimator and its control variate; the
  // estimator's advice is added only when the objective is what is missing.
  auto reason = [](const Config& cell) { return unmet_plugin_needs(build_cell_plugins(cell), cell); };
  const Config lg = plugin_config("target", "target", "linear_gaussian", {{"dim", std::int64_t{2}}});
  const Config diag = plugin_config("family", "family", "gaussian_diag");
  const Config bern = plugin_config("family", "family", "bernoulli");
  const Config iwae5 = plugin_config("objective", "objective", "iwae", {{"k", std::int64_t{5}}});
  const Config elbo = plugin_config("objective", "objective", "elbo");
  CHECK(reason(merge({lg, diag, iwae5, plugin_config("estimator", "estimator", "reparam")})) ==
        "reparam needs a single-sample objective (k = 1); for k > 1 use the estimator iwae");
  CHECK(reason(merge({lg, bern, elbo, plugin_config("estimator", "estimator", "reparam")})) ==
        "reparam needs a family offering a reparameterization z = T_φ(ε)");
  CHECK(reason(merge({lg, bern, iwae5, plugin_config("estimator", "estimator", "mvd")})) ==
        "mvd needs a single-sample objective (k = 1); a family offering diagonal Gaussian members with φ = (means, "
        "scales)");
  CHECK(reason(merge({lg, bern, elbo, score_function_config("delta_method")})) ==
        "score_function with the control variate delta_method needs a family offering Gaussian members (closed-form "
        "mean and covariance), the pullback of moment gradients to φ");
  CHECK(reason(merge({lg, bern, plugin_config("objective", "objective", "elbo", {{"kl", std::string("analytic")}}),
                      plugin_config("estimator", "estimator", "score_function")})) ==
        "elbo needs a family offering Gaussian members (closed-form mean and covariance)");
  CHECK_FALSE(reason(merge({lg, diag, elbo, score_function_config("delta_method")})));
  CHECK_FALSE(reason(merge({lg, bern, elbo, plugin_config("estimator", "estimator", "score_function")})));
}
