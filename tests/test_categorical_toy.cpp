// categorical_toy against its closed forms: on one-hot blocks c_v ~ Cat(π_v), π_v = softmax(φ_v),
//   E_q f = Σ_v (1 + ‖t‖² − 2 π_v·t),   ∂E_q f/∂φ_{v,k} = −2 π_{v,k} (t_k − π_v·t),
// against the objective's exact value and gradient (enumeration of the support), and every estimator that
// claims unbiasedness for E_q[f] against the closed-form gradient (z-test, Bonferroni).
#include <catch2/catch.hpp>

#include <cmath>

#include "conformance.hpp"
#include "vibench/plugin/errors.hpp"
#include "vibench/plugin/gradient_stats.hpp"

using namespace vibench;
using namespace vibench::test;

namespace {

const std::vector<double> t_values{0.2, 0.9, 0.4};

Config toy_cell(std::int64_t dim) {
  return merge({plugin_config("target", "target", "categorical_toy", {{"dim", dim}, {"t", t_values}}),
                plugin_config("family", "family", "categorical", {{"categories", std::int64_t{3}}}),
                plugin_config("objective", "objective", "expectation")});
}

// The closed forms of the header comment, for V = φ.size()/3 blocks.
std::pair<double, std::vector<double>> closed_form(const std::vector<double>& phi) {
  const std::size_t c = t_values.size(), v = phi.size() / c;
  double tt = 0, value = 0;
  for (double x : t_values) tt += x * x;
  std::vector<double> grad(phi.size());
  for (std::size_t b = 0; b < v; ++b) {
    double norm = 0, pt = 0;
    std::vector<double> pi(c);
    for (std::size_t k = 0; k < c; ++k) norm += (pi[k] = std::exp(phi[b * c + k]));
    for (std::size_t k = 0; k < c; ++k) pt += (pi[k] /= norm) * t_values[k];
    value += 1 + tt - 2 * pt;
    for (std::size_t k = 0; k < c; ++k) grad[b * c + k] = -2 * pi[k] * (t_values[k] - pt);
  }
  return {value, grad};
}

}  // namespace

TEST_CASE("categorical_toy: exact objective and gradient equal the closed forms", "[target]") {
  CellPlugins p = build_cell_plugins(merge({toy_cell(6), plugin_config("estimator", "estimator", "score_function")}));
  const std::vector<double> phi{0.3, -0.7, 1.1, -0.2, 0.5, 0.0};
  const auto [value, grad] = closed_form(phi);
  const auto exact_value = p.objective->exact_value(*p.target, *p.family, phi.data());
  const auto exact_grad = p.objective->exact_gradient(*p.target, *p.family, phi.data());
  REQUIRE(exact_value);
  REQUIRE(exact_grad);
  CHECK(*exact_value == Approx(value).epsilon(1e-13));
  REQUIRE(exact_grad->size() == grad.size());
  for (std::size_t i = 0; i < grad.size(); ++i) {
    INFO("component " << i);
    CHECK((*exact_grad)[i] == Approx(grad[i]).epsilon(1e-12).margin(1e-15));
    // and the closed form against central finite differences of the closed-form value
    CHECK(fd_close(grad[i], central_difference([](const std::vector<double>& x) { return closed_form(x).first; }, phi, i)));
  }
}

TEST_CASE("categorical_toy: unbiased estimators agree with the closed-form gradient", "[target]") {
  const std::vector<double> phi{1.0, 0.0, -1.0};
  const auto grad = closed_form(phi).second;
  const std::size_t checked =
      check_unbiased_estimators(toy_cell(3), phi, grad, std::vector<double>(grad.size(), 0.0), 20000, 17, 3);
  CHECK(checked >= 4);  // score_function with each baseline choice
}

TEST_CASE("categorical_toy: a dimension that is not a multiple of len(t) is refused", "[target]") {
  CHECK_THROWS_WITH(build_cell_plugins(merge({toy_cell(4), plugin_config("estimator", "estimator", "score_function")})),
                    Catch::Contains("not a multiple of len(t) = 3"));
}
