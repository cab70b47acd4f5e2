#pragma once
// The runner's CheckpointStore: one file per cell in the parts directory (ResultStore::checkpoint_path),
// stamped with the cell id, a hash of the resolved config, the seed, the study and the cell's code
// fingerprint, and sealed with a checksum; a file that does not match this cell exactly is reported, removed
// and ignored.
#include <functional>
#include <string>

#include "vibench/plugin/checkpoint.hpp"
#include "vibench/run/grid.hpp"
#include "vibench/run/store.hpp"

namespace vibench {

class CellCheckpointFile final : public CheckpointStore {
 public:
  using Note = std::function<void(const std::string&)>;
  // `unit_name` names the study's work units in notes ("steps"); `note` reports a line on stderr.
  CellCheckpointFile(const ResultStore& store, const Experiment& ex, const Cell& cell, double interval_seconds,
                     std::string unit_name, Note note);

  std::optional<std::vector<unsigned char>> load() override;
  void save(std::uint64_t progress, const std::vector<unsigned char>& state) override;
  void reject(const std::string& why) override;
  double interval_seconds() const override { return interval_seconds_; }

  // Whether the file now holds progress of this cell (saved, or resumed from, by this run).
  bool holds_progress() const { return holds_progress_; }

 private:
  void discard(const std::string& why);
  const ResultStore& store_;
  const Experiment& ex_;
  const Cell& cell_;
  double interval_seconds_;
  std::string unit_name_;
  Note note_;
  bool holds_progress_ = false;
};

}  // namespace vibench
