#include "vibench/mi/mi_transforms.hpp"

#include <cmath>
#include <stdexcept>

namespace vibench {

const std::vector<std::string>& mi_transform_names() {
  static const std::vector<std::string> names{"none", "cube", "asinh"};
  return names;
}

MiTransform parse_mi_transform(const std::string& name) {
  if (name == "none") return MiTransform::none;
  if (name == "cube") return MiTransform::cube;
  if (name == "asinh") return MiTransform::asinh;
  throw std::invalid_argument("unknown transform '" + name + "'");
}

double apply_mi_transform(MiTransform t, double v) {
  switch (t) {
    case MiTransform::cube:
      return v * v * v;
    case MiTransform::asinh:
      return std::asinh(v);
    case MiTransform::none:
      break;
  }
  return v;
}

double invert_mi_transform(MiTransform t, double v) {
  switch (t) {
    case MiTransform::cube:
      return std::cbrt(v);
    case MiTransform::asinh:
      return std::sinh(v);
    case MiTransform::none:
      break;
  }
  return v;
}

}  // namespace vibench
