// libFuzzer target: the experiment-file parser and validator (YAML -> grid -> resolved, validated cells).
// Any input must either load or raise a ConfigError/std::exception: no crash, no sanitizer report, no hang,
// no unbounded allocation.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "vibench/run/grid.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    vibench::Experiment ex = vibench::load_experiment_text(text, "fuzz.yaml", {});
    (void)ex;
  } catch (const std::exception&) {
    // Rejected with a message: the expected outcome for most inputs.
  }
  return 0;
}
