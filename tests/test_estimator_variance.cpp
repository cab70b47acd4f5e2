// Variances of gradient estimators, so that an estimator whose mean is right but whose variance moved (a sign
// flipped on a zero-mean term, a coupling lost) fails the suite:
//   - closed forms on the quadratic cost of Mohamed et al. 2020 Fig. 2 (score function, pathwise, measure-valued
//     coupled and uncoupled), at several k;
//   - closed forms of the pathwise (`reparam`) gradient on every sweep cell whose integrand is quadratic in z
//     and whose family is an affine Gaussian reparameterization;
//   - every other cell of the conformance sweep against a stored reference variance with its standard error
//     (tests/data/reference_variances.csv), re-recorded deliberately with VIBENCH_RECORD_VARIANCES=path.
// Tolerances come from the standard error of the sample variance, SE² = (m₄ − s⁴·(n−3)/(n−1))/n
// (Moments::variance_standard_error), with a Bonferroni correction over the checks of each test.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <numbers>
#include <set>

#include <tbb/task_arena.h>

#include "conformance.hpp"
#include "vibench/math/linalg.hpp"
#include "vibench/plugin/gradient_stats.hpp"

using namespace vibench;
using namespace vibench::test;

namespace {

// Family-wise false-alarm probability of each test below (Bonferroni over its checks).
constexpr double family_wise_alpha = 1e-4;

// A variance check: measured ± se against an expected value.
struct VarianceCheck {
  std::string what;
  double measured, se, expected;
};

// |measured − expected| ≤ z·se + round-off floor, z = Φ⁻¹(1 − α/(2N)) for the N checks.
void check_all(const std::vector<VarianceCheck>& checks) {
  REQUIRE(!checks.empty());
  const double z = normal_critical_value(1 - family_wise_alpha / static_cast<double>(checks.size()));
  for (const VarianceCheck& c : checks) {
    INFO(c.what << ": variance " << c.measured << " ± " << c.se << " (SE), closed form " << c.expected << ", |Δ|/SE "
                << std::abs(c.measured - c.expected) / c.se << ", limit " << z);
    CHECK(std::isfinite(c.measured));
    CHECK(std::abs(c.measured - c.expected) <= z * c.se + 1e-12 * (1 + std::abs(c.expected)));
  }
}

// Rayleigh(1) moments E Rⁿ = 2^{n/2} Γ(1 + n/2); Var (a + X)² from E X, E X², E X³, E X⁴.
double rayleigh_moment(int n) { return std::pow(2.0, n / 2.0) * std::tgamma(1 + n / 2.0); }
double var_square_shift(double a, double m1, double m2, double m3, double m4) {
  const double e2 = a * a + 2 * a * m1 + m2, e4 = a * a * a * a + 4 * a * a * a * m1 + 6 * a * a * m2 + 4 * a * m3 + m4;
  return e4 - e2 * e2;
}

// z = m + Mε, ε ~ N(0, I_n), read from the parameter names of the affine Gaussian families: each parameter is a
// mean, an entry of M or the log of an entry of M.
struct AffineGaussian {
  enum class Role { mean, entry, log_entry };
  Matrix m;  // D × n
  std::vector<Role> role;
  std::vector<std::size_t> row, col;
};

// Whether `name` is exactly `pattern` with its %zu fields filled (read into a, b).
bool parse_name(const std::string& name, const char* pattern, std::size_t& a, std::size_t& b) {
  int end = -1;
  const std::string with_end = std::string(pattern) + "%n";
  const int fields = std::string(pattern).find(',') == std::string::npos
                         ? std::sscanf(name.c_str(), with_end.c_str(), &a, &end)
                         : std::sscanf(name.c_str(), with_end.c_str(), &a, &b, &end);
  if (std::string(pattern).find(',') == std::string::npos) b = a;
  return fields >= 1 && end == static_cast<int>(name.size());
}

// nullopt for families that are not affine Gaussians; a test failure if a known one's names do not parse.
std::optional<AffineGaussian> affine_gaussian(const std::string& family, const Family& q, const std::vector<double>& phi) {
  struct Pattern {
    const char* format;
    AffineGaussian::Role role;
    bool noise_block;  // lowrank's B: column D + j
  };
  std::vector<Pattern> patterns;
  if (family == "gaussian_diag")
    patterns = {{"sigma[%zu]", AffineGaussian::Role::entry, false}, {"log_sigma[%zu]", AffineGaussian::Role::log_entry, false}};
  else if (family == "gaussian_fullrank")
    patterns = {{"L[%zu,%zu]", AffineGaussian::Role::entry, false}, {"log_L[%zu,%zu]", AffineGaussian::Role::log_entry, false}};
  else if (family == "gaussian_lowrank")
    patterns = {{"log_d[%zu]", AffineGaussian::Role::log_entry, false}, {"B[%zu,%zu]", AffineGaussian::Role::entry, true}};
  else
    return std::nullopt;
  const std::vector<std::string> names = q.param_names();
  const std::size_t d = q.dim();
  std::size_t n = d;
  AffineGaussian g;
  for (const std::string& name : names) {
    std::size_t a = 0, b = 0;
    bool parsed = false;
    if (parse_name(name, "mean[%zu]", a, b)) {
      g.role.push_back(AffineGaussian::Role::mean), g.row.push_back(a), g.col.push_back(0), parsed = true;
    } else {
      for (const Pattern& p : patterns)
        if (parse_name(name, p.format, a, b)) {
          g.role.push_back(p.role), g.row.push_back(a), g.col.push_back(p.noise_block ? d + b : b), parsed = true;
          n = std::max(n, g.col.back() + 1);
          break;
        }
    }
    INFO(family << " parameter " << name);
    REQUIRE(parsed);
  }
  g.m = Matrix(d, n);
  for (std::size_t p = 0; p < names.size(); ++p)
    if (g.role[p] != AffineGaussian::Role::mean)
      g.m(g.row[p], g.col[p]) = g.role[p] == AffineGaussian::Role::log_entry ? std::exp(phi[p]) : phi[p];
  return g;
}

std::string config_name(const Config& c, const std::string& slot) { return std::get<std::string>(c.at(slot + ".name")); }

// Per-parameter variance of one sample of the pathwise gradient (estimator `reparam`), in closed form, when
//   - the stochastic part f of the objective's integrand is quadratic in z: f = log p(x, z) for `expectation`
//     and `elbo` (Monte Carlo KL) on `quadratic` and `linear_gaussian`, f = log p(x | z) for `elbo` with the
//     analytic KL (log p(x, z) minus the Gaussian prior N(θ, Λ₀⁻¹));
//   - q is an affine Gaussian z = m + Mε, ε ~ N(0, I_n) (gaussian_diag, gaussian_fullrank, gaussian_lowrank);
//   - the rest of the estimate is deterministic: the analytic −KL's gradient, and for `elbo` with the Monte Carlo
//     KL the total derivative of −log q_φ(m + Mε) = log|det M| + ½|ε|² + const, which needs M square (so not
//     gaussian_lowrank there).
// Derivation. With H = −∇²f (constant) and v = ∇f(m): ∇f(z) = v − HMε. The pathwise gradient is
//   ∂/∂m_i = v_i − (Wε)_i,   ∂/∂M_ij = ε_j (v_i − (Wε)_i),   W = HM,
// so, from E ε_j² = 1, E ε_j⁴ = 3 and odd moments 0:
//   Var ∂/∂m_i  = Σ_l W_il²
//   Var ∂/∂M_ij = E[ε_j² (v_i − (Wε)_i)²] − W_ij² = v_i² + Σ_l W_il² + 2W_ij² − W_ij² = v_i² + Σ_l W_il² + W_ij²
//   Var ∂/∂log M_ij = M_ij² · Var ∂/∂M_ij
//   Var ∂/∂θ_i = Var (Λ₀(z − θ))_i = Σ_l (Λ₀M)_il²           (linear_gaussian's model parameter, the prior mean)
// (Cross-checked by Monte Carlo, independently of vibench, on random H, v and square and rectangular M:
// tests/check_variance_closed_forms.py.) For the quadratic cost of Mohamed et al. (H = −2I, D = 1, M = σ = 1)
// this is 4 and 4a² + 8.
// nullopt when the cell is not one of these.
std::optional<std::vector<double>> reparam_closed_form_variances(const SweepCell& c, const CellPlugins& p,
                                                                 const std::vector<double>& phi) {
  const std::string estimator = config_name(c.config, "estimator"), target = config_name(c.config, "target"),
                    objective = config_name(c.config, "objective");
  if (estimator != "reparam" || (target != "quadratic" && target != "linear_gaussian") ||
      (objective != "expectation" && objective != "elbo"))
    return std::nullopt;
  auto g = affine_gaussian(config_name(c.config, "family"), *p.family, phi);
  if (!g) return std::nullopt;
  const Target& t = *p.target;
  const std::size_t d = t.dim(), n = g->m.cols();
  if (p.objective->log_q_coefficient() != 0.0 && n != d) return std::nullopt;
  std::vector<double> mean(d);
  for (std::size_t k = 0; k < phi.size(); ++k)
    if (g->role[k] == AffineGaussian::Role::mean) mean[g->row[k]] = phi[k];
  Matrix h, h_elsewhere, zm(1, d), grad;
  REQUIRE(t.hessian_log_joint(mean.data(), h));
  std::vector<double> elsewhere = mean;
  for (double& x : elsewhere) x += 0.7;
  REQUIRE(t.hessian_log_joint(elsewhere.data(), h_elsewhere));
  for (std::size_t k = 0; k < d * d; ++k) {
    REQUIRE(h.data()[k] == h_elsewhere.data()[k]);  // quadratic in z: the same Hessian everywhere
    h.data()[k] = -h.data()[k];                      // H = −∇² log p(x, z)
  }
  for (std::size_t i = 0; i < d; ++i) zm(0, i) = mean[i];
  double lp = 0;
  t.grad_log_joint(zm, grad, &lp);
  std::vector<double> v(grad.row(0), grad.row(0) + d);
  Matrix lambda0;  // prior precision (linear_gaussian: the prior is N(θ, I))
  std::vector<double> theta;
  if (auto prior = t.gaussian_prior()) {
    lambda0 = linalg::spd_inverse(prior->cov);
    theta = prior->mean;
  }
  if (p.objective->analytic_kl()) {  // f = log p(x | z) = log p(x, z) − log N(z; θ, Λ₀⁻¹)
    REQUIRE(lambda0.rows() == d);
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) {
        h(i, j) -= lambda0(i, j);
        v[i] += lambda0(i, j) * (mean[j] - theta[j]);
      }
  }
  const Matrix w = linalg::matmul(h, g->m);
  auto row_norm2 = [](const Matrix& a, std::size_t i) {
    double s = 0;
    for (std::size_t l = 0; l < a.cols(); ++l) s += a(i, l) * a(i, l);
    return s;
  };
  std::vector<double> out;
  for (std::size_t k = 0; k < phi.size(); ++k) {
    const std::size_t i = g->row[k], j = g->col[k];
    switch (g->role[k]) {
      case AffineGaussian::Role::mean: out.push_back(row_norm2(w, i)); break;
      case AffineGaussian::Role::entry: out.push_back(v[i] * v[i] + row_norm2(w, i) + w(i, j) * w(i, j)); break;
      case AffineGaussian::Role::log_entry:
        out.push_back(g->m(i, j) * g->m(i, j) * (v[i] * v[i] + row_norm2(w, i) + w(i, j) * w(i, j)));
        break;
    }
  }
  if (t.num_model_params() > 0) {
    REQUIRE(t.num_model_params() == d);
    REQUIRE(lambda0.rows() == d);
    const Matrix lm = linalg::matmul(lambda0, g->m);
    for (std::size_t i = 0; i < d; ++i) out.push_back(row_norm2(lm, i));
  }
  return out;
}

// ---- the stored reference table ----

struct ReferenceRow {
  std::string estimator, family, objective, target;
  std::size_t param_index = 0;
  std::string param_name;
  std::size_t samples = 0, replicates = 0;
  std::uint64_t seed = 0, cell_key = 0;
  double mean = 0, variance = 0, variance_se = 0;
};

const char* const reference_header =
    "estimator,family,objective,target,param_index,param_name,samples,replicates,seed,cell_key,mean,variance,variance_se";

std::string csv_field(const std::string& s) {
  return s.find_first_of(",\"") == std::string::npos ? s : "\"" + s + "\"";  // labels hold no quotes
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (char ch : line) {
    if (ch == '"') quoted = !quoted;
    else if (ch == ',' && !quoted) out.emplace_back();
    else out.back() += ch;
  }
  return out;
}

// 17 significant digits (the exact double) or 6 (for the mean and the standard error, which only set tolerances).
std::string number(double x, int digits = 17) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", digits, x);
  return buf;
}

std::string reference_key(const std::string& e, const std::string& f, const std::string& o, const std::string& t,
                          std::size_t i) {
  return e + " | " + f + " | " + o + " | " + t + " | " + std::to_string(i);
}

std::map<std::string, ReferenceRow> read_reference(const std::string& path) {
  std::ifstream in(path);
  std::map<std::string, ReferenceRow> rows;
  if (!in) return rows;
  std::string line;
  std::getline(in, line);
  REQUIRE(line == reference_header);
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto f = split_csv(line);
    INFO(path << ": " << line);
    REQUIRE(f.size() == 13);
    ReferenceRow r{f[0], f[1], f[2], f[3], std::stoul(f[4]), f[5], std::stoul(f[6]), std::stoul(f[7]),
                   std::stoull(f[8]), std::stoull(f[9]), std::strtod(f[10].c_str(), nullptr),
                   std::strtod(f[11].c_str(), nullptr), std::strtod(f[12].c_str(), nullptr)};
    rows[reference_key(r.estimator, r.family, r.objective, r.target, r.param_index)] = r;
  }
  return rows;
}

// Replicates and random streams of a newly recorded table. Each cell gets the largest of 4096, 2048, ..., 256
// replicates whose CPU time stays within record_cell_cpu_seconds (timed on a single-threaded pilot of one chunk of
// 64 replicates), at least 256. Most cells get 4096, which puts the standard error of a variance at ≈ √(2/4096)
// ≈ 2.2% of it for Gaussian-like estimates (more for heavy tails), so that a variance moving by ≈ 20% fails at the
// Bonferroni limit (z ≈ 5.8 over ≈ 12700 values); the slowest cells (K = 10 bounds on normalizing flows, the
// moving-average baseline's 100 warm-up draws per replicate) get fewer, down to 256 (≈ 9%: a variance moving by
// ≈ 75% fails). The whole table then costs ≈ 15-20 s of CPU time. The counts are stored per row and the check
// reruns exactly those, so the recording's timing never makes the check itself vary.
constexpr std::size_t record_min_replicates = 256, record_max_replicates = 4096;
constexpr double record_cell_cpu_seconds = 0.02;
constexpr std::uint64_t record_seed = 14, record_cell_key = 4;

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::size_t recorded_replicates(const CellPlugins& p, const std::vector<double>& phi, std::size_t samples) {
  tbb::task_arena one_thread(1);  // the pilot runs on this thread only, so its CPU clock times it
  double seconds = 0;
  one_thread.execute([&] {
    const double start = thread_cpu_seconds();
    gradient_statistics(*p.target, *p.family, *p.objective, *p.estimator, phi, record_seed, record_cell_key,
                        replicate_chunk, samples);
    seconds = thread_cpu_seconds() - start;
  });
  const double per_replicate = seconds / static_cast<double>(replicate_chunk);
  std::size_t r = record_max_replicates;
  while (r > record_min_replicates && static_cast<double>(r) * per_replicate > record_cell_cpu_seconds) r /= 2;
  return r;
}

}  // namespace

TEST_CASE("single-sample variances on the quadratic cost match closed forms", "[estimator]") {
  // f(z) = (z − k)², z = μ + σε, μ = σ = 1, a = μ − k, D = 1 (Mohamed et al. 2020 Fig. 2, whose values these are;
  // plots/estimator_variance.py checks the same forms on the experiment's results). From E ε² = 1, E ε⁴ = 3,
  // E ε⁶ = 15, E ε⁸ = 105, R ~ Rayleigh(1) (E Rⁿ = 2^{n/2} Γ(1 + n/2)) and M double-sided Maxwell (E M² = 3, E M⁴ = 15):
  //   score function:  Var ∂μ = a⁴ + 14a² + 15        Var ∂σ = 2a⁴ + 60a² + 74
  //   pathwise:        Var ∂μ = 4                     Var ∂σ = 4a² + 8
  //   mvd, coupled:    ∂μ = ((a + R)² − (a − R)²)/√(2π) = 4aR/√(2π):  Var = 16a²(2 − π/2)/(2π)
  //                    ∂σ = (a + M)² − (a + ε)² with M = sign(ε)√(ε² + Q), Q = ε₂² + ε₃² ~ χ²₂ independent of ε:
  //                    = 2a·sign(ε)(|M| − |ε|) + Q; the first term has mean 0 and is uncorrelated with Q, and
  //                    E(|M| − |ε|)² = 3 + 1 − 2E|M||ε| = 4 − 2·E|M|²·E|cos| = 4 − 2·3·½ = 1 (|ε| = |M||cos θ|,
  //                    cos θ uniform on [−1, 1] independent of |M| ~ χ₃), so Var = 4a² + Var Q = 4a² + 4
  //   mvd, uncoupled:  ∂μ = ((a + R₁)² − (a − R₂)²)/√(2π): Var = (Var (a + R)² + Var (a − R)²)/(2π)
  //                    ∂σ = (a + M)² − (a + ε)², independent: Var = (12a² + 6) + (4a² + 2) = 16a² + 8
  // (each cross-checked by Monte Carlo in tests/check_variance_closed_forms.py). The reference values:
  // k = 1 → SF 15, 74, pathwise 4, 8; k = −3 → SF ∂μ 495, pathwise ∂μ 4.
  const double two_pi = 2 * std::numbers::pi;
  const double r1 = rayleigh_moment(1), r2 = rayleigh_moment(2), r3 = rayleigh_moment(3), r4 = rayleigh_moment(4);
  std::vector<VarianceCheck> checks;
  for (double k : {1.0, -3.0, 0.0, 2.5}) {
    const double a = 1 - k, a2 = a * a;
    struct Expect {
      Config estimator;
      const char* label;
      double var_mu, var_sigma;
    };
    const std::vector<Expect> expected = {
        {plugin_config("estimator", "estimator", "score_function"), "score_function", a2 * a2 + 14 * a2 + 15,
         2 * a2 * a2 + 60 * a2 + 74},
        {plugin_config("estimator", "estimator", "reparam"), "reparam", 4.0, 4 * a2 + 8},
        {plugin_config("estimator", "estimator", "mvd", {{"coupling", true}}), "mvd coupled",
         16 * a2 * (2 - std::numbers::pi / 2) / two_pi, 4 * a2 + 4},
        {plugin_config("estimator", "estimator", "mvd", {{"coupling", false}}), "mvd uncoupled",
         (var_square_shift(a, r1, r2, r3, r4) + var_square_shift(a, -r1, r2, -r3, r4)) / two_pi, 16 * a2 + 8}};
    for (const Expect& ex : expected) {
      Config cell = merge({plugin_config("target", "target", "quadratic", {{"dim", std::int64_t{1}}, {"k", k}}),
                           plugin_config("family", "family", "gaussian_diag", {{"parameterization", std::string("mean_sigma")}}),
                           plugin_config("objective", "objective", "expectation"), ex.estimator});
      CellPlugins p = build_cell_plugins(cell);
      GradientStats s = gradient_statistics(*p.target, *p.family, *p.objective, *p.estimator, {1.0, 1.0}, 5, 5, 200000, 1);
      const std::string what = std::string(ex.label) + " k=" + number(k);
      checks.push_back({what + " d/dmu", s.grad[0].variance(), s.grad[0].variance_standard_error(), ex.var_mu});
      checks.push_back({what + " d/dsigma", s.grad[1].variance(), s.grad[1].variance_standard_error(), ex.var_sigma});
    }
  }
  check_all(checks);  // 32 checks, family-wise 1e-4
}

TEST_CASE("pathwise variances on quadratic integrands with affine Gaussian families match closed forms", "[estimator]") {
  // Every cell of the conformance sweep with a closed form (reparam_closed_form_variances): the quadratic cost and
  // the linear-Gaussian model × gaussian_diag (both parameterizations), gaussian_fullrank, gaussian_lowrank ×
  // expectation and both ELBOs, at the sweep's φ. 100000 replicates of one sample; Bonferroni over every parameter.
  std::vector<VarianceCheck> checks;
  std::size_t cells = 0;
  for_each_sweep_cell([&](const SweepCell& c, CellPlugins& p) {
    const std::vector<double> phi = off_optimum_point(*p.family);
    auto expected = reparam_closed_form_variances(c, p, phi);
    if (!expected) return;
    GradientStats s = gradient_statistics(*p.target, *p.family, *p.objective, *p.estimator, phi, 7, 7, 100000, 1);
    REQUIRE(s.grad.size() == expected->size());
    const auto names = all_param_names(p);
    for (std::size_t i = 0; i < expected->size(); ++i)
      checks.push_back({describe(c.config) + "param " + names[i], s.grad[i].variance(), s.grad[i].variance_standard_error(),
                        (*expected)[i]});
    ++cells;
  });
  // 2 targets × 4 family variants × expectation, 2 × 3 × elbo (no lowrank), 1 × 4 × analytic elbo.
  CHECK(cells >= 18);
  check_all(checks);
}

TEST_CASE("every other sweep cell's gradient variances match the stored reference", "[estimator]") {
  // Every cell of the conformance sweep (target × family variant × objective variant × estimator variant that runs)
  // without a closed form above: each parameter's gradient variance at the sweep's φ, recomputed at the stored
  // seed, cell key, replicate and sample counts, must satisfy
  //   |new − stored| ≤ z·√(se_new² + se_stored²) + (1e-12·(1 + |mean|))²   (round-off floor: zero-variance cells)
  // with z = Φ⁻¹(1 − α/(2N)), α = 1e-4, N the number of stored values (Bonferroni). The run is deterministic, so
  // the recomputation normally reproduces the stored bits; the tolerance lets a change of the random draws pass
  // and catches a change of the variance. A cell missing from the table or a row without a cell fails.
  // Re-record deliberately (after an intended change of an estimator's variance, or a new plugin):
  //   VIBENCH_RECORD_VARIANCES=$PWD/tests/data/reference_variances.csv build/tests/vibench_tests
  //     "every other sweep cell's gradient variances match the stored reference"       (one command line)
  // (any path: the stored table is the one in the source tree, so commit it after a look at `git diff --stat`).
  const std::string stored_path = std::string(VIBENCH_TEST_DATA) + "/reference_variances.csv";
  const char* record_env = std::getenv("VIBENCH_RECORD_VARIANCES");
  const bool recording = record_env && *record_env;
  std::map<std::string, ReferenceRow> stored = recording ? std::map<std::string, ReferenceRow>{} : read_reference(stored_path);
  if (!recording) {
    INFO("no stored reference variances in " << stored_path << ": record them with VIBENCH_RECORD_VARIANCES=path");
    REQUIRE(!stored.empty());
  }
  const double z = normal_critical_value(1 - family_wise_alpha / static_cast<double>(std::max<std::size_t>(stored.size(), 1)));
  std::vector<ReferenceRow> recorded;
  std::size_t compared = 0, bitwise = 0, cells = 0;
  std::set<std::string> seen;
  for_each_sweep_cell([&](const SweepCell& c, CellPlugins& p) {
    const std::vector<double> phi = off_optimum_point(*p.family);
    if (reparam_closed_form_variances(c, p, phi)) return;  // checked against its closed form above
    ++cells;
    ReferenceRow base{variant_label("estimator", c.estimator, *c.estimator_info),
                      variant_label("family", c.family, *c.family_info),
                      variant_label("objective", c.objective, *c.objective_info), config_name(c.target, "target")};
    const std::vector<std::string> names = all_param_names(p);
    std::size_t samples = std::max<std::size_t>(1, p.estimator->min_samples()), replicates = 0;
    std::uint64_t seed = record_seed, key = record_cell_key;
    if (recording) {
      replicates = recorded_replicates(p, phi, samples);
    } else {
      auto it = stored.find(reference_key(base.estimator, base.family, base.objective, base.target, 0));
      INFO("no stored reference variance for " << reference_key(base.estimator, base.family, base.objective, base.target, 0)
                                               << ": a new plugin or variant? re-record with VIBENCH_RECORD_VARIANCES=path");
      CHECK(it != stored.end());
      if (it == stored.end()) return;
      samples = it->second.samples, replicates = it->second.replicates, seed = it->second.seed, key = it->second.cell_key;
    }
    GradientStats s = gradient_statistics(*p.target, *p.family, *p.objective, *p.estimator, phi, seed, key, replicates, samples);
    REQUIRE(s.grad.size() == names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
      ReferenceRow r = base;
      r.param_index = i, r.param_name = names[i], r.samples = samples, r.replicates = replicates, r.seed = seed,
      r.cell_key = key, r.mean = s.grad[i].mean(), r.variance = s.grad[i].variance(),
      r.variance_se = s.grad[i].variance_standard_error();
      const std::string k = reference_key(r.estimator, r.family, r.objective, r.target, i);
      seen.insert(k);
      if (recording) {
        recorded.push_back(r);
        continue;
      }
      auto it = stored.find(k);
      INFO(k << ": no stored row (the cell has more parameters than recorded): re-record");
      CHECK(it != stored.end());
      if (it == stored.end()) continue;
      const ReferenceRow& old = it->second;
      CHECK(old.param_name == r.param_name);
      const double se = std::hypot(r.variance_se, old.variance_se);
      const double floor = std::pow(1e-12 * (1 + std::abs(r.mean)), 2);
      INFO(k << " " << r.param_name << ": variance " << r.variance << " ± " << r.variance_se << ", stored "
             << old.variance << " ± " << old.variance_se << ", |Δ|/SE " << std::abs(r.variance - old.variance) / se
             << ", limit " << z);
      if (std::isfinite(old.variance) && std::isfinite(r.variance))
        CHECK(std::abs(r.variance - old.variance) <= z * se + floor);
      else
        CHECK(canonical_text(old.variance) == canonical_text(r.variance));  // both NaN or the same infinity
      bitwise += std::bit_cast<std::uint64_t>(r.variance) == std::bit_cast<std::uint64_t>(old.variance);
      ++compared;
    }
  });
  if (recording) {
    std::ofstream out(record_env);
    REQUIRE(out);
    out << reference_header << "\n";
    for (const ReferenceRow& r : recorded)
      out << csv_field(r.estimator) << "," << csv_field(r.family) << "," << csv_field(r.objective) << ","
          << csv_field(r.target) << "," << r.param_index << "," << csv_field(r.param_name) << "," << r.samples << ","
          << r.replicates << "," << r.seed << "," << r.cell_key << "," << number(r.mean, 6) << "," << number(r.variance) << ","
          << number(r.variance_se, 6) << "\n";
    WARN("recorded " << recorded.size() << " reference variances of " << cells << " cells to " << record_env);
    return;
  }
  for (const auto& [k, r] : stored) {
    INFO(k << " " << r.param_name << " is stored but no sweep cell gives it (a plugin or variant renamed or removed?): "
              "re-record with VIBENCH_RECORD_VARIANCES=path");
    CHECK(seen.count(k) == 1);
  }
  if (bitwise != compared)  // not a failure: the tolerance is there for a deliberate change of the random draws
    WARN(compared - bitwise << " of " << compared << " variances differ from the stored bits (all within tolerance unless "
                            "reported above): the random draws or the arithmetic changed");
  CHECK(compared == stored.size());
  CHECK(cells >= 100);
}
