#pragma once
// A process-wide count of work units done (replicates, optimizer steps), read by the progress line to show
// a rate and an ETA inside long cells. Observational only: nothing computed depends on it.
#include <atomic>
#include <cstdint>

namespace vibench {

inline std::atomic<std::uint64_t>& work_done_counter() {
  static std::atomic<std::uint64_t> counter{0};
  return counter;
}

inline void count_work(std::uint64_t units) { work_done_counter().fetch_add(units, std::memory_order_relaxed); }

}  // namespace vibench
