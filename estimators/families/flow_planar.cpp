// family `flow_planar`: a normalizing flow of `layers` planar maps (Rezende & Mohamed 2015, §4.1) on a
// diagonal Gaussian base: x₀ = μ + σ ⊙ ε, x_l = x_{l−1} + û_l tanh(w_lᵀx_{l−1} + b_l), z = x_L, with
// û = u + (m(wᵀu) − wᵀu) w/‖w‖², m(c) = −1 + softplus(c), so κ = wᵀû = m(wᵀu) > −1 and every map is
// invertible (their Appendix A). log q(z) = log N(ε; 0, I) − Σ log σ − Σ_l log(1 + κ_l sech²(a_l)), a = wᵀx + b.
// log q at an arbitrary z needs the inverse: per layer the scalar α = wᵀx_{l−1} solves α + κ tanh(α + b) = wᵀy
// (strictly increasing in α: 1 + κ sech² > 0), found by safeguarded Newton; then x_{l−1} = y − û tanh(α + b).
// Score and ∇_z log q: reverse mode through that inverse, differentiating α implicitly:
//   dα = (wᵀdy + yᵀdw − tanh(a) dκ − κ sech²(a) db)/(1 + κ sech²(a)).
// φ = (μ, log σ, then per layer u (D), w (D), b).
#include <cmath>

#include <fmt/format.h>

#include "vibench/math/scalar_functions.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/family.hpp"
#include "vibench/vi/flow_base.hpp"

namespace {

using namespace vibench;


class FlowPlanar final : public ReparameterizedFamily {
 public:
  FlowPlanar(const Params& p, const PluginContext& ctx) : d_(ctx.dim), layers_(static_cast<std::size_t>(p.get_int("layers"))) {
    if (d_ == 0) throw ParamError(p.full_key("name"), "flow_planar needs the target's dimension");
  }

  std::size_t dim() const override { return d_; }
  std::size_t num_params() const override { return 2 * d_ + layers_ * (2 * d_ + 1); }
  std::vector<std::string> param_names() const override {
    std::vector<std::string> n;
    for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("mean[{}]", i));
    for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("log_sigma[{}]", i));
    for (std::size_t l = 0; l < layers_; ++l) {
      for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("layer{}.u[{}]", l, i));
      for (std::size_t i = 0; i < d_; ++i) n.push_back(fmt::format("layer{}.w[{}]", l, i));
      n.push_back(fmt::format("layer{}.b", l));
    }
    return n;
  }
  // N(0, I) base; u = 0 and w along one axis per layer (w = 0 would leave û undefined).
  std::vector<double> init() const override {
    std::vector<double> phi(num_params(), 0.0);
    for (std::size_t l = 0; l < layers_; ++l) phi[w_index(l) + l % d_] = 0.5;
    return phi;
  }

  // Member layout: per layer l, values[l·(D + 3) ...] = (û (D), κ, c, ‖w‖²), so the batch methods do not
  // rebuild û for every sample.
  void precompute(const double* phi, Member& qphi) const override {
    qphi.values.assign(layers_ * (d_ + 3), 0.0);
    for (std::size_t l = 0; l < layers_; ++l) {
      double* u_hat = qphi.values.data() + l * (d_ + 3);
      const double *u = phi + u_index(l), *w = phi + w_index(l);
      double c = 0, w2 = 0;
      for (std::size_t i = 0; i < d_; ++i) {
        c += w[i] * u[i];
        w2 += w[i] * w[i];
      }
      const double kappa = -1 + softplus(c), r = (kappa - c) / w2;
      for (std::size_t i = 0; i < d_; ++i) u_hat[i] = u[i] + r * w[i];
      u_hat[d_] = kappa;
      u_hat[d_ + 1] = c;
      u_hat[d_ + 2] = w2;
    }
  }

  BaseNoise base_noise() const override { return {BaseNoise::Law::standard_normal, d_}; }
  void transform(const Member& qphi, const Matrix& eps, Matrix& z) const override {
    const double* phi = qphi.phi;
    flow_base::transform(phi, d_, eps, z,
                         [this, &qphi](const double*, const double* e, std::vector<std::vector<double>>& xs) { forward(qphi, e, xs); });
  }

  // Per-sample scratch lives in thread_local buffers that keep their capacity: allocating the layer vectors
  // anew for every sample was a fifth of a flow cell's time (perf of antithetic_variance).
  void log_q(const Member& qphi, const Matrix& z, double* out) const override {
    thread_local std::vector<std::vector<double>> xs;
    thread_local std::vector<double> alpha;
    for (std::size_t r = 0; r < z.rows(); ++r) out[r] = inverse(qphi, z.row(r), xs, alpha);
  }
  void score(const Member& qphi, const Matrix& z, Matrix& out) const override {
    out.resize(z.rows(), num_params());
    thread_local std::vector<double> gz;
    gz.resize(d_);
    for (std::size_t r = 0; r < z.rows(); ++r) backprop_log_q(qphi, z.row(r), out.row(r), gz.data());
  }
  void grad_z_log_q(const Member& qphi, const Matrix& z, Matrix& out) const override {
    out.resize(z.rows(), d_);
    thread_local std::vector<double> gp;
    gp.resize(num_params());
    for (std::size_t r = 0; r < z.rows(); ++r) backprop_log_q(qphi, z.row(r), gp.data(), out.row(r));
  }

  // Forward reverse mode: with g the adjoint of x_l and T = tanh(a), S = sech²(a):
  //   g_{x_{l−1}} = g + (gᵀû) S w;  ∂û = g T;  ∂b = (gᵀû) S;  ∂w = (gᵀû) S x_{l−1} (+ through û).
  void pullback(const Member& qphi, const Matrix& eps, const Matrix& v, Matrix& out) const override {
    const double* phi = qphi.phi;
    out.resize(v.rows(), num_params());
    thread_local std::vector<std::vector<double>> xs;
    thread_local std::vector<double> g, gu;
    g.resize(d_);
    gu.resize(d_);
    for (std::size_t r = 0; r < v.rows(); ++r) {
      double* o = out.row(r);
      std::fill(o, o + num_params(), 0.0);
      forward(qphi, eps.row(r), xs);
      std::copy(v.row(r), v.row(r) + d_, g.begin());
      for (std::size_t l = layers_; l-- > 0;) {
        const Layer L = layer(qphi, l);
        const std::vector<double>& x = xs[l];
        double a = L.b;
        for (std::size_t i = 0; i < d_; ++i) a += L.w[i] * x[i];
        const double t = std::tanh(a), s = 1 - t * t;
        double gdu = 0;
        for (std::size_t i = 0; i < d_; ++i) gdu += g[i] * L.u_hat[i];
        for (std::size_t i = 0; i < d_; ++i) {
          gu[i] = g[i] * t;
          o[w_index(l) + i] += gdu * s * x[i];
        }
        o[b_index(l)] += gdu * s;
        for (std::size_t i = 0; i < d_; ++i) g[i] += gdu * s * L.w[i];
        through_u_hat(phi, l, L, gu, 0.0, o);
      }
      flow_base::pullback(phi, d_, eps.row(r), g.data(), o);
    }
  }

  std::optional<std::vector<double>> from_gaussian(const std::vector<double>&, const Matrix&, std::string* why) const override {
    if (why) *why = "flow_planar has no member equal to a Gaussian (the constrained maps are never the identity)";
    return std::nullopt;
  }

 private:
  // Layer l of a bound member: û and (κ, c, ‖w‖²) from its values (precompute), w and b from φ.
  struct Layer {
    const double *u_hat, *w;
    double b, kappa, c, w2;  // κ = wᵀû = m(c), c = wᵀu, w2 = ‖w‖²
  };
  std::size_t u_index(std::size_t l) const { return 2 * d_ + l * (2 * d_ + 1); }
  std::size_t w_index(std::size_t l) const { return u_index(l) + d_; }
  std::size_t b_index(std::size_t l) const { return u_index(l) + 2 * d_; }

  Layer layer(const Member& qphi, std::size_t l) const {
    const double* v = qphi.values.data() + l * (d_ + 3);
    return Layer{v, qphi.phi + w_index(l), qphi.phi[b_index(l)], v[d_], v[d_ + 1], v[d_ + 2]};
  }

  // Chain rule from (∂û, ∂κ) to the raw (u, w): with c = wᵀu, r = m(c) − c, q = wᵀ∂û, m' = σ(c):
  //   ∂u = ∂û + [(m' − 1) q/‖w‖² + ∂κ m'] w;   ∂w += [(m' − 1) q/‖w‖² + ∂κ m'] u + r (∂û/‖w‖² − 2 w q/‖w‖⁴)
  void through_u_hat(const double* phi, std::size_t l, const Layer& L, const std::vector<double>& g_uhat, double g_kappa,
                     double* o) const {
    const double mp = sigmoid(L.c), r = L.kappa - L.c;
    double q = 0;
    for (std::size_t i = 0; i < d_; ++i) q += L.w[i] * g_uhat[i];
    const double coef = (mp - 1) * q / L.w2 + g_kappa * mp;
    for (std::size_t i = 0; i < d_; ++i) {
      o[u_index(l) + i] += g_uhat[i] + coef * L.w[i];
      o[w_index(l) + i] += coef * phi[u_index(l) + i] + r * (g_uhat[i] / L.w2 - 2 * L.w[i] * q / (L.w2 * L.w2));
    }
  }

  // xs as layers_ + 1 vectors of D, keeping the capacity they have.
  void shape(std::vector<std::vector<double>>& xs) const {
    xs.resize(layers_ + 1);
    for (auto& x : xs) x.resize(d_);
  }

  void forward(const Member& qphi, const double* eps, std::vector<std::vector<double>>& xs) const {
    const double* phi = qphi.phi;
    shape(xs);  // every entry is written below
    flow_base::forward(phi, d_, eps, xs[0].data());
    for (std::size_t l = 0; l < layers_; ++l) {
      const Layer L = layer(qphi, l);
      double a = L.b;
      for (std::size_t i = 0; i < d_; ++i) a += L.w[i] * xs[l][i];
      const double t = std::tanh(a);
      for (std::size_t i = 0; i < d_; ++i) xs[l + 1][i] = xs[l][i] + L.u_hat[i] * t;
    }
  }

  // Solve α + κ tanh(α + b) = target: bracket [target − |κ|, target + |κ|], Newton steps kept inside it.
  static double solve_alpha(double target, double kappa, double b) {
    double lo = target - std::abs(kappa) - 1e-12, hi = target + std::abs(kappa) + 1e-12, alpha = target;
    for (int it = 0; it < 200; ++it) {
      const double t = std::tanh(alpha + b), g = alpha + kappa * t - target;
      if (g == 0) break;
      (g > 0 ? hi : lo) = alpha;
      double next = alpha - g / (1 + kappa * (1 - t * t));
      if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
      if (std::abs(next - alpha) <= 1e-15 * (1 + std::abs(alpha))) {
        alpha = next;
        break;
      }
      alpha = next;
    }
    return alpha;
  }

  // xs[L] = z down to xs[0] = x₀; alpha[l] = w_lᵀ xs[l]; returns log q(z).
  double inverse(const Member& qphi, const double* z, std::vector<std::vector<double>>& xs, std::vector<double>& alpha) const {
    const double* phi = qphi.phi;
    shape(xs);  // every entry is written below
    alpha.resize(layers_);
    std::copy(z, z + d_, xs[layers_].begin());
    double log_det = 0;
    for (std::size_t l = layers_; l-- > 0;) {
      const Layer L = layer(qphi, l);
      double wy = 0;
      for (std::size_t i = 0; i < d_; ++i) wy += L.w[i] * xs[l + 1][i];
      alpha[l] = solve_alpha(wy, L.kappa, L.b);
      const double t = std::tanh(alpha[l] + L.b);
      for (std::size_t i = 0; i < d_; ++i) xs[l][i] = xs[l + 1][i] - L.u_hat[i] * t;
      log_det += std::log1p(L.kappa * (1 - t * t));
    }
    return flow_base::log_density(phi, d_, xs[0].data()) - log_det;
  }

  // Reverse mode through the inverse. At layer l, with y = x_l, x = x_{l−1} = y − û T, T = tanh(a), S = sech²(a),
  // a = α + b, the upstream adjoint g of x, and the log-det term −log(1 + κS) (1 + κS =: J):
  //   ∂/∂a = −(gᵀû) S + 2κTS/J;   ∂y = g + (∂/∂a) w/J;   ∂w (via α) = (∂/∂a) y/J;   ∂b = (∂/∂a)/J;
  //   ∂κ = −S/J − (∂/∂a) T/J;   ∂û = −g T;  then (û, κ) → (u, w).
  void backprop_log_q(const Member& qphi, const double* z, double* grad_phi, double* grad_z) const {
    const double* phi = qphi.phi;
    thread_local std::vector<std::vector<double>> xs;
    thread_local std::vector<double> alpha, g, gu;
    inverse(qphi, z, xs, alpha);
    std::fill(grad_phi, grad_phi + num_params(), 0.0);
    g.resize(d_);  // written whole by log_density_gradient
    gu.resize(d_);
    flow_base::log_density_gradient(phi, d_, xs[0].data(), grad_phi, g.data());
    for (std::size_t l = 0; l < layers_; ++l) {
      const Layer L = layer(qphi, l);
      const std::vector<double>& y = xs[l + 1];
      const double t = std::tanh(alpha[l] + L.b), s = 1 - t * t, j = 1 + L.kappa * s;
      double gdu = 0;
      for (std::size_t i = 0; i < d_; ++i) gdu += g[i] * L.u_hat[i];
      const double ga = -gdu * s + 2 * L.kappa * t * s / j;
      for (std::size_t i = 0; i < d_; ++i) {
        gu[i] = -g[i] * t;
        grad_phi[w_index(l) + i] += ga * y[i] / j;
        g[i] += ga * L.w[i] / j;
      }
      grad_phi[b_index(l)] += ga / j;
      through_u_hat(phi, l, L, gu, -s / j - ga * t / j, grad_phi);
    }
    std::copy(g.begin(), g.end(), grad_z);
  }

  std::size_t d_, layers_;
};

const Register<Family, FlowPlanar> registration{{
    .name = "flow_planar",
    .description = "normalizing flow: planar maps z + u_hat tanh(w^T z + b) on a diagonal Gaussian base (invertible)",
    .reference = "Rezende & Mohamed 2015, Variational Inference with Normalizing Flows, ICML, §4.1 and Appendix A",
    .params = {ParamSpec::integer("layers", 2, "number of planar maps").at_least(1)},
}};

}  // namespace
