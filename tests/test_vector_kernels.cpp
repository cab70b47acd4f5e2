// The vectorized kernels against plain loops, bit for bit (memcmp, so −0 ≠ +0): the kernels promise the
// plain loops' order of operations. Only the variant the test machine's CPU selects runs here.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <vector>

#include "vibench/math/batch.hpp"
#include "vibench/math/rng.hpp"
#include "vibench/math/vector_kernels.hpp"

using namespace vibench;

namespace {
bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}
}  // namespace

TEST_CASE("subtract_product equals the plain j-ordered loop bit for bit, every shape", "[unit]") {
  // Shapes cover full and partial blocks of 4 rows and of 8 columns, and k = 1.
  for (std::size_t n : {1, 3, 4, 9})
    for (std::size_t k : {1, 2, 7, 20})
      for (std::size_t m : {1, 5, 8, 13, 24}) {
        INFO("n " << n << ", k " << k << ", m " << m);
        std::vector<double> y(n * m), x(n * k), b(k * m);
        Rng rng(3, n * 10000 + k * 100 + m, 0, streams::data);
        rng.normals(y.data(), y.size());
        rng.normals(x.data(), x.size());
        rng.normals(b.data(), b.size());
        std::vector<double> expected = y;
        for (std::size_t s = 0; s < n; ++s)
          for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < k; ++j) expected[s * m + i] -= x[s * k + j] * b[j * m + i];
        subtract_product(y.data(), x.data(), b.data(), n, k, m);
        CHECK(same_bits(y, expected));
      }
}

TEST_CASE("add_weighted_rows equals the plain row loop bit for bit, with and without weights", "[unit]") {
  for (std::size_t p : {1, 2, 3, 4, 5, 6, 7, 8, 9, 32, 40, 45, 77})
    for (bool weighted : {false, true}) {
      INFO("p " << p << (weighted ? ", weighted" : ", unweighted"));
      const std::size_t n = 37;
      std::vector<double> rows(n * p), w(n), acc(p);
      Rng rng(4, p, weighted, streams::data);
      rng.normals(rows.data(), rows.size());
      rng.normals(w.data(), n);
      rng.normals(acc.data(), p);
      for (std::size_t r = 0; r < n; r += 5) w[r] = 0.0;  // skipped rows
      std::vector<double> expected = acc;
      for (std::size_t r = 0; r < n; ++r)
        for (std::size_t i = 0; i < p; ++i) expected[i] += (weighted ? w[r] : 1.0) * rows[r * p + i];
      if (weighted)  // a zero weight skips its row: same sum, as long as the row is finite
        for (std::size_t r = 0; r < n; r += 5) rows[r * p] = INFINITY;
      add_weighted_rows(acc.data(), rows.data(), n, p, weighted ? w.data() : nullptr);
      CHECK(same_bits(acc, expected));
    }
}

// Both roundings of the step, at t = 3 (c1 < 1) and t = 400 (c1 = 1 − β₁ᵗ rounds to 1: the kernels skip m/c1).
TEST_CASE("adam_update and adam_update_direction_first equal their plain loops bit for bit", "[unit]") {
  for (bool direction_first : {false, true})
    for (double t : {3.0, 400.0})
      for (std::size_t n : {1, 7, 8, 9, 100}) {
        INFO((direction_first ? "direction first" : "step size first") << ", t " << t << ", n " << n);
        std::vector<double> theta(n), grad(n), m(n), v(n);
        Rng rng(6 + direction_first, n, static_cast<std::uint64_t>(t), streams::data);
        rng.normals(theta.data(), n);
        rng.normals(grad.data(), n);
        rng.normals(m.data(), n);
        rng.uniforms(v.data(), n);
        std::vector<double> t2 = theta, m2 = m, v2 = v;
        const double b1 = direction_first ? 0.9 : 0.5, b2 = 0.999, c1 = 1 - std::pow(b1, t), c2 = 1 - std::pow(b2, t);
        const double lr = direction_first ? 3e-2 : -1e-3, eps = 1e-8;
        CHECK((c1 == 1.0) == (t == 400.0));
        for (std::size_t i = 0; i < n; ++i) {
          m2[i] = b1 * m2[i] + (1 - b1) * grad[i];
          v2[i] = b2 * v2[i] + (1 - b2) * grad[i] * grad[i];
          if (direction_first)
            t2[i] += lr * ((m2[i] / c1) / (std::sqrt(v2[i] / c2) + eps));
          else
            t2[i] += lr * (m2[i] / c1) / (std::sqrt(v2[i] / c2) + eps);
        }
        if (direction_first)
          adam_update_direction_first(theta.data(), grad.data(), m.data(), v.data(), n, b1, b2, c1, c2, lr, eps);
        else
          adam_update(theta.data(), grad.data(), m.data(), v.data(), n, b1, b2, c1, c2, lr, eps);
        CHECK(same_bits(theta, t2));
        CHECK(same_bits(m, m2));
        CHECK(same_bits(v, v2));
      }
}

// vibench/math/batch.hpp: the xtensor views plugins write their math with.
TEST_CASE("batch views: row expressions and sum_in_order give the plain loops' bits; lengths are checked",
          "[unit]") {
  Rng rng(3, 4, 0, 0);
  const std::size_t s = 7, d = 13;
  Matrix z(s, d), out(s, d);
  std::vector<double> mu(d), sig(d);
  rng.normals(z.data(), s * d);
  rng.normals(mu.data(), d);
  rng.uniforms(sig.data(), d);
  for (double& x : sig) x += 0.5;
  const double* mu_ptr = mu.data();
  const double* sig_ptr = sig.data();
  const auto m = block(mu_ptr, d), g = block(sig_ptr, d);  // views outlive the pointer arguments
  for (std::size_t r = 0; r < s; ++r) xt::noalias(row_of(out, r)) = (row_of(z, r) - m) * g * g;
  std::vector<double> loop(s * d), sums(s), loop_sums(s);
  for (std::size_t r = 0; r < s; ++r) {
    double q = 0;
    for (std::size_t i = 0; i < d; ++i) {
      loop[r * d + i] = (z(r, i) - mu[i]) * sig[i] * sig[i];
      const double u = (z(r, i) - mu[i]) / sig[i];
      q += u * u;
    }
    loop_sums[r] = q;
    const auto u = (row_of(z, r) - m) / g;
    sums[r] = sum_in_order(u * u);
  }
  CHECK(same_bits(std::vector<double>(out.data(), out.data() + s * d), loop));
  CHECK(same_bits(sums, loop_sums));
  Matrix wide(s, d + 1);
  CHECK_THROWS(xt::noalias(row_of(out, 0)) = row_of(wide, 0) - m);
}
