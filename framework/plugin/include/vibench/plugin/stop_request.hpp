#pragma once
// A request to stop, set by SIGINT/SIGTERM (signal_stop.hpp) and polled by the computation at safe points:
// the runner starts no new cells, training studies checkpoint and stop (checkpoint.hpp), and replicate
// loops stop at their next chunk (their cell is abandoned and recomputed on resume).
#include <atomic>
#include <stdexcept>

namespace vibench {

// The number of the first stop signal received, 0 while none. A lock-free atomic with static (constant)
// initialization, so the signal handler may set it.
inline constinit std::atomic<int> stop_signal_number{0};
static_assert(std::atomic<int>::is_always_lock_free, "the stop flag is set from a signal handler");

inline bool stop_requested() { return stop_signal_number.load(std::memory_order_relaxed) != 0; }

// Thrown out of a cell that stopped because a stop was requested (after saving a checkpoint, if it keeps one).
class CellInterrupted : public std::runtime_error {
 public:
  CellInterrupted() : std::runtime_error("interrupted") {}
};

inline void throw_if_stop_requested() {
  if (stop_requested()) throw CellInterrupted();
}

}  // namespace vibench
