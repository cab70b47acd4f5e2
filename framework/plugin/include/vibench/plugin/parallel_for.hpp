#pragma once
// Independent pieces of one cell (chunks of replicates) run through parallel_for. The loop itself is a
// callback the run layer installs (TBB there); below the run layer nothing sees TBB, and the default runs
// the pieces in order on the calling thread. Callers merge the pieces' results in a fixed order, so the
// numbers never depend on the backend or on the number of threads.
#include <cstddef>
#include <functional>

namespace vibench {

using ParallelFor = void (*)(std::size_t n, const std::function<void(std::size_t)>& body);

void set_parallel_for(ParallelFor loop);  // null restores the serial default
// body(i) for every i in [0, n), in any order and concurrently; returns when all are done (rethrows the
// first exception a body threw).
void parallel_for(std::size_t n, const std::function<void(std::size_t)>& body);

}  // namespace vibench
