#include "vibench/plugin/parallel_for.hpp"

#include <atomic>

namespace vibench {
namespace {

void serial_for(std::size_t n, const std::function<void(std::size_t)>& body) {
  for (std::size_t i = 0; i < n; ++i) body(i);
}

std::atomic<ParallelFor> installed_loop{&serial_for};

}  // namespace

void set_parallel_for(ParallelFor loop) { installed_loop.store(loop ? loop : &serial_for); }

void parallel_for(std::size_t n, const std::function<void(std::size_t)>& body) { installed_loop.load()(n, body); }

}  // namespace vibench
