#pragma once
// Typed configuration values and the resolved configuration of one grid cell.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vibench {

using Value = std::variant<bool, std::int64_t, double, std::string, std::vector<double>>;

// Exact, locale-free text of a value: doubles with 17 significant digits so the text round-trips.
// Used for cell ids (hashing) and for display.
std::string canonical_text(const Value& v);
std::string_view type_name(const Value& v);

// A resolved cell: dotted key ("target.dim", "estimator.name") -> typed value; sorted, so canonical.
using Config = std::map<std::string, Value>;

std::string canonical_text(const Config& c);

// Read-only view of a Config under a prefix, e.g. the parameters of the cell's target ("target.").
class Params {
 public:
  Params(const Config& config, std::string prefix) : config_(&config), prefix_(std::move(prefix)) {}

  bool has(std::string_view key) const;
  std::int64_t get_int(std::string_view key) const;
  double get_double(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;
  const std::vector<double>& get_doubles(std::string_view key) const;
  Params sub(std::string_view key) const { return Params(*config_, full_key(key) + "."); }

  std::string full_key(std::string_view key) const { return prefix_ + std::string(key); }
  const std::string& prefix() const { return prefix_; }
  const Config& config() const { return *config_; }

 private:
  const Value& at(std::string_view key) const;
  const Config* config_;
  std::string prefix_;
};

}  // namespace vibench
