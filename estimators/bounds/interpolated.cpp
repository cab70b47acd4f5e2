// bound `interpolated`: Poole et al. 2019, §2.5 (eq. 11 of their arXiv v1), the interpolation between InfoNCE's
// multi-sample baseline and TUBA's constant one. For a batch, with B joint draws and row i = x_i:
//   L_ij = log (1/(B−1)) Σ_{k≠j} e^{F_ik}          (leave-one-out log-mean-exp of row i without column j)
//   b_ij = log(α e^{L_ij} + (1 − α) e^{a})        (the interpolated log-baseline; a = `log_baseline`)
//   I_α  = 1 + (1/N) Σ_i Σ_{j≠i} (F_ii − b_ij) − (1/N) Σ_i Σ_{j≠i} e^{F_ij − b_ii},   N = B(B − 1),
// following the arrangement of their reference code (baselines built from the other columns of a row).
// α → 0 gives TUBA(a); α = 1 a leave-one-out InfoNCE. The gradient with respect to F is exact and O(B²).
#include <algorithm>
#include <cmath>
#include <vector>

#include "vibench/mi/mi.hpp"
#include "vibench/plugin/registry.hpp"

namespace {

using namespace vibench;

class Interpolated final : public Bound {
 public:
  explicit Interpolated(const Params& p) : alpha_(p.get_double("alpha")), a_(p.get_double("log_baseline")) {}

  double value(const Matrix& f) const override { return evaluate(f, nullptr); }
  double value_and_grad(const Matrix& f, Matrix& g, std::vector<double>&) const override { return evaluate(f, &g); }
  double optimal_shift() const override { return a_; }  // exact for α → 0 (TUBA); approximate otherwise

 private:
  double evaluate(const Matrix& f, Matrix* g) const {
    const std::size_t b = f.rows();
    const double n = static_cast<double>(b * (b - 1)), beta = (1 - alpha_) * std::exp(a_);
    double joint = 0, marginal = 0;
    std::vector<double> e(b), s(b), w(b), sum_w_over_s(b);
    if (g) g->fill(0.0);
    for (std::size_t i = 0; i < b; ++i) {
      const double* row = f.row(i);
      // S_ij = Σ_{k≠j} e^{F_ik − m} with m the row max; for the argmax column sum directly (no cancellation),
      // otherwise T − e^{F_ij − m}, which still contains the largest term.
      const std::size_t top = static_cast<std::size_t>(std::max_element(row, row + b) - row);
      const double m = row[top];
      double t = 0;
      for (std::size_t k = 0; k < b; ++k) t += e[k] = std::exp(row[k] - m);
      for (std::size_t j = 0; j < b; ++j) {
        if (j == top) {
          s[j] = 0;
          for (std::size_t k = 0; k < b; ++k)
            if (k != j) s[j] += e[k];
        } else {
          s[j] = t - e[j];
        }
      }
      // b_ij = log(α S_ij e^m/(B−1) + β); w_ij = ∂b_ij/∂L_ij = α e^{L_ij} / e^{b_ij}.
      double row_sum_w_over_s = 0;
      std::vector<double> bij(b);
      for (std::size_t j = 0; j < b; ++j) {
        const double l = m + std::log(s[j] / static_cast<double>(b - 1));
        const double hi = std::max(std::log(alpha_) + l, std::log(beta));
        bij[j] = alpha_ <= 0 ? std::log(beta) : beta <= 0 ? std::log(alpha_) + l
                                                           : hi + std::log(std::exp(std::log(alpha_) + l - hi) + std::exp(std::log(beta) - hi));
        w[j] = alpha_ <= 0 ? 0.0 : std::exp(std::log(alpha_) + l - bij[j]);
        if (j != i) row_sum_w_over_s += w[j] / s[j];
      }
      for (std::size_t j = 0; j < b; ++j)
        if (j != i) {
          joint += row[i] - bij[j];
          marginal += std::exp(row[j] - bij[i]);
        }
      if (!g) continue;
      // ∂J/∂F_ik = [k = i]/B − (1/N) Σ_{j≠i, j≠k} w_ij e^{F_ik}/S_ij  (S in the same e^{−m} scale as e).
      // ∂M/∂F_ik = (1/N) e^{F_ik − b_ii} (1 − w_ii) for k ≠ i, 0 for k = i.
      for (std::size_t k = 0; k < b; ++k) {
        double through_baseline = row_sum_w_over_s - (k != i ? w[k] / s[k] : 0.0);
        double gk = -e[k] * through_baseline / n;
        if (k == i) gk += 1.0 / static_cast<double>(b);
        if (k != i) gk -= std::exp(row[k] - bij[i]) * (1 - w[i]) / n;
        (*g)(i, k) = gk;
      }
    }
    return 1 + joint / n - marginal / n;
  }

  double alpha_, a_;
};

const Register<Bound, Interpolated> registration{{
    .name = "interpolated",
    .description = "interpolates InfoNCE's leave-one-out baseline (alpha = 1) and TUBA's constant one (alpha = 0)",
    .reference = "Poole et al. 2019, section 2.5",
    .params = {ParamSpec::real("alpha", 0.5, "weight of the multi-sample (InfoNCE) baseline").at_least(0.0).at_most(1.0),
               ParamSpec::real("log_baseline", 0.0, "the constant log-baseline a")},
}};

}  // namespace
