#pragma once
// A cell's peak memory, estimated from its sizes before anything is built, so that a size no machine can
// hold is rejected as bad input (naming the key) instead of ending in std::bad_alloc.
#include <string>
#include <vector>

#include "vibench/plugin/value.hpp"

namespace vibench {

struct MemoryTerm {
  std::string what;  // e.g. "sample batches: samples x target.dim doubles"
  double bytes = 0;  // a double, so that absurd sizes (1e9 squared) do not overflow
  std::string key;   // the cell key whose value drives this term (blamed when the cell cannot fit)
};

class MemoryEstimate {
 public:
  void add(std::string what, double bytes, std::string key);
  double total() const;
  const MemoryTerm* largest() const;  // null when empty
  const std::vector<MemoryTerm>& terms() const { return terms_; }

 private:
  std::vector<MemoryTerm> terms_;
};

// Bytes held by `count` doubles.
inline double doubles(double count) { return 8.0 * count; }

// An integer size of the cell (e.g. "target.dim"), or `fallback` when the cell has no such key.
double cell_size(const Config& cell, const std::string& key, double fallback);

// Threads that may each hold a worker's scratch buffers at once (the machine's hardware threads).
double worker_threads();

// A network trained with Adam: `params` doubles with their gradient and Adam moments, and every worker's
// activations and their gradients for `rows` examples through `units` units in all.
void add_network(MemoryEstimate& e, double params, const std::string& params_key, double rows, double units,
                 const std::string& rows_key);

// Fashion-MNIST as loaded (70000 images of 784 doubles), once per process.
void add_fashion_mnist(MemoryEstimate& e);

// "1.5 GiB", "3.2e+09 GiB".
std::string format_bytes(double bytes);

}  // namespace vibench
