// The vectorized kernels against plain loops, bit for bit: the kernels promise the same summation order.
#include <catch2/catch.hpp>

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
