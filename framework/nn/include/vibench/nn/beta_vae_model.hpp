#pragma once
// β-VAE (Higgins et al. 2017) on binary data, as a rate–distortion trade-off (Alemi et al. 2018, "Fixing a
// Broken ELBO"): Gaussian encoder q(z|x) (gaussian_encoder.hpp), Bernoulli decoder p(x|z) with logits from
// an MLP. Per batch, loss = mean_n D_n + β · mean_n R_n with distortion D = −log p(x|z) (one z per example)
// and rate R = KL(q(z|x) ‖ N(0, I)); at β = 1 the loss is the negative ELBO.
#include <cstddef>
#include <vector>

#include "vibench/nn/gaussian_encoder.hpp"

namespace vibench {

struct BetaVaeWorkspace {
  EncoderWorkspace encoder;
  MlpWorkspace decoder;
  Matrix logits, d_logits, d_z;
};

struct RateDistortion {
  double distortion = 0;  // mean −log p(x|z), nats
  double rate = 0;        // mean KL(q(z|x) ‖ N(0, I)), nats
};

class BetaVaeModel {
 public:
  BetaVaeModel(std::size_t input, const std::vector<std::size_t>& hidden, std::size_t latent);

  std::size_t num_params() const { return encoder_.num_params() + decoder_.num_params(); }
  std::size_t latent() const { return encoder_.latent(); }
  void init(double* params, Rng& rng) const;
  // x binary (0/1 entries); eps n×K. If grad is given, ∂(D + β R)/∂params is written to it.
  RateDistortion loss(const double* params, const Matrix& x, const Matrix& eps, double beta, double* grad,
                      BetaVaeWorkspace& ws) const;

 private:
  GaussianEncoder encoder_;
  Mlp decoder_;
};

}  // namespace vibench
