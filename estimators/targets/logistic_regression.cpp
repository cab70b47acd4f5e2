// target `logistic_regression`: Bayesian logistic regression, prior w ~ N(0, σ²I), y_n ~ Bern(σ(x_nᵀw)).
// Data `breast_cancer`: the Wisconsin diagnostic data bundled with Debian's python3-sklearn (569 rows,
// 30 features; label 1 = benign), features standardized (mean 0, population sd 1) and an intercept column
// prepended: X is 569 × 31, so D = 31. With η = Xw, s = σ(η):
//   log p(w, y) = Σ_n [y_n η_n − log(1 + e^{η_n})] − ‖w‖²/(2σ²) − (D/2) log(2πσ²)
//   ∇ = Xᵀ(y − s) − w/σ²,   ∇² = −Xᵀ diag(s(1 − s)) X − I/σ²
#include <cmath>
#include <fstream>
#include <numbers>
#include <sstream>

#include <fmt/format.h>

#include "vibench/scalar_functions.hpp"
#include "vibench/target.hpp"

namespace {

using namespace vibench;

double log1p_exp(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

class LogisticRegression final : public Target {
 public:
  explicit LogisticRegression(const Params& p) : prior_var_(p.get_double("prior_var")) {
    const std::string path = p.get_string("data_path");
    std::ifstream in(path);
    if (!in)
      throw ParamError(p.full_key("data_path"),
                       fmt::format("cannot read '{}' (the breast-cancer data of Debian's python3-sklearn; `make deps` "
                                   "installs it)", path));
    load_csv(in, path, p.full_key("data_path"));
    standardize();
    prepend_intercept();
  }

  std::size_t dim() const override { return d_; }

  void log_joint(const Matrix& z, double* lp) const override {
    for (std::size_t r = 0; r < z.rows(); ++r) lp[r] = evaluate(z.row(r), nullptr);
  }
  void grad_log_joint(const Matrix& z, Matrix& g, double* lp) const override {
    g.resize(z.rows(), d_);
    for (std::size_t r = 0; r < z.rows(); ++r) lp[r] = evaluate(z.row(r), g.row(r));
  }
  bool hessian_log_joint(const double* w, Matrix& h) const override {
    h.resize(d_, d_);
    for (std::size_t n = 0; n < n_; ++n) {
      const double* xn = x_.row(n);
      double eta = 0;
      for (std::size_t i = 0; i < d_; ++i) eta += xn[i] * w[i];
      const double s = sigmoid(eta), c = s * (1 - s);
      for (std::size_t i = 0; i < d_; ++i)
        for (std::size_t j = 0; j < d_; ++j) h(i, j) -= c * xn[i] * xn[j];
    }
    for (std::size_t i = 0; i < d_; ++i) h(i, i) -= 1 / prior_var_;
    return true;
  }

 private:
  // log p(w, y); adds ∇ to grad when given.
  double evaluate(const double* w, double* grad) const {
    double lp = -0.5 * static_cast<double>(d_) * std::log(2 * std::numbers::pi * prior_var_);
    for (std::size_t i = 0; i < d_; ++i) {
      lp -= 0.5 * w[i] * w[i] / prior_var_;
      if (grad) grad[i] = -w[i] / prior_var_;
    }
    for (std::size_t n = 0; n < n_; ++n) {
      const double* xn = x_.row(n);
      double eta = 0;
      for (std::size_t i = 0; i < d_; ++i) eta += xn[i] * w[i];
      lp += y_[n] * eta - log1p_exp(eta);
      if (grad) {
        const double resid = y_[n] - sigmoid(eta);
        for (std::size_t i = 0; i < d_; ++i) grad[i] += resid * xn[i];
      }
    }
    return lp;
  }

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
  std::size_t n_ = 0, d_ = 0;
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
               ParamSpec::real("prior_var", 1.0, "prior variance sigma^2 of each weight").positive()},
}};

}  // namespace
