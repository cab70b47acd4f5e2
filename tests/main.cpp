#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include <unistd.h>

// Runs the tests, then removes this process's scratch directory (helpers.hpp: <tmp>/vibench_test_<pid>).
int main(int argc, char* argv[]) {
  const int result = Catch::Session().run(argc, argv);
  std::error_code ignored;
  std::filesystem::remove_all(std::filesystem::temp_directory_path() / ("vibench_test_" + std::to_string(::getpid())), ignored);
  return result;
}
