#include "vibench/plugin/block_covariance_params.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "vibench/plugin/errors.hpp"

namespace vibench {

std::vector<ParamSpec> block_covariance_params() {
  return {ParamSpec::integer("dim_x", 5, "dimension of x").at_least(1),
          ParamSpec::integer("dim_y", 5, "dimension of y").at_least(1),
          ParamSpec::choice("interaction", {"dense", "sparse"}, "sparse",
                            "dense: every coordinate pair interacts (one canonical correlation); sparse: the first "
                            "`interacting` pairs (x_i, y_i)"),
          ParamSpec::real("strength", 0.75, "the canonical correlation(s), |strength| < 1").at_least(-0.999999).at_most(0.999999),
          ParamSpec::integer("interacting", 2, "sparse: number of correlated pairs").at_least(1),
          ParamSpec::choice("transform", mi_transform_names(), "none", "invertible map applied to every coordinate; I unchanged")};
}

BlockCovariance make_block_covariance(const Params& p) {
  const auto dx = static_cast<std::size_t>(p.get_int("dim_x"));
  const auto dy = static_cast<std::size_t>(p.get_int("dim_y"));
  const bool dense = p.get_string("interaction") == "dense";
  const auto k = static_cast<std::size_t>(p.get_int("interacting"));
  if (!dense && k > std::min(dx, dy))
    throw ParamError(p.full_key("interacting"), fmt::format("at most min(dim_x, dim_y) = {} pairs", std::min(dx, dy)));
  return BlockCovariance(dx, dy, dense, p.get_double("strength"), k, parse_mi_transform(p.get_string("transform")));
}

}  // namespace vibench
