#pragma once
// The stochastic encoder of the information-bottleneck models (VIB, β-VAE): an MLP x ↦ (μ, s) ∈ R^{2K},
// σ = softplus(s − 5) (Alemi et al. 2017, §4.1), z = μ + σ ⊙ ε with ε ~ N(0, I), and the rate
// KL(N(μ, σ²) ‖ N(0, I)) = Σ_k ½(μ_k² + σ_k² − 1) − log σ_k in closed form.
#include <cstddef>
#include <vector>

#include "vibench/nn/nn.hpp"

namespace vibench {

struct EncoderWorkspace {
  MlpWorkspace net;
  Matrix h, z, d_h;  // h = [μ, s] (n×2K), z (n×K)
};

class GaussianEncoder {
 public:
  GaussianEncoder(std::size_t input, const std::vector<std::size_t>& hidden, std::size_t latent);

  std::size_t num_params() const { return net_.num_params(); }
  std::size_t latent() const { return latent_; }
  void init(double* params, Rng& rng) const { net_.init(params, rng); }

  // ws.h = [μ, s] for the batch; returns Σ over the batch of KL(q(z|x_n) ‖ N(0, I)).
  double encode(const double* params, const Matrix& x, EncoderWorkspace& ws) const;
  // After encode(): ws.z = μ + σ ⊙ eps.
  void reparameterize(const Matrix& eps, EncoderWorkspace& ws) const;
  // grad += ∂/∂params of  Σ_n dz_n · z_n + rate_weight · Σ_n KL_n,  given dz = ∂L/∂z and the same eps.
  void backward(const double* params, const Matrix& dz, const Matrix& eps, double rate_weight, EncoderWorkspace& ws,
                double* grad) const;

 private:
  Mlp net_;
  std::size_t latent_;
};

}  // namespace vibench
