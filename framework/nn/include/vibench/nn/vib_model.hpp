#pragma once
// Deep Variational Information Bottleneck (Alemi et al. 2017): a Gaussian encoder q(z|x) (gaussian_encoder.hpp)
// and a softmax decoder q(y|z) (an MLP, by default linear: logistic regression as in the paper). Per batch
//   loss = mean_n [−log q(y_n | z_n)] + β · mean_n KL(q(z|x_n) ‖ N(0, I)),
// the cross-entropy estimating H(Y) − (lower bound on I(Z;Y)) and the rate an upper bound on I(Z;X).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "vibench/nn/gaussian_encoder.hpp"

namespace vibench {

struct VibWorkspace {
  EncoderWorkspace encoder;
  MlpWorkspace decoder;
  Matrix logits, d_logits, d_z;
};

struct VibTerms {
  double cross_entropy = 0;  // mean −log q(y|z) over the batch (nats)
  double rate = 0;           // mean KL(q(z|x) ‖ N(0, I)) over the batch (nats)
  std::size_t correct = 0;   // argmax q(y|z) = y
};

class VibModel {
 public:
  VibModel(std::size_t input, const std::vector<std::size_t>& encoder_hidden, std::size_t latent,
           const std::vector<std::size_t>& decoder_hidden, std::size_t classes);

  std::size_t num_params() const { return encoder_.num_params() + decoder_.num_params(); }
  std::size_t latent() const { return encoder_.latent(); }
  void init(double* params, Rng& rng) const;

  // One batch with given noise eps (n×K): the terms, and if grad is given ∂(CE + β·rate)/∂params written to it.
  VibTerms loss(const double* params, const Matrix& x, const std::uint8_t* labels, const Matrix& eps, double beta,
                double* grad, VibWorkspace& ws) const;

  // Evaluation of a batch with `samples` draws of z per example (noise from rng): the rate, the mean over
  // draws of −log q(y|z) (the variational bound's cross-entropy), and the accuracy of the prediction from
  // the draws' averaged class probabilities (the paper's test-time rule).
  VibTerms evaluate(const double* params, const Matrix& x, const std::uint8_t* labels, std::size_t samples, Rng& rng,
                    VibWorkspace& ws) const;

 private:
  GaussianEncoder encoder_;
  Mlp decoder_;
  std::size_t classes_;
};

}  // namespace vibench
