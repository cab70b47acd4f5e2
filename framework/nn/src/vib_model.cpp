#include "vibench/nn/vib_model.hpp"

#include <algorithm>
#include <cmath>

namespace vibench {

namespace {

// log Σ_c e^{l_c} of one row.
double log_sum_exp(const double* l, std::size_t n) {
  const double m = *std::max_element(l, l + n);
  double s = 0;
  for (std::size_t c = 0; c < n; ++c) s += std::exp(l[c] - m);
  return m + std::log(s);
}
}  // namespace

VibModel::VibModel(std::size_t input, const std::vector<std::size_t>& encoder_hidden, std::size_t latent,
                   const std::vector<std::size_t>& decoder_hidden, std::size_t classes)
    : encoder_(input, encoder_hidden, latent),
      decoder_(layer_sizes(latent, decoder_hidden, classes), Activation::relu, Activation::identity),
      classes_(classes) {}

void VibModel::init(double* params, Rng& rng) const {
  encoder_.init(params, rng);
  decoder_.init(params + encoder_.num_params(), rng);
}

VibTerms VibModel::loss(const double* params, const Matrix& x, const std::uint8_t* labels, const Matrix& eps,
                        double beta, double* grad, VibWorkspace& ws) const {
  const std::size_t n = x.rows();
  const double inv_n = 1.0 / static_cast<double>(n);
  VibTerms t;
  t.rate = encoder_.encode(params, x, ws.encoder) * inv_n;
  encoder_.reparameterize(eps, ws.encoder);
  const double* dec = params + encoder_.num_params();
  decoder_.forward(dec, ws.encoder.z, ws.decoder, ws.logits);
  ws.d_logits.resize(n, classes_);
  for (std::size_t i = 0; i < n; ++i) {
    const double* l = ws.logits.row(i);
    const double lse = log_sum_exp(l, classes_);
    t.cross_entropy += lse - l[labels[i]];
    if (static_cast<std::size_t>(std::max_element(l, l + classes_) - l) == labels[i]) ++t.correct;
    for (std::size_t c = 0; c < classes_; ++c)
      ws.d_logits(i, c) = (std::exp(l[c] - lse) - (c == labels[i] ? 1.0 : 0.0)) * inv_n;  // ∂CE/∂logits
  }
  t.cross_entropy *= inv_n;
  if (!grad) return t;
  std::fill(grad, grad + num_params(), 0.0);
  decoder_.backward(dec, ws.d_logits, ws.decoder, grad + encoder_.num_params(), &ws.d_z);
  encoder_.backward(params, ws.d_z, eps, beta * inv_n, ws.encoder, grad);
  return t;
}

VibTerms VibModel::evaluate(const double* params, const Matrix& x, const std::uint8_t* labels, std::size_t samples,
                            Rng& rng, VibWorkspace& ws) const {
  const std::size_t n = x.rows(), k = latent();
  VibTerms t;
  t.rate = encoder_.encode(params, x, ws.encoder) / static_cast<double>(n);
  Matrix eps(n, k), probs(n, classes_, 0.0);
  const double* dec = params + encoder_.num_params();
  for (std::size_t s = 0; s < samples; ++s) {
    rng.normals(eps.data(), n * k);
    encoder_.reparameterize(eps, ws.encoder);
    decoder_.forward(dec, ws.encoder.z, ws.decoder, ws.logits);
    for (std::size_t i = 0; i < n; ++i) {
      const double* l = ws.logits.row(i);
      const double lse = log_sum_exp(l, classes_);
      t.cross_entropy += lse - l[labels[i]];
      for (std::size_t c = 0; c < classes_; ++c) probs(i, c) += std::exp(l[c] - lse);
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    const double* p = probs.row(i);
    if (static_cast<std::size_t>(std::max_element(p, p + classes_) - p) == labels[i]) ++t.correct;
  }
  t.cross_entropy /= static_cast<double>(n * samples);
  return t;
}

}  // namespace vibench
