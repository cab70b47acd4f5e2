#pragma once
// What a plugin offers and what an estimator (or control variate, or objective) needs. "Cannot run" is
// derived from these declarations in one place (unmet_needs), for the SKIP reasons of --dry-run and the
// combination table of `vibench describe`; no interface method throws "not supported".
#include <cstdint>
#include <optional>
#include <string>

namespace vibench {

class Target;
class Family;
class Objective;

enum class Capability : std::uint8_t {
  // of a family
  reparameterization,      // z = T_φ(ε) with its pullback (Family::reparameterization())
  density_gradient,        // ∇_z log q_φ (Family::density_gradient())
  relaxation,              // a Gumbel-softmax / concrete relaxation (relaxed_sample, relaxed_pullback)
  conditional_relaxation,  // REBAR's z̃ ~ p(z | b), φ_i driving z_i alone (conditional_relaxation)
  gaussian_moments,        // every member Gaussian: mean and covariance in closed form (gaussian_moments)
  moment_pullback,         // ∇_φ of a function of (mean, cov) (pullback_moments)
  diagonal_gaussian,       // every member a diagonal Gaussian, φ = (means, scales) (diagonal_gaussian)
  // of a target
  hessian,         // ∇²_z log p(x, z) (hessian_log_joint)
  gaussian_prior,  // a Gaussian prior factor p(z) (gaussian_prior)
};
inline constexpr int capability_count = 9;

// What a capability is, in words (for SKIP reasons and `vibench describe`).
const char* capability_text(Capability c);

class Capabilities {
 public:
  Capabilities() = default;
  Capabilities(std::initializer_list<Capability> cs) {
    for (Capability c : cs) add(c);
  }
  Capabilities& add(Capability c) {
    bits_ |= 1u << static_cast<unsigned>(c);
    return *this;
  }
  Capabilities with(Capability c) const {
    Capabilities out = *this;
    return out.add(c);
  }
  bool has(Capability c) const { return (bits_ >> static_cast<unsigned>(c)) & 1u; }
  bool empty() const { return bits_ == 0; }
  Capabilities operator|(Capabilities o) const { return from_bits(bits_ | o.bits_); }
  Capabilities without(Capabilities o) const { return from_bits(bits_ & ~o.bits_); }
  bool operator==(const Capabilities&) const = default;
  // "a reparameterization z = T_φ(ε), ∇_z log q_φ" ("nothing" when empty).
  std::string text() const;

 private:
  static Capabilities from_bits(std::uint32_t b) {
    Capabilities c;
    c.bits_ = b;
    return c;
  }
  std::uint32_t bits_ = 0;
};

// Which objectives an estimator handles, from the objective's declared shape (c, K, γ, analytic KL).
enum class ObjectiveForm {
  any,
  single_sample,       // K = 1
  multi_sample,        // K ≥ 2
  expectation,         // E_q[f(z)]: c = 0, K = 1, no analytic KL (the objective 'expectation')
  importance_weights,  // the weights w = p/q of IWAE: c = 1, γ = 1 (iwae, or elbo with a Monte Carlo KL)
};
const char* objective_form_text(ObjectiveForm f);
bool objective_has_form(const Objective& o, ObjectiveForm f);

struct Needs {
  Capabilities family;  // what q_φ must offer
  Capabilities target;  // what p(x, z) must offer
  ObjectiveForm objective = ObjectiveForm::any;
  std::string advice;  // appended when the objective is the problem, e.g. "for k > 1 use the estimator iwae"
};
// "needs a family offering …; a single-sample objective (k = 1)" ("needs nothing" when empty).
std::string needs_text(const Needs& n);

// Why `who` with needs n cannot run on (t, q, o): every unmet need, in one sentence; nullopt if all are met.
std::optional<std::string> unmet_needs(const std::string& who, const Needs& n, const Target& t, const Family& q,
                                       const Objective& o);
// Same, without an objective (what an objective itself needs of the family and target).
std::optional<std::string> unmet_needs(const std::string& who, const Needs& n, const Target& t, const Family& q);

}  // namespace vibench
