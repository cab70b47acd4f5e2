#pragma once
// The few dense linear-algebra routines the closed forms need (small D; clarity over speed).
#include <vector>

#include "vibench/math/matrix.hpp"

namespace vibench::linalg {

// Lower Cholesky factor L of a symmetric positive-definite A (A = L Lᵀ); throws if A is not SPD.
Matrix cholesky(const Matrix& a);
// log det A from its Cholesky factor.
double logdet_from_cholesky(const Matrix& l);
// Solve A x = b given L (A = L Lᵀ).
std::vector<double> cholesky_solve(const Matrix& l, const std::vector<double>& b);
// A⁻¹ for SPD A.
Matrix spd_inverse(const Matrix& a);
Matrix matmul(const Matrix& a, const Matrix& b);
Matrix transpose(const Matrix& a);
std::vector<double> matvec(const Matrix& a, const std::vector<double>& x);
// log N(x; mean, cov)
double gaussian_logpdf(const std::vector<double>& x, const std::vector<double>& mean, const Matrix& cov);

}  // namespace vibench::linalg
