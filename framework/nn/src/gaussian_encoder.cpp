#include "vibench/nn/gaussian_encoder.hpp"

#include <cmath>

#include "vibench/math/scalar_functions.hpp"

namespace vibench {

namespace {
constexpr double scale_offset = 5.0;  // σ = softplus(s − 5): Alemi et al. 2017, §4.1
}  // namespace

GaussianEncoder::GaussianEncoder(std::size_t input, const std::vector<std::size_t>& hidden, std::size_t latent)
    : net_(layer_sizes(input, hidden, 2 * latent), Activation::relu, Activation::identity), latent_(latent) {}

double GaussianEncoder::encode(const double* params, const Matrix& x, EncoderWorkspace& ws) const {
  net_.forward(params, x, ws.net, ws.h);
  double kl = 0;
  for (std::size_t i = 0; i < x.rows(); ++i) {
    const double* h = ws.h.row(i);
    for (std::size_t j = 0; j < latent_; ++j) {
      const double mu = h[j], sigma = softplus(h[latent_ + j] - scale_offset);
      kl += 0.5 * (mu * mu + sigma * sigma - 1) - std::log(sigma);
    }
  }
  return kl;
}

void GaussianEncoder::reparameterize(const Matrix& eps, EncoderWorkspace& ws) const {
  const std::size_t n = ws.h.rows();
  ws.z.resize(n, latent_);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < latent_; ++j)
      ws.z(i, j) = ws.h(i, j) + softplus(ws.h(i, latent_ + j) - scale_offset) * eps(i, j);
}

void GaussianEncoder::backward(const double* params, const Matrix& dz, const Matrix& eps, double rate_weight,
                               EncoderWorkspace& ws, double* grad) const {
  // ∂/∂μ = dz + w μ;  ∂/∂σ = dz ε + w (σ − 1/σ);  ∂σ/∂s = sigmoid(s − 5).
  const std::size_t n = ws.h.rows(), k = latent_;
  ws.d_h.resize(n, 2 * k);
  for (std::size_t i = 0; i < n; ++i) {
    const double* h = ws.h.row(i);
    for (std::size_t j = 0; j < k; ++j) {
      const double mu = h[j], s = h[k + j] - scale_offset, sigma = softplus(s);
      ws.d_h(i, j) = dz(i, j) + rate_weight * mu;
      ws.d_h(i, k + j) = (dz(i, j) * eps(i, j) + rate_weight * (sigma - 1 / sigma)) * sigmoid(s);
    }
  }
  net_.backward(params, ws.d_h, ws.net, grad, nullptr);
}

}  // namespace vibench
