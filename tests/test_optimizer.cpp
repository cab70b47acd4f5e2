// The optimizers (vibench/math/optimizer.hpp): SGD's constant and cosine steps and Adam's first steps against
// hand-computed values, Adam's two roundings each against its formula bit for bit, and checkpoints: a state
// written after k steps and read into a fresh optimizer continues with the same bits as the uninterrupted one.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <numbers>
#include <vector>

#include "vibench/math/optimizer.hpp"
#include "vibench/math/rng.hpp"

using namespace vibench;

namespace {

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// Gradient of step t: a fixed pseudo-random vector (any values do; they only have to differ between steps).
std::vector<double> gradient(std::size_t n, std::size_t t) {
  std::vector<double> g(n);
  Rng rng(11, 3, t, streams::data);
  rng.normals(g.data(), n);
  return g;
}

// Runs `steps` steps from x, with a checkpoint round trip (write, read into `fresh`) after `cut` steps when
// fresh is given; returns the final point.
std::vector<double> run(Optimizer& opt, Optimizer* fresh, std::vector<double> x, std::size_t steps, std::size_t cut,
                        bool ascend) {
  Optimizer* o = &opt;
  for (std::size_t t = 0; t < steps; ++t) {
    if (fresh && t == cut) {
      StateWriter out;
      o->write_state(out);
      StateReader in(out.bytes());
      fresh->read_state(in);
      in.expect_end();
      o = fresh;
    }
    o->step(x.data(), gradient(x.size(), t).data(), ascend);
  }
  return x;
}

}  // namespace

TEST_CASE("SGD steps by the learning rate, constant or on the cosine schedule", "[unit]") {
  std::vector<double> x = {1.0, -2.0};
  const std::vector<double> g = {2.0, 0.5};
  Sgd sgd(2, 0.1);
  sgd.step(x.data(), g.data(), /*ascend=*/false);
  CHECK(x[0] == 1.0 - 0.1 * 2.0);
  CHECK(x[1] == -2.0 - 0.1 * 0.5);
  sgd.step(x.data(), g.data(), /*ascend=*/true);
  CHECK(x[0] == (1.0 - 0.1 * 2.0) + 0.1 * 2.0);
  CHECK(sgd.steps_taken() == 2);

  // α_t = α·cos(πt/(2T)): α at t = 0, α·cos(π/4) = α/√2 at t = T/2, never 0 within the run (t < T).
  Sgd cosine(1, 0.5, StepSizeSchedule::cosine, 4);
  std::vector<double> y = {0.0};
  const double one = 1.0;
  const double expected[] = {0.5, 0.5 * std::cos(std::numbers::pi / 8), 0.5 / std::sqrt(2.0), 0.5 * std::cos(3 * std::numbers::pi / 8)};
  double sum = 0;
  for (double rate : expected) {
    CHECK(cosine.step_size() == Approx(rate).epsilon(1e-15));
    cosine.step(y.data(), &one, /*ascend=*/true);
    sum += rate;
  }
  CHECK(y[0] == Approx(sum).epsilon(1e-15));
}

TEST_CASE("Adam's first steps equal Kingma & Ba's Algorithm 1 computed by hand", "[unit]") {
  // After one step m̂ = g and v̂ = g², so the update is lr·g/(|g| + ε) ≈ lr·sign(g), whatever the rounding.
  for (AdamRounding rounding : {AdamRounding::step_size_first, AdamRounding::direction_first}) {
    std::vector<double> p = {1.0, -2.0, 0.5}, g = {0.3, -4.0, 1e-3};
    Adam adam(3, 0.01, 0.9, 0.999, 1e-8, rounding);
    adam.step(p.data(), g.data(), /*ascend=*/false);
    CHECK(p[0] == Approx(1.0 - 0.01 * 0.3 / (0.3 + 1e-8)));
    CHECK(p[1] == Approx(-2.0 + 0.01 * 4.0 / (4.0 + 1e-8)));
    CHECK(p[2] == Approx(0.5 - 0.01 * 1e-3 / (1e-3 + 1e-8)));
    // Second step with g = 1 after g = 2 (β₁ = 0.5, β₂ = 0.75): m = 0.5·1 + 0.5·1 = 1 (after m₁ = 1),
    // v = 0.75·1 + 0.25·1 = 1 (after v₁ = 0.25·4 = 1); m̂ = 1/(1 − 0.25) = 4/3, v̂ = 1/(1 − 0.5625) = 16/7.
    std::vector<double> q = {0.0};
    Adam up(1, 0.1, 0.5, 0.75, 0.0, rounding);
    const double g1 = 2.0, g2 = 1.0;
    up.step(q.data(), &g1, /*ascend=*/true);
    CHECK(q[0] == Approx(0.1));
    up.step(q.data(), &g2, /*ascend=*/true);
    CHECK(q[0] == Approx(0.1 + 0.1 * (4.0 / 3.0) / std::sqrt(16.0 / 7.0)).epsilon(1e-14));
  }
}

TEST_CASE("Adam's two roundings each reproduce their formula bit for bit, and they do differ", "[unit]") {
  const std::size_t n = 64, steps = 5;
  // From 0, so the first update is the point itself and a last-bit difference cannot vanish in a sum.
  std::vector<double> ratio_first(n, 0.0), rate_first(n, 0.0);
  Adam a(n, 0.003, 0.9, 0.999, 1e-8, AdamRounding::direction_first);
  Adam b(n, 0.003, 0.9, 0.999, 1e-8, AdamRounding::step_size_first);
  std::vector<double> xa(n, 0.0), xb(n, 0.0), m(n, 0.0), v(n, 0.0);
  for (std::size_t t = 1; t <= steps; ++t) {
    const std::vector<double> g = gradient(n, t);
    const double c1 = 1 - std::pow(0.9, static_cast<double>(t)), c2 = 1 - std::pow(0.999, static_cast<double>(t));
    for (std::size_t i = 0; i < n; ++i) {
      m[i] = 0.9 * m[i] + (1 - 0.9) * g[i];
      v[i] = 0.999 * v[i] + (1 - 0.999) * g[i] * g[i];
      ratio_first[i] += -0.003 * ((m[i] / c1) / (std::sqrt(v[i] / c2) + 1e-8));
      rate_first[i] += -0.003 * (m[i] / c1) / (std::sqrt(v[i] / c2) + 1e-8);
    }
    a.step(xa.data(), g.data(), /*ascend=*/false);
    b.step(xb.data(), g.data(), /*ascend=*/false);
  }
  CHECK(same_bits(xa, ratio_first));
  CHECK(same_bits(xb, rate_first));
  CHECK_FALSE(same_bits(xa, xb));  // why the option exists: each study keeps the bits it stored
}

TEST_CASE("an optimizer's checkpoint resumes it bit for bit", "[unit]") {
  const std::vector<double> x0 = {0.5, -1.5, 2.0, 1e-3, -7.0};
  for (bool ascend : {false, true}) {
    for (AdamRounding rounding : {AdamRounding::step_size_first, AdamRounding::direction_first}) {
      Adam whole(5, 0.02, 0.5, 0.999, 1e-8, rounding), first(5, 0.02, 0.5, 0.999, 1e-8, rounding),
          second(5, 999.0, 0.5, 0.999, 1e-8, rounding);  // the learning rate is part of the state
      CHECK(same_bits(run(whole, nullptr, x0, 12, 0, ascend), run(first, &second, x0, 12, 7, ascend)));
      CHECK(second.steps_taken() == 12);
    }
    Sgd whole(5, 0.1, StepSizeSchedule::cosine, 12), first(5, 0.1, StepSizeSchedule::cosine, 12),
        second(5, 0.1, StepSizeSchedule::cosine, 12);
    CHECK(same_bits(run(whole, nullptr, x0, 12, 0, ascend), run(first, &second, x0, 12, 5, ascend)));
    CHECK(second.steps_taken() == 12);
  }
  // A state of another size is refused.
  Adam big(6, 0.1), small(5, 0.1);
  StateWriter out;
  big.write_state(out);
  StateReader in(out.bytes());
  CHECK_THROWS_AS(small.read_state(in), StateFormatError);
}
