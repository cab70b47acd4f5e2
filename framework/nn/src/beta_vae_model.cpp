#include "vibench/nn/beta_vae_model.hpp"

#include <algorithm>
#include <cmath>

#include "vibench/math/scalar_functions.hpp"

namespace vibench {

BetaVaeModel::BetaVaeModel(std::size_t input, const std::vector<std::size_t>& hidden, std::size_t latent)
    : encoder_(input, hidden, latent), decoder_(layer_sizes(latent, {hidden.rbegin(), hidden.rend()}, input)  // mirrored
, Activation::relu, Activation::identity) {}

void BetaVaeModel::init(double* params, Rng& rng) const {
  encoder_.init(params, rng);
  decoder_.init(params + encoder_.num_params(), rng);
}

RateDistortion BetaVaeModel::loss(const double* params, const Matrix& x, const Matrix& eps, double beta, double* grad,
                                  BetaVaeWorkspace& ws) const {
  const std::size_t n = x.rows(), d = x.cols();
  const double inv_n = 1.0 / static_cast<double>(n);
  RateDistortion rd;
  rd.rate = encoder_.encode(params, x, ws.encoder) * inv_n;
  encoder_.reparameterize(eps, ws.encoder);
  const double* dec = params + encoder_.num_params();
  decoder_.forward(dec, ws.encoder.z, ws.decoder, ws.logits);
  ws.d_logits.resize(n, d);
  for (std::size_t i = 0; i < n * d; ++i) {
    const double l = ws.logits.data()[i], xi = x.data()[i];
    rd.distortion += softplus(l) - xi * l;  // −log Bernoulli(x; sigmoid(l))
    ws.d_logits.data()[i] = (sigmoid(l) - xi) * inv_n;
  }
  rd.distortion *= inv_n;
  if (!grad) return rd;
  std::fill(grad, grad + num_params(), 0.0);
  decoder_.backward(dec, ws.d_logits, ws.decoder, grad + encoder_.num_params(), &ws.d_z);
  encoder_.backward(params, ws.d_z, eps, beta * inv_n, ws.encoder, grad);
  return rd;
}

}  // namespace vibench
