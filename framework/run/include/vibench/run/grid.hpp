#pragma once
// Experiment files: parse, apply scale and --set overrides, expand the grid into resolved cells.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vibench/plugin/errors.hpp"
#include "vibench/plugin/param_spec.hpp"
#include "vibench/plugin/value.hpp"
#include "vibench/run/yaml_tree.hpp"

namespace vibench {

inline constexpr int schema_version = 1;

struct Cell {
  std::size_t index = 0;     // position in the expansion (first axis varies slowest)
  std::string id;            // 16 hex digits: xxHash64 of the canonical config + study + schema version
  std::uint64_t key = 0;     // the same hash as an integer (RNG key)
  Config config;             // fully resolved, defaults filled in
  std::map<std::string, Location> locations;  // where each key's value was written (for errors while loading; then emptied)
  std::optional<std::string> skip_reason;     // incompatible combination: reported and skipped
};

struct Experiment {
  std::string path;
  std::string yaml_text;  // verbatim, stored as provenance
  std::string name;
  std::string study;
  std::string description;
  std::uint64_t seed = 0;
  std::string scale;  // "" = default (quick)
  std::vector<Cell> cells;
};

struct Overrides {
  std::string scale;              // name under `scales:`; "" = none
  std::vector<std::string> sets;  // "key=v1,v2"
};

// Everything up to and including plugin validation: throws ConfigError on any bad input.
Experiment load_experiment(const std::string& path, const Overrides& overrides);
Experiment load_experiment_text(const std::string& text, const std::string& file_name, const Overrides& overrides);

// Expand range(a, b, step) (inclusive of b when hit, computed as a + i·step) and logspace(a, b, n)
// (10^(a + i(b − a)/(n − 1))); returns false if `text` is neither form. Throws ConfigError if malformed.
bool expand_generator(const std::string& text, const Location& where, const std::string& key,
                      std::vector<std::string>& out);

// Sub-keys of a plugin that is a grid/zip axis (`--set estimator.baseline=x` with `grid: {estimator: [...]}`):
// each applies to the plugins on the axis that declare it.
struct AxisSubKeys {
  std::vector<std::string> keys;     // full dotted keys
  std::vector<std::string> dropped;  // set by resolve_params: undeclared keys (or enclosing keys) left out
  // True if `key` is one of `keys` or encloses one (estimator.control_variate encloses estimator.control_variate.k).
  bool covers(const std::string& key) const;
};

// Resolve a map against declared parameters into dotted keys (exposed for tests). An undeclared key is an
// error, unless `sub_keys` covers it: then it is left out of this cell and recorded in sub_keys->dropped.
void resolve_params(const RawNode& node, const std::vector<ParamSpec>& specs, const std::string& prefix,
                    Config& out, std::map<std::string, Location>& locations, AxisSubKeys* sub_keys = nullptr);

// The config a cell's id is hashed from: the resolved config with every plugin's legacy_id_keys applied
// (registry.hpp), inner plugins first. Equal to the resolved config unless a plugin reorganized its keys.
Config cell_id_config(const Config& config, const std::vector<ParamSpec>& specs);
std::uint64_t cell_hash(const Config& config, const std::string& study);
std::string hex_id(std::uint64_t h);

}  // namespace vibench
