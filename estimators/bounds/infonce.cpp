// bound `infonce`: I ≥ log B + (1/B) Σ_i [F_ii − log Σ_j e^{F_ij}] (van den Oord et al. 2018; Poole et al.
// 2019, eq. 12). Never exceeds log B, whatever the critic: low variance, large bias once I ≫ log B.
#include <algorithm>
#include <cmath>

#include "vibench/mi/mi.hpp"
#include "vibench/plugin/registry.hpp"

namespace {

using namespace vibench;

class InfoNce final : public Bound {
 public:
  explicit InfoNce(const Params&) {}

  double value(const Matrix& f) const override { return evaluate(f, nullptr); }
  double value_and_grad(const Matrix& f, Matrix& g, std::vector<double>&) const override { return evaluate(f, &g); }
  double ceiling(std::size_t batch) const override { return std::log(static_cast<double>(batch)); }

 private:
  // ∂/∂F_ij = (δ_ij − softmax_j(F_i·)) / B.
  static double evaluate(const Matrix& f, Matrix* g) {
    const std::size_t b = f.rows();
    double total = 0;
    for (std::size_t i = 0; i < b; ++i) {
      const double* row = f.row(i);
      const double m = *std::max_element(row, row + b);
      double s = 0;
      for (std::size_t j = 0; j < b; ++j) s += std::exp(row[j] - m);
      const double lse = m + std::log(s);
      total += row[i] - lse;
      if (g)
        for (std::size_t j = 0; j < b; ++j)
          (*g)(i, j) = ((i == j ? 1.0 : 0.0) - std::exp(row[j] - lse)) / static_cast<double>(b);
    }
    return std::log(static_cast<double>(b)) + total / static_cast<double>(b);
  }
};

const Register<Bound, InfoNce> registration{{
    .name = "infonce",
    .description = "InfoNCE / CPC: log B + mean_i [f(x_i, y_i) - log sum_j exp f(x_i, y_j)]; at most log B",
    .reference = "van den Oord et al. 2018; Poole et al. 2019, eq. 12",
    .params = {},
}};

}  // namespace
