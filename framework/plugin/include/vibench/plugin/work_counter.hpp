#pragma once
// Work units done (replicates, optimizer steps), reported by studies as they go. Where the count goes is a
// callback the run layer installs (its progress line shows a rate and an ETA inside long cells); nothing
// below the run layer knows there is a progress line. Observational only: nothing computed depends on it.
#include <cstdint>

namespace vibench {

using WorkObserver = void (*)(std::uint64_t units);

// The observer every count_work() call reaches (null: counts go nowhere, the default).
void set_work_observer(WorkObserver observer);
void count_work(std::uint64_t units);

}  // namespace vibench
