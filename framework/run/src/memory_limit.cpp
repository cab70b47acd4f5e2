#include "vibench/run/memory_limit.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace vibench {

namespace {
// A byte count read from a cgroup file; 0 when absent or unlimited ("max", or v1's huge sentinel).
double cgroup_bytes(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return 0;
  try {
    const double v = std::stod(text);
    return v > 0 && v < 1e18 ? v : 0;
  } catch (const std::exception&) {
    return 0;
  }
}
}  // namespace

MemoryLimit machine_memory_limit() {
  MemoryLimit limit{static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE)),
                    "physical memory"};
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"})
    if (const double v = cgroup_bytes(path); v > 0 && v < limit.bytes) limit = {v, "cgroup limit"};
  rlimit as{};
  if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY && static_cast<double>(as.rlim_cur) < limit.bytes)
    limit = {static_cast<double>(as.rlim_cur), "RLIMIT_AS (ulimit -v)"};
  return limit;
}

}  // namespace vibench
