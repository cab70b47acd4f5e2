// target `logistic_regression`: Bayesian logistic regression, prior w ~ N(0, σ²I), y_n ~ Bern(σ(x_nᵀw)).
// Data `breast_cancer`: the Wisconsin diagnostic data bundled with Debian's python3-sklearn (569 rows,
// 30 features; label 1 = benign), features standardized (mean 0, population sd 1) and an intercept column
// prepended: X is 569 × 31, so D = 31. With η = Xw, s = σ(η):
//   log p(w, y) = Σ_n [y_n η_n − log(1 + e^{η_n})] − ‖w‖²/(2σ²) − (D/2) log(2πσ²)
//   ∇ = Xᵀ(y − s) − w/σ²,   ∇² = −Xᵀ diag(s(1 − s)) X − I/σ²
// `batch_size` B > 0: after select_minibatch (B rows drawn without replacement: a partial Fisher–Yates
// shuffle of 0..N−1 by B uniforms) the sums over n run over the batch and are scaled by N/B, an unbiased
// estimate of the full log p(w, y) whose expectation over batches is exactly the full value.
// Gaussian expectations (the exact ELBO of a Gaussian q): with w ~ N(m, C), η_n ~ N(μ_n, v_n), μ_n = x_nᵀm,
// v_n = x_nᵀCx_n, so E[log p] = Σ_n [y_n μ_n − E log(1 + e^{η_n})] − (‖m‖² + tr C)/(2σ²) − (D/2) log(2πσ²),
//   ∂/∂m = Σ_n x_n (y_n − E σ(η_n)) − m/σ²,   ∂/∂C = −½ Σ_n E[σ(η_n)(1 − σ(η_n))] x_n x_nᵀ − I/(2σ²)
// (∂E g(η)/∂v = ½ E g''(η)), the one-dimensional expectations by the trapezoid rule on η = μ + √v·u,
// u ∈ [−10, 10], step δ = min(0.5, 0.4/√v): the integrands are analytic in a strip (log(1 + e^η) has its
// poles at η = ±iπ), so the rule converges geometrically; the error is below e^{−34} relative (≈ 1e-15).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>
#include <sstream>

#include <fmt/format.h>

#include "vibench/math/scalar_functions.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/target.hpp"

namespace {

using namespace vibench;

double log1p_exp(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

class LogisticRegression final : public Target {
 public:
  explicit LogisticRegression(const Params& p) : prior_var_(p.get_double("prior_var")) {
    const auto batch = p.get_int("batch_size");
    const std::string path = p.get_string("data_path");
    std::ifstream in(path);
    if (!in)
      throw ParamError(p.full_key("data_path"),
                       fmt::format("cannot read '{}' (the breast-cancer data of Debian's python3-sklearn; `make deps` "
                                   "installs it)", path));
    load_csv(in, path, p.full_key("data_path"));
    standardize();
    prepend_intercept();
    if (static_cast<std::size_t>(batch) > n_)
      throw ParamError(p.full_key("batch_size"),
                       fmt::format("{} is more than the {} data points (0 uses them all)", batch, n_));
    batch_ = static_cast<std::size_t>(batch);
    use_full_data();
  }

  std::size_t dim() const override { return d_; }

  void log_joint(const Matrix& z, double* lp) const override {
    for (std::size_t r = 0; r < z.rows(); ++r) lp[r] = evaluate(z.row(r), nullptr);
  }
  void grad_log_joint(const Matrix& z, Matrix& g, double* lp) const override {
    g.resize(z.rows(), d_);
    for (std::size_t r = 0; r < z.rows(); ++r) lp[r] = evaluate(z.row(r), g.row(r));
  }
  Capabilities offers() const override { return Target::offers().with(Capability::hessian); }
  bool hessian_log_joint(const double* w, Matrix& h) const override {
    h.resize(d_, d_);
    for (std::size_t n : rows_) {
      const double* xn = x_.row(n);
      double eta = 0;
      for (std::size_t i = 0; i < d_; ++i) eta += xn[i] * w[i];
      const double s = sigmoid(eta), c = scale_ * (s * (1 - s));
      for (std::size_t i = 0; i < d_; ++i)
        for (std::size_t j = 0; j < d_; ++j) h(i, j) -= c * xn[i] * xn[j];
    }
    for (std::size_t i = 0; i < d_; ++i) h(i, i) -= 1 / prior_var_;
    return true;
  }

  std::optional<GaussianPrior> gaussian_prior() const override {
    GaussianPrior p{std::vector<double>(d_, 0.0), Matrix(d_, d_)};
    for (std::size_t i = 0; i < d_; ++i) p.cov(i, i) = prior_var_;
    return p;
  }

  std::optional<GaussianExpectation> gaussian_expectation(const std::vector<double>& m, const Matrix& c) const override {
    GaussianExpectation e;
    e.grad_mean.assign(d_, 0.0);
    e.grad_cov.resize(d_, d_);
    double lik = 0;
    std::vector<double> cx(d_);
    for (std::size_t n : rows_) {
      const double* xn = x_.row(n);
      double mu = 0, v = 0;
      for (std::size_t i = 0; i < d_; ++i) {
        mu += xn[i] * m[i];
        cx[i] = 0;
        for (std::size_t j = 0; j < d_; ++j) cx[i] += c(i, j) * xn[j];
      }
      for (std::size_t i = 0; i < d_; ++i) v += xn[i] * cx[i];
      const Moments1d mo = softplus_moments(mu, std::max(v, 0.0));
      lik += y_[n] * mu - mo.softplus;
      for (std::size_t i = 0; i < d_; ++i) e.grad_mean[i] += scale_ * (y_[n] - mo.sigmoid) * xn[i];
      const double dv = -0.5 * scale_ * mo.curvature;
      for (std::size_t i = 0; i < d_; ++i)
        for (std::size_t j = 0; j < d_; ++j) e.grad_cov(i, j) += dv * xn[i] * xn[j];
    }
    double prior = -0.5 * static_cast<double>(d_) * std::log(2 * std::numbers::pi * prior_var_);
    for (std::size_t i = 0; i < d_; ++i) {
      prior -= 0.5 * (m[i] * m[i] + c(i, i)) / prior_var_;
      e.grad_mean[i] -= m[i] / prior_var_;
      e.grad_cov(i, i) -= 0.5 / prior_var_;
    }
    e.value = scale_ * lik + prior;
    return e;
  }

  std::size_t minibatch_size() const override { return batch_; }
  void select_minibatch(Rng& rng) override {
    if (batch_ == 0) return;
    // Partial Fisher–Yates from the identity: the batch depends on this rng only, not on earlier batches.
    std::vector<std::size_t> perm(n_);
    for (std::size_t n = 0; n < n_; ++n) perm[n] = n;
    std::vector<double> u(batch_);
    rng.uniforms(u.data(), batch_);
    for (std::size_t i = 0; i < batch_; ++i) {
      const std::size_t j = i + std::min(static_cast<std::size_t>(u[i] * static_cast<double>(n_ - i)), n_ - i - 1);
      std::swap(perm[i], perm[j]);
    }
    rows_.assign(perm.begin(), perm.begin() + static_cast<long>(batch_));
    std::sort(rows_.begin(), rows_.end());  // a batch's value does not depend on the order it was drawn in
    scale_ = static_cast<double>(n_) / static_cast<double>(batch_);
  }
  void use_full_data() override {
    rows_.resize(n_);
    for (std::size_t n = 0; n < n_; ++n) rows_[n] = n;
    scale_ = 1.0;
  }

 private:
  // log p(w, y); adds ∇ to grad when given.
  double evaluate(const double* w, double* grad) const {
    double lp = -0.5 * static_cast<double>(d_) * std::log(2 * std::numbers::pi * prior_var_);
    for (std::size_t i = 0; i < d_; ++i) {
      lp -= 0.5 * w[i] * w[i] / prior_var_;
      if (grad) grad[i] = -w[i] / prior_var_;
    }
    double lik = 0;
    for (std::size_t n : rows_) {
      const double* xn = x_.row(n);
      double eta = 0;
      for (std::size_t i = 0; i < d_; ++i) eta += xn[i] * w[i];
      lik += y_[n] * eta - log1p_exp(eta);
      if (grad) {
        const double resid = scale_ * (y_[n] - sigmoid(eta));
        for (std::size_t i = 0; i < d_; ++i) grad[i] += resid * xn[i];
      }
    }
    return lp + scale_ * lik;
  }

  // E log(1 + e^η), E σ(η) and E σ(η)(1 − σ(η)) for η ~ N(mu, v), by the trapezoid rule (see the top).
  struct Moments1d {
    double softplus = 0, sigmoid = 0, curvature = 0;
  };
  static Moments1d softplus_moments(double mu, double v) {
    const double sd = std::sqrt(v), half_width = 10.0;
    const double step = std::min(0.5, 0.4 / std::max(sd, 1e-300));
    const auto half = static_cast<long>(std::ceil(half_width / step));
    // Compensated (Neumaier) sums: up to thousands of terms, and the rounding of a plain sum would show in
    // finite differences of the expectation (it is ~1e-15 of a value that can be 1e4 on a scaled minibatch).
    CompensatedSum softplus, sig, curvature, total;
    for (long k = -half; k <= half; ++k) {
      const double u = static_cast<double>(k) * step, wgt = std::exp(-0.5 * u * u);
      const double eta = mu + sd * u, s = sigmoid(eta);
      softplus.add(wgt * log1p_exp(eta));
      sig.add(wgt * s);
      curvature.add(wgt * s * (1 - s));
      total.add(wgt);
    }
    // Normalizing by the rule's own total weight (= √(2π)/step up to e^{−50}) keeps constants exact.
    return {softplus.value() / total.value(), sig.value() / total.value(), curvature.value() / total.value()};
  }
  struct CompensatedSum {
    double sum = 0, c = 0;
    void add(double x) {
      const double t = sum + x;
      c += std::abs(sum) >= std::abs(x) ? (sum - t) + x : (x - t) + sum;
      sum = t;
    }
    double value() const { return sum + c; }
  };

  // sklearn's format: a header "n_samples,n_features,name0,name1", then rows of features and the label.
  void load_csv(std::istream& in, const std::string& path, const std::string& key) {
    std::string line;
    std::getline(in, line);
    std::size_t rows = 0, cols = 0;
    if (std::sscanf(line.c_str(), "%zu,%zu", &rows, &cols) != 2 || rows == 0 || cols == 0)
      throw ParamError(key, fmt::format("'{}': line 1 should be 'n_samples,n_features,...', got '{}'", path, line));
    n_ = rows;
    d_ = cols;
    x_.resize(n_, d_);
    y_.resize(n_);
    for (std::size_t n = 0; n < n_; ++n) {
      if (!std::getline(in, line)) throw ParamError(key, fmt::format("'{}': expected {} data rows, found {}", path, n_, n));
      std::stringstream ss(line);
      std::string cell;
      for (std::size_t i = 0; i <= d_; ++i) {
        if (!std::getline(ss, cell, ','))
          throw ParamError(key, fmt::format("'{}': line {} has fewer than {} fields", path, n + 2, d_ + 1));
        (i < d_ ? x_(n, i) : y_[n]) = std::stod(cell);
      }
    }
  }
  void standardize() {
    for (std::size_t i = 0; i < d_; ++i) {
      double mean = 0, var = 0;
      for (std::size_t n = 0; n < n_; ++n) mean += x_(n, i);
      mean /= static_cast<double>(n_);
      for (std::size_t n = 0; n < n_; ++n) var += (x_(n, i) - mean) * (x_(n, i) - mean);
      const double sd = std::sqrt(var / static_cast<double>(n_));
      for (std::size_t n = 0; n < n_; ++n) x_(n, i) = sd > 0 ? (x_(n, i) - mean) / sd : 0.0;
    }
  }
  void prepend_intercept() {
    Matrix with(n_, d_ + 1);
    for (std::size_t n = 0; n < n_; ++n) {
      with(n, 0) = 1.0;
      for (std::size_t i = 0; i < d_; ++i) with(n, i + 1) = x_(n, i);
    }
    x_ = with;
    ++d_;
  }

  double prior_var_;
  std::size_t n_ = 0, d_ = 0, batch_ = 0;
  std::vector<std::size_t> rows_;  // the data points in use: all, or the current minibatch
  double scale_ = 1.0;             // N / (points in use)
  Matrix x_;
  std::vector<double> y_;
};

const Register<Target, LogisticRegression> registration{{
    .name = "logistic_regression",
    .description = "Bayesian logistic regression on breast_cancer (569 x 30, standardized, + intercept: D = 31)",
    .reference = "data: Wolberg, Street, Mangasarian 1995 (UCI WDBC), as bundled with scikit-learn",
    .params = {ParamSpec::choice("data", {"breast_cancer"}, "breast_cancer", "data set"),
               ParamSpec::string("data_path", std::string("/usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv"),
                                 "CSV in scikit-learn's format (Debian python3-sklearn puts it here)"),
               ParamSpec::real("prior_var", 1.0, "prior variance sigma^2 of each weight").positive(),
               ParamSpec::integer("batch_size", 0, "minibatch size B: log-likelihood of B points scaled by N/B, "
                                  "drawn per optimize step (0: the whole data set)").at_least(0)},
}};

}  // namespace
