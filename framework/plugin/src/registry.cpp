#include "vibench/plugin/registry.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace vibench {

Registry& Registry::instance() {
  static Registry registry;
  return registry;
}

const std::vector<std::string>& Registry::kinds() {
  static const std::vector<std::string> k{"target", "family", "objective", "estimator", "control_variate", "mi_task", "critic", "bound", "ib", "study"};
  return k;
}

void Registry::add(PluginInfo info) {
  if (find(info.kind, info.name)) {
    std::fprintf(stderr, "vibench: two plugins registered as %s '%s'\n", info.kind.c_str(), info.name.c_str());
    std::abort();
  }
  plugins_.push_back(std::move(info));
}

const PluginInfo* Registry::find(const std::string& kind, const std::string& name) const {
  for (const auto& p : plugins_)
    if (p.kind == kind && p.name == name) return &p;
  return nullptr;
}

std::vector<const PluginInfo*> Registry::list(const std::string& kind) const {
  std::vector<const PluginInfo*> out;
  for (const auto& p : plugins_)
    if (kind.empty() || p.kind == kind) out.push_back(&p);
  auto order = [](const std::string& k) { return std::find(kinds().begin(), kinds().end(), k) - kinds().begin(); };
  std::sort(out.begin(), out.end(), [&](const PluginInfo* a, const PluginInfo* b) {
    return std::make_pair(order(a->kind), a->name) < std::make_pair(order(b->kind), b->name);
  });
  return out;
}

std::vector<std::string> Registry::names(const std::string& kind) const {
  std::vector<std::string> out;
  for (const PluginInfo* p : list(kind)) out.push_back(p->name);
  return out;
}

}  // namespace vibench
