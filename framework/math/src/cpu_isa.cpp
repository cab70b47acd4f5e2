#include "vibench/math/cpu_isa.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace vibench {

namespace {
constexpr Isa every_isa[] = {Isa::scalar, Isa::avx2, Isa::avx512};

Isa detect() {
  __builtin_cpu_init();
  const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) return Isa::avx512;
  if (v3) return Isa::avx2;
  return Isa::scalar;
}

// VIBENCH_ISA=scalar|avx2|avx512 runs a lower class's bodies on this CPU: what a machine of that class computes
// (the tests compare whole results files across classes with it).
Isa chosen() {
  const Isa best = detect();
  const char* env = std::getenv("VIBENCH_ISA");
  if (!env || !*env) return best;
  const std::string want = env;
  for (Isa isa : every_isa)
    if (want == isa_name(isa)) {
      if (static_cast<int>(isa) > static_cast<int>(best))
        throw std::invalid_argument("VIBENCH_ISA=" + want + ": this CPU runs only up to " + isa_name(best));
      return isa;
    }
  throw std::invalid_argument("VIBENCH_ISA=" + want + ": expected scalar, avx2 or avx512");
}
}  // namespace

Isa cpu_isa() {
  static const Isa isa = chosen();
  return isa;
}

bool cpu_supports(Isa isa) { return static_cast<int>(isa) <= static_cast<int>(cpu_isa()); }

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : every_isa)
    if (cpu_supports(isa)) out.push_back(isa);
  return out;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    case Isa::scalar: break;
  }
  return "scalar";
}

}  // namespace vibench
