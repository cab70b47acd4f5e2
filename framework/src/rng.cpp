#include "vibench/rng.hpp"

#include <cmath>
#include <numbers>

namespace vibench {

namespace {
constexpr double two_pow_minus_53 = 1.0 / 9007199254740992.0;
inline double u01_closed_open(std::uint64_t x) { return static_cast<double>(x >> 11) * two_pow_minus_53; }
// (0, 1]: safe for log in Box–Muller.
inline double u01_open_closed(std::uint64_t x) { return static_cast<double>((x >> 11) + 1) * two_pow_minus_53; }
}  // namespace

Rng::Rng(std::uint64_t seed, std::uint64_t cell_key, std::uint64_t replicate, std::uint64_t stream, std::uint64_t step) {
  key_ = {{seed, cell_key}};
  ctr_ = {{replicate, stream, step, 0}};
}

r123::Philox4x64::ctr_type Rng::next_block() {
  auto out = philox_(ctr_, key_);
  ++ctr_.v[3];
  return out;
}

void Rng::uniforms(double* out, std::size_t n) {
  std::size_t i = 0;
  while (i < n) {
    auto b = next_block();
    for (int j = 0; j < 4 && i < n; ++j, ++i) out[i] = u01_closed_open(b.v[j]);
  }
}

void Rng::normals(double* out, std::size_t n) {
  constexpr double two_pi = 2.0 * std::numbers::pi;
  std::size_t i = 0;
  while (i < n) {
    auto b = next_block();
    for (int j = 0; j < 4; j += 2) {
      double r = std::sqrt(-2.0 * std::log(u01_open_closed(b.v[j])));
      double theta = two_pi * u01_closed_open(b.v[j + 1]);
      if (i < n) out[i++] = r * std::cos(theta);
      if (i < n) out[i++] = r * std::sin(theta);
    }
  }
}

}  // namespace vibench
