#pragma once
// Numerically stable scalar functions used across plugins and networks.
#include <cmath>

namespace vibench {

// log(1 + eˣ) without overflow for large x or loss of precision for very negative x.
inline double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
// 1 / (1 + e⁻ˣ), evaluated on the side that does not overflow.
inline double sigmoid(double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }

}  // namespace vibench
