#include "vibench/plugin/work_counter.hpp"

#include <atomic>

namespace vibench {
namespace {
std::atomic<WorkObserver> installed_observer{nullptr};
}

void set_work_observer(WorkObserver observer) { installed_observer.store(observer); }

void count_work(std::uint64_t units) {
  if (WorkObserver observer = installed_observer.load(std::memory_order_relaxed)) observer(units);
}

}  // namespace vibench
