#pragma once
// Importance-weighted autoencoder (Burda, Grosse & Salakhutdinov 2016) on binary data: Gaussian encoder
// q(z|x) = N(μ(x), diag σ(x)²) with [μ, log σ] from an MLP (σ = exp(s), as in Burda et al. §5), prior
// p(z) = N(0, I), Bernoulli decoder p(x|z) with logits from the mirrored MLP. For K draws z_k = μ + σ ⊙ ε_k,
//   log w_k = log p(x|z_k) + log p(z_k) − log q(z_k|x),   L_K(x) = log (1/K) Σ_k w_k.
// K = 1 is the ELBO with a Monte Carlo KL (log p(z) − log q(z|x) at the drawn z, not the closed form).
//
// Gradients of the batch mean (1/n) Σ_n L_K(x_n), w̃_k = w_k / Σ_j w_j:
//   iwae: Σ_k w̃_k d log w_k/dθ for every parameter — the exact gradient of the bound at the fixed noise ε;
//   dreg: the decoder keeps that gradient; the encoder gets Σ_k w̃_k² ∂log w_k/∂z · ∂z/∂φ, the score term
//         ∂log q/∂φ at fixed z stopped (Tucker, Lawson, Gu & Maddison 2019). Both are unbiased for ∇E[L_K].
#include <cstddef>
#include <vector>

#include "vibench/nn/nn.hpp"

namespace vibench {

enum class IwaeGradient { iwae, dreg };

struct IwaeWorkspace {
  MlpWorkspace encoder, decoder;
  Matrix h;                     // n × 2L: [μ, log σ]
  Matrix z, logits;             // nK × L and nK × D, row n·K + k
  Matrix log_w;                 // n × K
  Matrix d_logits, d_z, d_h;    // backward scratch
};

class IwaeModel {
 public:
  // input D, encoder hidden widths (the decoder mirrors them), latent L; `activation` of every hidden layer.
  IwaeModel(std::size_t input, const std::vector<std::size_t>& hidden, std::size_t latent, Activation activation);

  std::size_t num_params() const { return encoder_.num_params() + decoder_.num_params(); }
  std::size_t encoder_params() const { return encoder_.num_params(); }  // the first ones; then the decoder's
  std::size_t latent() const { return latent_; }
  std::size_t input() const { return encoder_.in(); }
  void init(double* params, Rng& rng) const;

  // The encoder's means μ(x) (n × L) for a batch: E_q[z], for the active-unit count.
  void encoder_means(const double* params, const Matrix& x, IwaeWorkspace& ws, Matrix& mean) const;

  // ws.log_w (n × K) for the batch x (n × D, entries 0/1) and noise eps (nK × L, row n·K + k).
  void log_weights(const double* params, const Matrix& x, const Matrix& eps, std::size_t k, IwaeWorkspace& ws) const;

  // The batch mean (1/n) Σ_n L_K(x_n); if grad is given, the chosen gradient estimate of it (for ascent) is
  // written to grad.
  double bound(const double* params, const Matrix& x, const Matrix& eps, std::size_t k, IwaeGradient gradient,
               double* grad, IwaeWorkspace& ws) const;

 private:
  Mlp encoder_, decoder_;
  std::size_t latent_;
};

// log (1/K) Σ_k e^{v_k}, stably.
double log_mean_exp(const double* v, std::size_t k);

}  // namespace vibench
