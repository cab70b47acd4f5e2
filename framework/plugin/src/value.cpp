#include "vibench/plugin/value.hpp"

#include <fmt/format.h>

#include "vibench/plugin/errors.hpp"

namespace vibench {

namespace {
// Shortest text that reads back to the same double (exact, so canonical configs stay injective).
std::string double_text(double d) { return fmt::format("{}", d); }
}  // namespace

std::string canonical_text(const Value& v) {
  struct Visitor {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return double_text(d); }
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(const std::vector<double>& xs) const {
      std::string out = "[";
      for (std::size_t i = 0; i < xs.size(); ++i) out += (i ? ", " : "") + double_text(xs[i]);
      return out + "]";
    }
  };
  return std::visit(Visitor{}, v);
}

std::string_view type_name(const Value& v) {
  static constexpr std::string_view names[] = {"bool", "int", "double", "string", "double list"};
  return names[v.index()];
}

std::string canonical_text(const Config& c) {
  std::string out;
  for (const auto& [key, value] : c) {
    // Type tag so that 1 (int) and 1.0 (double) never collide.
    out += key + ":" + std::string(type_name(value)) + "=" + canonical_text(value) + "\n";
  }
  return out;
}

const Value& Params::at(std::string_view key) const {
  auto it = config_->find(full_key(key));
  if (it == config_->end()) throw ParamError(full_key(key), "missing parameter (not declared by the plugin?)");
  return it->second;
}

bool Params::has(std::string_view key) const { return config_->count(full_key(key)) > 0; }

namespace {
template <class T>
const T& get_as(const Value& v, const std::string& key, std::string_view want) {
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw ParamError(key, fmt::format("expected {}, found {}", want, type_name(v)));
}
}  // namespace

std::int64_t Params::get_int(std::string_view key) const { return get_as<std::int64_t>(at(key), full_key(key), "int"); }
double Params::get_double(std::string_view key) const {
  const Value& v = at(key);
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  return get_as<double>(v, full_key(key), "double");
}
bool Params::get_bool(std::string_view key) const { return get_as<bool>(at(key), full_key(key), "bool"); }
const std::string& Params::get_string(std::string_view key) const {
  return get_as<std::string>(at(key), full_key(key), "string");
}
const std::vector<double>& Params::get_doubles(std::string_view key) const {
  return get_as<std::vector<double>>(at(key), full_key(key), "double list");
}

std::string Location::str() const {
  if (line <= 0) return file;
  return fmt::format("{}:{}:{}", file, line, column);
}

ConfigError::ConfigError(const Location& where, const std::string& key, const std::string& message)
    : std::runtime_error(fmt::format("{}: {}{}", where.str(), key.empty() ? "" : "key '" + key + "': ", message)),
      where_(where),
      key_(key),
      message_(message) {}

}  // namespace vibench
