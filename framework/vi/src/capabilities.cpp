#include "vibench/vi/capabilities.hpp"

#include <vector>

#include "vibench/vi/family.hpp"
#include "vibench/vi/objective.hpp"
#include "vibench/vi/target.hpp"

namespace vibench {

const char* capability_text(Capability c) {
  switch (c) {
    case Capability::reparameterization: return "a reparameterization z = T_φ(ε)";
    case Capability::density_gradient: return "∇_z log q_φ";
    case Capability::relaxation: return "a continuous relaxation (Gumbel-softmax / concrete)";
    case Capability::conditional_relaxation:
      return "a conditional relaxation z̃ ~ p(z | b) with one parameter per coordinate (REBAR)";
    case Capability::gaussian_moments: return "Gaussian members (closed-form mean and covariance)";
    case Capability::moment_pullback: return "the pullback of moment gradients to φ";
    case Capability::diagonal_gaussian: return "diagonal Gaussian members with φ = (means, scales)";
    case Capability::hessian: return "the Hessian ∇²_z log p(x, z)";
    case Capability::gaussian_prior: return "a Gaussian prior factor p(z)";
  }
  return "?";
}

std::string Capabilities::text() const {
  std::string out;
  for (int i = 0; i < capability_count; ++i) {
    const auto c = static_cast<Capability>(i);
    if (!has(c)) continue;
    if (!out.empty()) out += ", ";
    out += capability_text(c);
  }
  return out.empty() ? "nothing" : out;
}

const char* objective_form_text(ObjectiveForm f) {
  switch (f) {
    case ObjectiveForm::any: return "any objective";
    case ObjectiveForm::single_sample: return "a single-sample objective (k = 1)";
    case ObjectiveForm::multi_sample: return "a K-sample objective with k >= 2 (iwae, renyi or cubo)";
    case ObjectiveForm::expectation: return "the objective 'expectation' (E_q[f(z)])";
    case ObjectiveForm::importance_weights:
      return "the importance weights of the objective 'iwae' (or 'elbo' with a Monte Carlo KL)";
  }
  return "?";
}

bool objective_has_form(const Objective& o, ObjectiveForm f) {
  const std::size_t k = o.num_importance_samples();
  switch (f) {
    case ObjectiveForm::any: return true;
    case ObjectiveForm::single_sample: return k == 1;
    case ObjectiveForm::multi_sample: return k >= 2;
    case ObjectiveForm::expectation: return o.log_q_coefficient() == 0.0 && !o.analytic_kl() && k == 1;
    case ObjectiveForm::importance_weights: return o.log_q_coefficient() == 1.0 && o.weight_exponent() == 1.0;
  }
  return false;
}

namespace {

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "; " : "") + parts[i];
  return out;
}

std::optional<std::string> unmet(const std::string& who, const Needs& n, const Target& t, const Family& q,
                                 const Objective* o) {
  std::vector<std::string> missing;
  const bool wrong_objective = o && !objective_has_form(*o, n.objective);
  if (wrong_objective) missing.push_back(objective_form_text(n.objective));
  const Capabilities no_family = n.family.without(q.offers()), no_target = n.target.without(t.offers());
  if (!no_family.empty()) missing.push_back("a family offering " + no_family.text());
  if (!no_target.empty()) missing.push_back("a target offering " + no_target.text());
  if (missing.empty()) return std::nullopt;
  return who + " needs " + join(missing) + (wrong_objective && !n.advice.empty() ? "; " + n.advice : "");
}

}  // namespace

std::string needs_text(const Needs& n) {
  std::vector<std::string> parts;
  if (n.objective != ObjectiveForm::any) parts.push_back(objective_form_text(n.objective));
  if (!n.family.empty()) parts.push_back("a family offering " + n.family.text());
  if (!n.target.empty()) parts.push_back("a target offering " + n.target.text());
  return parts.empty() ? "nothing beyond log q_φ, its score and log p(x, z)" : join(parts);
}

std::optional<std::string> unmet_needs(const std::string& who, const Needs& n, const Target& t, const Family& q,
                                       const Objective& o) {
  return unmet(who, n, t, q, &o);
}

std::optional<std::string> unmet_needs(const std::string& who, const Needs& n, const Target& t, const Family& q) {
  return unmet(who, n, t, q, nullptr);
}

}  // namespace vibench
