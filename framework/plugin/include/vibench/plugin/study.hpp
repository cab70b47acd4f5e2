#pragma once
// Kind `study`: what one grid cell runs. Its declared parameters are the schema of a cell.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vibench/plugin/checkpoint.hpp"
#include "vibench/plugin/memory_estimate.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/plugin/value.hpp"

namespace vibench {

// One named result array of a cell (stored as an HDF5 dataset). shape {} is a scalar: it also
// becomes a column of the /index table.
struct Metric {
  std::string name;
  std::vector<std::size_t> shape;
  std::vector<double> values;        // numeric metrics
  std::vector<std::string> strings;  // string metrics (e.g. param_names); values empty
};

struct CellResult {
  std::vector<Metric> metrics;  // deterministic: bitwise identical for any thread count
  // "ok", or "diverged" with the reason (NaN/Inf in estimates or along an optimization): stored, not retried.
  std::string status = "ok";
  std::string reason;
  // Timings (ns_per_estimate, ...): stored as cell attributes and index columns, never compared.
  std::vector<std::pair<std::string, double>> timings;

  void add(std::string name, std::vector<double> v) {
    std::size_t n = v.size();
    metrics.push_back({std::move(name), {n}, std::move(v), {}});
  }
  void add_scalar(std::string name, double v) { metrics.push_back({std::move(name), {}, {v}, {}}); }
  void add_matrix(std::string name, std::size_t rows, std::size_t cols, std::vector<double> v) {
    metrics.push_back({std::move(name), {rows, cols}, std::move(v), {}});
  }
  void add_strings(std::string name, std::vector<std::string> s) {
    std::size_t n = s.size();
    metrics.push_back({std::move(name), {n}, {}, std::move(s)});
  }
};

struct CellContext {
  const Config& config;
  std::uint64_t seed;      // the experiment's global seed
  std::uint64_t cell_key;  // 64-bit cell id: second half of the RNG key
  // This cell's checkpoint (null: none is kept). Long training loops use it through TrainingCheckpoints.
  CheckpointStore* checkpoints = nullptr;
};

class Study {
 public:
  virtual ~Study() = default;
  static constexpr const char* kind = "study";

  // Why this cell cannot run (e.g. reparam on a non-reparameterizable family); nullopt if it can.
  // Throws ParamError for invalid parameter values found while building the cell's plugins.
  virtual std::optional<std::string> unsupported(const Config& cell) const = 0;
  // The cell's peak memory from its sizes alone (dim, samples, K, batch, widths, data set...), called before
  // unsupported() or run() build anything: a cell that cannot fit is rejected as bad input. Conservative
  // (an upper bound for every plugin the cell may name) but not absurd.
  virtual MemoryEstimate memory_estimate(const Config& cell) const = 0;
  virtual CellResult run(const CellContext& ctx) const = 0;
  // Progress accounting: how many work units a cell is (run() reports them through count_work as it goes)
  // and what they are called. Default: one unit per cell.
  virtual std::uint64_t work_units(const Config& cell) const { return 1; }
  virtual const char* work_unit_name() const { return "cells"; }
};

}  // namespace vibench
