// The README's plugin list and the registry must agree (DESIGN §4): a plugin is documented the moment it
// exists, and a documented plugin really exists.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "vibench/plugin/registry.hpp"

namespace {

// Lines "- `name` (kind): description" between the plugin-list markers of README.md.
std::set<std::string> readme_plugins() {
  std::ifstream in(std::string(VIBENCH_SOURCE_DIR) + "/README.md");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const auto begin = text.find("<!-- plugins:begin -->");
  const auto end = text.find("<!-- plugins:end -->");
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  REQUIRE(begin < end);
  const std::string block = text.substr(begin, end - begin);
  std::set<std::string> out;
  static const std::regex line(R"(- `([a-z0-9_]+)` \(([a-z_]+)\): \S)");
  for (std::sregex_iterator it(block.begin(), block.end(), line), stop; it != stop; ++it)
    out.insert((*it)[2].str() + "/" + (*it)[1].str());
  return out;
}

}  // namespace

TEST_CASE("every registered plugin is listed in the README and vice versa", "[registry]") {
  std::set<std::string> registered;
  for (const auto* info : vibench::Registry::instance().list()) registered.insert(info->kind + "/" + info->name);
  const auto documented = readme_plugins();
  for (const auto& p : registered) {
    INFO("registered but not in README.md: " << p);
    CHECK(documented.count(p) == 1);
  }
  for (const auto& p : documented) {
    INFO("in README.md but not registered: " << p);
    CHECK(registered.count(p) == 1);
  }
  CHECK(registered.size() >= 8);
}

TEST_CASE("every plugin has a kind from the fixed list, a description and documented parameters", "[registry]") {
  const auto& kinds = vibench::Registry::kinds();
  for (const auto* info : vibench::Registry::instance().list()) {
    INFO(info->kind << "/" << info->name);
    CHECK(std::find(kinds.begin(), kinds.end(), info->kind) != kinds.end());
    CHECK(!info->description.empty());
    CHECK(info->make);
    for (const auto& p : info->params) {
      INFO("parameter " << p.name);
      CHECK(!p.help.empty());
    }
  }
}
