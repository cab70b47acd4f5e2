#pragma once
// A YAML document as a plain tree that remembers where each node came from (file:line:column), so that
// every configuration error can point at the user's text after grids and overrides rewrote the tree.
#include <string>
#include <utility>
#include <vector>

#include "vibench/plugin/errors.hpp"

namespace vibench {

struct RawNode {
  enum class Kind { Null, Scalar, Sequence, Map };
  Kind kind = Kind::Null;
  std::string scalar;  // Scalar text
  bool quoted = false;  // a quoted scalar is always a string
  std::vector<RawNode> items;                           // Sequence
  struct Entry;  // {first: key, second: value}; not std::pair, which may not hold an incomplete RawNode
  std::vector<Entry> entries;                            // Map, in file order
  std::vector<Location> key_locations;                   // Map: where each key was written
  Location loc;

  static RawNode make_scalar(std::string text, Location where);
  static RawNode make_map(Location where);
  bool is_scalar() const { return kind == Kind::Scalar; }
  bool is_map() const { return kind == Kind::Map; }
  bool is_sequence() const { return kind == Kind::Sequence; }
  const RawNode* find(const std::string& key) const;
  RawNode* find(const std::string& key);
  Location key_location(const std::string& key) const;
  void set(const std::string& key, RawNode value, Location key_loc);  // replace or append
  bool erase(const std::string& key);
  std::string describe() const;  // "a map", "the scalar 'x'", ...
};

struct RawNode::Entry {
  std::string first;
  RawNode second;
};

// Parse YAML text; syntax errors become ConfigError at the reported position. Duplicate keys are errors.
RawNode parse_yaml(const std::string& text, const std::string& file_name);

}  // namespace vibench
