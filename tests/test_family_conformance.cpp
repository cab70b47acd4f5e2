// Every registered family: analytic derivatives against central finite differences, closed forms
// against Monte Carlo, sampling against the moments it claims.
#include <catch2/catch.hpp>

#include <cmath>

#include "conformance.hpp"
#include "vibench/math/stats.hpp"
#include "vibench/vi/family.hpp"
#include "vibench/vi/target.hpp"

using namespace vibench;
using namespace vibench::test;

namespace {

constexpr std::size_t dim = 3;

std::vector<double> test_point(const Family& q) {
  std::vector<double> phi = q.init();
  for (std::size_t i = 0; i < phi.size(); ++i) phi[i] += 0.07 * static_cast<double>(1 + i % 3) * (i % 2 ? -1 : 1);
  return phi;
}

// Families are built for a linear-Gaussian target of dimension `dim` (amortized families read its x).
std::vector<std::unique_ptr<Family>> all_families(std::vector<std::string>& names) {
  static const std::unique_ptr<Target> target = make_plugin<Target>(Params(
      plugin_config("target", "target", "linear_gaussian", {{"dim", std::int64_t{dim}}, {"obs_dim", std::int64_t{2}}}),
      "target."));
  std::vector<std::unique_ptr<Family>> out;
  for (const PluginInfo* info : Registry::instance().list("family"))
    for (const Config& c : choice_variants("family", *info)) {
      out.push_back(make_plugin<Family>(Params(c, "family."), PluginContext{.dim = dim, .target = target.get()}));
      names.push_back(describe(c));
    }
  return out;
}

}  // namespace

TEST_CASE("family derivatives match finite differences", "[family]") {
  std::vector<std::string> names;
  auto families = all_families(names);
  REQUIRE(!families.empty());
  std::size_t inverted = 0;
  for (std::size_t fi = 0; fi < families.size(); ++fi) {
    const Family& q = *families[fi];
    INFO(names[fi]);
    const std::vector<double> phi = test_point(q);
    const std::size_t p = q.num_params(), s = 4;
    REQUIRE(phi.size() == p);
    REQUIRE(q.param_names().size() == p);
    Matrix eps, z;
    Rng rng(1, 2, 3, streams::estimator);
    q.sample(q.at(phi.data()), rng, s, eps, z);
    REQUIRE(z.rows() == s);
    REQUIRE(z.cols() == q.dim());

    {
      INFO("score = d/dphi log q(z), z fixed");
      Matrix sc;
      q.score(q.at(phi.data()), z, sc);
      for (std::size_t r = 0; r < s; ++r)
        for (std::size_t i = 0; i < p; ++i) {
          double fd = central_difference([&](const std::vector<double>& x) {
            std::vector<double> lq(s);
            q.log_q(q.at(x.data()), z, lq.data());
            return lq[r];
          }, phi, i);
          INFO("sample " << r << " param " << q.param_names()[i]);
          CHECK(fd_close(sc(r, i), fd));
        }
    }
    CHECK(q.discrete() == !q.density_gradient());  // a continuous family offers ∇_z log q, a discrete one cannot
    if (const DensityGradient* density = q.density_gradient()) {
      INFO("grad_z log q");
      Matrix g;
      density->grad_z_log_q(q.at(phi.data()), z, g);
      for (std::size_t r = 0; r < s; ++r)
        for (std::size_t j = 0; j < q.dim(); ++j) {
          double fd = central_difference([&](const std::vector<double>& zr) {
            Matrix one(1, q.dim());
            std::copy(zr.begin(), zr.end(), one.row(0));
            double lq;
            q.log_q(q.at(phi.data()), one, &lq);
            return lq;
          }, std::vector<double>(z.row(r), z.row(r) + q.dim()), j);
          CHECK(fd_close(g(r, j), fd));
        }
    }
    if (const Reparameterization* reparam = q.reparameterization()) {
      {
        INFO("reparam pullback = (dz/dphi)^T v at fixed noise");
        Matrix v(s, q.dim()), out;
        Rng(4, 4, 4, streams::estimator).normals(v.data(), s * q.dim());
        reparam->pullback(q.at(phi.data()), eps, v, out);
        for (std::size_t r = 0; r < s; ++r)
          for (std::size_t i = 0; i < p; ++i) {
            double fd = central_difference([&](const std::vector<double>& x) {
              Matrix e2, z2;
              Rng same(1, 2, 3, streams::estimator);  // same noise ε
              q.sample(q.at(x.data()), same, s, e2, z2);
              double dot = 0;
              for (std::size_t j = 0; j < q.dim(); ++j) dot += v(r, j) * z2(r, j);
              return dot;
            }, phi, i);
            CHECK(fd_close(out(r, i), fd));
          }
      }
    }
    if (q.entropy(phi.data())) {
      {
        INFO("entropy gradient, and entropy = -E_q[log q] (Monte Carlo, 99.99% two-sided)");
        std::vector<double> gh(p);
        REQUIRE(q.grad_entropy(phi.data(), gh.data()));
        for (std::size_t i = 0; i < p; ++i)
          CHECK(fd_close(gh[i], central_difference([&](const std::vector<double>& x) { return *q.entropy(x.data()); }, phi, i)));
        Matrix e2, z2;
        Rng big(7, 7, 7, streams::estimator);
        const std::size_t n = 200000;
        q.sample(q.at(phi.data()), big, n, e2, z2);
        std::vector<double> lq(n);
        q.log_q(q.at(phi.data()), z2, lq.data());
        Moments m;
        for (double v : lq) m.add(-v);
        CHECK(std::abs(m.mean() - *q.entropy(phi.data())) < normal_critical_value(0.9999) * m.standard_error());
      }
    }
    if (auto mom = q.gaussian_moments(phi.data())) {
      {
        INFO("gaussian moments: pullback matches finite differences; samples match the moments");
        std::vector<double> gm(q.dim());
        Matrix gc(q.dim(), q.dim());
        Rng(8, 8, 8, streams::estimator).normals(gm.data(), gm.size());
        Rng(8, 8, 9, streams::estimator).normals(gc.data(), q.dim() * q.dim());
        std::vector<double> out(p);
        REQUIRE(q.pullback_moments(phi.data(), gm, gc, out.data()));
        auto scalar = [&](const std::vector<double>& x) {
          auto m = *q.gaussian_moments(x.data());
          double v = 0;
          for (std::size_t a = 0; a < q.dim(); ++a) {
            v += gm[a] * m.mean[a];
            for (std::size_t b = 0; b < q.dim(); ++b) v += gc(a, b) * m.cov(a, b);
          }
          return v;
        };
        for (std::size_t i = 0; i < p; ++i) CHECK(fd_close(out[i], central_difference(scalar, phi, i)));

        const std::size_t n = 200000;
        Matrix e2, z2;
        Rng big(9, 9, 9, streams::estimator);
        q.sample(q.at(phi.data()), big, n, e2, z2);
        const double zc = normal_critical_value(0.9999);
        for (std::size_t a = 0; a < q.dim(); ++a) {
          Moments ma, mc;
          for (std::size_t r = 0; r < n; ++r) {
            ma.add(z2(r, a));
            mc.add((z2(r, a) - mom->mean[a]) * (z2(r, 0) - mom->mean[0]));
          }
          CHECK(std::abs(ma.mean() - mom->mean[a]) < zc * ma.standard_error());
          CHECK(std::abs(mc.mean() - mom->cov(a, 0)) < zc * mc.standard_error());
        }
        // from_gaussian of the family's own moments: *a* member with these moments (φ need not be
        // identifiable, e.g. an encoder's (A, b) for one x), compared in moment space. Families without a
        // general inverse (gaussian_lowrank: diagonal Gaussians only) say why; at least three must invert.
        std::string why;
        if (auto back = q.from_gaussian(mom->mean, mom->cov, &why)) {
          auto again = q.gaussian_moments(back->data());
          REQUIRE(again);
          for (std::size_t a = 0; a < q.dim(); ++a) {
            CHECK(again->mean[a] == Approx(mom->mean[a]).margin(1e-12));
            for (std::size_t b = 0; b < q.dim(); ++b) CHECK(again->cov(a, b) == Approx(mom->cov(a, b)).margin(1e-12));
          }
          ++inverted;
        } else {
          CHECK(!why.empty());
        }
      }
    }
  }
  CHECK(inverted >= 3);
}

TEST_CASE("finite supports and relaxations of discrete families", "[family]") {
  std::vector<std::string> names;
  auto families = all_families(names);
  std::size_t with_support = 0, with_relaxation = 0;
  for (std::size_t fi = 0; fi < families.size(); ++fi) {
    const Family& q = *families[fi];
    INFO(names[fi]);
    const std::vector<double> phi = test_point(q);
    if (auto support = q.support()) {
      // Probabilities sum to one, and hard samples have the enumerated mean (z-test at 1e-4 per coordinate).
      std::vector<double> lq(support->rows()), mean(q.dim(), 0.0);
      q.log_q(q.at(phi.data()), *support, lq.data());
      double total = 0;
      for (std::size_t r = 0; r < support->rows(); ++r) {
        total += std::exp(lq[r]);
        for (std::size_t j = 0; j < q.dim(); ++j) mean[j] += std::exp(lq[r]) * (*support)(r, j);
      }
      CHECK(total == Approx(1.0).epsilon(1e-12));
      const std::size_t n = 100000;
      Matrix eps, z;
      Rng rng(12, 1, 1, streams::estimator);
      q.sample(q.at(phi.data()), rng, n, eps, z);
      for (std::size_t j = 0; j < q.dim(); ++j) {
        Moments m;
        for (std::size_t r = 0; r < n; ++r) m.add(z(r, j));
        CHECK(std::abs(m.mean() - mean[j]) <= normal_critical_value(1 - 0.5e-4) * m.standard_error());
      }
      ++with_support;
    }
    Matrix noise, soft, hard;
    Rng probe(13, 1, 1, streams::estimator);
    const double temperature = 0.7;
    if (q.relaxed_sample(q.at(phi.data()), probe, 3, temperature, noise, soft, hard)) {
      INFO("relaxed pullback = (d soft/d phi)^T v at fixed noise");
      Matrix v(3, q.dim()), out;
      Rng(14, 1, 1, streams::estimator).normals(v.data(), 3 * q.dim());
      q.relaxed_pullback(q.at(phi.data()), noise, temperature, v, out);
      for (std::size_t r = 0; r < 3; ++r)
        for (std::size_t i = 0; i < q.num_params(); ++i) {
          double fd = central_difference([&](const std::vector<double>& x) {
            Matrix n2, s2, h2;
            Rng same(13, 1, 1, streams::estimator);
            q.relaxed_sample(q.at(x.data()), same, 3, temperature, n2, s2, h2);
            double dot = 0;
            for (std::size_t j = 0; j < q.dim(); ++j) dot += v(r, j) * s2(r, j);
            return dot;
          }, phi, i);
          CHECK(fd_close(out(r, i), fd));
        }
      ++with_relaxation;
      Matrix uv(3, q.dim()), soft_a, soft_t, d_soft, d_soft_t;
      Rng(15, 1, 1, streams::estimator).uniforms(uv.data(), 3 * q.dim());
      if (q.conditional_relaxation(q.at(phi.data()), noise, hard, uv, temperature, soft_a, soft_t, d_soft, d_soft_t)) {
        INFO("REBAR conditional relaxation: derivatives at fixed (noise, b, v)");
        for (std::size_t r = 0; r < 3; ++r)
          for (std::size_t i = 0; i < q.dim(); ++i) {
            auto at = [&](const std::vector<double>& x, bool tilde) {
              Matrix n2, s2, h2, a2, t2, da, dt;
              Rng same(13, 1, 1, streams::estimator);
              q.relaxed_sample(q.at(x.data()), same, 3, temperature, n2, s2, h2);
              q.conditional_relaxation(q.at(x.data()), n2, hard, uv, temperature, a2, t2, da, dt);
              return tilde ? t2(r, i) : a2(r, i);
            };
            CHECK(fd_close(d_soft(r, i), central_difference([&](const std::vector<double>& x) { return at(x, false); }, phi, i)));
            CHECK(fd_close(d_soft_t(r, i), central_difference([&](const std::vector<double>& x) { return at(x, true); }, phi, i)));
          }
        // z̃ ~ p(z | b) with b ~ q: marginally z̃ has z's distribution, so σ_λ(z̃) and σ_λ(z) share their mean
        // (the two are positively correlated through b, so the hypot of their SEs is conservative).
        const std::size_t n = 200000;
        Matrix n2, s2, h2, v2(n, q.dim()), a2, t2, da, dt;
        Rng big(16, 1, 1, streams::estimator);
        q.relaxed_sample(q.at(phi.data()), big, n, temperature, n2, s2, h2);
        big.uniforms(v2.data(), n * q.dim());
        q.conditional_relaxation(q.at(phi.data()), n2, h2, v2, temperature, a2, t2, da, dt);
        for (std::size_t i = 0; i < q.dim(); ++i) {
          Moments diff;
          for (std::size_t r = 0; r < n; ++r) diff.add(t2(r, i));
          Moments plain;
          for (std::size_t r = 0; r < n; ++r) plain.add(a2(r, i));
          CHECK(std::abs(diff.mean() - plain.mean()) <=
                normal_critical_value(1 - 0.5e-4) * std::hypot(diff.standard_error(), plain.standard_error()));
        }
      }
    }
  }
  CHECK(with_support >= 2);
  CHECK(with_relaxation >= 2);
}

TEST_CASE("the binary Concrete density integrates to one and its samples match it", "[family]") {
  // ∫ q(y) dy over (0, 1) by the trapezoid rule in t = logit y (dy = y(1 − y) dt), t ∈ [−36, 36] (beyond,
  // y rounds to 0 or 1; t is logistic with scale 1/λ, so the tails left out are below e^{−17} for λ ≥ 1/2),
  // for several temperatures; and P(y < 1/2) = 1 − σ(η) for every λ (y < 1/2 ⇔ η + L < 0).
  for (double lambda : {0.5, 1.0, 2.0}) {
    INFO("temperature " << lambda);
    Config c = plugin_config("family", "family", "concrete", {{"temperature", lambda}});
    auto q = make_plugin<Family>(Params(c, "family."), PluginContext{.dim = 1});
    const std::vector<double> phi{0.7};
    const std::size_t n = 200000;
    const double lo = -36, hi = 36, h = (hi - lo) / static_cast<double>(n);
    Matrix y(n + 1, 1);
    for (std::size_t i = 0; i <= n; ++i) {
      const double t = lo + h * static_cast<double>(i);
      y(i, 0) = 1 / (1 + std::exp(-t));
    }
    std::vector<double> lq(n + 1);
    q->log_q(q->at(phi.data()), y, lq.data());
    double total = 0;
    for (std::size_t i = 0; i <= n; ++i)
      total += (i == 0 || i == n ? 0.5 : 1.0) * std::exp(lq[i]) * y(i, 0) * (1 - y(i, 0));
    CHECK(total * h == Approx(1.0).epsilon(1e-6));
    Matrix eps, z;
    Rng rng(3, 3, 3, streams::estimator);
    q->sample(q->at(phi.data()), rng, n, eps, z);
    Moments below;
    for (std::size_t i = 0; i < n; ++i) below.add(z(i, 0) < 0.5 ? 1.0 : 0.0);
    CHECK(std::abs(below.mean() - 1 / (1 + std::exp(0.7))) <= normal_critical_value(1 - 0.5e-4) * below.standard_error());
  }
}

TEST_CASE("flow densities integrate to one and match their samplers", "[family]") {
  for (const char* flow : {"flow_affine_coupling", "flow_planar"}) {
  INFO(flow);
  // 2-D trapezoid quadrature of exp(log q) (the inverse pass) over [−25, 25]², and the mean of the samples
  // (the forward pass) against the quadrature mean: both passes describe the same distribution. Parameters
  // ~ N(0, 0.2²) (plus init for the planar w): scales stay within e^{±1}·e^{layers}, inside the box [−25, 25]².
  Config c = plugin_config("family", "family", flow, {{"layers", std::int64_t{3}}});
  auto q = make_plugin<Family>(Params(c, "family."), PluginContext{.dim = 2});
  std::vector<double> phi(q->num_params());
  Rng(21, 0, 0, streams::estimator).normals(phi.data(), phi.size());
  const std::vector<double> base = q->init();
  for (std::size_t i = 0; i < phi.size(); ++i) phi[i] = base[i] + 0.2 * phi[i];
  const std::size_t n = 2000;
  const double lo = -25, hi = 25, h = (hi - lo) / static_cast<double>(n);
  Matrix grid((n + 1) * (n + 1), 2);
  for (std::size_t i = 0; i <= n; ++i)
    for (std::size_t j = 0; j <= n; ++j) {
      grid(i * (n + 1) + j, 0) = lo + h * static_cast<double>(i);
      grid(i * (n + 1) + j, 1) = lo + h * static_cast<double>(j);
    }
  std::vector<double> lq(grid.rows());
  q->log_q(q->at(phi.data()), grid, lq.data());
  double total = 0, mean0 = 0;
  for (std::size_t i = 0; i <= n; ++i)
    for (std::size_t j = 0; j <= n; ++j) {
      const double w = (i == 0 || i == n ? 0.5 : 1.0) * (j == 0 || j == n ? 0.5 : 1.0) * std::exp(lq[i * (n + 1) + j]) * h * h;
      total += w;
      mean0 += w * grid(i * (n + 1) + j, 0);
    }
  CHECK(total == Approx(1.0).epsilon(1e-6));
  Matrix eps, z;
  Rng rng(22, 0, 0, streams::estimator);
  q->sample(q->at(phi.data()), rng, 200000, eps, z);
  Moments m;
  for (std::size_t r = 0; r < z.rows(); ++r) m.add(z(r, 0));
  CHECK(std::abs(m.mean() - mean0) <= normal_critical_value(1 - 0.5e-4) * m.standard_error());
  }
}

TEST_CASE("the categorical Concrete density integrates to one over the simplex", "[family]") {
  // C = 3, one block: y = (s, (1 − s)t, (1 − s)(1 − t)) with s = σ(a), t = σ(b), so
  // dy₁dy₂ = (1 − s)·s(1 − s)·t(1 − t) da db; trapezoid rule on (a, b) ∈ [−30, 30]².
  for (double lambda : {0.5, 1.0}) {
    INFO("temperature " << lambda);
    Config c = plugin_config("family", "family", "concrete",
                             {{"kind", std::string("categorical")}, {"categories", std::int64_t{3}}, {"temperature", lambda}});
    auto q = make_plugin<Family>(Params(c, "family."), PluginContext{.dim = 3});
    const std::vector<double> phi{0.4, -0.3, 0.1};
    const std::size_t n = 1500;
    const double lo = -30, hi = 30, h = (hi - lo) / static_cast<double>(n);
    Matrix y((n + 1) * (n + 1), 3);
    std::vector<double> jac(y.rows());
    for (std::size_t i = 0; i <= n; ++i)
      for (std::size_t j = 0; j <= n; ++j) {
        const double s = 1 / (1 + std::exp(-(lo + h * static_cast<double>(i))));
        const double t = 1 / (1 + std::exp(-(lo + h * static_cast<double>(j))));
        const std::size_t r = i * (n + 1) + j;
        y(r, 0) = std::max(s, 1e-300);
        y(r, 1) = std::max((1 - s) * t, 1e-300);
        y(r, 2) = std::max((1 - s) * (1 - t), 1e-300);
        jac[r] = (1 - s) * s * (1 - s) * t * (1 - t);
      }
    std::vector<double> lq(y.rows());
    q->log_q(q->at(phi.data()), y, lq.data());
    double total = 0;
    for (std::size_t i = 0; i <= n; ++i)
      for (std::size_t j = 0; j <= n; ++j) {
        const std::size_t r = i * (n + 1) + j;
        total += (i == 0 || i == n ? 0.5 : 1.0) * (j == 0 || j == n ? 0.5 : 1.0) * std::exp(lq[r]) * jac[r];
      }
    CHECK(total * h * h == Approx(1.0).epsilon(1e-5));
  }
}

TEST_CASE("base noise: draws have their law, antithetic partners have the same law and reverse the order", "[family]") {
  // Mean and variance of each law: N(0, 1); standard logistic 0, π²/3; standard Gumbel γ (Euler–Mascheroni), π²/6.
  const double pi2 = M_PI * M_PI, euler_gamma = 0.57721566490153286;
  struct Law { BaseNoise::Law law; const char* name; double mean, variance; };
  for (const Law& l : {Law{BaseNoise::Law::standard_normal, "normal", 0.0, 1.0}, Law{BaseNoise::Law::logistic, "logistic", 0.0, pi2 / 3},
                       Law{BaseNoise::Law::gumbel, "gumbel", euler_gamma, pi2 / 6}}) {
    INFO(l.name);
    const BaseNoise noise{l.law, 2};
    const std::size_t n = 200000;
    Rng rng(11, 12, 13, streams::estimator);
    Matrix eps, anti, back;
    draw_base_noise(noise, rng, n, eps);
    antithetic_base_noise(noise, eps, anti);
    antithetic_base_noise(noise, anti, back);
    REQUIRE(anti.rows() == n);
    REQUIRE(anti.cols() == 2);
    Moments m, v, ma, va;
    bool decreasing = true, involution = true;
    for (std::size_t r = 0; r < n; ++r) {
      const double e = eps(r, 0), a = anti(r, 0);
      m.add(e), v.add((e - l.mean) * (e - l.mean)), ma.add(a), va.add((a - l.mean) * (a - l.mean));
      if (r > 0 && (eps(r, 0) - eps(r - 1, 0)) * (anti(r, 0) - anti(r - 1, 0)) > 0) decreasing = false;
      if (std::abs(back(r, 0) - e) > 1e-9 * (1 + std::abs(e))) involution = false;
    }
    CHECK(decreasing);  // a is a decreasing map: every pair of draws is ordered the other way round
    CHECK(involution);  // a(a(ε)) = ε
    // z-tests at 99.99% (two-sided) on the mean and the variance of the draws and of their partners.
    const double zc = normal_critical_value(0.9999);
    CHECK(std::abs(m.mean() - l.mean) < zc * m.standard_error());
    CHECK(std::abs(v.mean() - l.variance) < zc * v.standard_error());
    CHECK(std::abs(ma.mean() - l.mean) < zc * ma.standard_error());
    CHECK(std::abs(va.mean() - l.variance) < zc * va.standard_error());
  }
}

TEST_CASE("a reparameterizable family's sample is its base noise pushed through T_phi", "[family]") {
  std::vector<std::string> names;
  const auto families = all_families(names);
  std::size_t checked = 0;
  for (std::size_t f = 0; f < families.size(); ++f) {
    INFO(names[f]);
    const Family& q = *families[f];
    const Reparameterization* reparam = q.reparameterization();
    if (reparam) CHECK(q.density_gradient());  // z = T_φ(ε) with T invertible: a density with ∇_z log q
    if (!reparam) continue;
    const std::vector<double> phi = test_point(q);
    Matrix eps, z, eps2, z2;
    Rng a(5, 6, 7, streams::estimator), b(5, 6, 7, streams::estimator);
    q.sample(q.at(phi.data()), a, 9, eps, z);
    draw_base_noise(reparam->base_noise(), b, 9, eps2);
    reparam->transform(q.at(phi.data()), eps2, z2);
    CHECK(eps.cols() == reparam->base_noise().dim);
    CHECK(std::equal(z.data(), z.data() + z.rows() * z.cols(), z2.data()));
    ++checked;
  }
  CHECK(checked >= 7);  // the Gaussians, the flows, the encoder and the Concrete families
}

TEST_CASE("every family's declared capabilities match what its methods do", "[family]") {
  // Estimators are matched to families by Family::offers() alone (capabilities.hpp), so a declaration that
  // disagrees with the method would skip a valid cell or run an estimator on a family that cannot serve it.
  std::vector<std::string> names;
  const auto families = all_families(names);
  for (std::size_t f = 0; f < families.size(); ++f) {
    INFO(names[f]);
    const Family& q = *families[f];
    const Capabilities offers = q.offers();
    const std::vector<double> phi = test_point(q);
    CHECK(offers.has(Capability::reparameterization) == (q.reparameterization() != nullptr));
    CHECK(offers.has(Capability::density_gradient) == (q.density_gradient() != nullptr));
    const auto moments = q.gaussian_moments(phi.data());
    CHECK(offers.has(Capability::gaussian_moments) == moments.has_value());
    CHECK(offers.has(Capability::diagonal_gaussian) == q.diagonal_gaussian(phi.data()).has_value());
    if (moments) {
      std::vector<double> out(q.num_params());
      CHECK(offers.has(Capability::moment_pullback) == q.pullback_moments(phi.data(), moments->mean, moments->cov, out.data()));
    } else {
      CHECK_FALSE(offers.has(Capability::moment_pullback));
    }
    Matrix noise, soft, hard, a, b, c, d;
    Rng rng(1, 2, 3, streams::estimator);
    const bool relaxes = q.relaxed_sample(q.at(phi.data()), rng, 2, 0.5, noise, soft, hard);
    CHECK(offers.has(Capability::relaxation) == relaxes);
    Matrix v(2, q.dim());
    rng.uniforms(v.data(), 2 * q.dim());
    const bool conditional = relaxes && q.conditional_relaxation(q.at(phi.data()), noise, hard, v, 0.5, a, b, c, d);
    CHECK(offers.has(Capability::conditional_relaxation) == conditional);
    if (conditional) CHECK(q.num_params() == q.dim());  // φ_i drives z_i alone (RELAX's per-coordinate terms)
    CHECK_FALSE(offers.has(Capability::hessian));  // target capabilities
    CHECK_FALSE(offers.has(Capability::gaussian_prior));
  }
}

TEST_CASE("bind_if_changed rebinds a member holding other phi values or another family's", "[family]") {
  std::vector<std::string> names;
  const auto families = all_families(names), others = all_families(names);
  for (std::size_t f = 0; f < families.size(); ++f) {
    INFO(names[f]);
    const Family& q = *families[f];
    const std::vector<double> phi = test_point(q), other = q.init();
    Matrix eps, z;
    Rng rng(5, 6, 7, streams::estimator);
    q.sample(q.at(phi.data()), rng, 4, eps, z);
    std::vector<double> expected(4), got(4), at_other(4);
    q.log_q(q.at(phi.data()), z, expected.data());
    q.log_q(q.at(other.data()), z, at_other.data());
    CHECK(expected != at_other);  // the two φ give different members, so a stale member would show

    Member m;
    q.bind_if_changed(phi.data(), m);
    q.bind(other.data(), m);  // a plain bind in between: the member no longer holds phi
    q.bind_if_changed(phi.data(), m);
    q.log_q(m, z, got.data());
    CHECK(got == expected);

    others[f]->bind_if_changed(phi.data(), m);  // same φ bits, another family object: rebound by it
    CHECK(m.bound_by == others[f].get());
  }
}

TEST_CASE("a family's summed score and pullback equal the sums of its rows", "[family]") {
  std::vector<std::string> names;
  const auto families = all_families(names);
  for (std::size_t f = 0; f < families.size(); ++f) {
    INFO(names[f]);
    const Family& q = *families[f];
    const std::vector<double> phi = test_point(q);
    const Member qphi = q.at(phi.data());
    const std::size_t p = q.num_params(), s = 5;
    Matrix eps, z, rows, v(s, q.dim()), scratch;
    Rng rng(5, 6, 7, streams::estimator);
    q.sample(qphi, rng, s, eps, z);
    rng.normals(v.data(), s * q.dim());
    const std::vector<double> w = {0.5, -1.25, 0.0, 2.0, 0.75};  // a zero weight: that row is skipped
    const auto expect_sum = [&](const Matrix& r, const double* weight, const std::vector<double>& got) {
      for (std::size_t i = 0; i < p; ++i) {
        double sum = 1.0;  // both start from 1: the methods add to grad
        for (std::size_t k = 0; k < s; ++k)
          if (!weight || weight[k] != 0.0) sum += (weight ? weight[k] : 1.0) * r(k, i);
        CHECK(got[i] == Approx(sum).epsilon(1e-12).margin(1e-12));
      }
    };
    q.score(qphi, z, rows);
    for (const double* weight : {w.data(), static_cast<const double*>(nullptr)}) {
      std::vector<double> got(p, 1.0);
      q.add_weighted_score(qphi, z, weight, scratch, got.data());
      expect_sum(rows, weight, got);
    }
    if (const Reparameterization* reparam = q.reparameterization()) {
      reparam->pullback(qphi, eps, v, rows);
      std::vector<double> got(p, 1.0);
      reparam->add_pullback_sum(qphi, eps, v, scratch, got.data());
      expect_sum(rows, nullptr, got);
    }
  }
}
