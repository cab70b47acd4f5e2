// K-sample objectives (iwae, renyi, cubo) and their estimators: the pathwise rule is the exact derivative
// of the sampled bound; every estimator that claims unbiasedness agrees with it in mean (two-sample
// z-test); stl and dreg vanish at the exact posterior; the bounds are ordered and their closed forms are
// right (checked against Monte Carlo).
#include <catch2/catch.hpp>

#include <cmath>

#include "conformance.hpp"
#include "vibench/math/linalg.hpp"
#include "vibench/plugin/gradient_stats.hpp"

using namespace vibench;
using namespace vibench::test;

namespace {

Config linear_gaussian(std::int64_t dim, std::int64_t data_seed = 4) {
  return plugin_config("target", "target", "linear_gaussian",
                       {{"dim", dim}, {"data_seed", data_seed}, {"prior_mean", std::vector<double>{0.2}}});
}

// The K-sample objectives with K = k (and the single-sample ones, which ignore k).
std::vector<Config> objective_configs(std::int64_t k) {
  std::vector<Config> out;
  for (const PluginInfo* oi : Registry::instance().list("objective")) {
    bool has_k = std::any_of(oi->params.begin(), oi->params.end(), [](const ParamSpec& s) { return s.name == "k"; });
    out.push_back(has_k ? plugin_config("objective", "objective", oi->name, {{"k", k}})
                        : plugin_config("objective", "objective", oi->name));
  }
  return out;
}

std::vector<Config> reparameterizable_families() {
  std::vector<Config> out;
  for (const PluginInfo* fi : Registry::instance().list("family"))
    for (const Config& fc : choice_variants("family", *fi)) {
      auto p = try_build(merge({linear_gaussian(2), fc}));
      if (p && p->family->reparameterization()) out.push_back(fc);
    }
  return out;
}

}  // namespace

TEST_CASE("the pathwise rule is the exact derivative of the sampled bound at fixed noise", "[bounds]") {
  // ĝ(ε) from `iwae` (and `reparam` where it runs) must equal the finite difference of the returned
  // L̂_K(φ; ε) with the same noise: this makes it unbiased for ∇_φ E[L̂_K] and the reference below.
  std::size_t checked = 0;
  for (const Config& fc : reparameterizable_families())
    for (const Config& oc : objective_configs(5))
      for (const char* name : {"iwae", "reparam"}) {
        Config cell = merge({linear_gaussian(3), fc, oc, plugin_config("estimator", "estimator", name)});
        INFO(describe(cell));
        CellPlugins p = build_cell_plugins(cell);
        if (!plugins_run(p)) continue;
        std::vector<double> phi = off_optimum_point(*p.family);
        const std::vector<double> x0 = joint_point(p, phi);  // φ and θ
        const std::unique_ptr<EstimatorScratch> ws = p.estimator->make_scratch();
        std::vector<double> g(x0.size()), scratch(x0.size());
        for (std::uint64_t r = 0; r < 3; ++r) {
          Rng rng(11, 2, r, streams::estimator);
          p.estimator->estimate(*p.target, *p.family, *p.objective, phi.data(), rng, 2, *ws, g.data());
          for (std::size_t i = 0; i < x0.size(); ++i) {
            const double fd = central_difference([&](const std::vector<double>& x) {
              return at_joint(p, x, [&](const double* phi_x) {
                Rng same(11, 2, r, streams::estimator);
                return p.estimator->estimate(*p.target, *p.family, *p.objective, phi_x, same, 2, *ws, scratch.data());
              });
            }, x0, i);
            INFO("param " << all_param_names(p)[i] << " analytic " << g[i] << " fd " << fd);
            CHECK(fd_close(g[i], fd));
          }
        }
        ++checked;
      }
  CHECK(checked >= 12);
}

TEST_CASE("estimators that claim unbiasedness for K-sample objectives agree with the exact pathwise derivative",
          "[bounds]") {
  // No closed form exists for ∇ E[L̂_K], K > 1. The reference is `iwae`, proven above to be the exact
  // derivative of L̂_K at fixed noise. Two-sample z-test per component, independent streams (cell keys
  // 1 and 2): |m_e − m_ref| ≤ z·√(se_e² + se_ref²), z = Φ⁻¹(1 − 1e-4/(2P)) (Bonferroni, family-wise 1e-4).
  std::size_t checked = 0;
  const std::size_t replicates = 20000;
  for (const Config& fc : reparameterizable_families())
    for (const Config& oc : objective_configs(4)) {
      Config base = merge({linear_gaussian(2), fc, oc});
      CellPlugins ref = build_cell_plugins(merge({base, plugin_config("estimator", "estimator", "iwae")}));
      if (ref.objective->num_importance_samples() < 2) continue;  // K = 1: tested against closed forms
      std::vector<double> phi = off_optimum_point(*ref.family);
      GradientStats rs = gradient_statistics(*ref.target, *ref.family, *ref.objective, *ref.estimator, phi, 5, 1,
                                             replicates, 1);
      std::vector<double> ref_mean(rs.grad.size()), ref_se(rs.grad.size());
      for (std::size_t i = 0; i < ref_mean.size(); ++i) {
        ref_mean[i] = rs.grad[i].mean();
        ref_se[i] = rs.grad[i].standard_error();
      }
      checked += check_unbiased_estimators(base, phi, ref_mean, ref_se, replicates, 2, 1, "iwae");
    }
  CHECK(checked >= 9);  // score_function, vimco, dreg × iwae, renyi, cubo, at least
}

TEST_CASE("stl and dreg are exactly zero at the exact posterior; reparam and iwae are not", "[bounds]") {
  // Roeder et al. 2017 and Tucker et al. 2018: with q = p(z|x), log w = log p(x) for every z, so the
  // path derivative ∂l/∂z vanishes sample by sample; the score term does not.
  Config base = merge({linear_gaussian(3), plugin_config("family", "family", "gaussian_fullrank")});
  CellPlugins p0 = build_cell_plugins(merge({base, plugin_config("objective", "objective", "elbo")}));
  auto post = p0.target->exact_posterior();
  REQUIRE(post);
  std::vector<double> phi = *p0.family->from_gaussian(post->mean, post->cov, nullptr);
  for (const Config& oc : objective_configs(5)) {
    if (oc.at("objective.name") == Value(std::string("expectation"))) continue;  // no log q term
    for (const char* name : {"stl", "dreg", "reparam", "iwae"}) {
      Config cell = merge({base, oc, plugin_config("estimator", "estimator", name)});
      INFO(describe(cell));
      CellPlugins p = build_cell_plugins(cell);
      if (!plugins_run(p)) continue;
      const std::unique_ptr<EstimatorScratch> ws = p.estimator->make_scratch();
      std::vector<double> g(phi.size() + p.target->num_model_params());
      double largest = 0;
      for (std::uint64_t r = 0; r < 200; ++r) {
        Rng rng(3, 3, r, streams::estimator);
        p.estimator->estimate(*p.target, *p.family, *p.objective, phi.data(), rng, 1, *ws, g.data());
        for (std::size_t i = 0; i < phi.size(); ++i) largest = std::max(largest, std::abs(g[i]));  // φ only
      }
      INFO("largest |g| over 200 single estimates: " << largest);
      if (std::string(name) == "stl" || std::string(name) == "dreg")
        CHECK(largest <= 1e-10);
      else
        CHECK(largest > 1e-3);
    }
  }
}

TEST_CASE("ELBO <= IWAE-K <= IWAE-2K <= log p(x), measured", "[bounds]") {
  // Burda et al. 2016, Thm. 1. Mean-field optimum of a correlated posterior, so every gap is positive.
  // E[L̂_K] by Monte Carlo (200000 replicates, independent streams per K); ordering checked one-sided at
  // z = Φ⁻¹(1 − 1e-4) per comparison; IWAE-1 against the closed-form ELBO (two-sided), and the first steps
  // must be strictly increasing beyond noise, so the test fails if the bound did not depend on K.
  Config base = merge({linear_gaussian(3, 7), plugin_config("family", "family", "gaussian_diag"),
                       plugin_config("estimator", "estimator", "iwae")});
  CellPlugins p0 = build_cell_plugins(merge({base, plugin_config("objective", "objective", "elbo")}));
  std::vector<double> phi = *p0.family->elbo_optimum(*p0.target->exact_posterior());
  const double log_z = *p0.target->log_evidence(), elbo = *p0.objective->exact_value(*p0.target, *p0.family, phi.data());
  const double z = normal_critical_value(1 - 2e-4);
  double prev_mean = 0, prev_se = 0;
  for (std::int64_t k : {1, 2, 4, 8, 16, 32, 64}) {
    CellPlugins p = build_cell_plugins(merge({base, plugin_config("objective", "objective", "iwae", {{"k", k}})}));
    GradientStats s = gradient_statistics(*p.target, *p.family, *p.objective, *p.estimator, phi, 9,
                                          static_cast<std::uint64_t>(k), 200000 / static_cast<std::size_t>(k) + 2000, 1);
    const double m = s.objective.mean(), se = s.objective.standard_error();
    INFO("K = " << k << ": IWAE-K " << m << " ± " << se << ", ELBO " << elbo << ", log p(x) " << log_z);
    CHECK(m <= log_z + z * se);
    if (k == 1) CHECK(std::abs(m - elbo) <= z * se);
    if (k > 1) CHECK(m - prev_mean >= -z * std::hypot(se, prev_se));
    if (k == 2 || k == 4) CHECK(m - prev_mean > z * std::hypot(se, prev_se));
    prev_mean = m;
    prev_se = se;
  }
  CHECK(elbo < log_z);
}

TEST_CASE("closed-form power bounds: E_q[w^gamma] against Monte Carlo, CUBO >= log p(x) >= ELBO, Renyi -> ELBO",
          "[bounds]") {
  Config base = merge({linear_gaussian(3, 5), plugin_config("family", "family", "gaussian_fullrank"),
                       plugin_config("objective", "objective", "elbo")});
  CellPlugins p = build_cell_plugins(base);
  auto post = *p.target->exact_posterior();
  const double log_z = *p.target->log_evidence();
  // q wider than the posterior (cov × 1.3) and shifted: E_q[w^γ] and its Monte Carlo variance are finite
  // for the γ below (need γΛ_p + (1−γ)Λ_q ≻ 0 and the same for 2γ).
  Matrix cov = post.cov;
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 3; ++j) cov(i, j) *= 1.3;
  std::vector<double> mean = post.mean;
  mean[0] += 0.2;
  std::vector<double> phi = *p.family->from_gaussian(mean, cov, nullptr);
  const double elbo = *p.objective->exact_value(*p.target, *p.family, phi.data());

  SECTION("log E_q[w^γ] matches the Monte Carlo mean of w^γ") {
    // z-test at 1e-4 (two-sided) per γ on the mean of exp(γ(l − log p(x))), 400000 draws.
    const std::size_t n = 400000;
    Rng rng(21, 0, 0, streams::estimator);
    Matrix eps, zs;
    p.family->sample(p.family->at(phi.data()), rng, n, eps, zs);
    std::vector<double> lp(n), lq(n);
    p.target->log_joint(zs, lp.data());
    p.family->log_q(p.family->at(phi.data()), zs, lq.data());
    for (double gamma : {0.5, 1.0, 1.5, -0.5}) {
      Moments m;
      for (std::size_t r = 0; r < n; ++r) m.add(std::exp(gamma * (lp[r] - lq[r] - log_z)));
      const double exact = std::exp(*gaussian_log_weight_moment(*p.target, *p.family, phi.data(), gamma) - gamma * log_z);
      INFO("gamma " << gamma << ": MC " << m.mean() << " ± " << m.standard_error() << ", closed form " << exact);
      CHECK(std::abs(m.mean() - exact) <= normal_critical_value(1 - 1e-4) * m.standard_error());
    }
  }
  SECTION("orderings and limits") {
    const double cubo2 = *gaussian_power_bound(*p.target, *p.family, phi.data(), 2.0);
    const double renyi_half = *gaussian_power_bound(*p.target, *p.family, phi.data(), 0.5);
    INFO("ELBO " << elbo << " Renyi(0.5) " << renyi_half << " log p(x) " << log_z << " CUBO_2 " << cubo2);
    CHECK(elbo < renyi_half);
    CHECK(renyi_half < log_z);
    CHECK(log_z < cubo2);
    // γ = 1 gives log E_q[w] = log p(x) for every q: an identity of the formula, to round-off.
    CHECK(std::abs(*gaussian_power_bound(*p.target, *p.family, phi.data(), 1.0) - log_z) <= 1e-9 * (1 + std::abs(log_z)));
    // Rényi α → 1 (γ → 0): (1/γ) log E[w^γ] = ELBO + (γ/2) Var_q[log w] + O(γ²).
    // The first-order terms cancel in the symmetric mean, leaving O(γ²) ≈ 1e-6·κ₃/6.
    const double up = *gaussian_power_bound(*p.target, *p.family, phi.data(), 1e-3);
    const double down = *gaussian_power_bound(*p.target, *p.family, phi.data(), -1e-3);
    INFO("gamma = ±1e-3: " << up << ", " << down);
    CHECK(std::abs(up - elbo) <= 1e-2);
    CHECK(up > elbo);
    CHECK(down < elbo);
    CHECK(std::abs(0.5 * (up + down) - elbo) <= 1e-5);
    CHECK(*gaussian_power_bound(*p.target, *p.family, phi.data(), 0.0) == elbo);
  }
  SECTION("an infinite moment is reported as absent, not as a number") {
    // γ = 20 with q wider than the posterior: γΛ_p + (1 − γ)Λ_q = Λ_p(γ − (γ − 1)/1.3) ≻ 0 still; make q
    // narrower instead, so (1 − γ)Λ_q dominates: Λ = γΛ_p − (γ − 1)Λ_q with Λ_q = Λ_p/0.5.
    Matrix narrow = post.cov;
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t j = 0; j < 3; ++j) narrow(i, j) *= 0.5;
    std::vector<double> phi_narrow = *p.family->from_gaussian(post.mean, narrow, nullptr);
    CHECK_FALSE(gaussian_log_weight_moment(*p.target, *p.family, phi_narrow.data(), 3.0).has_value());
  }
}

TEST_CASE("bound_tightness stores the bound with its exact value, limit and gap", "[bounds]") {
  const std::string dir = fresh_dir("bound_tightness");
  write_file(dir + "/bt.yaml", R"(name: bt
study: bound_tightness
seed: 3
replicates: 20000
fixed:
  target: {name: linear_gaussian, dim: 3, data_seed: 0}
  family: gaussian_diag
  point: {kind: optimum}
  objective: iwae
grid:
  objective.k: [1, 8]
)");
  CommandResult r = run_cli("run " + dir + "/bt.yaml --out " + dir + " --threads 2", "bt");
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto lock = h5::hdf5_lock();
  h5::Handle f = h5::open_file_readonly(dir + "/bt.h5");
  h5::Handle cells = h5::open_group(f, "cells");
  std::map<std::int64_t, std::map<std::string, double>> by_k;
  for (const auto& id : h5::member_names(cells)) {
    h5::Handle g = h5::open_group(cells, id);
    auto& row = by_k[static_cast<std::int64_t>(h5::read_attr_double(g, "objective.k"))];
    for (const auto& d : h5::member_names(g))
      if (!h5::dataset_is_string(g, d)) {
        auto v = h5::read_dataset_doubles(g, d);
        if (v.size() == 1) row[d] = v[0];
      }
  }
  REQUIRE(by_k.size() == 2);
  const double z = normal_critical_value(1 - 1e-4);
  auto& one = by_k[1];
  auto& eight = by_k[8];
  INFO("K=1 bound " << one["bound_mean"] << " ± " << one["bound_se"] << " exact ELBO " << one["exact_bound"]);
  CHECK(std::abs(one["bound_mean"] - one["exact_bound"]) <= z * one["bound_se"]);
  CHECK(eight.count("exact_bound") == 0);  // no closed form for E[IWAE-8]
  CHECK(eight["bound_mean"] - one["bound_mean"] > z * std::hypot(one["bound_se"], eight["bound_se"]));
  for (auto* row : {&one, &eight}) {
    CHECK((*row)["limit_bound"] == (*row)["exact_log_evidence"]);
    CHECK((*row)["evidence_gap"] == (*row)["exact_log_evidence"] - (*row)["bound_mean"]);
    CHECK((*row)["bound_ci_low"] < (*row)["bound_mean"]);
  }
  CHECK(eight["importance_samples"] == 8);
}

TEST_CASE("the joint optimum of Rainforth et al.'s model: theta = x, A = I/2, b = x/2, zero ELBO gradient",
          "[bounds]") {
  // z ~ N(μ, I), x | z ~ N(z, I): log p(x) = log N(x; μ, 2I) is maximized at μ = x; the posterior is
  // N((μ + x)/2, I/2), so the encoder's optimal mean map is A = I/2, b = μ/2 (Rainforth et al. 2018, §4).
  Config cell = merge({plugin_config("target", "target", "linear_gaussian",
                                     {{"dim", std::int64_t{4}}, {"likelihood", std::string("identity")}, {"data_seed", std::int64_t{3}}}),
                       plugin_config("family", "family", "gaussian_affine_encoder"),
                       plugin_config("objective", "objective", "elbo")});
  cell["point.kind"] = std::string("optimum");
  cell["point.theta"] = std::string("optimum");
  cell["point.sd"] = 0.0;
  cell["point.mean"] = std::vector<double>{};
  cell["point.sigma"] = std::vector<double>{};
  CellPlugins p = build_cell_plugins(cell);
  const std::vector<double> x = *p.target->observation();
  std::vector<double> phi = evaluation_point(Params(cell, "point."), *p.target, *p.family, 1, 1);
  const std::vector<double> theta = p.target->model_params();
  const std::size_t d = 4;
  for (std::size_t i = 0; i < d; ++i) {
    CHECK(theta[i] == Approx(x[i]).margin(1e-12));
    for (std::size_t j = 0; j < d; ++j) CHECK(phi[i * d + j] == Approx(i == j ? 0.5 : 0.0).margin(1e-12));
    CHECK(phi[d * d + i] == Approx(x[i] / 2).margin(1e-12));
  }
  auto g = *p.objective->exact_gradient(*p.target, *p.family, phi.data());
  for (double v : g) CHECK(std::abs(v) <= 1e-12);
  // Perturbed: sd moves φ and θ by one draw from the point stream.
  cell["point.sd"] = 0.01;
  CellPlugins q = build_cell_plugins(cell);
  std::vector<double> phi2 = evaluation_point(Params(cell, "point."), *q.target, *q.family, 1, 1);
  double moved_phi = 0, moved_theta = 0;
  for (std::size_t i = 0; i < phi.size(); ++i) moved_phi = std::max(moved_phi, std::abs(phi2[i] - phi[i]));
  for (std::size_t i = 0; i < d; ++i) moved_theta = std::max(moved_theta, std::abs(q.target->model_params()[i] - theta[i]));
  CHECK(moved_phi > 0);
  CHECK(moved_phi < 0.06);
  CHECK(moved_theta > 0);
  CHECK(moved_theta < 0.06);
}

TEST_CASE("a data set of Rainforth et al.'s model: the data set's optimum, per-point cells, one shared perturbation",
          "[bounds]") {
  // N points x_n drawn from the model; θ* maximizes Σ_n log p(x_n): μ* = x̄ for the identity likelihood, the
  // solution of (AᵀS⁻¹A)μ = AᵀS⁻¹(x̄ − b) in general; the encoder optimum is A = I/2, b = μ*/2 for every n.
  const std::size_t d = 4, n_points = 6;
  auto target_config = [&](const std::string& likelihood, std::int64_t obs, std::int64_t index) {
    return plugin_config("target", "target", "linear_gaussian",
                         {{"dim", std::int64_t{d}}, {"obs_dim", obs}, {"likelihood", likelihood}, {"data_seed", std::int64_t{3}},
                          {"data_points", std::int64_t{n_points}}, {"data_index", index}});
  };
  for (const auto& [likelihood, obs] : {std::pair<std::string, std::int64_t>{"identity", 0}, {"random", 6}}) {
    INFO(likelihood);
    std::vector<std::unique_ptr<Target>> ts;
    for (std::size_t n = 0; n < n_points; ++n)
      ts.push_back(make_plugin<Target>(Params(target_config(likelihood, obs, static_cast<std::int64_t>(n)), "target.")));
    // Point 0 of the data set is the one observation a target without data_points has.
    Config single = plugin_config("target", "target", "linear_gaussian",
                                  {{"dim", std::int64_t{d}}, {"obs_dim", obs}, {"likelihood", likelihood}, {"data_seed", std::int64_t{3}}});
    CHECK(*make_plugin<Target>(Params(single, "target."))->observation() == *ts[0]->observation());
    CHECK(*ts[1]->observation() != *ts[0]->observation());
    auto opt = ts[0]->model_optimum();
    REQUIRE(opt);
    for (auto& t : ts) CHECK(*t->model_optimum() == *opt);  // the data set's, whichever point the target holds
    // ∇_μ Σ_n log p(x_n) = 0 at μ* (central differences of the exact evidences), and not at a single point's optimum.
    auto total_gradient = [&](const std::vector<double>& mu, std::size_t i) {
      return central_difference([&](const std::vector<double>& th) {
        double sum = 0;
        for (auto& t : ts) {
          t->set_model_params(th.data());
          sum += *t->log_evidence();
        }
        return sum;
      }, mu, i);
    };
    double largest = 0;
    for (std::size_t i = 0; i < d; ++i) largest = std::max(largest, std::abs(total_gradient(*opt, i)));
    CHECK(largest <= 1e-6);
    const auto own = make_plugin<Target>(Params(single, "target."))->model_optimum();
    double away = 0;
    for (std::size_t i = 0; i < d; ++i) away = std::max(away, std::abs(total_gradient(*own, i)));
    CHECK(away > 0.1);
    if (likelihood == "identity") {
      std::vector<double> mean(d, 0.0);
      for (auto& t : ts)
        for (std::size_t i = 0; i < d; ++i) mean[i] += (*t->observation())[i] / static_cast<double>(n_points);
      for (std::size_t i = 0; i < d; ++i) CHECK((*opt)[i] == Approx(mean[i]).margin(1e-12));
    }
  }
  // Cells at the data set's optimum: A = I/2, b = μ*/2 at every point; the data set's ELBO gradient (the sum of
  // the points' exact gradients, φ and θ) is zero; point.noise_seed gives every cell the same perturbation.
  auto cell_at = [&](std::int64_t index, double sd, std::int64_t noise_seed) {
    Config cell = merge({target_config("identity", 0, index), plugin_config("family", "family", "gaussian_affine_encoder"),
                         plugin_config("objective", "objective", "elbo")});
    cell["point.kind"] = std::string("perturbed_optimum");
    cell["point.theta"] = std::string("optimum");
    cell["point.sd"] = sd;
    cell["point.mean"] = std::vector<double>{};
    cell["point.sigma"] = std::vector<double>{};
    if (noise_seed > 0) cell["point.noise_seed"] = noise_seed;
    return cell;
  };
  std::vector<double> total;
  for (std::size_t n = 0; n < n_points; ++n) {
    Config cell = cell_at(static_cast<std::int64_t>(n), 0.0, 0);
    CellPlugins p = build_cell_plugins(cell);
    std::vector<double> phi = evaluation_point(Params(cell, "point."), *p.target, *p.family, 1, 1 + n);
    const std::vector<double> mu = p.target->model_params();
    for (std::size_t i = 0; i < d; ++i) {
      for (std::size_t j = 0; j < d; ++j) CHECK(phi[i * d + j] == Approx(i == j ? 0.5 : 0.0).margin(1e-12));
      CHECK(phi[d * d + i] == Approx(mu[i] / 2).margin(1e-12));
    }
    auto g = *p.objective->exact_gradient(*p.target, *p.family, phi.data());
    total.resize(g.size(), 0.0);
    for (std::size_t i = 0; i < g.size(); ++i) total[i] += g[i];
    if (n == 1) {  // one point alone is not at its optimum: its θ gradient is (x_n − μ*)/2
      double largest = 0;
      for (std::size_t i = phi.size(); i < g.size(); ++i) largest = std::max(largest, std::abs(g[i]));
      CHECK(largest > 0.1);
    }
  }
  for (double v : total) CHECK(std::abs(v) <= 1e-12);
  auto perturbed = [&](std::int64_t index, std::uint64_t cell_key, std::int64_t noise_seed) {
    Config cell = cell_at(index, 0.01, noise_seed);
    CellPlugins p = build_cell_plugins(cell);
    std::vector<double> phi = evaluation_point(Params(cell, "point."), *p.target, *p.family, 1, cell_key);
    for (double v : p.target->model_params()) phi.push_back(v);
    return phi;
  };
  CHECK(perturbed(0, 11, 5) == perturbed(3, 12, 5));  // shared: the same (φ, θ) in different cells
  CHECK(perturbed(0, 11, 5) != perturbed(0, 11, 6));
  CHECK(perturbed(0, 11, 0) != perturbed(0, 12, 0));  // per cell without noise_seed
  // Bad input.
  CHECK_THROWS_WITH(make_plugin<Target>(Params(target_config("identity", 0, n_points), "target.")),
                    Catch::Contains("data_points = 6"));
  Config with_x = target_config("identity", 0, 0);
  with_x["target.x"] = std::vector<double>(d, 1.0);
  CHECK_THROWS_WITH(make_plugin<Target>(Params(with_x, "target.")), Catch::Contains("data_points > 1"));
}

TEST_CASE("rws: mean zero at the exact posterior for every K, and for K = 1 everywhere", "[bounds]") {
  // ĝ = Σ_k w̃_k ∇_φ log q(z_k). At q = p(z|x) every w_k = p(x), so w̃_k = 1/K and E[ĝ] = E_q[∇ log q] = 0;
  // with K = 1, w̃ = 1 and E[ĝ] = 0 for any q (why RWS needs K > 1). z-test per component at 1e-4 (Bonferroni).
  Config base = merge({linear_gaussian(3), plugin_config("family", "family", "gaussian_fullrank"),
                       plugin_config("estimator", "estimator", "rws")});
  for (std::int64_t k : {1, 8}) {
    CellPlugins p = build_cell_plugins(merge({base, plugin_config("objective", "objective", "iwae", {{"k", k}})}));
    REQUIRE(plugins_run(p));
    auto post = *p.target->exact_posterior();
    std::vector<std::vector<double>> points{*p.family->from_gaussian(post.mean, post.cov, nullptr)};
    if (k == 1) points.push_back(off_optimum_point(*p.family));
    for (const auto& phi : points) {
      GradientStats s = gradient_statistics(*p.target, *p.family, *p.objective, *p.estimator, phi, 4, 4, 20000, 1);
      const double z = normal_critical_value(1 - 1e-4 / static_cast<double>(phi.size()));
      for (std::size_t i = 0; i < phi.size(); ++i) {  // φ only: the θ part is the IWAE θ-gradient
        INFO("K " << k << " param " << i << " mean " << s.grad[i].mean() << " se " << s.grad[i].standard_error());
        CHECK(std::abs(s.grad[i].mean()) <= z * s.grad[i].standard_error());
      }
    }
  }
}
