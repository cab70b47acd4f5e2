#include "vibench/run/yaml_tree.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace vibench {

namespace {

Location loc_of(const YAML::Mark& m, const std::string& file) {
  if (m.is_null()) return Location{file, 0, 0};
  return Location{file, m.line + 1, m.column + 1};
}

RawNode convert(const YAML::Node& n, const std::string& file) {
  RawNode out;
  out.loc = loc_of(n.Mark(), file);
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out.kind = RawNode::Kind::Null;
      break;
    case YAML::NodeType::Scalar:
      out.kind = RawNode::Kind::Scalar;
      out.scalar = n.Scalar();
      out.quoted = n.Tag() == "!";
      break;
    case YAML::NodeType::Sequence:
      out.kind = RawNode::Kind::Sequence;
      for (const auto& item : n) out.items.push_back(convert(item, file));
      break;
    case YAML::NodeType::Map:
      out.kind = RawNode::Kind::Map;
      for (const auto& kv : n) {
        Location kl = loc_of(kv.first.Mark(), file);
        if (!kv.first.IsScalar()) throw ConfigError(kl, "", "map keys must be plain names");
        std::string key = kv.first.Scalar();
        if (out.find(key)) throw ConfigError(kl, key, "key given twice in the same map");
        out.entries.push_back(RawNode::Entry{key, convert(kv.second, file)});
        out.key_locations.push_back(kl);
      }
      break;
  }
  return out;
}

}  // namespace

RawNode RawNode::make_scalar(std::string text, Location where) {
  RawNode n;
  n.kind = Kind::Scalar;
  n.scalar = std::move(text);
  n.loc = std::move(where);
  return n;
}

RawNode RawNode::make_map(Location where) {
  RawNode n;
  n.kind = Kind::Map;
  n.loc = std::move(where);
  return n;
}

const RawNode* RawNode::find(const std::string& key) const {
  for (const auto& [k, v] : entries)
    if (k == key) return &v;
  return nullptr;
}

RawNode* RawNode::find(const std::string& key) {
  for (auto& [k, v] : entries)
    if (k == key) return &v;
  return nullptr;
}

Location RawNode::key_location(const std::string& key) const {
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (entries[i].first == key) return key_locations[i];
  return loc;
}

void RawNode::set(const std::string& key, RawNode value, Location key_loc) {
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (entries[i].first == key) {
      entries[i].second = std::move(value);
      key_locations[i] = std::move(key_loc);
      return;
    }
  entries.push_back(Entry{key, std::move(value)});
  key_locations.push_back(std::move(key_loc));
}

bool RawNode::erase(const std::string& key) {
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (entries[i].first == key) {
      entries.erase(entries.begin() + static_cast<long>(i));
      key_locations.erase(key_locations.begin() + static_cast<long>(i));
      return true;
    }
  return false;
}

std::string RawNode::describe() const {
  switch (kind) {
    case Kind::Null: return "nothing (null)";
    case Kind::Scalar: return "'" + scalar + "'";
    case Kind::Sequence: return "a list";
    case Kind::Map: return "a map";
  }
  return "";
}

RawNode parse_yaml(const std::string& text, const std::string& file_name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(loc_of(e.mark, file_name), "", "YAML syntax error: " + e.msg);
  }
  return convert(root, file_name);
}

}  // namespace vibench
