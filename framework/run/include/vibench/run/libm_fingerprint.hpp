#pragma once
// What this process's C math library computes, named. glibc picks its exp, log, pow, sin, … at load time for
// the CPU (x86-64: an FMA build where the CPU has FMA and AVX2, a baseline build elsewhere), and the builds
// round differently for up to about one input in a thousand (glibc 2.36: 1–3 ulp; README "Determinism").
// vibench's own code gives the same bits on every x86-64 CPU, so two runs give the same bits where this name
// is the same.
#include <string>

namespace vibench {

// "glibc-<version>-<16 hex digits>": glibc's version and a hash of the elementary functions vibench calls
// (exp, log, log1p, expm1, tanh, pow, lgamma, cos, sin, sinh, erfc, cbrt) at inputs where glibc 2.36's FMA and
// baseline builds give different bits. Computed once per process.
const std::string& libm_fingerprint();

}  // namespace vibench
