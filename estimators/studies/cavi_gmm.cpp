// study `cavi_gmm`: CAVI on the Bayesian mixture of unit-variance Gaussians of Blei, Kucukelbir & McAuliffe
// 2017 (§2.1, §3; their Algorithm 2). Data from the model (data_seed): μ_k ~ N(0, σ² I_p), c_i ~ Cat(1/K),
// x_i ~ N(μ_{c_i}, I_p). q(μ, c) = Π_k N(m_k, s_k² I_p) Π_i Cat(φ_i). Each of `restarts` random
// initialisations (Rng(seed, cell, restart, init)) runs sweeps — every φ_i, then every (m_k, s_k²), each the
// exact maximizer of the ELBO in its coordinate — until the ELBO's relative change is at most `tolerance` or
// `sweeps` is reached. Stored: the ELBO after every sweep of every restart (sweep 0 = the initialisation),
// the final means, variances and ELBO of each restart, the best restart (largest final ELBO), its hard
// assignments, the data and the true means. The math is framework/vi/include/vibench/vi/cavi.hpp (shared with the
// conformance tests).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "vibench/math/rng.hpp"
#include "vibench/plugin/study.hpp"
#include "vibench/plugin/work_counter.hpp"
#include "vibench/vi/cavi.hpp"

namespace {

using namespace vibench;

struct Settings {
  std::size_t k, n, dim, restarts, sweeps;
  double prior_var, tolerance;
  bool init_from_data;
  std::uint64_t data_seed;
};

Settings settings(const Config& cell) {
  const Params p(cell, "");
  Settings s{static_cast<std::size_t>(p.get_int("clusters")),  static_cast<std::size_t>(p.get_int("points")),
             static_cast<std::size_t>(p.get_int("dim")),       static_cast<std::size_t>(p.get_int("restarts")),
             static_cast<std::size_t>(p.get_int("sweeps")),    p.get_double("prior_var"),
             p.get_double("tolerance"),                        p.get_string("init") == "data",
             static_cast<std::uint64_t>(p.get_int("data_seed"))};
  if (s.init_from_data && s.n < s.k)
    throw ParamError("init", fmt::format("init 'data' places the K = {} means at distinct data points: needs points >= clusters (got {})", s.k, s.n));
  return s;
}

class CaviGmmStudy final : public Study {
 public:
  explicit CaviGmmStudy(const Params&) {}

  std::uint64_t work_units(const Config& cell) const override {
    return static_cast<std::uint64_t>(Params(cell, "").get_int("restarts"));
  }
  const char* work_unit_name() const override { return "restarts"; }

  MemoryEstimate memory_estimate(const Config& cell) const override {
    const double k = cell_size(cell, "clusters", 1), n = cell_size(cell, "points", 1), p = cell_size(cell, "dim", 1);
    const double r = cell_size(cell, "restarts", 1), t = cell_size(cell, "sweeps", 1);
    MemoryEstimate e;
    e.add("the data and the responsibilities: points x (dim + clusters) doubles, twice", doubles(2 * n * (p + k)), "points");
    e.add("the ELBO of every sweep of every restart", doubles(r * (t + 1)), "sweeps");
    e.add("the final means of every restart", doubles(r * k * (p + 1)), "restarts");
    return e;
  }

  std::optional<std::string> unsupported(const Config& cell) const override {
    settings(cell);  // throws ParamError for impossible combinations
    return std::nullopt;
  }

  CellResult run(const CellContext& ctx) const override {
    const Settings s = settings(ctx.config);
    const cavi::MixtureData d = cavi::simulate_mixture(s.k, s.n, s.dim, s.prior_var, s.data_seed);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> trace(s.restarts * (s.sweeps + 1), nan), final_elbo(s.restarts), sweeps_run(s.restarts);
    std::vector<double> final_means(s.restarts * s.k * s.dim), final_s2(s.restarts * s.k);
    double worst_decrease = -std::numeric_limits<double>::infinity();  // max over sweeps of (ELBO_t − ELBO_{t+1}) / |ELBO_{t+1}|
    std::size_t best = 0;
    cavi::MixtureQ best_q;
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t r = 0; r < s.restarts; ++r) {
      cavi::MixtureQ q{std::vector<double>(s.k * s.dim), std::vector<double>(s.k, 1.0),
                       std::vector<double>(s.n * s.k, 1.0 / static_cast<double>(s.k))};
      Rng rng(ctx.seed, ctx.cell_key, r, streams::init);
      if (s.init_from_data) {
        // m_k at K distinct data points chosen uniformly (a partial Fisher–Yates shuffle of the indices).
        std::vector<std::size_t> idx(s.n);
        for (std::size_t i = 0; i < s.n; ++i) idx[i] = i;
        std::vector<double> u(s.k);
        rng.uniforms(u.data(), s.k);
        for (std::size_t k = 0; k < s.k; ++k) {
          const std::size_t j = k + std::min(static_cast<std::size_t>(u[k] * static_cast<double>(s.n - k)), s.n - k - 1);
          std::swap(idx[k], idx[j]);
          std::copy_n(&d.x[idx[k] * s.dim], s.dim, &q.m[k * s.dim]);
        }
      } else {  // m_k ~ N(0, σ² I): a draw from the prior
        rng.normals(q.m.data(), q.m.size());
        for (double& v : q.m) v *= std::sqrt(s.prior_var);
      }
      double* tr = &trace[r * (s.sweeps + 1)];
      tr[0] = cavi::mixture_elbo(d, q);
      std::size_t t = 0;
      while (t < s.sweeps) {
        cavi::mixture_sweep(d, q);
        ++t;
        tr[t] = cavi::mixture_elbo(d, q);
        worst_decrease = std::max(worst_decrease, (tr[t - 1] - tr[t]) / std::abs(tr[t]));
        if (std::abs(tr[t] - tr[t - 1]) <= s.tolerance * std::abs(tr[t])) break;
      }
      sweeps_run[r] = static_cast<double>(t);
      final_elbo[r] = tr[t];
      std::copy(q.m.begin(), q.m.end(), &final_means[r * s.k * s.dim]);
      std::copy(q.s2.begin(), q.s2.end(), &final_s2[r * s.k]);
      if (r == 0 || final_elbo[r] > final_elbo[best]) {
        best = r;
        best_q = q;
      }
      count_work(1);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    CellResult res;
    res.add_matrix("elbo_trace", s.restarts, s.sweeps + 1, trace);
    res.add("sweeps_run", sweeps_run);
    res.add("final_elbo", final_elbo);
    res.add_matrix("final_means", s.restarts, s.k * s.dim, final_means);
    res.add_matrix("final_s2", s.restarts, s.k, final_s2);
    res.add_scalar("best_restart", static_cast<double>(best));
    res.add_scalar("best_elbo", final_elbo[best]);
    res.add_matrix("best_means", s.k, s.dim, best_q.m);
    res.add("best_s2", best_q.s2);
    std::vector<double> hard(s.n);
    for (std::size_t i = 0; i < s.n; ++i) {
      const double* f = &best_q.phi[i * s.k];
      hard[i] = static_cast<double>(std::max_element(f, f + s.k) - f);
    }
    res.add("best_assignment", hard);
    res.add_scalar("max_relative_elbo_decrease", worst_decrease);
    res.add_matrix("true_means", s.k, s.dim, d.true_means);
    res.add("true_assignment", d.true_assignment);
    res.add_matrix("data_x", s.n, s.dim, d.x);
    res.timings.emplace_back("seconds_per_restart", seconds / static_cast<double>(s.restarts));
    return res;
  }
};

const Register<Study, CaviGmmStudy> registration{{
    .name = "cavi_gmm",
    .description = "CAVI on the Bayesian mixture of unit-variance Gaussians: ELBO per sweep and final means of random restarts",
    .reference = "Blei, Kucukelbir & McAuliffe 2017, JASA, §2.1, §3 and Algorithm 2",
    .params = {ParamSpec::integer("clusters", 5, "mixture components K").at_least(1),
               ParamSpec::integer("points", 1000, "data points N").at_least(1),
               ParamSpec::integer("dim", 1, "data dimension p (1: the paper's univariate model)").at_least(1),
               ParamSpec::real("prior_var", 25.0, "prior variance sigma^2 of the cluster means").positive(),
               ParamSpec::integer("data_seed", 0, "seed drawing the true means, the assignments and the data").at_least(0),
               ParamSpec::integer("restarts", 10, "random initialisations").at_least(1),
               ParamSpec::integer("sweeps", 500, "most sweeps per restart").at_least(1),
               ParamSpec::real("tolerance", 1e-10, "stop when |ELBO change| <= tolerance * |ELBO| (0: run every sweep)").at_least(0),
               ParamSpec::choice("init", {"data", "prior"}, "data",
                                 "data: m_k at K distinct random data points; prior: m_k ~ N(0, sigma^2 I); s_k^2 = 1")},
}};

}  // namespace
