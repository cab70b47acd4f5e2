#pragma once
// Code fingerprints (DESIGN §6): which code computed a cell. A cell's fingerprint is the XXH64 of the
// build-time hashes (source_hashes.hpp) of every framework source group and of the files of the plugins the
// cell uses: the study, and every `<slot>.name` in its resolved config, nested slots included, and of the
// source `libm`, this process's libm_fingerprint(). Editing one plugin file therefore changes exactly the
// fingerprints of the cells that name that plugin; a CPU whose libm rounds differently changes every cell's.
#include <string>
#include <utility>
#include <vector>

#include "vibench/plugin/value.hpp"

namespace vibench {

struct CodeFingerprint {
  std::string value;                                         // 16 hex digits
  std::vector<std::pair<std::string, std::string>> sources;  // (source group or plugin file, its hash), sorted
  // One "<source> <hash>" line per source: stored as the cell attribute `code_sources`.
  std::string sources_text() const;
};

// The fingerprint this binary gives a cell of `study` with this config. Only the `*.name` keys of plugin
// slots are read, so a config rebuilt from a results file's string attributes gives the same answer.
CodeFingerprint cell_code_fingerprint(const std::string& study, const Config& config);

// The sources whose hash differs between a stored `code_sources` text and `current` (added or removed
// sources included), sorted.
std::vector<std::string> changed_sources(const std::string& stored_sources_text, const CodeFingerprint& current);

// Test hook, not a user setting: VIBENCH_TEST_SOURCE_HASHES="<source>=<hash>[,<source>=<hash>...]" replaces
// build-time hashes in this process, so tests can stand for an edited-and-rebuilt source without editing
// sources. The name of the variable, for tests and the README.
inline constexpr const char* test_source_hashes_env = "VIBENCH_TEST_SOURCE_HASHES";

}  // namespace vibench
