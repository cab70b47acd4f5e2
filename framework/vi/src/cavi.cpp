#include "vibench/vi/cavi.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "vibench/math/rng.hpp"

namespace vibench::cavi {

void gaussian_coordinate_update(const GaussianPosterior& post, std::vector<double>& mean, std::vector<double>& var,
                                std::size_t i) {
  const std::size_t d = mean.size();
  const double lii = post.precision(i, i);
  double coupling = 0;  // Σ_{j≠i} Λᵢⱼ(μⱼ − mⱼ)
  for (std::size_t j = 0; j < d; ++j)
    if (j != i) coupling += post.precision(i, j) * (mean[j] - post.mean[j]);
  mean[i] = post.mean[i] - coupling / lii;
  var[i] = 1.0 / lii;
}

void gaussian_sweep(const GaussianPosterior& post, std::vector<double>& mean, std::vector<double>& var) {
  for (std::size_t i = 0; i < mean.size(); ++i) gaussian_coordinate_update(post, mean, var, i);
}

MixtureData simulate_mixture(std::size_t k, std::size_t n, std::size_t dim, double prior_var, std::uint64_t data_seed) {
  MixtureData d;
  d.k = k;
  d.n = n;
  d.dim = dim;
  d.prior_var = prior_var;
  // Stream keyed by data_seed alone: the same data whatever the experiment's seed or cell.
  Rng rng(data_seed, 0, 0, streams::data);
  d.true_means.resize(k * dim);
  rng.normals(d.true_means.data(), k * dim);
  for (double& v : d.true_means) v *= std::sqrt(prior_var);
  std::vector<double> u(n), noise(n * dim);
  rng.uniforms(u.data(), n);
  rng.normals(noise.data(), n * dim);
  d.true_assignment.resize(n);
  d.x.resize(n * dim);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = std::min(static_cast<std::size_t>(u[i] * static_cast<double>(k)), k - 1);
    d.true_assignment[i] = static_cast<double>(c);
    for (std::size_t a = 0; a < dim; ++a) d.x[i * dim + a] = d.true_means[c * dim + a] + noise[i * dim + a];
  }
  return d;
}

namespace {
double sq_norm(const double* v, std::size_t n) {
  double s = 0;
  for (std::size_t a = 0; a < n; ++a) s += v[a] * v[a];
  return s;
}
double dot(const double* u, const double* v, std::size_t n) {
  double s = 0;
  for (std::size_t a = 0; a < n; ++a) s += u[a] * v[a];
  return s;
}
}  // namespace

double mixture_elbo(const MixtureData& d, const MixtureQ& q) {
  const double p = static_cast<double>(d.dim), log2pi = std::log(2 * std::numbers::pi);
  double elbo = 0;
  std::vector<double> second(d.k);  // E‖μ_k‖² = ‖m_k‖² + p s_k²
  for (std::size_t k = 0; k < d.k; ++k) {
    second[k] = sq_norm(&q.m[k * d.dim], d.dim) + p * q.s2[k];
    elbo += -0.5 * p * (log2pi + std::log(d.prior_var)) - second[k] / (2 * d.prior_var);  // E log p(μ_k)
    elbo += 0.5 * p * (1 + log2pi + std::log(q.s2[k]));                                   // −E log q(μ_k)
  }
  const double log_k = std::log(static_cast<double>(d.k));
  for (std::size_t i = 0; i < d.n; ++i) {
    const double* xi = &d.x[i * d.dim];
    const double xx = sq_norm(xi, d.dim);
    elbo -= log_k;  // E log p(c_i)
    for (std::size_t k = 0; k < d.k; ++k) {
      const double f = q.phi[i * d.k + k];
      if (f == 0) continue;  // 0 · (finite) and 0 log 0 are 0
      elbo += f * (-0.5 * p * log2pi - 0.5 * (xx - 2 * dot(xi, &q.m[k * d.dim], d.dim) + second[k]));
      elbo -= f * std::log(f);
    }
  }
  return elbo;
}

void update_assignment(const MixtureData& d, MixtureQ& q, std::size_t i) {
  const double p = static_cast<double>(d.dim);
  const double* xi = &d.x[i * d.dim];
  double* f = &q.phi[i * d.k];
  double top = -INFINITY;
  for (std::size_t k = 0; k < d.k; ++k) {
    const double* mk = &q.m[k * d.dim];
    f[k] = dot(xi, mk, d.dim) - 0.5 * (sq_norm(mk, d.dim) + p * q.s2[k]);
    top = std::max(top, f[k]);
  }
  double sum = 0;
  for (std::size_t k = 0; k < d.k; ++k) sum += (f[k] = std::exp(f[k] - top));
  for (std::size_t k = 0; k < d.k; ++k) f[k] /= sum;
}

void update_component(const MixtureData& d, MixtureQ& q, std::size_t k) {
  double weight = 1.0 / d.prior_var;
  std::vector<double> sum(d.dim, 0.0);
  for (std::size_t i = 0; i < d.n; ++i) {
    const double f = q.phi[i * d.k + k];
    weight += f;
    for (std::size_t a = 0; a < d.dim; ++a) sum[a] += f * d.x[i * d.dim + a];
  }
  for (std::size_t a = 0; a < d.dim; ++a) q.m[k * d.dim + a] = sum[a] / weight;
  q.s2[k] = 1.0 / weight;
}

void mixture_sweep(const MixtureData& d, MixtureQ& q) {
  for (std::size_t i = 0; i < d.n; ++i) update_assignment(d, q, i);
  for (std::size_t k = 0; k < d.k; ++k) update_component(d, q, k);
}

}  // namespace vibench::cavi
