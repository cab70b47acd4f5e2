// family `categorical`: V = D/C independent categorical variables with C categories each, z one-hot per
// variable (z ∈ {0,1}^D, D = V·C), π_v = softmax(φ_v), φ = logits (V×C, row-major).
// log q = Σ_v log π_{v,c_v};  ∂ log q/∂φ_{v,j} = z_{v,j} − π_{v,j}.  Not reparameterizable; its relaxation is
// Gumbel-softmax: g ~ Gumbel(0, 1), hard = onehot(argmax(φ_v + g_v)), soft = softmax((φ_v + g_v)/λ),
// (∂soft/∂φ_v)ᵀ v = soft ⊙ (v − ⟨soft, v⟩)/λ.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "vibench/math/batch.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/family.hpp"

namespace {

using namespace vibench;

class Categorical final : public Family {
 public:
  Categorical(const Params& p, const PluginContext& ctx)
      : d_(ctx.dim), c_(static_cast<std::size_t>(p.get_int("categories"))) {
    if (d_ == 0) throw ParamError(p.full_key("name"), "categorical needs the target's dimension");
    if (d_ % c_ != 0)
      throw Unsupported(fmt::format("categorical with {} categories needs a target dimension divisible by {} (one-hot "
                                    "blocks); the target has {}", c_, c_, d_));
    v_ = d_ / c_;
  }

  std::size_t dim() const override { return d_; }
  std::size_t num_params() const override { return d_; }
  std::vector<std::string> param_names() const override {
    std::vector<std::string> n;
    for (std::size_t v = 0; v < v_; ++v)
      for (std::size_t j = 0; j < c_; ++j) n.push_back(fmt::format("logit[{},{}]", v, j));
    return n;
  }
  bool discrete() const override { return true; }
  std::vector<double> init() const override { return std::vector<double>(d_, 0.0); }  // uniform

  void sample(const Member& qphi, Rng& rng, std::size_t s, Matrix& eps, Matrix& z) const override {
    Matrix soft;
    relaxed_sample(qphi, rng, s, 1.0, eps, soft, z);
  }

  // Member layout: values = (π, log π) (2D), each block v's softmax of its logits.
  void precompute(const double* phi, Member& qphi) const override {
    qphi.values.resize(2 * d_);
    for (std::size_t v = 0; v < v_; ++v) {
      const double* logit = phi + v * c_;
      const double lse = log_sum_exp(logit);
      probabilities(logit, qphi.values.data() + v * c_);
      for (std::size_t j = 0; j < c_; ++j) qphi.values[d_ + v * c_ + j] = logit[j] - lse;
    }
  }

  void log_q(const Member& qphi, const Matrix& z, double* out) const override {
    const auto log_pi = block(qphi.values.data() + d_, d_);
    for (std::size_t r = 0; r < z.rows(); ++r) out[r] = sum_in_order(row_of(z, r) * log_pi);
  }
  void score(const Member& qphi, const Matrix& z, Matrix& out) const override {
    out.resize(z.rows(), d_);
    const auto pi = block(qphi.values.data(), d_);
    for (std::size_t r = 0; r < z.rows(); ++r) xt::noalias(row_of(out, r)) = row_of(z, r) - pi;
  }

  std::optional<Matrix> support() const override {
    std::size_t n = 1;
    for (std::size_t v = 0; v < v_; ++v)
      if ((n *= c_) > max_support_size) return std::nullopt;
    Matrix all(n, d_);
    for (std::size_t r = 0; r < n; ++r) {
      std::size_t code = r;
      for (std::size_t v = 0; v < v_; ++v, code /= c_) all(r, v * c_ + code % c_) = 1.0;
    }
    return all;
  }

  Capabilities offers() const override { return Family::offers().with(Capability::relaxation); }
  bool relaxed_sample(const Member& qphi, Rng& rng, std::size_t s, double temperature, Matrix& noise, Matrix& soft,
                      Matrix& hard) const override {
    const double* phi = qphi.phi;
    noise.resize(s, d_);
    soft.resize(s, d_);
    hard.resize(s, d_);
    rng.uniforms(noise.data(), s * d_);
    for (std::size_t r = 0; r < s; ++r) {
      for (std::size_t i = 0; i < d_; ++i) {
        const double u = noise(r, i) > 0 ? noise(r, i) : 0x1p-53;
        noise(r, i) = -std::log(-std::log(u));  // Gumbel(0, 1)
      }
      for (std::size_t v = 0; v < v_; ++v) relax_block(phi + v * c_, noise.row(r) + v * c_, temperature,
                                                        soft.row(r) + v * c_, hard.row(r) + v * c_);
    }
    return true;
  }
  void relaxed_pullback(const Member& qphi, const Matrix& noise, double temperature, const Matrix& v,
                        Matrix& out) const override {
    const double* phi = qphi.phi;
    out.resize(v.rows(), d_);
    std::vector<double> soft(c_), hard(c_);
    for (std::size_t r = 0; r < v.rows(); ++r)
      for (std::size_t b = 0; b < v_; ++b) {
        relax_block(phi + b * c_, noise.row(r) + b * c_, temperature, soft.data(), hard.data());
        double dot = 0;
        for (std::size_t j = 0; j < c_; ++j) dot += soft[j] * v(r, b * c_ + j);
        for (std::size_t j = 0; j < c_; ++j) out(r, b * c_ + j) = soft[j] * (v(r, b * c_ + j) - dot) / temperature;
      }
  }

  // H = −Σ_v Σ_j π_j log π_j;  ∂H/∂φ_j = −π_j (log π_j − Σ_k π_k log π_k)
  std::optional<double> entropy(const double* phi) const override {
    double h = 0;
    std::vector<double> pi(c_);
    for (std::size_t v = 0; v < v_; ++v) {
      probabilities(phi + v * c_, pi.data());
      const double lse = log_sum_exp(phi + v * c_);
      for (std::size_t j = 0; j < c_; ++j) h -= pi[j] * (phi[v * c_ + j] - lse);
    }
    return h;
  }
  bool grad_entropy(const double* phi, double* out) const override {
    std::vector<double> pi(c_);
    for (std::size_t v = 0; v < v_; ++v) {
      probabilities(phi + v * c_, pi.data());
      const double lse = log_sum_exp(phi + v * c_);
      double mean_log = 0;
      for (std::size_t j = 0; j < c_; ++j) mean_log += pi[j] * (phi[v * c_ + j] - lse);
      for (std::size_t j = 0; j < c_; ++j) out[v * c_ + j] = -pi[j] * ((phi[v * c_ + j] - lse) - mean_log);
    }
    return true;
  }

 private:
  double log_sum_exp(const double* x) const {
    const double m = *std::max_element(x, x + c_);
    double s = 0;
    for (std::size_t j = 0; j < c_; ++j) s += std::exp(x[j] - m);
    return m + std::log(s);
  }
  void probabilities(const double* logit, double* pi) const {
    const double lse = log_sum_exp(logit);
    for (std::size_t j = 0; j < c_; ++j) pi[j] = std::exp(logit[j] - lse);
  }
  void relax_block(const double* logit, const double* gumbel, double temperature, double* soft, double* hard) const {
    std::size_t best = 0;
    double m = -INFINITY;
    for (std::size_t j = 0; j < c_; ++j) {
      const double a = logit[j] + gumbel[j];
      if (a > logit[best] + gumbel[best]) best = j;
      m = std::max(m, a / temperature);
    }
    double sum = 0;
    for (std::size_t j = 0; j < c_; ++j) sum += (soft[j] = std::exp((logit[j] + gumbel[j]) / temperature - m));
    for (std::size_t j = 0; j < c_; ++j) {
      soft[j] /= sum;
      hard[j] = j == best ? 1.0 : 0.0;
    }
  }

  std::size_t d_, c_, v_ = 0;
};

const Register<Family, Categorical> registration{{
    .name = "categorical",
    .description = "factorized categorical over one-hot blocks of C categories; discrete, Gumbel-softmax relaxation",
    .reference = "Jang, Gu, Poole 2017; Maddison, Mnih, Teh 2017",
    .params = {ParamSpec::integer("categories", 3, "categories C per variable (the target's dimension is V·C)").at_least(2)},
}};

}  // namespace
