#include "vibench/plugin/param_spec.hpp"

#include <cmath>

#include <fmt/format.h>

namespace vibench {

ParamSpec ParamSpec::integer(std::string name, std::optional<std::int64_t> def, std::string help) {
  ParamSpec s{.name = std::move(name), .type = ParamType::Int, .help = std::move(help)};
  if (def) s.default_value = *def;
  return s;
}
ParamSpec ParamSpec::real(std::string name, std::optional<double> def, std::string help) {
  ParamSpec s{.name = std::move(name), .type = ParamType::Double, .help = std::move(help)};
  if (def) s.default_value = *def;
  return s;
}
ParamSpec ParamSpec::boolean(std::string name, bool def, std::string help) {
  return ParamSpec{.name = std::move(name), .type = ParamType::Bool, .help = std::move(help), .default_value = def};
}
ParamSpec ParamSpec::string(std::string name, std::optional<std::string> def, std::string help) {
  ParamSpec s{.name = std::move(name), .type = ParamType::String, .help = std::move(help)};
  if (def) s.default_value = *def;
  return s;
}
ParamSpec ParamSpec::choice(std::string name, std::vector<std::string> choices, std::string def, std::string help) {
  return ParamSpec{.name = std::move(name), .type = ParamType::Choice, .help = std::move(help),
                   .default_value = std::move(def), .choices = std::move(choices)};
}
ParamSpec ParamSpec::reals(std::string name, std::string help) {
  return ParamSpec{.name = std::move(name), .type = ParamType::DoubleList, .help = std::move(help),
                   .default_value = std::vector<double>{}};
}
ParamSpec ParamSpec::plugin(std::string name, std::string kind, std::optional<std::string> def, std::string help) {
  ParamSpec s{.name = std::move(name), .type = ParamType::Plugin, .help = std::move(help), .plugin_kind = std::move(kind)};
  if (def) s.default_value = *def;
  return s;
}
ParamSpec ParamSpec::group(std::string name, std::vector<ParamSpec> fields, std::string help) {
  return ParamSpec{.name = std::move(name), .type = ParamType::Group, .help = std::move(help), .fields = std::move(fields)};
}

std::string ParamSpec::expectation() const {
  auto bounds = [&](std::string what) {
    bool lo = std::isfinite(min), hi = std::isfinite(max);
    auto num = [&](double v) { return type == ParamType::Int ? fmt::format("{}", static_cast<long long>(v)) : fmt::format("{}", v); };
    if (min > 0 && min < 1e-300) return hi ? fmt::format("{} > 0 and <= {}", what, num(max)) : what + " > 0";
    if (lo && hi) return fmt::format("{} in [{}, {}]", what, num(min), num(max));
    if (lo) return fmt::format("{} >= {}", what, num(min));
    if (hi) return fmt::format("{} <= {}", what, num(max));
    return what;
  };
  switch (type) {
    case ParamType::Int: return bounds("an integer");
    case ParamType::Double: return bounds("a number");
    case ParamType::Bool: return "true or false";
    case ParamType::String: return "a string";
    case ParamType::Choice: return "one of: " + fmt::format("{}", fmt::join(choices, ", "));
    case ParamType::DoubleList: return "a list of numbers";
    case ParamType::Plugin: return with_article(plugin_kind) + " name, or a map with key 'name'";
    case ParamType::Group: return "a map";
  }
  return "";
}

std::string with_article(const std::string& noun) {
  bool vowel = !noun.empty() && std::string("aeiou").find(noun[0]) != std::string::npos;
  return (vowel ? "an " : "a ") + noun;
}

}  // namespace vibench
