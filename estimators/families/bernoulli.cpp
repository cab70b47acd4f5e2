// family `bernoulli`: factorized q_φ(b) = Π_i Bern(b_i; p_i), p_i = σ(η_i), φ = η (logits), b ∈ {0, 1}^D.
// log q = Σ b_i log p_i + (1 − b_i) log(1 − p_i);  ∂ log q/∂η_i = b_i − p_i.  Not reparameterizable; its
// relaxation is the binary concrete: with logistic noise L_i = log u_i − log(1 − u_i),
// b_i = 1[η_i + L_i > 0] and soft_i = σ((η_i + L_i)/λ), ∂soft_i/∂η_i = soft_i (1 − soft_i)/λ.
// REBAR's conditional relaxation (Tucker et al. 2017, Appendix): with p = σ(η) and v ~ U(0, 1), the uniform
// behind L given b is u' = (1 − p) + v·p (b = 1) or v·(1 − p) (b = 0); z̃ = η + logit(u'), and
// ∂z̃/∂η = 1 + p(1 − p)·(∂u'/∂p)/(u'(1 − u')) with ∂u'/∂p = v − 1 (b = 1) or −v (b = 0).
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "vibench/math/batch.hpp"
#include "vibench/math/scalar_functions.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/family.hpp"

namespace {

using namespace vibench;

double log_sigmoid(double x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }

class Bernoulli final : public Family {
  // Views of a bound member (layout in bind).
  auto prob(const Member& qphi) const { return block(qphi.values.data(), d_); }
  auto log_prob(const Member& qphi) const { return block(qphi.values.data() + d_, d_); }
  auto log_complement(const Member& qphi) const { return block(qphi.values.data() + 2 * d_, d_); }

 public:
  Bernoulli(const Params& p, const PluginContext& ctx) : d_(ctx.dim) {
    if (d_ == 0) throw ParamError(p.full_key("name"), "bernoulli needs the target's dimension");
  }

  std::size_t dim() const override { return d_; }
  std::size_t num_params() const override { return d_; }
  std::vector<std::string> param_names() const override {
    std::vector<std::string> n;
    for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("logit[{}]", i));
    return n;
  }
  bool discrete() const override { return true; }
  std::vector<double> init() const override { return std::vector<double>(d_, 0.0); }  // p = 1/2

  void sample(const Member& qphi, Rng& rng, std::size_t s, Matrix& eps, Matrix& z) const override {
    Matrix soft;
    relaxed_sample(qphi, rng, s, 1.0, eps, soft, z);
  }

  // Member layout: values = (p, log p, log(1 − p)) (3D), p = σ(η).
  void precompute(const double* phi, Member& qphi) const override {
    qphi.values.resize(3 * d_);
    for (std::size_t i = 0; i < d_; ++i) {
      qphi.values[i] = sigmoid(phi[i]);
      qphi.values[d_ + i] = log_sigmoid(phi[i]);
      qphi.values[2 * d_ + i] = log_sigmoid(-phi[i]);
    }
  }

  void log_q(const Member& qphi, const Matrix& z, double* out) const override {
    const auto log_p = log_prob(qphi), log_1mp = log_complement(qphi);
    for (std::size_t r = 0; r < z.rows(); ++r) out[r] = sum_in_order(xt::where(xt::not_equal(row_of(z, r), 0.0), log_p, log_1mp));
  }
  void score(const Member& qphi, const Matrix& z, Matrix& out) const override {
    out.resize(z.rows(), d_);
    const auto p = prob(qphi);
    for (std::size_t r = 0; r < z.rows(); ++r) xt::noalias(row_of(out, r)) = row_of(z, r) - p;
  }

  std::optional<Matrix> support() const override {
    if (d_ >= 13) return std::nullopt;  // 2^D > max_support_size
    const std::size_t n = std::size_t{1} << d_;
    Matrix all(n, d_);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t i = 0; i < d_; ++i) all(r, i) = static_cast<double>((r >> i) & 1U);
    return all;
  }

  Capabilities offers() const override {
    return Family::offers().with(Capability::relaxation).with(Capability::conditional_relaxation);
  }
  bool relaxed_sample(const Member& qphi, Rng& rng, std::size_t s, double temperature, Matrix& noise, Matrix& soft,
                      Matrix& hard) const override {
    const double* phi = qphi.phi;
    noise.resize(s, d_);
    soft.resize(s, d_);
    hard.resize(s, d_);
    rng.uniforms(noise.data(), s * d_);
    for (std::size_t r = 0; r < s; ++r)
      for (std::size_t i = 0; i < d_; ++i) {
        const double u = noise(r, i) > 0 ? noise(r, i) : 0x1p-53;  // U[0, 1) → (0, 1)
        const double l = std::log(u) - std::log1p(-u);               // logistic
        noise(r, i) = l;
        hard(r, i) = phi[i] + l > 0 ? 1.0 : 0.0;
        soft(r, i) = sigmoid((phi[i] + l) / temperature);
      }
    return true;
  }
  void relaxed_pullback(const Member& qphi, const Matrix& noise, double temperature, const Matrix& v,
                        Matrix& out) const override {
    const double* phi = qphi.phi;
    out.resize(v.rows(), d_);
    for (std::size_t r = 0; r < v.rows(); ++r)
      for (std::size_t i = 0; i < d_; ++i) {
        const double y = sigmoid((phi[i] + noise(r, i)) / temperature);
        out(r, i) = v(r, i) * y * (1 - y) / temperature;
      }
  }

  bool conditional_relaxation(const Member& qphi, const Matrix& noise, const Matrix& hard, const Matrix& v,
                              double temperature, Matrix& soft, Matrix& soft_tilde, Matrix& d_soft,
                              Matrix& d_soft_tilde) const override {
    const double* phi = qphi.phi;
    const std::size_t s = noise.rows();
    soft.resize(s, d_);
    soft_tilde.resize(s, d_);
    d_soft.resize(s, d_);
    d_soft_tilde.resize(s, d_);
    for (std::size_t r = 0; r < s; ++r)
      for (std::size_t i = 0; i < d_; ++i) {
        const double p = qphi.values[i], vi = std::max(v(r, i), 0x1p-53);
        const bool one = hard(r, i) != 0.0;
        const double u = one ? (1 - p) + vi * p : vi * (1 - p);
        const double du_dp = one ? vi - 1 : -vi;
        const double z_tilde = phi[i] + std::log(u) - std::log1p(-u);
        const double dz_tilde = 1 + p * (1 - p) * du_dp / (u * (1 - u));
        const double y = sigmoid((phi[i] + noise(r, i)) / temperature), yt = sigmoid(z_tilde / temperature);
        soft(r, i) = y;
        d_soft(r, i) = y * (1 - y) / temperature;
        soft_tilde(r, i) = yt;
        d_soft_tilde(r, i) = yt * (1 - yt) / temperature * dz_tilde;
      }
    return true;
  }

  // H = −Σ p log p + (1 − p) log(1 − p);  ∂H/∂η = −η·p(1 − p)
  std::optional<double> entropy(const double* phi) const override {
    double h = 0;
    for (std::size_t i = 0; i < d_; ++i) {
      const double p = sigmoid(phi[i]);
      h -= p * log_sigmoid(phi[i]) + (1 - p) * log_sigmoid(-phi[i]);
    }
    return h;
  }
  bool grad_entropy(const double* phi, double* out) const override {
    for (std::size_t i = 0; i < d_; ++i) {
      const double p = sigmoid(phi[i]);
      out[i] = -phi[i] * p * (1 - p);
    }
    return true;
  }

 private:
  std::size_t d_;
};

const Register<Family, Bernoulli> registration{{
    .name = "bernoulli",
    .description = "factorized Bernoulli with logits; discrete (score-function family), binary-concrete relaxation",
    .reference = "Williams 1992; relaxation: Maddison, Mnih, Teh 2017 and Jang, Gu, Poole 2017",
}};

}  // namespace
