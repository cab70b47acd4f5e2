#pragma once
// Installs TBB as the loop behind vibench::parallel_for (plugin/parallel_for.hpp): a cell's replicate chunks
// then run on the threads of the enclosing task arena. Idempotent; the runner calls it before running cells.
namespace vibench {
void use_tbb_for_parallel_for();
}
