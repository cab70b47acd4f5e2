#include "vibench/nn/nn.hpp"

#include <cmath>
#include <stdexcept>

#include "vibench/math/gemm.hpp"

namespace vibench {

std::vector<std::size_t> layer_sizes(std::size_t in, const std::vector<std::size_t>& hidden, std::size_t out) {
  std::vector<std::size_t> s{in};
  s.insert(s.end(), hidden.begin(), hidden.end());
  s.push_back(out);
  return s;
}

Activation parse_activation(const std::string& name) {
  if (name == "identity") return Activation::identity;
  if (name == "relu") return Activation::relu;
  if (name == "tanh") return Activation::tanh;
  if (name == "softplus") return Activation::softplus;
  throw std::invalid_argument("unknown activation '" + name + "' (identity, relu, tanh, softplus)");
}

namespace {

void apply(Activation a, const Matrix& pre, Matrix& out) {
  out.resize(pre.rows(), pre.cols());
  const std::size_t n = pre.rows() * pre.cols();
  const double* p = pre.data();
  double* o = out.data();
  switch (a) {
    case Activation::identity:
      for (std::size_t i = 0; i < n; ++i) o[i] = p[i];
      break;
    case Activation::relu:
      for (std::size_t i = 0; i < n; ++i) o[i] = p[i] > 0 ? p[i] : 0.0;
      break;
    case Activation::tanh:
      for (std::size_t i = 0; i < n; ++i) o[i] = std::tanh(p[i]);
      break;
    case Activation::softplus:
      for (std::size_t i = 0; i < n; ++i) o[i] = p[i] > 0 ? p[i] + std::log1p(std::exp(-p[i])) : std::log1p(std::exp(p[i]));
      break;
  }
}

// delta ⊙= act'(pre).
void multiply_derivative(Activation a, const Matrix& pre, Matrix& delta) {
  const std::size_t n = pre.rows() * pre.cols();
  const double* p = pre.data();
  double* d = delta.data();
  switch (a) {
    case Activation::identity:
      break;
    case Activation::relu:
      for (std::size_t i = 0; i < n; ++i) d[i] = p[i] > 0 ? d[i] : 0.0;
      break;
    case Activation::tanh:
      for (std::size_t i = 0; i < n; ++i) {
        const double t = std::tanh(p[i]);
        d[i] *= 1 - t * t;
      }
      break;
    case Activation::softplus:
      for (std::size_t i = 0; i < n; ++i) d[i] *= p[i] >= 0 ? 1 / (1 + std::exp(-p[i])) : std::exp(p[i]) / (1 + std::exp(p[i]));
      break;
  }
}

}  // namespace

Mlp::Mlp(std::vector<std::size_t> sizes, Activation hidden, Activation output)
    : sizes_(std::move(sizes)), hidden_(hidden), output_(output) {
  if (sizes_.size() < 2) throw std::invalid_argument("an MLP needs an input and an output size");
  for (std::size_t l = 0; l + 1 < sizes_.size(); ++l) {
    offsets_.push_back(num_params_);
    num_params_ += sizes_[l + 1] * sizes_[l] + sizes_[l + 1];
  }
}

void Mlp::init(double* params, Rng& rng) const {
  for (std::size_t l = 0; l + 1 < sizes_.size(); ++l) {
    const std::size_t in = sizes_[l], out = sizes_[l + 1];
    const Activation act = l + 2 == sizes_.size() ? output_ : hidden_;
    // He (Kaiming) uniform for ReLU: U(±√(6/in)); Glorot uniform otherwise: U(±√(6/(in + out))).
    const double limit = act == Activation::relu ? std::sqrt(6.0 / static_cast<double>(in))
                                                 : std::sqrt(6.0 / static_cast<double>(in + out));
    double* w = params + offsets_[l];
    rng.uniforms(w, out * in);
    for (std::size_t i = 0; i < out * in; ++i) w[i] = limit * (2 * w[i] - 1);
    for (std::size_t i = 0; i < out; ++i) w[out * in + i] = 0.0;
  }
}

void Mlp::forward(const double* params, const Matrix& x, MlpWorkspace& ws, Matrix& y) const {
  const std::size_t layers = sizes_.size() - 1, n = x.rows();
  ws.inputs.resize(layers);
  ws.pre.resize(layers);
  ws.inputs[0] = x;
  for (std::size_t l = 0; l < layers; ++l) {
    const std::size_t in = sizes_[l], out = sizes_[l + 1];
    const double* w = params + offsets_[l];
    const double* b = w + out * in;
    Matrix& pre = ws.pre[l];
    pre.resize(n, out);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < out; ++j) pre(i, j) = b[j];
    // pre += x_l Wᵀ
    gemm({n, out, in, false, true, true}, ws.inputs[l].data(), in, w, in, pre.data(), out);
    apply(l + 1 == layers ? output_ : hidden_, pre, l + 1 == layers ? y : ws.inputs[l + 1]);
  }
}

void Mlp::backward(const double* params, const Matrix& dy, MlpWorkspace& ws, double* grad, Matrix* dx) const {
  const std::size_t layers = sizes_.size() - 1, n = dy.rows();
  ws.delta = dy;
  for (std::size_t l = layers; l-- > 0;) {
    const std::size_t in = sizes_[l], out = sizes_[l + 1];
    multiply_derivative(l + 1 == layers ? output_ : hidden_, ws.pre[l], ws.delta);  // δ = ∂L/∂pre_l
    const double* w = params + offsets_[l];
    double* gw = grad + offsets_[l];
    double* gb = gw + out * in;
    // ∂L/∂W += δᵀ x_l;  ∂L/∂b += Σ_rows δ
    gemm({out, in, n, true, false, true}, ws.delta.data(), out, ws.inputs[l].data(), in, gw, in);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < out; ++j) gb[j] += ws.delta(i, j);
    if (l == 0 && !dx) break;
    // ∂L/∂x_l = δ W
    Matrix& next = l == 0 ? *dx : ws.delta_next;
    next.resize(n, in);
    gemm({n, in, out}, ws.delta.data(), out, w, in, next.data(), in);
    if (l > 0) std::swap(ws.delta, ws.delta_next);
  }
}

void matmul_abt(const Matrix& a, const Matrix& b, Matrix& c) {
  c.resize(a.rows(), b.rows());
  gemm({a.rows(), b.rows(), a.cols(), false, true}, a.data(), a.cols(), b.data(), b.cols(), c.data(), c.cols());
}
void matmul_ab(const Matrix& a, const Matrix& b, Matrix& c) {
  c.resize(a.rows(), b.cols());
  gemm({a.rows(), b.cols(), a.cols()}, a.data(), a.cols(), b.data(), b.cols(), c.data(), c.cols());
}
void matmul_atb(const Matrix& a, const Matrix& b, Matrix& c) {
  c.resize(a.cols(), b.cols());
  gemm({a.cols(), b.cols(), a.rows(), true}, a.data(), a.cols(), b.data(), b.cols(), c.data(), c.cols());
}

}  // namespace vibench
