#pragma once
// Numerically stable streaming moments (Welford/Terriberry updates, Pébay's pairwise merge), standard
// errors and normal-approximation confidence intervals.
#include <array>
#include <cstddef>
#include <vector>

namespace vibench {

class Moments {
 public:
  void add(double x);
  void merge(const Moments& other);  // exact for any split: merging in a fixed order is deterministic

  double count() const { return n_; }
  double mean() const { return mean_; }
  double variance() const;       // unbiased sample variance (n − 1)
  double standard_error() const;  // of the mean: sqrt(variance / n)
  // Standard error of variance() from the fourth central moment (valid for non-normal data):
  // Var(s²) ≈ μ₄/n − σ⁴(n − 3)/(n(n − 1)).
  double variance_standard_error() const;
  // The accumulator's exact state (a checkpoint) and an accumulator rebuilt from it.
  std::array<double, 5> state() const { return {n_, mean_, m2_, m3_, m4_}; }
  static Moments from_state(const std::array<double, 5>& s) {
    Moments m;
    m.n_ = s[0], m.mean_ = s[1], m.m2_ = s[2], m.m3_ = s[3], m.m4_ = s[4];
    return m;
  }

 private:
  double n_ = 0, mean_ = 0, m2_ = 0, m3_ = 0, m4_ = 0;
};

// Two-sided normal critical value: z such that P(|N(0,1)| ≤ z) = confidence (0.95 → 1.95996…).
double normal_critical_value(double confidence);

}  // namespace vibench
