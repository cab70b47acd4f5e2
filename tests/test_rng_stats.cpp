// RNG reproducibility and moments; streaming statistics against two-pass formulas.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <cmath>
#include <sstream>
#include <thread>

#include "vibench/math/rng.hpp"
#include "vibench/math/stats.hpp"
#include "vibench/plugin/work_counter.hpp"
#include "vibench/run/progress.hpp"

using namespace vibench;

TEST_CASE("Philox streams are reproducible and distinct", "[rng]") {
  std::vector<double> a(1000), b(1000), c(1000), d(1000);
  Rng(42, 7, 3, streams::estimator).normals(a.data(), a.size());
  Rng(42, 7, 3, streams::estimator).normals(b.data(), b.size());
  Rng(42, 7, 4, streams::estimator).normals(c.data(), c.size());
  Rng(42, 8, 3, streams::estimator).normals(d.data(), d.size());
  CHECK(a == b);
  CHECK(a != c);  // another replicate
  CHECK(a != d);  // another cell
  std::vector<double> e(1000);
  Rng(42, 7, 3, streams::point).normals(e.data(), e.size());
  CHECK(a != e);  // another stream
  // A prefix of a longer draw equals a shorter draw (block-aligned counters).
  std::vector<double> f(999);
  Rng(42, 7, 3, streams::estimator).normals(f.data(), f.size());
  CHECK(std::equal(f.begin(), f.end(), a.begin()));
}

namespace {
std::uint64_t fnv1a(const std::vector<double>& v, std::uint64_t h) {
  for (double d : v) {
    std::uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    for (int i = 0; i < 8; ++i) h = (h ^ ((bits >> (8 * i)) & 0xff)) * 1099511628211ull;
  }
  return h;
}
constexpr std::uint64_t fnv_offset = 1469598103934665603ull;

// Normals and uniforms of mixed lengths from one Rng (each call's blocks follow the previous call's), on the
// instruction-set body `isa`, hashed in order.
std::uint64_t mixed_draws_hash(Isa isa) {
  std::uint64_t h = fnv_offset;
  Rng r(20261203, 77, 5, streams::estimator, 9);
  for (std::size_t n : {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 64, 100, 255, 256, 257, 1000, 4093, 100000}) {
    std::vector<double> v(n), u(n % 7 + 1);
    r.normals(v.data(), n, isa);
    r.uniforms(u.data(), u.size());
    h = fnv1a(u, fnv1a(v, h));
  }
  return h;
}

}  // namespace

TEST_CASE("the Philox bodies give Random123's Philox4x64-10 blocks bit for bit", "[rng]") {
  const std::uint64_t key[2] = {0x0123456789abcdefull, 20261203};
  for (Isa isa : supported_isas()) {
    INFO("body " << isa_name(isa));
    // Counts around every group size (1, 4, 8, 16 blocks) and a block counter that wraps past 2⁶⁴ − 1.
    for (std::uint64_t first : {std::uint64_t{0}, std::uint64_t{12345}, ~std::uint64_t{0} - 6}) {
      for (std::size_t blocks : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 100, 1000}) {
        const std::uint64_t ctr[4] = {7, streams::point, 3, first};
        std::vector<std::uint64_t> words(4 * blocks);
        rng_kernels::philox_blocks(isa, key, ctr, blocks, words.data());
        std::size_t mismatches = 0;
        for (std::size_t b = 0; b < blocks; ++b) {
          const auto want = r123::Philox4x64()({{ctr[0], ctr[1], ctr[2], first + b}}, {{key[0], key[1]}});
          for (int j = 0; j < 4; ++j) mismatches += words[4 * b + j] != want.v[j];
        }
        CAPTURE(first, blocks);
        CHECK(mismatches == 0);
      }
    }
  }
}

TEST_CASE("normals and uniforms are the generator's committed stream, on every instruction-set body", "[rng]") {
  // Hashes of the draws of the block-at-a-time generator that computed every committed result (recorded
  // from it before the vector bodies existed, e4ab83b's rng.cpp): a change here changes every result.
  // Of the 4·2²⁰ normals about 1.5% take the slow path (wedges and tail), each taking extra words.
  for (Isa isa : supported_isas()) {
    INFO("body " << isa_name(isa));
    CHECK(mixed_draws_hash(isa) == 0x42a327c386a1bec2ull);
    std::vector<double> big(std::size_t{1} << 22);
    Rng(1, 2, 3, streams::point).normals(big.data(), big.size(), isa);
    CHECK(fnv1a(big, fnv_offset) == 0x7e55955c277c6517ull);
  }
  std::vector<double> first(6);
  Rng(42, 7, 3, streams::estimator).normals(first.data(), first.size());
  CHECK(first == std::vector<double>{-0.32123914642099094, -0.74079646127974885, 0.64077366487003318,
                                     0.36146728688389479, -1.3518568587216879, -0.37714145050497061});
}

TEST_CASE("normals and uniforms have the right moments", "[rng]") {
  // n = 4e6 draws; each moment is compared with its exact value using the standard error of the
  // sample moment, at |z| < 4.42 (two-sided 99.999% per check).
  const std::size_t n = 4000000;
  std::vector<double> x(n);
  Rng(2026, 1, 0, streams::estimator).normals(x.data(), n);
  double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
  for (double v : x) {
    m1 += v;
    m2 += v * v;
    m3 += v * v * v;
    m4 += v * v * v * v;
  }
  m1 /= n, m2 /= n, m3 /= n, m4 /= n;
  const double z = normal_critical_value(0.99999), sn = std::sqrt(static_cast<double>(n));
  // Var of z^k under N(0,1): E z^{2k} − (E z^k)²: 1, 2, 15, 96.
  CHECK(std::abs(m1 - 0) < z * std::sqrt(1.0) / sn);
  CHECK(std::abs(m2 - 1) < z * std::sqrt(2.0) / sn);
  CHECK(std::abs(m3 - 0) < z * std::sqrt(15.0) / sn);
  CHECK(std::abs(m4 - 3) < z * std::sqrt(96.0) / sn);

  Rng(2026, 1, 0, streams::point).uniforms(x.data(), n);
  double u1 = 0, u2 = 0, lo = 1, hi = 0;
  for (double v : x) {
    u1 += v;
    u2 += v * v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  u1 /= n, u2 /= n;
  CHECK(lo >= 0.0);
  CHECK(hi < 1.0);
  CHECK(std::abs(u1 - 0.5) < z * std::sqrt(1.0 / 12) / sn);
  CHECK(std::abs(u2 - 1.0 / 3) < z * std::sqrt(1.0 / 5 - 1.0 / 9) / sn);
}

TEST_CASE("ziggurat normals follow N(0, 1) in every region: core, wedges and tail", "[rng]") {
  // Pearson χ² over 180 bins of width 0.05 on [−4.5, 4.5] plus the two tails, n = 4e6 draws. Bins this narrow
  // resolve each ziggurat layer's wedge (layers are ≥ 0.015 wide beyond |x| = 1): a layer accepting with the
  // wrong probability moves ≳ 1e-3 of the mass, thousands of counts against a per-bin SD of ≲ 300.
  // Critical value: Wilson–Hilferty approximation of the χ²(df) quantile at 1 − 1e-5.
  const std::size_t n = 4000000;
  const int inner = 180;
  const double lo = -4.5, width = 0.05;
  std::vector<double> x(n);
  Rng(2027, 3, 1, streams::estimator).normals(x.data(), n);
  std::vector<double> count(inner + 2, 0.0);
  std::size_t beyond_r = 0;
  for (double v : x) {
    const int b = v < lo ? 0 : v >= -lo ? inner + 1 : 1 + std::min(inner - 1, static_cast<int>((v - lo) / width));
    count[b] += 1;
    if (std::abs(v) > 3.6541528853610088) ++beyond_r;  // drawn by the tail algorithm
  }
  auto cdf = [](double t) { return 0.5 * std::erfc(-t / std::sqrt(2.0)); };
  double chi2 = 0;
  for (int b = 0; b < inner + 2; ++b) {
    const double left = b == 0 ? -INFINITY : lo + (b - 1) * width, right = b == inner + 1 ? INFINITY : lo + b * width;
    const double expected = n * ((b == inner + 1 ? 1.0 : cdf(right)) - (b == 0 ? 0.0 : cdf(left)));
    chi2 += (count[b] - expected) * (count[b] - expected) / expected;
  }
  const double df = inner + 1, z = normal_critical_value(1 - 2e-5);
  const double critical = df * std::pow(1 - 2 / (9 * df) + z * std::sqrt(2 / (9 * df)), 3);
  INFO("chi2 = " << chi2 << " on " << df << " df, critical " << critical);
  CHECK(chi2 < critical);
  // The tail beyond r: P(|x| > r) = erfc(r/√2) ≈ 2.58e-4, binomial SD.
  const double p_tail = std::erfc(3.6541528853610088 / std::sqrt(2.0));
  CHECK(std::abs(beyond_r - n * p_tail) < z * std::sqrt(n * p_tail * (1 - p_tail)));
}

TEST_CASE("Moments match two-pass formulas and merge exactly", "[unit]") {
  std::vector<double> x(1001);
  Rng(5, 5, 5, streams::estimator).normals(x.data(), x.size());
  for (double& v : x) v = 3 + v * v * v;  // skewed, heavy-tailed
  Moments all;
  for (double v : x) all.add(v);
  double mean = 0;
  for (double v : x) mean += v;
  mean /= x.size();
  double m2 = 0, m4 = 0;
  for (double v : x) {
    m2 += (v - mean) * (v - mean);
    m4 += std::pow(v - mean, 4);
  }
  const double n = static_cast<double>(x.size());
  CHECK(all.mean() == Approx(mean).epsilon(1e-12));
  CHECK(all.variance() == Approx(m2 / (n - 1)).epsilon(1e-12));
  CHECK(all.standard_error() == Approx(std::sqrt(m2 / (n - 1) / n)).epsilon(1e-12));
  const double s2 = m2 / (n - 1);
  CHECK(all.variance_standard_error() == Approx(std::sqrt(m4 / n / n - s2 * s2 * (n - 3) / (n * (n - 1)))).epsilon(1e-10));

  Moments a, b;
  for (std::size_t i = 0; i < 400; ++i) a.add(x[i]);
  for (std::size_t i = 400; i < x.size(); ++i) b.add(x[i]);
  a.merge(b);
  CHECK(a.count() == n);
  CHECK(a.mean() == Approx(all.mean()).epsilon(1e-12));
  CHECK(a.variance() == Approx(all.variance()).epsilon(1e-12));
  CHECK(a.variance_standard_error() == Approx(all.variance_standard_error()).epsilon(1e-9));
}

TEST_CASE("variance standard error is calibrated", "[unit]") {
  // 400 independent batches of 500 N(0,1) draws: the spread of the batch variances must match the
  // reported standard error (ratio within ±15%: the SE of a SD estimate from 400 batches is ~3.5%).
  Moments spread, reported;
  for (std::uint64_t r = 0; r < 400; ++r) {
    std::vector<double> x(500);
    Rng(9, 9, r, streams::estimator).normals(x.data(), x.size());
    Moments m;
    for (double v : x) m.add(v);
    spread.add(m.variance());
    reported.add(m.variance_standard_error());
  }
  CHECK(std::sqrt(spread.variance()) / reported.mean() == Approx(1.0).margin(0.15));
}

TEST_CASE("normal critical values", "[unit]") {
  CHECK(normal_critical_value(0.95) == Approx(1.959963984540054).epsilon(1e-12));
  CHECK(normal_critical_value(0.99) == Approx(2.5758293035489004).epsilon(1e-12));
}

TEST_CASE("progress lines count cells and work units, with a rate and an ETA", "[unit]") {
  CHECK(format_count(950) == "950");
  CHECK(format_count(12345) == "12.3k");
  CHECK(format_count(4.8e6) == "4.8M");
  CHECK(format_count(1.2e9) == "1.2G");
  std::ostringstream log;  // not a terminal: one line per finished cell
  Progress progress(2, 2000, "replicates", log);
  count_work(1000);
  progress.cell_finished("abc", 0.25, false);
  count_work(1000);
  progress.cell_finished("def", 0.25, true);
  progress.finish();
  const std::string text = log.str();
  INFO(text);
  CHECK(text.find("[vibench] cell abc done in 0.2s (1/2, 1k/2k replicates at ") != std::string::npos);
  CHECK(text.find("[vibench] cell def FAILED in 0.2s (2/2, 1 failed, 2k/2k replicates at ") != std::string::npos);
  CHECK(text.find("ETA 0.0s)\n") != std::string::npos);  // all units done
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);
}

TEST_CASE("without a terminal, a status line every log interval while work advances", "[unit]") {
  std::ostringstream log;
  {
    Progress progress(1, 10, "steps", log, std::chrono::milliseconds(20));
    count_work(5);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));  // ≥ 1 interval even on a loaded machine
    progress.finish();
  }
  const std::string text = log.str();
  INFO(text);
  CHECK(text.find("[vibench] cells 0/1, 5/10 steps at ") != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);  // later intervals saw no new work: silent
}
