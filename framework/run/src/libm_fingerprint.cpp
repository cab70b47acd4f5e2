#include "vibench/run/libm_fingerprint.hpp"

#include <gnu/libc-version.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>
#include <xxhash.h>

namespace vibench {

namespace {

// Inputs where glibc 2.36's FMA build (AVX2 + FMA CPUs) and its baseline build differ, three per function,
// found by evaluating each function at 2·10⁶ points with and without GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F
// (2026-12-04; differing points per 2·10⁶: exp 1175, log 6, log1p 55, expm1 722, tanh 113, pow 1393, lgamma 16,
// cos 1392, sin 1333, sinh 1357, erfc 1764, cbrt 0 — cbrt's are ordinary points).
enum Fn { exp_, log_, log1p_, expm1_, tanh_, pow_, lgamma_, cos_, sin_, sinh_, erfc_, cbrt_ };
struct Probe {
  Fn fn;
  double x;
};
constexpr Probe probes[] = {
    {exp_, 0x1.f40c91caee784p+8},     {exp_, 0x1.54894fb3b550ap+9},     {exp_, 0x1.2bcdd29daaecap+9},
    {log_, 0x1.0bcbceee32ec5p+17},    {log_, 0x1.50587d2444501p+9},     {log_, 0x1.2ffc4ec1b8f59p+17},
    {log1p_, 0x1.7c2c21e740c38p+19},  {log1p_, 0x1.3f62baac748ebp+10},  {log1p_, -0x1.cd79097832b44p-3},
    {expm1_, 0x1.694e53c8850eap+4},   {expm1_, -0x1.0af099155b3p-2},    {expm1_, 0x1.4b5216322678p-2},
    {tanh_, 0x1.25c069b276b8p-3},     {tanh_, -0x1.c83cec44281p-3},     {tanh_, -0x1.f18327edad9p-2},
    {pow_, -0x1.5fbdd43569074p+2},    {pow_, -0x1.b7835cf77705p+0},     {pow_, 0x1.2ebc5e08b523p+4},
    {lgamma_, 0x1.9d716d25d188dp+4},  {lgamma_, 0x1.ac0f06a02b629p-1},  {lgamma_, 0x1.0f6017cc6e6bp+6},
    {cos_, -0x1.eeb5f94974f86p+5},    {cos_, 0x1.34047230d0a04p+5},     {cos_, -0x1.14b1d015a96a8p+3},
    {sin_, 0x1.6168bdea4602ep+6},     {sin_, -0x1.2a8a709814f4dp+5},    {sin_, -0x1.1fefe5258a4dap+6},
    {sinh_, 0x1.e023b38bc6ffp+1},     {sinh_, 0x1.7aad74165a642p+4},    {sinh_, -0x1.1c8162ce9ec8cp+4},
    {erfc_, 0x1.b3920e82cb984p+3},    {erfc_, 0x1.e589fdcb275ep+2},     {erfc_, 0x1.0ba581a466f12p+3},
    {cbrt_, 0x1.5p+7},                {cbrt_, -0x1.9p-3},               {cbrt_, 0x1.23456789abcdep+20},
};

double evaluate(Fn fn, double x) {
  switch (fn) {
    case exp_: return std::exp(x);
    case log_: return std::log(x);
    case log1p_: return std::log1p(x);
    case expm1_: return std::expm1(x);
    case tanh_: return std::tanh(x);
    case pow_: return std::pow(1.0 + std::fabs(x) * 0.1, x);
    case lgamma_: return std::lgamma(x);
    case cos_: return std::cos(x);
    case sin_: return std::sin(x);
    case sinh_: return std::sinh(x);
    case erfc_: return std::erfc(x);
    case cbrt_: return std::cbrt(x);
  }
  return 0;
}

}  // namespace

const std::string& libm_fingerprint() {
  static const std::string name = [] {
    std::uint64_t bits[std::size(probes)];
    for (std::size_t i = 0; i < std::size(probes); ++i) {
      volatile double x = probes[i].x;  // read at run time: the compiler would fold a constant argument itself
      const double y = evaluate(probes[i].fn, x);
      std::memcpy(&bits[i], &y, sizeof y);
    }
    return fmt::format("glibc-{}-{:016x}", gnu_get_libc_version(), XXH64(bits, sizeof bits, 0));
  }();
  return name;
}

}  // namespace vibench
