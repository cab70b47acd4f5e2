#include "vibench/run/code_fingerprint.hpp"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <xxhash.h>

#include "vibench/plugin/registry.hpp"
#include "vibench/run/grid.hpp"
#include "vibench/run/libm_fingerprint.hpp"
#include "vibench/run/source_hashes.hpp"

namespace vibench {

namespace {

using SourceMap = std::map<std::string, std::string>;  // source -> hash

struct SourceTable {
  SourceMap framework, plugins;
};

// The build-time table with the test hook's replacements applied (read once per process).
const SourceTable& source_table() {
  static const SourceTable table = [] {
    SourceTable t;
    for (const SourceGroupHash& e : build_source_hashes())
      (std::string(e.kind) == "framework" ? t.framework : t.plugins)[e.source] = e.hash;
    // The C library's elementary functions are code every cell runs, chosen per CPU at load time: a cell computed
    // where they round differently is stale here, like one computed by an edited source.
    t.framework["libm"] = libm_fingerprint();
    const char* env = std::getenv(test_source_hashes_env);
    std::stringstream in(env ? env : "");
    for (std::string item; std::getline(in, item, ',');) {
      const auto eq = item.find('=');
      const std::string source = item.substr(0, eq);
      SourceMap* group = t.framework.count(source) ? &t.framework : t.plugins.count(source) ? &t.plugins : nullptr;
      if (eq == std::string::npos || !group) {
        // A test hook's typo must not pass as an unchanged source.
        std::fprintf(stderr, "vibench: error: %s: '%s' is not <hashed source>=<hash>\n", test_source_hashes_env, item.c_str());
        std::exit(2);
      }
      (*group)[source] = item.substr(eq + 1);
    }
    return t;
  }();
  return table;
}

// A plugin's entry in the table: the one whose path ends the file name the plugin was compiled as (absolute,
// or relative to the build directory when ccache rewrites paths).
std::pair<std::string, std::string> find_plugin_source(const PluginInfo& info) {
  const std::string& file = info.source_file;
  for (const auto& [source, hash] : source_table().plugins)
    if (file == source || (file.size() > source.size() && file.ends_with(source) && file[file.size() - source.size() - 1] == '/'))
      return {source, hash};
  // Registered outside the hashed sources (a test's own plugin): the fingerprint still names it.
  return {fmt::format("{} {} ({})", info.kind, info.name, file), "unhashed"};
}

const std::pair<std::string, std::string>& plugin_source(const PluginInfo& info) {
  // The registry is complete before main() runs; map every plugin once (thread-safe static init).
  static const std::map<const PluginInfo*, std::pair<std::string, std::string>> sources = [] {
    std::map<const PluginInfo*, std::pair<std::string, std::string>> m;
    for (const PluginInfo* p : Registry::instance().list()) m[p] = find_plugin_source(*p);
    return m;
  }();
  return sources.at(&info);
}

void add_plugin(const std::string& kind, const std::string& name, const Config& config, SourceMap& out);

// Every plugin slot of `specs` under `prefix`, groups and nested slots included.
void add_slots(const std::vector<ParamSpec>& specs, const std::string& prefix, const Config& config, SourceMap& out) {
  for (const ParamSpec& spec : specs) {
    const std::string key = prefix + spec.name;
    if (spec.type == ParamType::Group) add_slots(spec.fields, key + ".", config, out);
    if (spec.type != ParamType::Plugin) continue;
    auto it = config.find(key + ".name");
    if (it == config.end() || !std::holds_alternative<std::string>(it->second)) continue;
    add_plugin(spec.plugin_kind, std::get<std::string>(it->second), config, out);
    if (const PluginInfo* info = Registry::instance().find(spec.plugin_kind, std::get<std::string>(it->second)))
      add_slots(info->params, key + ".", config, out);
  }
}

void add_plugin(const std::string& kind, const std::string& name, const Config& config, SourceMap& out) {
  const PluginInfo* info = Registry::instance().find(kind, name);
  if (!info) {
    // Only a results file of another build can name a plugin this binary lacks: it cannot match.
    out[fmt::format("{} {}", kind, name)] = "unregistered";
    return;
  }
  const auto& [source, hash] = plugin_source(*info);
  out[source] = hash;
}

SourceMap parse_sources(const std::string& text) {
  SourceMap m;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto space = line.rfind(' ');
    if (space != std::string::npos) m[line.substr(0, space)] = line.substr(space + 1);
  }
  return m;
}

}  // namespace

std::string CodeFingerprint::sources_text() const {
  std::string text;
  for (const auto& [source, hash] : sources) text += source + " " + hash + "\n";
  return text;
}

CodeFingerprint cell_code_fingerprint(const std::string& study, const Config& config) {
  SourceMap sources = source_table().framework;
  add_plugin("study", study, config, sources);
  if (const PluginInfo* info = Registry::instance().find("study", study)) add_slots(info->params, "", config, sources);
  CodeFingerprint fp;
  fp.sources.assign(sources.begin(), sources.end());
  const std::string text = fp.sources_text();
  fp.value = hex_id(XXH64(text.data(), text.size(), 0));
  return fp;
}

std::vector<std::string> changed_sources(const std::string& stored_sources_text, const CodeFingerprint& current) {
  const SourceMap stored = parse_sources(stored_sources_text);
  const SourceMap now(current.sources.begin(), current.sources.end());
  std::set<std::string> changed;
  for (const auto& [source, hash] : stored)
    if (auto it = now.find(source); it == now.end() || it->second != hash) changed.insert(source);
  for (const auto& [source, hash] : now)
    if (!stored.count(source)) changed.insert(source);
  return {changed.begin(), changed.end()};
}

}  // namespace vibench
