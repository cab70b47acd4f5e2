#include "vibench/plugin/memory_estimate.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

namespace vibench {

void MemoryEstimate::add(std::string what, double bytes, std::string key) {
  terms_.push_back({std::move(what), bytes, std::move(key)});
}

double MemoryEstimate::total() const {
  double sum = 0;
  for (const MemoryTerm& t : terms_) sum += t.bytes;
  return sum;
}

const MemoryTerm* MemoryEstimate::largest() const {
  auto it = std::max_element(terms_.begin(), terms_.end(), [](const MemoryTerm& a, const MemoryTerm& b) { return a.bytes < b.bytes; });
  return it == terms_.end() ? nullptr : &*it;
}

double cell_size(const Config& cell, const std::string& key, double fallback) {
  auto it = cell.find(key);
  if (it == cell.end() || !std::holds_alternative<std::int64_t>(it->second)) return fallback;
  return static_cast<double>(std::get<std::int64_t>(it->second));
}

double worker_threads() { return std::max(1.0, static_cast<double>(std::thread::hardware_concurrency())); }

void add_network(MemoryEstimate& e, double params, const std::string& params_key, double rows, double units,
                 const std::string& rows_key) {
  e.add("network parameters, gradient and Adam moments", doubles(4 * params), params_key);
  e.add("network activations and their gradients of every worker thread", worker_threads() * doubles(2 * rows * units),
        rows_key);
}

void add_fashion_mnist(MemoryEstimate& e) { e.add("the Fashion-MNIST images", doubles(70000.0 * 784.0), "study"); }

std::string format_bytes(double bytes) {
  if (bytes < 1024.0 * 1024.0) return fmt::format("{:.0f} KiB", bytes / 1024.0);
  if (bytes < 1024.0 * 1024.0 * 1024.0) return fmt::format("{:.1f} MiB", bytes / (1024.0 * 1024.0));
  return fmt::format("{:.3g} GiB", bytes / (1024.0 * 1024.0 * 1024.0));
}

}  // namespace vibench
