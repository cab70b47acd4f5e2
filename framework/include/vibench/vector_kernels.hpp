#pragma once
// Dense kernels of the estimators' hot loops, compiled for AVX-512, AVX2 and baseline x86-64 and picked at
// load time for the CPU (GCC target_clones). Each output element is summed in a fixed order and the build
// never contracts a·b + c into an FMA (-ffp-contract=off), so every variant gives the same bits.
#include <cstddef>

namespace vibench {

// Y −= X·B for row-major Y (n×m), X (n×k), B (k×m): y[s][i] −= Σ_j x[s][j]·b[j][i], j ascending.
void subtract_product(double* y, const double* x, const double* b, std::size_t n, std::size_t k, std::size_t m);

}  // namespace vibench
