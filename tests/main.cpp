#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include <unistd.h>

#include "vibench/run/tbb_parallel_for.hpp"

// Runs the tests, then removes this process's scratch directory (helpers.hpp: <tmp>/vibench_test_<pid>).
// Loops inside cells run on TBB, as in `vibench run` (the tests exercise the threaded reduction).
int main(int argc, char* argv[]) {
  vibench::use_tbb_for_parallel_for();
  const int result = Catch::Session().run(argc, argv);
  std::error_code ignored;
  std::filesystem::remove_all(std::filesystem::temp_directory_path() / ("vibench_test_" + std::to_string(::getpid())), ignored);
  return result;
}
