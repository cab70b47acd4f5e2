// family `flow_affine_coupling`: a normalizing flow of `layers` affine coupling layers (Dinh, Sohl-Dickstein,
// Bengio 2017, RealNVP) on a diagonal Gaussian base. z = f_L ∘ … ∘ f_1(x₀), x₀ = μ + σ ⊙ ε, ε ~ N(0, I).
// Layer l keeps the coordinates A_l = {i : (i + l) even} and moves B_l (the rest):
//   a = x[A],  s = tanh(W_s a + b_s),  t = W_t a + b_t,  y[A] = a,  y[B] = x[B] ⊙ e^s + t,  log|det| = Σ s,
// inverted exactly by x[B] = (y[B] − t) ⊙ e^{−s}. So log q(z) = log N(ε; 0, I) − Σ log σ − Σ_l Σ s_l, with ε
// from the inverse pass. The score and ∇_z log q are reverse-mode through the inverse pass, the reparam
// pullback reverse-mode through the forward pass (derivations in the comments of the two passes).
// φ = (μ, log σ, then per layer W_s (|B|×|A|), b_s, W_t (|B|×|A|), b_t). D ≥ 2.
#include <cmath>

#include <fmt/format.h>

#include "vibench/plugin/registry.hpp"
#include "vibench/vi/family.hpp"
#include "vibench/vi/flow_base.hpp"

namespace {

using namespace vibench;

class FlowAffineCoupling final : public ReparameterizedFamily {
 public:
  FlowAffineCoupling(const Params& p, const PluginContext& ctx)
      : d_(ctx.dim), layers_(static_cast<std::size_t>(p.get_int("layers"))) {
    if (d_ < 2) throw Unsupported("flow_affine_coupling needs a target of dimension >= 2 (coupling splits z)");
    std::size_t offset = 2 * d_;
    for (std::size_t l = 0; l < layers_; ++l) {
      Layer L;
      for (std::size_t i = 0; i < d_; ++i) ((i + l) % 2 == 0 ? L.a : L.b).push_back(i);
      L.ws = offset;
      L.bs = L.ws + L.b.size() * L.a.size();
      L.wt = L.bs + L.b.size();
      L.bt = L.wt + L.b.size() * L.a.size();
      offset = L.bt + L.b.size();
      layer_.push_back(L);
    }
    p_ = offset;
  }

  std::size_t dim() const override { return d_; }
  std::size_t num_params() const override { return p_; }
  std::vector<std::string> param_names() const override {
    std::vector<std::string> n;
    for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("mean[{}]", i));
    for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("log_sigma[{}]", i));
    for (std::size_t l = 0; l < layers_; ++l) {
      const Layer& L = layer_[l];
      for (const char* w : {"Ws", "bs", "Wt", "bt"}) {
        const bool matrix = w[0] == 'W';
        for (std::size_t j = 0; j < L.b.size(); ++j)
          if (matrix)
            for (std::size_t k = 0; k < L.a.size(); ++k) n.push_back(fmt::format("layer{}.{}[{},{}]", l, w, L.b[j], L.a[k]));
          else
            n.push_back(fmt::format("layer{}.{}[{}]", l, w, L.b[j]));
      }
    }
    return n;
  }
  std::vector<double> init() const override { return std::vector<double>(p_, 0.0); }  // identity flow on N(0, I)

  BaseNoise base_noise() const override { return {BaseNoise::Law::standard_normal, d_}; }
  void transform(const Member& qphi, const Matrix& eps, Matrix& z) const override {
    const double* phi = qphi.phi;
    flow_base::transform(phi, d_, eps, z,
                         [this](const double* p, const double* e, std::vector<std::vector<double>>& xs) { forward(p, e, xs); });
  }

  // Per-sample scratch in thread_local buffers that keep their capacity (allocations per sample and layer
  // were measured as a fifth of a flow cell's time in antithetic_variance).
  void log_q(const Member& qphi, const Matrix& z, double* out) const override {
    const double* phi = qphi.phi;
    thread_local std::vector<std::vector<double>> xs;
    for (std::size_t r = 0; r < z.rows(); ++r) out[r] = inverse(phi, z.row(r), xs);
  }

  void score(const Member& qphi, const Matrix& z, Matrix& out) const override {
    const double* phi = qphi.phi;
    out.resize(z.rows(), p_);
    thread_local std::vector<double> gz;
    gz.resize(d_);
    for (std::size_t r = 0; r < z.rows(); ++r) backprop_log_q(phi, z.row(r), out.row(r), gz.data());
  }
  void grad_z_log_q(const Member& qphi, const Matrix& z, Matrix& out) const override {
    const double* phi = qphi.phi;
    out.resize(z.rows(), d_);
    thread_local std::vector<double> gp;
    gp.resize(p_);
    for (std::size_t r = 0; r < z.rows(); ++r) backprop_log_q(phi, z.row(r), gp.data(), out.row(r));
  }

  // Reverse mode through the forward pass, adjoint g of x_l starting from v:
  //   g[B]_{l−1} = g[B] ⊙ e^s;  ∂t = g[B];  ∂s = g[B] ⊙ x_{l−1}[B] ⊙ e^s;  ∂h = ∂s ⊙ (1 − s²)
  //   ∂W_t = ∂t aᵀ, ∂b_t = ∂t, ∂W_s = ∂h aᵀ, ∂b_s = ∂h;  g[A]_{l−1} = g[A] + W_tᵀ∂t + W_sᵀ∂h
  // and at the base x₀ = μ + σε: ∂μ = g, ∂log σ = g ⊙ σ ⊙ ε.
  void pullback(const Member& qphi, const Matrix& eps, const Matrix& v, Matrix& out) const override {
    const double* phi = qphi.phi;
    out.resize(v.rows(), p_);
    thread_local std::vector<std::vector<double>> xs;
    thread_local std::vector<double> g, gt, gh;
    thread_local Coupling c;
    g.resize(d_);
    for (std::size_t r = 0; r < v.rows(); ++r) {
      double* o = out.row(r);
      std::fill(o, o + p_, 0.0);
      forward(phi, eps.row(r), xs);
      std::copy(v.row(r), v.row(r) + d_, g.begin());
      for (std::size_t l = layers_; l-- > 0;) {
        const Layer& L = layer_[l];
        const std::vector<double>& x = xs[l];  // input of layer l
        coupling(phi, L, x.data(), c);
        gt.resize(L.b.size());  // every entry written below
        gh.resize(L.b.size());
        for (std::size_t j = 0; j < L.b.size(); ++j) {
          const double e = std::exp(c.s[j]), gy = g[L.b[j]];
          gt[j] = gy;
          gh[j] = gy * x[L.b[j]] * e * (1 - c.s[j] * c.s[j]);
          g[L.b[j]] = gy * e;
        }
        accumulate_layer(phi, L, x.data(), gt, gh, o, g.data());
      }
      flow_base::pullback(phi, d_, eps.row(r), g.data(), o);
    }
  }

  // Only the identity flow on a diagonal Gaussian is built from moments.
  std::optional<std::vector<double>> from_gaussian(const std::vector<double>& mean, const Matrix& cov,
                                                   std::string* why) const override {
    std::vector<double> phi(p_, 0.0);
    for (std::size_t i = 0; i < d_; ++i) {
      for (std::size_t k = 0; k < d_; ++k)
        if (i != k && cov(i, k) != 0.0) {
          if (why) *why = "flow_affine_coupling builds members from diagonal Gaussians only (identity couplings)";
          return std::nullopt;
        }
      phi[i] = mean[i];
      phi[d_ + i] = 0.5 * std::log(cov(i, i));
    }
    return phi;
  }

 private:
  struct Layer {
    std::vector<std::size_t> a, b;  // kept and moved coordinates
    std::size_t ws = 0, bs = 0, wt = 0, bt = 0;  // parameter offsets
  };
  struct Coupling {
    std::vector<double> s, t;
  };

  // Fills c (every entry): per-sample scratch keeps its capacity, as in flow_planar.
  void coupling(const double* phi, const Layer& L, const double* x, Coupling& c) const {
    c.s.resize(L.b.size());
    c.t.resize(L.b.size());
    for (std::size_t j = 0; j < L.b.size(); ++j) {
      double h = phi[L.bs + j], t = phi[L.bt + j];
      for (std::size_t k = 0; k < L.a.size(); ++k) {
        h += phi[L.ws + j * L.a.size() + k] * x[L.a[k]];
        t += phi[L.wt + j * L.a.size() + k] * x[L.a[k]];
      }
      c.s[j] = std::tanh(h);
      c.t[j] = t;
    }
  }

  // xs as layers_ + 1 vectors of D, keeping the capacity they have.
  void shape(std::vector<std::vector<double>>& xs) const {
    xs.resize(layers_ + 1);
    for (auto& x : xs) x.resize(d_);
  }

  // Parameter gradients of a layer from ∂t, ∂h, and the A-part of the input adjoint g (updated in place).
  void accumulate_layer(const double* phi, const Layer& L, const double* x, const std::vector<double>& gt,
                        const std::vector<double>& gh, double* o, double* g) const {
    for (std::size_t j = 0; j < L.b.size(); ++j) {
      o[L.bt + j] += gt[j];
      o[L.bs + j] += gh[j];
      for (std::size_t k = 0; k < L.a.size(); ++k) {
        const double a = x[L.a[k]];
        o[L.wt + j * L.a.size() + k] += gt[j] * a;
        o[L.ws + j * L.a.size() + k] += gh[j] * a;
        g[L.a[k]] += phi[L.wt + j * L.a.size() + k] * gt[j] + phi[L.ws + j * L.a.size() + k] * gh[j];
      }
    }
  }

  // xs[0] = x₀ = μ + σε, xs[l + 1] = f_l(xs[l]).
  void forward(const double* phi, const double* eps, std::vector<std::vector<double>>& xs) const {
    thread_local Coupling c;
    shape(xs);  // every entry is written below
    flow_base::forward(phi, d_, eps, xs[0].data());
    for (std::size_t l = 0; l < layers_; ++l) {
      const Layer& L = layer_[l];
      xs[l + 1] = xs[l];
      coupling(phi, L, xs[l].data(), c);
      for (std::size_t j = 0; j < L.b.size(); ++j) xs[l + 1][L.b[j]] = xs[l][L.b[j]] * std::exp(c.s[j]) + c.t[j];
    }
  }

  // Inverse pass from z: xs[L] = z, xs[l] = f_l⁻¹(xs[l + 1]); returns log q(z).
  double inverse(const double* phi, const double* z, std::vector<std::vector<double>>& xs) const {
    thread_local Coupling c;
    shape(xs);  // every entry is written below
    std::copy(z, z + d_, xs[layers_].begin());
    double log_det = 0;
    for (std::size_t l = layers_; l-- > 0;) {
      const Layer& L = layer_[l];
      xs[l] = xs[l + 1];
      coupling(phi, L, xs[l + 1].data(), c);  // a is shared by input and output
      for (std::size_t j = 0; j < L.b.size(); ++j) {
        xs[l][L.b[j]] = (xs[l + 1][L.b[j]] - c.t[j]) * std::exp(-c.s[j]);
        log_det += c.s[j];
      }
    }
    return flow_base::log_density(phi, d_, xs[0].data()) - log_det;
  }

  // Reverse mode through the inverse pass. At the base, F = −½‖ε‖² − Σ log σ − …: ∂μ = ε/σ,
  // ∂log σ = ε² − 1, adjoint of x₀ = −ε/σ. Then for l = 1..L, with x_{l−1}[B] = (y[B] − t) e^{−s}, y = x_l:
  //   g[B]_l = g[B] ⊙ e^{−s};  ∂t = −g[B] ⊙ e^{−s};  ∂s = −g[B] ⊙ x_{l−1}[B] − 1 (the −Σs term);
  //   ∂h = ∂s ⊙ (1 − s²); parameters and g[A]_l as in the forward pullback. The final adjoint is ∇_z log q.
  void backprop_log_q(const double* phi, const double* z, double* grad_phi, double* grad_z) const {
    thread_local std::vector<std::vector<double>> xs;
    thread_local std::vector<double> g, gt, gh;
    thread_local Coupling c;
    inverse(phi, z, xs);
    std::fill(grad_phi, grad_phi + p_, 0.0);
    g.resize(d_);  // written whole by log_density_gradient
    flow_base::log_density_gradient(phi, d_, xs[0].data(), grad_phi, g.data());
    for (std::size_t l = 0; l < layers_; ++l) {
      const Layer& L = layer_[l];
      const std::vector<double>& y = xs[l + 1];
      coupling(phi, L, y.data(), c);
      gt.resize(L.b.size());  // every entry written below
      gh.resize(L.b.size());
      for (std::size_t j = 0; j < L.b.size(); ++j) {
        const double e = std::exp(-c.s[j]), gx = g[L.b[j]];
        gt[j] = -gx * e;
        gh[j] = (-gx * xs[l][L.b[j]] - 1) * (1 - c.s[j] * c.s[j]);
        g[L.b[j]] = gx * e;
      }
      accumulate_layer(phi, L, y.data(), gt, gh, grad_phi, g.data());
    }
    std::copy(g.begin(), g.end(), grad_z);
  }

  std::size_t d_, layers_, p_ = 0;
  std::vector<Layer> layer_;
};

const Register<Family, FlowAffineCoupling> registration{{
    .name = "flow_affine_coupling",
    .description = "normalizing flow: affine coupling layers (tanh scale, linear shift) on a diagonal Gaussian base",
    .reference = "Dinh, Sohl-Dickstein, Bengio 2017, Density estimation using Real NVP, ICLR",
    .params = {ParamSpec::integer("layers", 2, "coupling layers (alternating halves)").at_least(1)},
}};

}  // namespace
