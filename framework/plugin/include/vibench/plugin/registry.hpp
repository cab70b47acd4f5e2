#pragma once
// The plugin registry. A plugin is one .cpp file holding a static `Register<Interface, Impl>` object;
// the file is compiled into an OBJECT library, so the registration always runs (see CMakeLists.txt).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vibench/plugin/errors.hpp"
#include "vibench/plugin/param_spec.hpp"
#include "vibench/plugin/value.hpp"

namespace vibench {

// A built plugin whose interface only make_plugin knows: the math interfaces (Target, Family, …) live in
// layers below this one and so derive from no registry type; the deleter restores the interface type.
using PluginPtr = std::unique_ptr<void, void (*)(void*)>;

// What a plugin is built from beyond its own parameters: e.g. a family takes its dimension
// from the cell's target.
struct PluginContext {
  std::size_t dim = 0;
  std::size_t dim_y = 0;                 // a critic's second input (x has `dim`)
  const class Target* target = nullptr;  // the cell's target (amortized families read its observation)
};

struct PluginInfo {
  std::string kind;         // "target", "family", "objective", "estimator", "study", ...
  std::string name;         // registry name used in YAML
  std::string description;  // one line
  std::string reference;    // paper / section it implements, if any
  std::vector<ParamSpec> params;
  // Rewrites this plugin's resolved keys (those under `prefix`, e.g. "estimator.") into the spelling they had
  // when its cells were first stored, in the config a cell id is hashed from (and so its random streams are
  // seeded from); the stored config keeps the current spelling. Lets a parameter be reorganized without
  // changing stored results (score_function's control variate). Unset: the keys are hashed as resolved.
  std::function<void(const std::string& prefix, Config& config)> legacy_id_keys;
  std::string source_file;  // the file that registered it, as compiled (code fingerprints hash it at build time)
  std::function<PluginPtr(const Params&, const PluginContext&)> make;  // an Interface* of this kind
};

class Registry {
 public:
  static Registry& instance();
  void add(PluginInfo info);  // aborts on a duplicate (kind, name): a programming error
  const PluginInfo* find(const std::string& kind, const std::string& name) const;
  std::vector<const PluginInfo*> list(const std::string& kind = "") const;  // sorted by kind, name
  std::vector<std::string> names(const std::string& kind) const;
  static const std::vector<std::string>& kinds();

 private:
  std::vector<PluginInfo> plugins_;
};

// Build the plugin named by `params.get_string("name")` of the interface's kind.
template <class Interface>
std::unique_ptr<Interface> make_plugin(const Params& params, const PluginContext& ctx = {}) {
  const std::string& name = params.get_string("name");
  const PluginInfo* info = Registry::instance().find(Interface::kind, name);
  if (!info) throw ParamError(params.full_key("name"), "no " + std::string(Interface::kind) + " named '" + name + "'");
  PluginPtr built = info->make(params, ctx);
  return std::unique_ptr<Interface>(static_cast<Interface*>(built.release()));
}

template <class Interface, class Impl>
struct Register {
  // `file` defaults to the plugin file's own registration statement: the source its cells' fingerprints cover.
  // (__builtin_FILE rather than std::source_location: clang 14, which builds the fuzz targets, lacks the
  // latter with libstdc++ 12; GCC and clang give the same file name.)
  explicit Register(PluginInfo info, const char* file = __builtin_FILE()) {
    info.kind = Interface::kind;
    info.source_file = file;
    info.make = [](const Params& p, const PluginContext& c) -> PluginPtr {
      Interface* built;
      if constexpr (std::is_constructible_v<Impl, const Params&, const PluginContext&>)
        built = new Impl(p, c);
      else
        built = new Impl(p);
      return PluginPtr(built, [](void* q) { delete static_cast<Interface*>(q); });
    };
    Registry::instance().add(std::move(info));
  }
};

}  // namespace vibench
