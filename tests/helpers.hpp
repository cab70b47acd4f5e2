#pragma once
// Shared test helpers: plugin configs with defaults, running the CLI, reading results files.
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <xxhash.h>

#include "vibench/plugin/cell_plugins.hpp"
#include "vibench/run/grid.hpp"
#include "vibench/run/hdf5_io.hpp"
#include "vibench/run/part_log.hpp"

namespace vibench::test {

// AddressSanitizer builds (make test-sanitize) reserve terabytes of virtual shadow memory and double resident
// memory: tests of memory bounds and of `ulimit -v` adapt to them.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool built_with_address_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool built_with_address_sanitizer = true;
#else
inline constexpr bool built_with_address_sanitizer = false;
#endif
#else
inline constexpr bool built_with_address_sanitizer = false;
#endif


// Config of plugin `name` of `kind` under key `slot` (e.g. "target"), every parameter at its default,
// then `overrides` (keys relative to the slot) applied.
inline Config plugin_config(const std::string& slot, const std::string& kind, const std::string& name,
                            const std::map<std::string, Value>& overrides = {}) {
  RawNode node = RawNode::make_map({"<test>", 0, 0});
  node.set(slot, RawNode::make_scalar(name, {"<test>", 0, 0}), {"<test>", 0, 0});
  Config c;
  std::map<std::string, Location> locs;
  resolve_params(node, {ParamSpec::plugin(slot, kind, std::nullopt, "")}, "", c, locs);
  for (const auto& [k, v] : overrides) c[slot + "." + k] = v;
  return c;
}

inline Config merge(std::initializer_list<Config> parts) {
  Config out;
  for (const auto& p : parts) out.insert(p.begin(), p.end());
  return out;
}

struct CommandResult {
  int code;
  std::string out, err;
};

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Run a shell command, capturing stdout and stderr.
inline CommandResult run_shell(const std::string& cmd, const std::string& tag = "cmd") {
  auto dir = std::filesystem::temp_directory_path() / ("vibench_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string out = (dir / (tag + ".out")).string(), err = (dir / (tag + ".err")).string();
  int status = std::system(("(" + cmd + ") >'" + out + "' 2>'" + err + "'").c_str());
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return {code, read_text(out), read_text(err)};
}

inline CommandResult run_cli(const std::string& args, const std::string& tag = "cmd") {
  return run_shell(std::string(VIBENCH_BINARY) + " " + args, tag);
}

// A fresh empty directory under the temp dir.
inline std::string fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("vibench_test_" + std::to_string(::getpid())) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline std::string write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

// Cells stored whole in the part files of a parts directory (0 if there is none): what a resume reuses.
// Files may be appended to while this reads them (a torn last record is not counted).
inline std::size_t finished_parts(const std::string& parts_dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(parts_dir, ec))
    if (is_part_file(e.path().filename().string())) {
      try {
        read_part_records(e.path().string(), [&](std::uint64_t, std::string_view) { ++n; });
      } catch (const std::exception&) {  // created but its header not yet written
      }
    }
  return n;
}

// Every metric dataset of every cell, as exact bits: "<id>/<dataset>" -> words.
inline std::map<std::string, std::vector<std::uint64_t>> metric_bits(const std::string& path) {
  std::map<std::string, std::vector<std::uint64_t>> out;
  auto lock = h5::hdf5_lock();
  h5::Handle f = h5::open_file_readonly(path);
  h5::Handle cells = h5::open_group(f, "cells");
  for (const auto& id : h5::member_names(cells)) {
    h5::Handle g = h5::open_group(cells, id);
    for (const auto& d : h5::member_names(g)) {
      std::vector<std::uint64_t> bits;
      if (h5::dataset_is_string(g, d)) {
        for (const auto& s : h5::read_dataset_strings(g, d))
          for (char ch : s) bits.push_back(static_cast<unsigned char>(ch));
      } else {
        for (double x : h5::read_dataset_doubles(g, d)) bits.push_back(std::bit_cast<std::uint64_t>(x));
      }
      out[id + "/" + d] = bits;
    }
  }
  return out;
}

// Recompute a results file's seal after an outside edit (h5py keeps the 512 leading bytes as a user block).
inline void reseal(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() > 512);
  const std::uint64_t n = bytes.size() - 512, hash = XXH64(bytes.data() + 512, n, 0);
  for (int i = 0; i < 8; ++i) {
    bytes[16 + i] = static_cast<unsigned char>(n >> (8 * i));
    bytes[24 + i] = static_cast<unsigned char>(hash >> (8 * i));
  }
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace vibench::test
