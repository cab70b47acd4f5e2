#pragma once
// How much memory one process may use on this machine.
#include <string>

namespace vibench {

struct MemoryLimit {
  double bytes = 0;
  std::string source;  // "physical memory", "cgroup limit", "RLIMIT_AS (ulimit -v)"
};

// The smallest of physical memory, the cgroup's memory limit (v2 memory.max or v1 limit_in_bytes) and RLIMIT_AS.
MemoryLimit machine_memory_limit();

}  // namespace vibench
