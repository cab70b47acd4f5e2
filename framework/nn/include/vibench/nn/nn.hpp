#pragma once
// A small, deterministic multilayer perceptron on vibench's own gemm (gemm.hpp): dense layers y = act(x Wᵀ + b)
// over batches (rows = examples), hand-written backward passes (checked against finite differences in the
// tests) and initialisers driven by the Philox streams (the optimizers are vibench/math/optimizer.hpp). Parameters
// are one flat vector: for each layer W (out×in, row-major) then b (out).
//
// Reproducibility: every product is gemm's fixed fma chain, the same bits on every CPU and at any --threads (each
// cell's network runs on one thread; tested); only libm's exp, log1p and tanh in the activations are the C
// library's own.
#include <cstddef>
#include <string>
#include <vector>

#include "vibench/math/matrix.hpp"
#include "vibench/math/rng.hpp"

namespace vibench {

enum class Activation { identity, relu, tanh, softplus };
// {in, hidden..., out}: the layer sizes of an MLP.
std::vector<std::size_t> layer_sizes(std::size_t in, const std::vector<std::size_t>& hidden, std::size_t out);
Activation parse_activation(const std::string& name);  // throws std::invalid_argument on an unknown name

// Activations and pre-activations of one forward pass, kept for backward; reused across calls.
struct MlpWorkspace {
  std::vector<Matrix> inputs;  // inputs[l] = input of layer l (inputs[0] = x)
  std::vector<Matrix> pre;     // pre[l] = x_l W_lᵀ + b_l
  Matrix delta, delta_next;    // backward scratch
};

class Mlp {
 public:
  Mlp() = default;
  // sizes = {in, hidden..., out}; `hidden` after every layer but the last, `output` after the last.
  Mlp(std::vector<std::size_t> sizes, Activation hidden, Activation output);

  std::size_t num_params() const { return num_params_; }
  std::size_t in() const { return sizes_.front(); }
  std::size_t out() const { return sizes_.back(); }
  // He-uniform weights for ReLU layers, Glorot-uniform otherwise; zero biases.
  void init(double* params, Rng& rng) const;
  // y = f(x) for a batch x (n×in); y is n×out.
  void forward(const double* params, const Matrix& x, MlpWorkspace& ws, Matrix& y) const;
  // Given dy = ∂L/∂y for the last forward's batch, adds ∂L/∂params to grad and, if dx, writes ∂L/∂x.
  void backward(const double* params, const Matrix& dy, MlpWorkspace& ws, double* grad, Matrix* dx) const;

 private:
  std::vector<std::size_t> sizes_, offsets_;
  Activation hidden_ = Activation::relu, output_ = Activation::identity;
  std::size_t num_params_ = 0;
};

// C = A·Bᵀ (A: n×k, B: m×k, C: n×m) and C = Aᵀ·B etc. through gemm; the few products the module needs.
void matmul_abt(const Matrix& a, const Matrix& b, Matrix& c);  // C = A Bᵀ
void matmul_ab(const Matrix& a, const Matrix& b, Matrix& c);   // C = A B
void matmul_atb(const Matrix& a, const Matrix& b, Matrix& c);  // C = Aᵀ B

}  // namespace vibench
