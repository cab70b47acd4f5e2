#include "vibench/run/tbb_parallel_for.hpp"

#include <tbb/parallel_for.h>

#include "vibench/plugin/parallel_for.hpp"

namespace vibench {
namespace {
void tbb_loop(std::size_t n, const std::function<void(std::size_t)>& body) {
  tbb::parallel_for(std::size_t{0}, n, [&](std::size_t i) { body(i); });
}
}  // namespace

void use_tbb_for_parallel_for() { set_parallel_for(&tbb_loop); }

}  // namespace vibench
