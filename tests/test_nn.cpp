// The neural-network module: every backward pass (parameters and inputs, every activation) against central
// finite differences and BLAS products against loops (Adam: test_optimizer.cpp).
#include <catch2/catch.hpp>

#include <cmath>

#include "conformance.hpp"
#include "vibench/nn/nn.hpp"

using namespace vibench;
using namespace vibench::test;

namespace {

// L(y) = Σ c_ij y_ij with fixed random c, so ∂L/∂y = c.
double loss(const Mlp& net, const std::vector<double>& params, const Matrix& x, const Matrix& c) {
  MlpWorkspace ws;
  Matrix y;
  net.forward(params.data(), x, ws, y);
  double s = 0;
  for (std::size_t i = 0; i < y.rows() * y.cols(); ++i) s += c.data()[i] * y.data()[i];
  return s;
}

Matrix random_matrix(std::size_t r, std::size_t c, std::uint64_t key) {
  Matrix m(r, c);
  Rng rng(5, key, 0, streams::data);
  rng.normals(m.data(), r * c);
  return m;
}

}  // namespace

TEST_CASE("MLP backward equals finite differences for every activation, parameters and inputs", "[nn]") {
  for (const std::string hidden : {"relu", "tanh", "softplus", "identity"})
    for (const std::string output : {"identity", "softplus", "tanh"}) {
      INFO("hidden " << hidden << ", output " << output);
      Mlp net({3, 5, 4, 2}, parse_activation(hidden), parse_activation(output));
      std::vector<double> params(net.num_params());
      Rng rng(1, 2, 3, streams::data);
      net.init(params.data(), rng);
      for (std::size_t i = 0; i < params.size(); ++i) params[i] += 0.05 * std::sin(static_cast<double>(i));  // nonzero biases
      const Matrix x = random_matrix(6, 3, 3), c = random_matrix(6, 2, 2);  // key 1 puts a pre-activation 8e-8 from 0
      MlpWorkspace ws;
      Matrix y, dx;
      net.forward(params.data(), x, ws, y);
      // Central differences (h = 1e-5) are exact only away from relu's kink: every hidden pre-activation must be
      // farther from 0 than a step can move it (h·|∂pre/∂(param or input)| ≲ 1e-5 · 3 here).
      double closest = INFINITY;
      for (std::size_t l = 0; l + 1 < ws.pre.size(); ++l)
        for (std::size_t i = 0; i < ws.pre[l].rows() * ws.pre[l].cols(); ++i) closest = std::min(closest, std::abs(ws.pre[l].data()[i]));
      INFO("closest hidden pre-activation to 0: " << closest);
      if (hidden == "relu") REQUIRE(closest > 1e-4);
      std::vector<double> grad(params.size(), 0.0);
      net.backward(params.data(), c, ws, grad.data(), &dx);
      for (std::size_t k = 0; k < params.size(); ++k) {
        const double fd = central_difference([&](const std::vector<double>& p) { return loss(net, p, x, c); }, params, k);
        INFO("param " << k);
        CHECK(fd_close(grad[k], fd));
      }
      const std::vector<double> flat(x.data(), x.data() + x.rows() * x.cols());
      for (std::size_t k = 0; k < flat.size(); ++k) {
        const double fd = central_difference(
            [&](const std::vector<double>& v) {
              Matrix xx = x;
              std::copy(v.begin(), v.end(), xx.data());
              return loss(net, params, xx, c);
            },
            flat, k);
        INFO("input " << k);
        CHECK(fd_close(dx.data()[k], fd));
      }
    }
}

TEST_CASE("backward accumulates into grad and leaves dx optional", "[nn]") {
  Mlp net({2, 3, 1}, Activation::relu, Activation::identity);
  std::vector<double> params(net.num_params());
  Rng rng(1, 2, 3, streams::data);
  net.init(params.data(), rng);
  const Matrix x = random_matrix(4, 2, 3), c = random_matrix(4, 1, 4);
  MlpWorkspace ws;
  Matrix y;
  net.forward(params.data(), x, ws, y);
  std::vector<double> once(params.size(), 0.0), twice(params.size(), 0.0);
  net.backward(params.data(), c, ws, once.data(), nullptr);
  net.backward(params.data(), c, ws, twice.data(), nullptr);
  net.backward(params.data(), c, ws, twice.data(), nullptr);
  for (std::size_t k = 0; k < params.size(); ++k) CHECK(twice[k] == Approx(2 * once[k]).margin(1e-15));
}

TEST_CASE("BLAS products equal plain loops", "[nn]") {
  const Matrix a = random_matrix(5, 3, 7), b = random_matrix(4, 3, 8), d = random_matrix(3, 4, 9), e = random_matrix(5, 4, 10);
  Matrix abt, ab, atb;
  matmul_abt(a, b, abt);
  matmul_ab(a, d, ab);
  matmul_atb(a, e, atb);
  for (std::size_t i = 0; i < 5; ++i)
    for (std::size_t j = 0; j < 4; ++j) {
      double s1 = 0, s2 = 0;
      for (std::size_t k = 0; k < 3; ++k) {
        s1 += a(i, k) * b(j, k);
        s2 += a(i, k) * d(k, j);
      }
      CHECK(abt(i, j) == Approx(s1).epsilon(1e-14));
      CHECK(ab(i, j) == Approx(s2).epsilon(1e-14));
    }
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 4; ++j) {
      double s = 0;
      for (std::size_t k = 0; k < 5; ++k) s += a(k, i) * e(k, j);
      CHECK(atb(i, j) == Approx(s).epsilon(1e-14));
    }
}

TEST_CASE("initialization is uniform within the He / Glorot limits and reproducible", "[nn]") {
  Mlp relu({100, 50, 10}, Activation::relu, Activation::identity);
  std::vector<double> p1(relu.num_params()), p2(relu.num_params());
  Rng r1(4, 4, 4, streams::data), r2(4, 4, 4, streams::data);
  relu.init(p1.data(), r1);
  relu.init(p2.data(), r2);
  CHECK(p1 == p2);
  const double he = std::sqrt(6.0 / 100), glorot = std::sqrt(6.0 / 60);
  double max1 = 0, max2 = 0;
  for (std::size_t i = 0; i < 5000; ++i) max1 = std::max(max1, std::abs(p1[i]));
  for (std::size_t i = 5050; i < 5050 + 500; ++i) max2 = std::max(max2, std::abs(p1[i]));
  CHECK(max1 <= he);
  CHECK(max1 > 0.95 * he);
  CHECK(max2 <= glorot);
  CHECK(max2 > 0.9 * glorot);
  for (std::size_t i = 5000; i < 5050; ++i) CHECK(p1[i] == 0.0);  // first layer's biases
}
