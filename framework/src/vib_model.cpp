#include "vibench/vib_model.hpp"

#include <algorithm>
#include <cmath>

namespace vibench {

namespace {
constexpr double scale_offset = 5.0;  // σ = softplus(s − 5): Alemi et al. 2017, §4.1
double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
double sigmoid(double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }

std::vector<std::size_t> sizes(std::size_t in, const std::vector<std::size_t>& hidden, std::size_t out) {
  std::vector<std::size_t> s{in};
  s.insert(s.end(), hidden.begin(), hidden.end());
  s.push_back(out);
  return s;
}

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
    : encoder_(sizes(input, encoder_hidden, 2 * latent), Activation::relu, Activation::identity),
      decoder_(sizes(latent, decoder_hidden, classes), Activation::relu, Activation::identity),
      latent_(latent),
      classes_(classes) {}

void VibModel::init(double* params, Rng& rng) const {
  encoder_.init(params, rng);
  decoder_.init(params + encoder_.num_params(), rng);
}

void VibModel::encode(const double* params, const Matrix& x, VibWorkspace& ws) const {
  encoder_.forward(params, x, ws.encoder, ws.h);
}

VibTerms VibModel::loss(const double* params, const Matrix& x, const std::uint8_t* labels, const Matrix& eps,
                        double beta, double* grad, VibWorkspace& ws) const {
  const std::size_t n = x.rows(), k = latent_;
  const double inv_n = 1.0 / static_cast<double>(n);
  encode(params, x, ws);
  ws.z.resize(n, k);
  VibTerms t;
  for (std::size_t i = 0; i < n; ++i) {
    const double* h = ws.h.row(i);
    for (std::size_t j = 0; j < k; ++j) {
      const double mu = h[j], sigma = softplus(h[k + j] - scale_offset);
      ws.z(i, j) = mu + sigma * eps(i, j);
      t.rate += 0.5 * (mu * mu + sigma * sigma - 1) - std::log(sigma);  // KL(N(μ,σ²) ‖ N(0,1))
    }
  }
  const double* dec = params + encoder_.num_params();
  decoder_.forward(dec, ws.z, ws.decoder, ws.logits);
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
  t.rate *= inv_n;
  if (!grad) return t;

  std::fill(grad, grad + num_params(), 0.0);
  decoder_.backward(dec, ws.d_logits, ws.decoder, grad + encoder_.num_params(), &ws.d_z);
  // Through z = μ + σε and β·KL: ∂/∂μ = dz + β μ/n; ∂/∂σ = dz·ε + β(σ − 1/σ)/n; ∂σ/∂s = sigmoid(s − 5).
  ws.d_h.resize(n, 2 * k);
  for (std::size_t i = 0; i < n; ++i) {
    const double* h = ws.h.row(i);
    for (std::size_t j = 0; j < k; ++j) {
      const double mu = h[j], s = h[k + j] - scale_offset, sigma = softplus(s);
      ws.d_h(i, j) = ws.d_z(i, j) + beta * mu * inv_n;
      ws.d_h(i, k + j) = (ws.d_z(i, j) * eps(i, j) + beta * (sigma - 1 / sigma) * inv_n) * sigmoid(s);
    }
  }
  encoder_.backward(params, ws.d_h, ws.encoder, grad, nullptr);
  return t;
}

VibTerms VibModel::evaluate(const double* params, const Matrix& x, const std::uint8_t* labels, std::size_t samples,
                            Rng& rng, VibWorkspace& ws) const {
  const std::size_t n = x.rows(), k = latent_;
  encode(params, x, ws);
  VibTerms t;
  for (std::size_t i = 0; i < n; ++i) {
    const double* h = ws.h.row(i);
    for (std::size_t j = 0; j < k; ++j) {
      const double mu = h[j], sigma = softplus(h[k + j] - scale_offset);
      t.rate += 0.5 * (mu * mu + sigma * sigma - 1) - std::log(sigma);
    }
  }
  Matrix eps(n, k), probs(n, classes_, 0.0);
  const double* dec = params + encoder_.num_params();
  for (std::size_t s = 0; s < samples; ++s) {
    rng.normals(eps.data(), n * k);
    ws.z.resize(n, k);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < k; ++j)
        ws.z(i, j) = ws.h(i, j) + softplus(ws.h(i, k + j) - scale_offset) * eps(i, j);
    decoder_.forward(dec, ws.z, ws.decoder, ws.logits);
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
  t.rate /= static_cast<double>(n);
  return t;
}

}  // namespace vibench
