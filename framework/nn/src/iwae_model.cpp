#include "vibench/nn/iwae_model.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace vibench {

double log_mean_exp(const double* v, std::size_t k) {
  const double m = *std::max_element(v, v + k);
  if (!std::isfinite(m)) return m;  // all −∞ (or a NaN/+∞, which the caller sees)
  double s = 0;
  for (std::size_t i = 0; i < k; ++i) s += std::exp(v[i] - m);
  return m + std::log(s / static_cast<double>(k));
}

IwaeModel::IwaeModel(std::size_t input, const std::vector<std::size_t>& hidden, std::size_t latent, Activation activation)
    : encoder_(layer_sizes(input, hidden, 2 * latent), activation, Activation::identity),
      decoder_(layer_sizes(latent, {hidden.rbegin(), hidden.rend()}, input), activation, Activation::identity),
      latent_(latent) {}

void IwaeModel::init(double* params, Rng& rng) const {
  encoder_.init(params, rng);
  decoder_.init(params + encoder_.num_params(), rng);
}

void IwaeModel::encoder_means(const double* params, const Matrix& x, IwaeWorkspace& ws, Matrix& mean) const {
  encoder_.forward(params, x, ws.encoder, ws.h);
  mean.resize(x.rows(), latent_);
  for (std::size_t i = 0; i < x.rows(); ++i)
    for (std::size_t j = 0; j < latent_; ++j) mean(i, j) = ws.h(i, j);
}

namespace {

// The pass shared by log_weights and bound; with `residuals`, also ws.d_logits = x − sigmoid(logits), the
// unweighted ∂log p(x|z)/∂logits.
void forward(const Mlp& encoder, const Mlp& decoder, std::size_t latent, const double* params, const Matrix& x,
             const Matrix& eps, std::size_t k, IwaeWorkspace& ws, bool residuals) {
  const std::size_t n = x.rows(), d = x.cols(), l = latent;
  if (k == 0 || eps.rows() != n * k || eps.cols() != l)
    throw std::invalid_argument("IwaeModel: eps must be (n·K) × latent with K ≥ 1");
  encoder.forward(params, x, ws.encoder, ws.h);
  ws.z.resize(n * k, l);
  ws.log_w.resize(n, k);
  for (std::size_t i = 0; i < n; ++i) {
    const double* h = ws.h.row(i);
    for (std::size_t s = 0; s < k; ++s) {
      const double* e = eps.row(i * k + s);
      double* z = ws.z.row(i * k + s);
      // log p(z) − log q(z|x) = Σ_j −½z_j² + ½ε_j² + log σ_j (the ½ log 2π cancel).
      double prior_minus_q = 0;
      for (std::size_t j = 0; j < l; ++j) {
        z[j] = h[j] + std::exp(h[l + j]) * e[j];
        prior_minus_q += 0.5 * (e[j] * e[j] - z[j] * z[j]) + h[l + j];
      }
      ws.log_w(i, s) = prior_minus_q;
    }
  }
  decoder.forward(params + encoder.num_params(), ws.z, ws.decoder, ws.logits);
  if (residuals) ws.d_logits.resize(n * k, d);
  for (std::size_t r = 0; r < n * k; ++r) {
    const double* lg = ws.logits.row(r);
    const double* xi = x.row(r / k);
    double* res = residuals ? ws.d_logits.row(r) : nullptr;
    double log_lik = 0;  // log Bernoulli(x; sigmoid(l)) = x·l − softplus(l)
    for (std::size_t c = 0; c < d; ++c) {
      const double v = lg[c], e = std::exp(-std::abs(v));
      log_lik += xi[c] * v - (std::max(v, 0.0) + std::log1p(e));
      if (res) res[c] = xi[c] - (v >= 0 ? 1 / (1 + e) : e / (1 + e));
    }
    ws.log_w(r / k, r % k) += log_lik;
  }
}

}  // namespace

void IwaeModel::log_weights(const double* params, const Matrix& x, const Matrix& eps, std::size_t k,
                            IwaeWorkspace& ws) const {
  forward(encoder_, decoder_, latent_, params, x, eps, k, ws, false);
}

double IwaeModel::bound(const double* params, const Matrix& x, const Matrix& eps, std::size_t k, IwaeGradient gradient,
                        double* grad, IwaeWorkspace& ws) const {
  const std::size_t n = x.rows(), d = x.cols(), l = latent_;
  forward(encoder_, decoder_, latent_, params, x, eps, k, ws, grad != nullptr);
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) total += log_mean_exp(ws.log_w.row(i), k);
  const double inv_n = 1.0 / static_cast<double>(n);
  if (!grad || !std::isfinite(total)) return total * inv_n;

  // ws.log_w ← w̃ (normalized weights per example).
  for (std::size_t i = 0; i < n; ++i) {
    double* w = ws.log_w.row(i);
    const double m = *std::max_element(w, w + k);
    double s = 0;
    for (std::size_t j = 0; j < k; ++j) s += (w[j] = std::exp(w[j] - m));
    for (std::size_t j = 0; j < k; ++j) w[j] /= s;
  }
  // Decoder: ∂/∂logits of (1/n) Σ w̃ log p(x|z) = (w̃/n)(x − sigmoid(l)), row by row.
  for (std::size_t r = 0; r < n * k; ++r) {
    const double c = ws.log_w(r / k, r % k) * inv_n;
    double* res = ws.d_logits.row(r);
    for (std::size_t j = 0; j < d; ++j) res[j] *= c;
  }
  std::fill(grad, grad + num_params(), 0.0);
  decoder_.backward(params + encoder_.num_params(), ws.d_logits, ws.decoder, grad + encoder_.num_params(), &ws.d_z);
  // ws.d_z(r) = (w̃/n) ∂log p(x|z)/∂z; with the prior, g = (w̃/n) ∂[log p(x|z) + log p(z)]/∂z. Then per (μ, s = log σ):
  //   iwae: ∂/∂μ = g,                  ∂/∂s = g σε + w̃/n      (the +1 from −log q = log σ + …, z via ε fixed)
  //   dreg: ∂/∂μ = w̃ (g + (w̃/n) ε/σ),  ∂/∂s = w̃ (g σε + (w̃/n) ε²)   (∂log w/∂z adds −∂log q/∂z = ε/σ)
  ws.d_h.resize(n, 2 * l);
  ws.d_h.fill(0.0);
  for (std::size_t r = 0; r < n * k; ++r) {
    const std::size_t i = r / k;
    const double wt = ws.log_w(i, r % k), c = wt * inv_n;
    const double* e = eps.row(r);
    const double* z = ws.z.row(r);
    const double* h = ws.h.row(i);
    double* dh = ws.d_h.row(i);
    for (std::size_t j = 0; j < l; ++j) {
      const double sigma = std::exp(h[l + j]), g = ws.d_z(r, j) - c * z[j];
      if (gradient == IwaeGradient::iwae) {
        dh[j] += g;
        dh[l + j] += g * sigma * e[j] + c;
      } else {
        dh[j] += wt * (g + c * e[j] / sigma);
        dh[l + j] += wt * (g * sigma * e[j] + c * e[j] * e[j]);
      }
    }
  }
  encoder_.backward(params, ws.d_h, ws.encoder, grad, nullptr);
  return total * inv_n;
}

}  // namespace vibench
