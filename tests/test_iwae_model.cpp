// The IWAE model (framework/nn/iwae_model.hpp): its K = 1 bound against an independently computed ELBO with a
// Monte Carlo KL, the IWAE gradient against finite differences of the bound at fixed noise, the DReG encoder
// gradient against finite differences of its surrogate (weights w̃² and q's density parameters held fixed),
// DReG's decoder gradient equal to IWAE's, and E[DReG] = E[IWAE] by a paired z-test.
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>

#include "conformance.hpp"
#include "vibench/math/stats.hpp"
#include "vibench/nn/iwae_model.hpp"

using namespace vibench;
using namespace vibench::test;

namespace {

constexpr std::size_t D = 6, L = 2, N = 3;
const std::vector<std::size_t> hidden{5};

struct Setup {
  IwaeModel model{D, hidden, L, Activation::tanh};
  std::vector<double> params;
  Matrix x{N, D};
  Setup() {
    params.resize(model.num_params());
    Rng init(1, 1, 0, streams::init);
    model.init(params.data(), init);
    for (std::size_t i = 0; i < params.size(); ++i) params[i] += 0.2 * std::sin(1.7 * static_cast<double>(i));
    Rng data(2, 2, 0, streams::data);
    data.uniforms(x.data(), N * D);
    for (std::size_t i = 0; i < N * D; ++i) x.data()[i] = x.data()[i] > 0.5 ? 1.0 : 0.0;
  }
};

Matrix noise(std::size_t k, std::uint64_t replicate) {
  Matrix eps(N * k, L);
  Rng rng(3, 3, replicate, streams::estimator);
  rng.normals(eps.data(), N * k * L);
  return eps;
}

// log w (n × K) written out from the densities, with the same parameter layout (encoder then decoder) but
// z drawn with `z_params` and q's density evaluated with `q_params` (both encoder parameter vectors).
Matrix reference_log_w(const std::vector<double>& z_params, const std::vector<double>& q_params, const double* decoder_params,
                       const Matrix& x, const Matrix& eps, std::size_t k) {
  const Mlp enc(layer_sizes(D, hidden, 2 * L), Activation::tanh, Activation::identity);
  const Mlp dec(layer_sizes(L, hidden, D), Activation::tanh, Activation::identity);
  MlpWorkspace ws;
  Matrix hz, hq, z(N * k, L), logits;
  enc.forward(z_params.data(), x, ws, hz);
  enc.forward(q_params.data(), x, ws, hq);
  const double half_log_2pi = 0.5 * std::log(2 * std::numbers::pi);
  Matrix out(N, k);
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t s = 0; s < k; ++s)
      for (std::size_t j = 0; j < L; ++j) z(i * k + s, j) = hz(i, j) + std::exp(hz(i, L + j)) * eps(i * k + s, j);
  dec.forward(decoder_params, z, ws, logits);
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t s = 0; s < k; ++s) {
      const std::size_t r = i * k + s;
      double lw = 0;
      for (std::size_t c = 0; c < D; ++c) {
        const double p = 1 / (1 + std::exp(-logits(r, c)));
        lw += x(i, c) > 0.5 ? std::log(p) : std::log(1 - p);
      }
      for (std::size_t j = 0; j < L; ++j) {
        const double mu = hq(i, j), sigma = std::exp(hq(i, L + j)), u = (z(r, j) - mu) / sigma;
        lw += -0.5 * z(r, j) * z(r, j) - half_log_2pi;              // log p(z)
        lw -= -0.5 * u * u - std::log(sigma) - half_log_2pi;        // log q(z|x)
      }
      out(i, s) = lw;
    }
  return out;
}

double reference_bound(const Matrix& log_w) {
  double total = 0;
  for (std::size_t i = 0; i < log_w.rows(); ++i) {
    double s = 0;
    for (std::size_t j = 0; j < log_w.cols(); ++j) s += std::exp(log_w(i, j));
    total += std::log(s / static_cast<double>(log_w.cols()));
  }
  return total / static_cast<double>(log_w.rows());
}

}  // namespace

TEST_CASE("IWAE model: log weights and the bound equal the densities written out; K = 1 is the ELBO with a Monte Carlo KL",
          "[nn]") {
  Setup s;
  const std::size_t enc = s.model.encoder_params();
  const std::vector<double> e(s.params.begin(), s.params.begin() + static_cast<std::ptrdiff_t>(enc));
  for (std::size_t k : {1, 4}) {
    const Matrix eps = noise(k, 0);
    IwaeWorkspace ws;
    const double b = s.model.bound(s.params.data(), s.x, eps, k, IwaeGradient::iwae, nullptr, ws);
    const Matrix ref = reference_log_w(e, e, s.params.data() + enc, s.x, eps, k);
    for (std::size_t i = 0; i < N; ++i)
      for (std::size_t j = 0; j < k; ++j) CHECK(ws.log_w(i, j) == Approx(ref(i, j)).epsilon(1e-12));
    CHECK(b == Approx(reference_bound(ref)).epsilon(1e-12));
    if (k == 1) {  // the ELBO: mean over the batch of log p(x|z) + log p(z) − log q(z|x) at one z each
      double elbo = 0;
      for (std::size_t i = 0; i < N; ++i) elbo += ref(i, 0) / N;
      CHECK(b == Approx(elbo).epsilon(1e-12));
    }
  }
}

TEST_CASE("IWAE model: the iwae gradient equals finite differences of the bound at fixed noise", "[nn]") {
  Setup s;
  for (std::size_t k : {1, 5}) {
    const Matrix eps = noise(k, 1);
    IwaeWorkspace ws;
    std::vector<double> grad(s.params.size());
    s.model.bound(s.params.data(), s.x, eps, k, IwaeGradient::iwae, grad.data(), ws);
    auto f = [&](const std::vector<double>& p) {
      IwaeWorkspace w;
      return s.model.bound(p.data(), s.x, eps, k, IwaeGradient::iwae, nullptr, w);
    };
    for (std::size_t i = 0; i < s.params.size(); ++i) {
      INFO("K " << k << " param " << i);
      CHECK(fd_close(grad[i], central_difference(f, s.params, i)));
    }
  }
}

TEST_CASE("IWAE model: DReG's encoder gradient is the gradient of Σ w̃² log w with the weights and q's density fixed; "
          "its decoder gradient is IWAE's",
          "[nn]") {
  Setup s;
  const std::size_t enc = s.model.encoder_params();
  const std::vector<double> e(s.params.begin(), s.params.begin() + static_cast<std::ptrdiff_t>(enc));
  for (std::size_t k : {1, 5}) {
    const Matrix eps = noise(k, 2);
    IwaeWorkspace ws;
    std::vector<double> dreg(s.params.size()), iwae(s.params.size());
    s.model.bound(s.params.data(), s.x, eps, k, IwaeGradient::dreg, dreg.data(), ws);
    s.model.bound(s.params.data(), s.x, eps, k, IwaeGradient::iwae, iwae.data(), ws);
    for (std::size_t i = enc; i < s.params.size(); ++i) CHECK(dreg[i] == iwae[i]);  // same noise, same bits
    // Surrogate S(φ') = (1/n) Σ_{n,k} w̃_nk² log w(z(ε; φ'); q at φ), w̃ at φ.
    const Matrix lw = reference_log_w(e, e, s.params.data() + enc, s.x, eps, k);
    Matrix c(N, k);
    for (std::size_t i = 0; i < N; ++i) {
      double sum = 0;
      for (std::size_t j = 0; j < k; ++j) sum += std::exp(lw(i, j));
      for (std::size_t j = 0; j < k; ++j) c(i, j) = std::pow(std::exp(lw(i, j)) / sum, 2) / N;
    }
    auto surrogate = [&](const std::vector<double>& phi) {
      const Matrix m = reference_log_w(phi, e, s.params.data() + enc, s.x, eps, k);
      double t = 0;
      for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = 0; j < k; ++j) t += c(i, j) * m(i, j);
      return t;
    };
    bool differs = false;
    for (std::size_t i = 0; i < enc; ++i) {
      INFO("K " << k << " encoder param " << i);
      CHECK(fd_close(dreg[i], central_difference(surrogate, e, i)));
      differs |= std::abs(dreg[i] - iwae[i]) > 1e-6;
    }
    CHECK(differs);  // the score term was indeed dropped: the estimates differ draw by draw
  }
}

TEST_CASE("IWAE model: DReG and IWAE estimate the same gradient (paired z-test over noise draws, Bonferroni 99.9%)", "[nn]") {
  // E_ε[DReG − IWAE] = 0 for every encoder coordinate (Tucker et al. 2019: the dropped score term has the
  // reparameterized expectation that the w̃² weighting restores). 20000 paired draws of K = 5 per example.
  Setup s;
  const std::size_t k = 5, replicates = 20000, enc = s.model.encoder_params();
  std::vector<Moments> diff(enc), iwae_m(enc);
  std::vector<double> dreg(s.params.size()), iwae(s.params.size());
  IwaeWorkspace ws;
  for (std::size_t r = 0; r < replicates; ++r) {
    const Matrix eps = noise(k, 100 + r);
    s.model.bound(s.params.data(), s.x, eps, k, IwaeGradient::dreg, dreg.data(), ws);
    s.model.bound(s.params.data(), s.x, eps, k, IwaeGradient::iwae, iwae.data(), ws);
    for (std::size_t i = 0; i < enc; ++i) {
      diff[i].add(dreg[i] - iwae[i]);
      iwae_m[i].add(iwae[i]);
    }
  }
  const double z = normal_critical_value(1 - 0.001 / static_cast<double>(enc));
  std::size_t resolved = 0;  // coordinates whose IWAE mean is many SEs from 0: the test could see a bias there
  for (std::size_t i = 0; i < enc; ++i) {
    INFO("encoder param " << i << ": mean difference " << diff[i].mean() << " ± " << diff[i].standard_error()
                          << ", IWAE mean " << iwae_m[i].mean());
    REQUIRE(diff[i].standard_error() > 0);
    CHECK(std::abs(diff[i].mean()) <= z * diff[i].standard_error());
    if (std::abs(iwae_m[i].mean()) > 10 * diff[i].standard_error()) ++resolved;
  }
  INFO("coordinates resolved: " << resolved << " of " << enc);
  CHECK(resolved >= enc / 2);
}
