#include "vibench/run/grid.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <new>
#include <regex>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>
#include <xxhash.h>

#include "vibench/plugin/did_you_mean.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/plugin/study.hpp"
#include "vibench/run/memory_limit.hpp"

namespace vibench {

namespace {

const std::vector<std::string> top_level_keys = {"name", "study", "description", "seed", "replicates",
                                                 "fixed", "grid", "zip", "scales"};
constexpr std::size_t max_cells = 1000000;

std::string join(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ", ")); }

std::vector<std::string> split_dotted(const std::string& key) {
  std::vector<std::string> parts;
  std::stringstream ss(key);
  std::string p;
  while (std::getline(ss, p, '.')) parts.push_back(p);
  return parts;
}

bool parse_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  const char* b = s.c_str();
  char* e = nullptr;
  errno = 0;
  out = std::strtod(b, &e);
  return e == b + s.size() && errno != ERANGE && std::isfinite(out);
}

bool parse_int(const std::string& s, std::int64_t& out) {
  static const std::regex int_re("[+-]?[0-9]+");
  if (!std::regex_match(s, int_re)) return false;
  errno = 0;
  out = std::strtoll(s.c_str(), nullptr, 10);
  return errno != ERANGE;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The node at dotted `path` inside a map tree, or null (also when a scalar is met on the way).
const RawNode* find_dotted(const RawNode& root, const std::string& path) {
  const RawNode* node = &root;
  for (const std::string& part : split_dotted(path)) {
    if (!node->is_map()) return nullptr;
    node = node->find(part);
    if (!node) return nullptr;
  }
  return node;
}

// How a value placed at a key meets a map already there (a plugin's sub-keys, e.g. estimator.baseline
// from `fixed` or `--set`): a scalar becomes that map's `name`, a map is merged key by key.
enum class Merge {
  override_keys,  // scale / --set: the new value's keys replace the map's
  axis_value,     // a grid or zip value: a key given on both sides is a conflict (only `name` is replaced)
};

// Merge map `value` into the plugin map `existing`, key by key; a plugin nested in the plugin (score_function's
// control_variate) is merged the same way, one level down, its scalar shorthand being its `name`.
void merge_map(RawNode& existing, const RawNode& value, const std::string& dotted, Merge merge) {
  for (std::size_t i = 0; i < value.entries.size(); ++i) {
    const std::string& k = value.entries[i].first;
    const RawNode& v = value.entries[i].second;
    RawNode* e = existing.find(k);
    if (e && v.is_map() && (e->is_map() || e->is_scalar())) {
      if (e->is_scalar()) {
        RawNode m = RawNode::make_map(e->loc);
        m.set("name", *e, existing.key_location(k));
        *e = std::move(m);
      }
      merge_map(*e, v, dotted + "." + k, merge);
      continue;
    }
    if (e && e->is_map() && v.is_scalar()) {
      if (merge == Merge::axis_value && e->find("name"))
        throw ConfigError(value.key_locations[i], dotted + "." + k + ".name",
                          fmt::format("given both by this axis value and at {}; keep one", e->key_location("name").str()));
      e->set("name", v, value.key_locations[i]);
      continue;
    }
    if (merge == Merge::axis_value && k != "name" && e)
      throw ConfigError(value.key_locations[i], dotted + "." + k,
                        fmt::format("given both by this axis value and at {}; keep one", existing.key_location(k).str()));
    existing.set(k, v, value.key_locations[i]);
  }
}

// Set `a.b.c` inside a map tree, creating maps on the way. A scalar met on the way is a plugin
// shorthand (`estimator: reparam`) and becomes {name: reparam}.
void set_dotted(RawNode& root, const std::string& dotted, RawNode value, const Location& key_loc,
                Merge merge = Merge::override_keys) {
  std::vector<std::string> parts = split_dotted(dotted);
  RawNode* node = &root;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    RawNode* child = node->find(parts[i]);
    if (!child) {
      node->set(parts[i], RawNode::make_map(key_loc), key_loc);
      child = node->find(parts[i]);
    } else if (child->is_scalar()) {
      RawNode m = RawNode::make_map(child->loc);
      m.set("name", *child, child->loc);
      *child = std::move(m);
    } else if (!child->is_map()) {
      throw ConfigError(key_loc, dotted, "cannot set a key inside " + child->describe());
    }
    node = child;
  }
  RawNode* existing = node->find(parts.back());
  if (!existing || !existing->is_map() || value.is_sequence() || value.kind == RawNode::Kind::Null) {
    node->set(parts.back(), std::move(value), key_loc);
  } else if (value.is_scalar()) {
    existing->set("name", std::move(value), key_loc);
  } else {
    merge_map(*existing, value, dotted, merge);
  }
}

// Removes the value at `dotted` (for a plugin map: only its `name`, keeping the sub-keys).
void erase_dotted_name(RawNode& root, const std::string& dotted) {
  const std::vector<std::string> parts = split_dotted(dotted);
  RawNode* node = &root;
  for (std::size_t i = 0; i + 1 < parts.size() && node; ++i) node = node->is_map() ? node->find(parts[i]) : nullptr;
  if (!node || !node->is_map()) return;
  RawNode* target = node->find(parts.back());
  if (target && target->is_map())
    target->erase("name");
  else if (target)
    node->erase(parts.back());
}

void relocate(RawNode& n, const Location& where) {
  n.loc = where;
  for (auto& it : n.items) relocate(it, where);
  for (auto& [k, v] : n.entries) relocate(v, where);
  for (auto& l : n.key_locations) l = where;
}

struct Axis {
  std::vector<std::string> keys;
  std::vector<Location> key_locs;
  std::vector<std::vector<RawNode>> values;  // values[key][row]
  std::size_t length() const { return values.empty() ? 0 : values[0].size(); }
};

// An axis's values: a list (whose scalar items may be generators), or a single generator/value.
std::vector<RawNode> axis_values(const RawNode& node, const std::string& key) {
  std::vector<RawNode> out;
  auto add = [&](const RawNode& n) {
    std::vector<std::string> generated;
    if (n.is_scalar() && !n.quoted && expand_generator(n.scalar, n.loc, key, generated)) {
      for (auto& s : generated) out.push_back(RawNode::make_scalar(s, n.loc));
    } else {
      out.push_back(n);
    }
  };
  if (node.is_sequence()) {
    for (const auto& item : node.items) add(item);
  } else {
    add(node);
  }
  if (out.empty()) throw ConfigError(node.loc, key, "an axis needs at least one value, got an empty list");
  return out;
}

void apply_override(std::vector<Axis>& axes, RawNode& base, const std::string& key, std::vector<RawNode> values,
                    const Location& key_loc) {
  for (Axis& a : axes) {
    for (std::size_t j = 0; j < a.keys.size(); ++j) {
      if (a.keys[j] != key) continue;
      if (a.keys.size() == 1) {
        a.values[0] = std::move(values);
      } else if (values.size() == 1) {
        a.values[j] = std::vector<RawNode>(a.length(), values[0]);
      } else if (values.size() == a.length()) {
        a.values[j] = std::move(values);
      } else {
        throw ConfigError(key_loc, key,
                          fmt::format("this key moves in a zip of {} values; give 1 or {} values, not {}", a.length(),
                                      a.length(), values.size()));
      }
      return;
    }
  }
  if (values.size() == 1) {
    set_dotted(base, key, std::move(values[0]), key_loc);
  } else {
    erase_dotted_name(base, key);  // the new axis replaces a fixed value (a plugin's sub-keys stay)
    axes.push_back(Axis{{key}, {key_loc}, {std::move(values)}});
  }
}

// A scale may give a zip a new length (paper scale: more K values, each with its replicates) when it gives
// every key of the zip that many values, or one value (broadcast); the zip then takes the new length before
// the keys are applied one by one.
void resize_zips(std::vector<Axis>& axes, const RawNode& scale, const std::vector<std::vector<RawNode>>& values) {
  for (Axis& a : axes) {
    if (a.keys.size() < 2) continue;
    std::size_t length = 0, first = 0;
    for (std::size_t i = 0; i < scale.entries.size(); ++i)
      if (std::find(a.keys.begin(), a.keys.end(), scale.entries[i].first) != a.keys.end() && values[i].size() > 1 &&
          values[i].size() != a.length() && length == 0) {
        length = values[i].size();
        first = i;
      }
    if (length == 0) continue;
    std::vector<std::vector<RawNode>> resized(a.keys.size());
    for (std::size_t j = 0; j < a.keys.size(); ++j) {
      for (std::size_t i = 0; i < scale.entries.size(); ++i)
        if (scale.entries[i].first == a.keys[j] && (values[i].size() == length || values[i].size() == 1))
          resized[j] = std::vector<RawNode>(length, values[i].front());
      if (resized[j].empty())
        throw ConfigError(scale.key_locations[first], scale.entries[first].first,
                          fmt::format("this scale gives the zip of '{}' {} values; give '{}' {} values (or one) in the "
                                      "scale too", fmt::join(a.keys, "', '"), length, a.keys[j], length));
    }
    a.values = std::move(resized);  // placeholders of the right length; apply_override sets the scale's values
  }
}

// Split "a,b,[c,d],range(1,2,3)" at top-level commas.
std::vector<std::string> split_top_level(const std::string& s) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : s) {
    if (c == '[' || c == '(' || c == '{') ++depth;
    if (c == ']' || c == ')' || c == '}') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

Value convert_value(const RawNode& v, const ParamSpec& s, const std::string& key) {
  auto fail = [&]() -> Value { throw ConfigError(v.loc, key, "expected " + s.expectation() + ", got " + v.describe()); };
  auto check_bounds = [&](double x) {
    if (x < s.min || x > s.max) fail();
  };
  auto number = [&](const RawNode& n, double& x) { return n.is_scalar() && !n.quoted && parse_double(n.scalar, x); };
  switch (s.type) {
    case ParamType::Int: {
      std::int64_t i = 0;
      if (!v.is_scalar() || v.quoted || !parse_int(v.scalar, i)) return fail();
      check_bounds(static_cast<double>(i));
      return i;
    }
    case ParamType::Double: {
      double x = 0;
      if (!number(v, x)) return fail();
      check_bounds(x);
      return x;
    }
    case ParamType::Bool:
      if (v.is_scalar() && !v.quoted && (v.scalar == "true" || v.scalar == "True")) return true;
      if (v.is_scalar() && !v.quoted && (v.scalar == "false" || v.scalar == "False")) return false;
      return fail();
    case ParamType::String:
      if (!v.is_scalar()) return fail();
      return v.scalar;
    case ParamType::Choice:
      if (!v.is_scalar()) return fail();
      for (const auto& c : s.choices)
        if (c == v.scalar) return v.scalar;
      return fail();
    case ParamType::DoubleList: {
      std::vector<double> xs;
      double x = 0;
      if (v.is_sequence()) {
        for (const auto& item : v.items) {
          if (!number(item, x))
            throw ConfigError(item.loc, key, "expected a list of numbers, but an item is " + item.describe());
          xs.push_back(x);
        }
      } else if (number(v, x)) {
        xs.push_back(x);
      } else {
        return fail();
      }
      return xs;
    }
    case ParamType::Plugin:
    case ParamType::Group:
      break;
  }
  return fail();
}

std::vector<std::string> spec_names(const std::vector<ParamSpec>& specs) {
  std::vector<std::string> names;
  for (const auto& s : specs) names.push_back(s.name);
  return names;
}

// Where the value of `key` was written: the key itself, else its nearest enclosing key, else a child.
Location location_of(const std::map<std::string, Location>& locations, const std::string& key, const Location& fallback) {
  for (std::string k = key; !k.empty();) {
    if (auto it = locations.find(k); it != locations.end()) return it->second;
    auto dot = k.rfind('.');
    k = dot == std::string::npos ? "" : k.substr(0, dot);
  }
  auto child = locations.lower_bound(key + ".");
  if (child != locations.end() && child->first.rfind(key + ".", 0) == 0) return child->second;
  return fallback;
}

}  // namespace

namespace {

// The value index of each axis in cell `index` (the first axis varies slowest).
std::vector<std::size_t> axis_digits(const std::vector<Axis>& axes, std::size_t index) {
  std::vector<std::size_t> digits(axes.size());
  for (std::size_t a = axes.size(); a-- > 0;) {
    digits[a] = index % axes[a].length();
    index /= axes[a].length();
  }
  return digits;
}

// The plugin an axis key chooses: `estimator` for the axis keys `estimator` and `estimator.name`.
std::string axis_plugin_path(const std::string& key) {
  const std::string suffix = ".name";
  const bool named = key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
  return named ? key.substr(0, key.size() - suffix.size()) : key;
}

// A key inside a plugin axis given outside the axis values (fixed, scales, --set, or another axis).
struct SubKey {
  std::string key;
  Location where;
  std::string axis_path;    // the axis key's plugin path, e.g. `estimator`
  std::size_t applied = 0;  // cells whose plugin declares it
};

std::vector<SubKey> axis_sub_keys(const RawNode& base, const std::vector<Axis>& axes) {
  std::vector<SubKey> out;
  auto add = [&](std::string key, const Location& where, const std::string& path) {
    if (key == path + ".name") return;  // the axis itself sets the name
    if (std::none_of(out.begin(), out.end(), [&](const SubKey& k) { return k.key == key; }))
      out.push_back({std::move(key), where, path});
  };
  auto leaves = [&](auto& self, const RawNode& n, const std::string& path, const std::string& axis) -> void {
    for (std::size_t i = 0; i < n.entries.size(); ++i) {
      const RawNode& v = n.entries[i].second;
      const std::string key = path + "." + n.entries[i].first;
      if (v.is_map() && !v.entries.empty())
        self(self, v, key, axis);
      else
        add(key, n.key_locations[i], axis);
    }
  };
  for (const Axis& a : axes)
    for (const std::string& k : a.keys) {
      const std::string path = axis_plugin_path(k);
      if (const RawNode* n = find_dotted(base, path); n && n->is_map()) leaves(leaves, *n, path, path);
      for (const Axis& b : axes)
        for (std::size_t j = 0; j < b.keys.size(); ++j)
          if (b.keys[j].rfind(path + ".", 0) == 0) add(b.keys[j], b.key_locs[j], path);
    }
  return out;
}

// Whether a sub-key reached a cell: neither it nor an enclosing key was left out.
bool applies(const std::string& key, const std::vector<std::string>& dropped) {
  return std::none_of(dropped.begin(), dropped.end(),
                      [&](const std::string& d) { return d == key || key.rfind(d + ".", 0) == 0; });
}

// A sub-key that no plugin on its axis declares.
ConfigError unused_sub_key(const SubKey& k, const std::vector<Cell>& cells) {
  std::vector<std::string> plugins, taken;
  const std::string prefix = k.axis_path + ".";
  for (const Cell& c : cells)
    for (const auto& [key, value] : c.config) {
      if (key.rfind(prefix, 0) != 0) continue;
      const std::string rest = key.substr(prefix.size());
      std::vector<std::string>& list = rest == "name" ? plugins : taken;
      const std::string item = rest == "name" ? canonical_text(value) : rest;
      if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
    }
  std::sort(taken.begin(), taken.end());
  const std::string leaf = k.key.substr(prefix.size());
  std::vector<std::string> candidates = taken;  // and the enclosing keys of nested ones (a nested plugin's slot)
  for (const std::string& t : taken)
    for (auto dot = t.find('.'); dot != std::string::npos; dot = t.find('.', dot + 1)) candidates.push_back(t.substr(0, dot));
  return ConfigError(k.where, k.key,
                     fmt::format("no plugin on the axis '{}' ({}) takes this key{}; they take: {}", k.axis_path,
                                 plugins.empty() ? "none" : join(plugins), did_you_mean(leaf, candidates),
                                 taken.empty() ? "(nothing)" : join(taken)));
}

std::string value_text(const RawNode& n) { return n.is_scalar() ? "'" + n.scalar + "'" : n.describe(); }

// Two cells with one configuration mean an axis gives the same cell twice: blame that axis's key, where it was
// written (file:line:column, or the --set), and say why when an axis sub-key does not apply to a plugin.
void check_distinct_cells(const std::vector<Cell>& cells, const std::vector<Axis>& axes, const std::vector<SubKey>& subs,
                          const std::vector<std::vector<std::string>>& dropped) {
  std::unordered_map<std::string, std::size_t> seen;
  for (const Cell& c : cells) {
    auto [it, inserted] = seen.emplace(c.id, c.index);
    if (inserted) continue;
    const std::vector<std::size_t> a = axis_digits(axes, it->second), b = axis_digits(axes, c.index);
    std::size_t axis = 0;
    while (axis + 1 < axes.size() && a[axis] == b[axis]) ++axis;
    const Axis& ax = axes[axis];
    std::string why = "; an axis must not repeat a value";
    for (const SubKey& k : subs)
      if (k.key == ax.keys[0] && !applies(k.key, dropped[c.index]))
        if (auto plugin = c.config.find(k.axis_path + ".name"); plugin != c.config.end())
          why = fmt::format(": {} '{}' does not take this key; pair the key with the plugins that take it in a zip, or "
                            "give it inside the axis values ({{name: ..., {}: ...}})", k.axis_path,
                            canonical_text(plugin->second), k.key.substr(k.axis_path.size() + 1));
    throw ConfigError(ax.key_locs[0], ax.keys[0],
                      fmt::format("values {} and {} of this axis give the same cell (cells {} and {}, id {}){}",
                                  value_text(ax.values[0][a[axis]]), value_text(ax.values[0][b[axis]]), it->second,
                                  c.index, c.id, why));
  }
}

// A cell whose estimated peak memory exceeds what this process may use is bad input: blame the key of the
// largest term, with its value, the estimate and the limit.
void check_memory(const Cell& cell, const MemoryEstimate& estimate, const MemoryLimit& limit, const Location& fallback) {
  const MemoryTerm* largest = estimate.largest();
  if (!largest || !(estimate.total() > limit.bytes)) return;
  auto value = cell.config.find(largest->key);
  throw ConfigError(location_of(cell.locations, largest->key, fallback), largest->key,
                    fmt::format("cell {} would need about {} of memory{} (largest part: {}, {}), more than this machine "
                                "allows: {} ({}); lower the sizes", cell.index, format_bytes(estimate.total()),
                                value == cell.config.end() ? "" : " with " + largest->key + " = " + canonical_text(value->second),
                                largest->what, format_bytes(largest->bytes), format_bytes(limit.bytes), limit.source));
}

}  // namespace

bool expand_generator(const std::string& text, const Location& where, const std::string& key,
                      std::vector<std::string>& out) {
  static const std::regex call_re(R"(^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$)");
  std::smatch m;
  if (!std::regex_match(text, m, call_re)) return false;
  const std::string fn = m[1], args_text = m[2];
  if (fn != "range" && fn != "logspace")
    throw ConfigError(where, key, "unknown generator '" + fn + "'; use range(a, b, step) or logspace(a, b, n)");
  std::vector<double> args;
  for (const std::string& a : split_top_level(args_text)) {
    double x = 0;
    if (!parse_double(trim(a), x))
      throw ConfigError(where, key, fmt::format("{}(...): argument '{}' is not a number", fn, trim(a)));
    args.push_back(x);
  }
  if (args.size() != 3)
    throw ConfigError(where, key, fmt::format("{} takes 3 arguments, got {}", fn == "range" ? "range(a, b, step)" : "logspace(a, b, n)", args.size()));
  auto emit = [&](double v) { out.push_back(fmt::format("{:.15g}", v)); };
  if (fn == "range") {
    const double a = args[0], b = args[1], step = args[2];
    if (step == 0 || (b - a) / step < 0)
      throw ConfigError(where, key, fmt::format("range({}, {}, {}): step must be non-zero and point from a to b", a, b, step));
    const double count = std::floor((b - a) / step + 1e-9) + 1;
    if (count > static_cast<double>(max_cells)) throw ConfigError(where, key, "range produces too many values");
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(count); ++i) emit(a + static_cast<double>(i) * step);
  } else {
    const double a = args[0], b = args[1], n = args[2];
    if (n < 1 || n != std::floor(n) || n > static_cast<double>(max_cells) || (n == 1 && a != b))
      throw ConfigError(where, key, fmt::format("logspace(a, b, n): n must be a positive integer (n = 1 only if a = b), got {}", n));
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(n); ++i)
      emit(std::pow(10.0, n == 1 ? a : a + static_cast<double>(i) * (b - a) / (n - 1)));
  }
  return true;
}

bool AxisSubKeys::covers(const std::string& key) const {
  return std::any_of(keys.begin(), keys.end(), [&](const std::string& k) { return k == key || k.rfind(key + ".", 0) == 0; });
}

void resolve_params(const RawNode& node, const std::vector<ParamSpec>& specs, const std::string& prefix,
                    Config& out, std::map<std::string, Location>& locations, AxisSubKeys* sub_keys) {
  const std::string where_name = prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1);
  if (!node.is_map()) throw ConfigError(node.loc, where_name, "expected a map, got " + node.describe());
  for (std::size_t i = 0; i < node.entries.size(); ++i) {
    const std::string& k = node.entries[i].first;
    bool known = false;
    for (const auto& s : specs) known = known || s.name == k;
    if (!known && sub_keys && sub_keys->covers(prefix + k)) {
      sub_keys->dropped.push_back(prefix + k);
      continue;
    }
    if (!known) {
      auto names = spec_names(specs);
      throw ConfigError(node.key_locations[i], prefix + k,
                        names.empty() ? "unknown key; this takes no parameters"
                                      : "unknown key" + did_you_mean(k, names) + "; allowed: " + join(names));
    }
  }
  for (const ParamSpec& spec : specs) {
    const std::string key = prefix + spec.name;
    const RawNode* v = node.find(spec.name);
    if (v && v->kind == RawNode::Kind::Null)
      throw ConfigError(node.key_location(spec.name), key, "no value given; expected " + spec.expectation());
    switch (spec.type) {
      case ParamType::Plugin: {
        std::string name;
        Location name_loc = v ? v->loc : node.loc;
        const RawNode* body = nullptr;
        if (!v) {
          if (!spec.default_value)
            throw ConfigError(node.loc, key, "missing; expected " + spec.expectation() + " (registered: " +
                                                 join(Registry::instance().names(spec.plugin_kind)) + ")");
          name = std::get<std::string>(*spec.default_value);
        } else if (v->is_scalar()) {
          name = v->scalar;
        } else if (v->is_map()) {
          body = v;
          const RawNode* n = v->find("name");
          if (!n && !spec.default_value)
            throw ConfigError(v->loc, key + ".name", "missing; expected " + with_article(spec.plugin_kind) + " name (registered: " +
                                                         join(Registry::instance().names(spec.plugin_kind)) + ")");
          if (n && !n->is_scalar()) throw ConfigError(n->loc, key + ".name", "expected a name, got " + n->describe());
          name = n ? n->scalar : std::get<std::string>(*spec.default_value);
          if (n) name_loc = n->loc;
        } else {
          throw ConfigError(v->loc, key, "expected " + spec.expectation() + ", got " + v->describe());
        }
        const PluginInfo* info = Registry::instance().find(spec.plugin_kind, name);
        if (!info)
          throw ConfigError(name_loc, key, fmt::format("unknown {} '{}'{}; registered: {}", spec.plugin_kind, name,
                                                       did_you_mean(name, Registry::instance().names(spec.plugin_kind)),
                                                       join(Registry::instance().names(spec.plugin_kind))));
        out[key + ".name"] = name;
        locations[key + ".name"] = name_loc;
        RawNode rest = body ? *body : RawNode::make_map(name_loc);
        rest.erase("name");
        resolve_params(rest, info->params, key + ".", out, locations, sub_keys);
        break;
      }
      case ParamType::Group:
        resolve_params(v ? *v : RawNode::make_map(node.loc), spec.fields, key + ".", out, locations, sub_keys);
        break;
      default:
        if (!v) {
          if (!spec.default_value)
            throw ConfigError(node.loc, key, "missing required key; expected " + spec.expectation());
          if (spec.absent_unless_given) break;  // the plugin falls back to the default (see ParamSpec)
          out[key] = *spec.default_value;
          locations[key] = node.loc;
        } else {
          out[key] = convert_value(*v, spec, key);
          locations[key] = v->loc;
        }
    }
  }
}

static void apply_legacy_id_keys(const Config& config, const std::vector<ParamSpec>& specs, const std::string& prefix,
                          Config& id) {
  for (const ParamSpec& spec : specs) {
    const std::string key = prefix + spec.name;
    if (spec.type == ParamType::Group) apply_legacy_id_keys(config, spec.fields, key + ".", id);
    if (spec.type != ParamType::Plugin) continue;
    const auto name = config.find(key + ".name");
    if (name == config.end() || !std::holds_alternative<std::string>(name->second)) continue;
    const PluginInfo* info = Registry::instance().find(spec.plugin_kind, std::get<std::string>(name->second));
    if (!info) continue;
    apply_legacy_id_keys(config, info->params, key + ".", id);  // inner plugins first
    if (info->legacy_id_keys) info->legacy_id_keys(key + ".", id);
  }
}

Config cell_id_config(const Config& config, const std::vector<ParamSpec>& specs) {
  Config id = config;
  apply_legacy_id_keys(config, specs, "", id);
  return id;
}

std::uint64_t cell_hash(const Config& config, const std::string& study) {
  std::string text = fmt::format("vibench-cell schema={} study={}\n", schema_version, study) + canonical_text(config);
  return XXH64(text.data(), text.size(), 0);
}

std::string hex_id(std::uint64_t h) { return fmt::format("{:016x}", h); }

Experiment load_experiment_text(const std::string& text, const std::string& file, const Overrides& overrides) {
  RawNode root = parse_yaml(text, file);
  const std::string top_help = "allowed top-level keys: " + join(top_level_keys);
  if (!root.is_map()) throw ConfigError(root.loc, "", "an experiment file must be a map; " + top_help);
  for (std::size_t i = 0; i < root.entries.size(); ++i) {
    const std::string& k = root.entries[i].first;
    if (std::find(top_level_keys.begin(), top_level_keys.end(), k) == top_level_keys.end())
      throw ConfigError(root.key_locations[i], k, "unknown top-level key" + did_you_mean(k, top_level_keys) + "; " + top_help);
  }
  Experiment ex;
  ex.path = file;
  ex.yaml_text = text;
  ex.scale = overrides.scale;

  auto required_scalar = [&](const std::string& key, const std::string& what) -> const RawNode& {
    const RawNode* n = root.find(key);
    if (!n) throw ConfigError(root.loc, key, "missing required top-level key; expected " + what);
    if (!n->is_scalar()) throw ConfigError(n->loc, key, "expected " + what + ", got " + n->describe());
    return *n;
  };
  const RawNode& name = required_scalar("name", "a name made of letters, digits, '_', '-', '.'");
  static const std::regex name_re("[A-Za-z0-9_][A-Za-z0-9_.-]*");
  if (!std::regex_match(name.scalar, name_re))
    throw ConfigError(name.loc, "name", "expected a name made of letters, digits, '_', '-', '.' (it names the results file), got '" + name.scalar + "'");
  ex.name = name.scalar;

  const RawNode& study = required_scalar("study", "a study name");
  const PluginInfo* study_info = Registry::instance().find("study", study.scalar);
  if (!study_info)
    throw ConfigError(study.loc, "study", fmt::format("unknown study '{}'{}; registered: {}", study.scalar,
                                                      did_you_mean(study.scalar, Registry::instance().names("study")),
                                                      join(Registry::instance().names("study"))));
  ex.study = study.scalar;

  const RawNode& seed = required_scalar("seed", "a non-negative integer");
  std::int64_t seed_value = -1;
  if (!parse_int(seed.scalar, seed_value) || seed_value < 0)
    throw ConfigError(seed.loc, "seed", "expected a non-negative integer, got " + seed.describe());
  ex.seed = static_cast<std::uint64_t>(seed_value);

  if (const RawNode* d = root.find("description")) {
    if (!d->is_scalar()) throw ConfigError(d->loc, "description", "expected text, got " + d->describe());
    ex.description = d->scalar;
  }

  RawNode base = RawNode::make_map(root.loc);
  if (const RawNode* fixed = root.find("fixed")) {
    if (!fixed->is_map()) throw ConfigError(fixed->loc, "fixed", "expected a map of key: value, got " + fixed->describe());
    for (std::size_t i = 0; i < fixed->entries.size(); ++i)
      set_dotted(base, fixed->entries[i].first, fixed->entries[i].second, fixed->key_locations[i]);
  }
  if (const RawNode* reps = root.find("replicates")) {
    if (base.find("replicates"))
      throw ConfigError(reps->loc, "replicates", "given both at top level and under 'fixed'; keep one");
    base.set("replicates", *reps, root.key_location("replicates"));
  }

  std::vector<Axis> axes;
  auto check_new_axis_key = [&](const std::string& key, const Location& where) {
    for (const Axis& a : axes)
      for (const auto& k : a.keys)
        if (k == key) throw ConfigError(where, key, "this key is already an axis (in grid or zip)");
  };
  if (const RawNode* grid = root.find("grid")) {
    if (!grid->is_map()) throw ConfigError(grid->loc, "grid", "expected a map of key: [values], got " + grid->describe());
    for (std::size_t i = 0; i < grid->entries.size(); ++i) {
      const auto& [k, v] = grid->entries[i];
      check_new_axis_key(k, grid->key_locations[i]);
      axes.push_back(Axis{{k}, {grid->key_locations[i]}, {axis_values(v, k)}});
    }
  }
  if (const RawNode* zip = root.find("zip")) {
    if (!zip->is_sequence())
      throw ConfigError(zip->loc, "zip", "expected a list of maps {key: [values], ...}, got " + zip->describe());
    for (const RawNode& group : zip->items) {
      if (!group.is_map() || group.entries.empty())
        throw ConfigError(group.loc, "zip", "each zip entry must be a map {key: [values], ...}, got " + group.describe());
      Axis axis;
      for (std::size_t i = 0; i < group.entries.size(); ++i) {
        const auto& [k, v] = group.entries[i];
        check_new_axis_key(k, group.key_locations[i]);
        axis.keys.push_back(k);
        axis.key_locs.push_back(group.key_locations[i]);
        axis.values.push_back(axis_values(v, k));
        if (axis.values.back().size() != axis.values.front().size())
          throw ConfigError(group.key_locations[i], k,
                            fmt::format("zipped keys must have equal lengths: '{}' has {} values, '{}' has {}", k,
                                        axis.values.back().size(), axis.keys.front(), axis.values.front().size()));
      }
      axes.push_back(std::move(axis));
    }
  }

  const RawNode* scales = root.find("scales");
  if (scales && !scales->is_map())
    throw ConfigError(scales->loc, "scales", "expected a map of scale name: {key: value}, got " + scales->describe());
  if (scales)  // every scale, used or not, must be a map (its keys are checked when it is applied)
    for (const auto& [scale_name, body] : scales->entries)
      if (!body.is_map())
        throw ConfigError(body.loc, "scales." + scale_name, "expected a map of key: value, got " + body.describe());
  if (!overrides.scale.empty()) {
    const RawNode* sc = scales ? scales->find(overrides.scale) : nullptr;
    if (!sc) {
      std::vector<std::string> names;
      if (scales)
        for (const auto& [k, v] : scales->entries) names.push_back(k);
      throw ConfigError(scales ? scales->loc : root.loc, "scales",
                        fmt::format("no scale named '{}' in this file; defined: {}", overrides.scale,
                                    names.empty() ? "(none)" : join(names)));
    }
    if (!sc->is_map())
      throw ConfigError(sc->loc, "scales." + overrides.scale, "expected a map of key: value, got " + sc->describe());
    std::vector<std::vector<RawNode>> values;
    for (const auto& [k, v] : sc->entries) values.push_back(axis_values(v, k));
    resize_zips(axes, *sc, values);
    for (std::size_t i = 0; i < sc->entries.size(); ++i)
      apply_override(axes, base, sc->entries[i].first, std::move(values[i]), sc->key_locations[i]);
  }
  for (const std::string& s : overrides.sets) {
    Location where{"--set " + s, 0, 0};
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
      throw ConfigError(where, "", "expected key=value or key=v1,v2,...");
    const std::string key = trim(s.substr(0, eq));
    if (key == "seed") {  // the experiment's global seed, not a cell key
      std::int64_t v = -1;
      if (!parse_int(trim(s.substr(eq + 1)), v) || v < 0)
        throw ConfigError(where, "seed", "expected one non-negative integer");
      ex.seed = static_cast<std::uint64_t>(v);
      continue;
    }
    std::vector<RawNode> values;
    for (const std::string& piece : split_top_level(s.substr(eq + 1))) {
      RawNode n = parse_yaml(trim(piece), where.file);
      relocate(n, where);
      std::vector<RawNode> expanded = axis_values(n, key);
      values.insert(values.end(), expanded.begin(), expanded.end());
    }
    apply_override(axes, base, key, std::move(values), where);
  }

  std::size_t total = 1;
  for (const Axis& a : axes) {
    total *= a.length();
    if (total > max_cells) throw ConfigError(root.loc, "grid", fmt::format("the grid expands to more than {} cells", max_cells));
  }

  AxisSubKeys sub_keys;
  std::vector<SubKey> subs = axis_sub_keys(base, axes);
  for (const SubKey& k : subs) sub_keys.keys.push_back(k.key);
  std::vector<std::vector<std::string>> dropped(total);  // per cell: the sub-keys left out of it
  for (std::size_t index = 0; index < total; ++index) {
    RawNode node = base;
    const std::vector<std::size_t> digits = axis_digits(axes, index);
    for (std::size_t a = 0; a < axes.size(); ++a)
      for (std::size_t j = 0; j < axes[a].keys.size(); ++j)
        set_dotted(node, axes[a].keys[j], axes[a].values[j][digits[a]], axes[a].key_locs[j], Merge::axis_value);
    Cell cell;
    cell.index = index;
    sub_keys.dropped.clear();
    resolve_params(node, study_info->params, "", cell.config, cell.locations, &sub_keys);
    dropped[index] = sub_keys.dropped;
    for (SubKey& k : subs) k.applied += applies(k.key, dropped[index]) ? 1 : 0;
    cell.key = cell_hash(cell_id_config(cell.config, study_info->params), ex.study);
    cell.id = hex_id(cell.key);
    ex.cells.push_back(std::move(cell));
  }
  for (const SubKey& k : subs)
    if (k.applied == 0) throw unused_sub_key(k, ex.cells);
  check_distinct_cells(ex.cells, axes, subs, dropped);

  std::unique_ptr<Study> study_impl = make_plugin<Study>(Params(Config{{"name", ex.study}}, ""));
  const MemoryLimit limit = machine_memory_limit();
  for (Cell& cell : ex.cells) {
    check_memory(cell, study_impl->memory_estimate(cell.config), limit, root.loc);  // before anything is built
    try {
      cell.skip_reason = study_impl->unsupported(cell.config);
    } catch (const Unsupported& e) {
      cell.skip_reason = e.what();
    } catch (const ParamError& e) {
      throw ConfigError(location_of(cell.locations, e.key(), root.loc), e.key(), e.what());
    } catch (const std::bad_alloc&) {
      throw ConfigError(root.loc, "", fmt::format("cell {} ran out of memory while its plugins were built; lower its sizes", cell.index));
    }
    // Locations serve this cell's validation only; a 10^5-cell sweep would otherwise keep ~2.6 KB per cell.
    std::map<std::string, Location>().swap(cell.locations);
  }
  return ex;
}

Experiment load_experiment(const std::string& path, const Overrides& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(Location{path, 0, 0}, "", "cannot read the experiment file");
  std::stringstream ss;
  ss << in.rdbuf();
  return load_experiment_text(ss.str(), path, overrides);
}

}  // namespace vibench
