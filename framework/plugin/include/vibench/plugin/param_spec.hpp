#pragma once
// Typed parameter declarations. One declaration drives YAML validation, defaults, and `vibench describe`.
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "vibench/plugin/value.hpp"

namespace vibench {

enum class ParamType { Int, Double, Bool, String, Choice, DoubleList, Plugin, Group };

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::Double;
  std::string help;
  std::optional<Value> default_value;  // absent: the key is required (Plugin: a name is required)
  std::vector<std::string> choices;    // Choice
  std::string plugin_kind;             // Plugin: registry kind of the referenced plugin
  std::vector<ParamSpec> fields;       // Group: nested keys
  double min = -std::numeric_limits<double>::infinity();  // inclusive bounds for Int/Double
  double max = std::numeric_limits<double>::infinity();
  // Left out of the resolved config (and so of the cell id) when the experiment does not give it: a parameter
  // added after results were stored keeps those cells' ids, and with them their random streams, bit for bit.
  // The plugin reads it with Params::has() and uses default_value when absent.
  bool absent_unless_given = false;

  static ParamSpec integer(std::string name, std::optional<std::int64_t> def, std::string help);
  static ParamSpec real(std::string name, std::optional<double> def, std::string help);
  static ParamSpec boolean(std::string name, bool def, std::string help);
  static ParamSpec string(std::string name, std::optional<std::string> def, std::string help);
  static ParamSpec choice(std::string name, std::vector<std::string> choices, std::string def, std::string help);
  static ParamSpec reals(std::string name, std::string help);  // list of doubles, default empty
  static ParamSpec plugin(std::string name, std::string kind, std::optional<std::string> def, std::string help);
  static ParamSpec group(std::string name, std::vector<ParamSpec> fields, std::string help);

  ParamSpec at_least(double v) && { min = v; return std::move(*this); }
  ParamSpec at_most(double v) && { max = v; return std::move(*this); }
  ParamSpec unless_given() && { absent_unless_given = true; return std::move(*this); }
  ParamSpec positive() && { min = std::numeric_limits<double>::denorm_min(); return std::move(*this); }

  // "integer >= 1", "one of: a, b", ... : what the user must write.
  std::string expectation() const;
};

// "an estimator", "a target"
std::string with_article(const std::string& noun);

}  // namespace vibench
