#pragma once
// The YAML parameters of the BMI-style MI tasks built on BlockCovariance (multivariate_normal, student_t).
#include <vector>

#include "vibench/mi/mi_block_covariance.hpp"
#include "vibench/plugin/param_spec.hpp"
#include "vibench/plugin/value.hpp"

namespace vibench {

// dim_x, dim_y, interaction, strength, interacting, transform.
std::vector<ParamSpec> block_covariance_params();
// Throws ParamError (key `interacting`) for more interacting pairs than min(dim_x, dim_y).
BlockCovariance make_block_covariance(const Params& p);

}  // namespace vibench
