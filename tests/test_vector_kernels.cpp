// The vectorized kernels against plain loops, bit for bit: the kernels promise the same summation order.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "vibench/rng.hpp"
#include "vibench/vector_kernels.hpp"

using namespace vibench;

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
        CHECK(y == expected);
      }
}

TEST_CASE("add_weighted_rows equals the plain row loop bit for bit, with and without weights", "[unit]") {
  for (std::size_t p : {1, 2, 3, 4, 5, 6, 7, 8, 9, 40})
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
      CHECK(acc == expected);
    }
}
