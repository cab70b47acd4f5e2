#pragma once
// The instruction-set classes vibench's hand-written kernels have a body for, and the one this CPU runs. Every
// body of a kernel gives the same bits (each kernel's header says why); the class changes speed, never a number.
#include <vector>

namespace vibench {

// scalar: baseline x86-64; avx2: AVX2 with FMA (x86-64-v3); avx512: AVX-512 F and DQ as well.
enum class Isa { scalar, avx2, avx512 };

// The fastest class this CPU runs, or the lower one the environment variable VIBENCH_ISA names (throws
// std::invalid_argument for a name it does not know or a class this CPU lacks). What the kernels use.
Isa cpu_isa();
bool cpu_supports(Isa isa);  // isa ≤ cpu_isa()
std::vector<Isa> supported_isas();  // every class up to cpu_isa(), lowest first: the bodies tests and benchmarks compare
const char* isa_name(Isa isa);  // "scalar", "avx2", "avx512"

}  // namespace vibench
