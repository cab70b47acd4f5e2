// Deep VIB: the model's gradient against finite differences (fixed noise), its rate against the closed-form
// Gaussian KL, the Fashion-MNIST loader against facts of the data set, and a short training run.
#include <catch2/catch.hpp>

#include <cmath>

#include "conformance.hpp"
#include "vibench/data/fashion_mnist.hpp"
#include "vibench/nn/beta_vae_model.hpp"
#include "vibench/nn/vib_model.hpp"

using namespace vibench;
using namespace vibench::test;

TEST_CASE("VIB loss gradient (cross-entropy + beta * rate) equals finite differences", "[nn]") {
  for (double beta : {0.0, 0.3}) {
    VibModel model(6, {5}, 3, {4}, 4);
    std::vector<double> params(model.num_params());
    Rng init(1, 1, 0, streams::init);
    model.init(params.data(), init);
    for (std::size_t k = 0; k < params.size(); ++k) params[k] += 0.1 * std::sin(3.0 * static_cast<double>(k));
    Matrix x(5, 6), eps(5, 3);
    Rng rng(1, 2, 0, streams::data);
    rng.uniforms(x.data(), 30);
    rng.normals(eps.data(), 15);
    const std::uint8_t labels[5] = {0, 3, 1, 1, 2};
    VibWorkspace ws;
    std::vector<double> grad(params.size());
    model.loss(params.data(), x, labels, eps, beta, grad.data(), ws);
    auto total = [&](const std::vector<double>& p) {
      VibWorkspace w;
      const VibTerms t = model.loss(p.data(), x, labels, eps, beta, nullptr, w);
      return t.cross_entropy + beta * t.rate;
    };
    for (std::size_t k = 0; k < params.size(); ++k) {
      INFO("beta " << beta << " param " << k);
      CHECK(fd_close(grad[k], central_difference(total, params, k)));
    }
  }
}

TEST_CASE("VIB rate is the closed-form KL(N(mu, sigma^2) || N(0, I)) of the encoder's output", "[nn]") {
  // With no hidden layer and zero weights the encoder outputs its biases: μ = b_μ, σ = softplus(b_s − 5).
  VibModel model(2, {}, 2, {}, 3);
  std::vector<double> params(model.num_params(), 0.0);
  // encoder: W (4×2) then b (4) = (μ1, μ2, s1, s2)
  params[8] = 0.5;
  params[9] = -1.0;
  params[10] = 5.3;
  params[11] = 4.0;
  Matrix x(1, 2, 0.2), eps(1, 2, 0.0);
  const std::uint8_t label = 0;
  VibWorkspace ws;
  const VibTerms t = model.loss(params.data(), x, &label, eps, 1.0, nullptr, ws);
  double kl = 0;
  const double mu[2] = {0.5, -1.0}, s[2] = {5.3 - 5, 4.0 - 5};
  for (int j = 0; j < 2; ++j) {
    const double sigma = std::log1p(std::exp(s[j]));
    kl += 0.5 * (mu[j] * mu[j] + sigma * sigma - 1) - std::log(sigma);
  }
  CHECK(t.rate == Approx(kl).epsilon(1e-14));
  CHECK(t.cross_entropy == Approx(std::log(3.0)).epsilon(1e-14));  // zero decoder: uniform over 3 classes
}

TEST_CASE("Fashion-MNIST loads from Debian's dataset-fashion-mnist with the data set's known facts", "[nn]") {
  const LabeledImages& train = fashion_mnist(true);
  const LabeledImages& test = fashion_mnist(false);
  REQUIRE(train.pixels.rows() == 60000);
  REQUIRE(test.pixels.rows() == 10000);
  CHECK(train.pixels.cols() == 784);
  CHECK(train.labels[0] == 9);  // the first training image is an ankle boot (class 9)
  std::vector<int> train_count(10, 0), test_count(10, 0);
  for (auto l : train.labels) ++train_count[l];
  for (auto l : test.labels) ++test_count[l];
  for (int c = 0; c < 10; ++c) {
    CHECK(train_count[c] == 6000);  // balanced: 6000 per class in training, 1000 in test (Xiao et al. 2017)
    CHECK(test_count[c] == 1000);
  }
  double lo = 1, hi = 0;
  for (std::size_t i = 0; i < 784 * 100; ++i) {
    lo = std::min(lo, train.pixels.data()[i]);
    hi = std::max(hi, train.pixels.data()[i]);
  }
  CHECK(lo == 0.0);
  CHECK(hi == 1.0);
}

TEST_CASE("beta-VAE loss gradient (distortion + beta * rate) equals finite differences", "[nn]") {
  BetaVaeModel model(6, {5}, 2);
  std::vector<double> params(model.num_params());
  Rng init(3, 1, 0, streams::init);
  model.init(params.data(), init);
  for (std::size_t k = 0; k < params.size(); ++k) params[k] += 0.1 * std::cos(2.0 * static_cast<double>(k));
  Matrix x(4, 6), eps(4, 2);
  Rng rng(3, 2, 0, streams::data);
  rng.uniforms(x.data(), 24);
  for (std::size_t i = 0; i < 24; ++i) x.data()[i] = x.data()[i] > 0.5 ? 1.0 : 0.0;
  rng.normals(eps.data(), 8);
  BetaVaeWorkspace ws;
  std::vector<double> grad(params.size());
  const double beta = 2.5;
  model.loss(params.data(), x, eps, beta, grad.data(), ws);
  auto total = [&](const std::vector<double>& p) {
    BetaVaeWorkspace w;
    const RateDistortion rd = model.loss(p.data(), x, eps, beta, nullptr, w);
    return rd.distortion + beta * rd.rate;
  };
  for (std::size_t k = 0; k < params.size(); ++k) {
    INFO("param " << k);
    CHECK(fd_close(grad[k], central_difference(total, params, k)));
  }
}
