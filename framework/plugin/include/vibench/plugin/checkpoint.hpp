#pragma once
// Checkpoints of long (training) cells, so that a cell interrupted by SIGINT/SIGTERM or killed continues
// where it stopped and ends with the same bits as an uninterrupted run. The runner gives each cell a
// CheckpointStore through its CellContext (a file validated on load); a training loop uses
// TrainingCheckpoints: resume() once before the loop, safe_point() between steps. The saved state must be
// everything the rest of the computation depends on (parameters, optimizer moments and step count, the
// step/epoch position, running sums, the records so far); the random numbers need no state of their own,
// since every draw comes from a counter-based stream keyed by the step (rng.hpp).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vibench/math/state_stream.hpp"
#include "vibench/plugin/stop_request.hpp"

namespace vibench {

// One cell's checkpoint, kept by the runner. Used by one cell (one thread) at a time.
class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  // The saved state of an earlier, interrupted run of this cell, if there is one made for the same cell
  // id, config, seed and study with an intact checksum; an unusable one is reported, removed and ignored.
  virtual std::optional<std::vector<unsigned char>> load() = 0;
  // Replaces the checkpoint atomically; `progress` (work units done, e.g. steps) is reported on resume. A
  // failed write is reported and leaves the previous checkpoint in place; the cell goes on.
  virtual void save(std::uint64_t progress, const std::vector<unsigned char>& state) = 0;
  // The state load() returned could not be restored (another layout): reported and removed.
  virtual void reject(const std::string& why) = 0;
  // Seconds between periodic checkpoints; 0: only when a stop is requested.
  virtual double interval_seconds() const = 0;
};

class TrainingCheckpoints {
 public:
  // store null (no runner, e.g. a unit test): nothing is saved, but a stop request still stops the cell.
  explicit TrainingCheckpoints(CheckpointStore* store) : store_(store), last_save_(std::chrono::steady_clock::now()) {}

  // If a usable checkpoint exists, restore(reader) reads the state from it (and returns the progress it
  // represents); returns that progress, or nullopt when the cell starts from the beginning. A state that does
  // not parse (StateFormatError) is rejected; the study must then initialize every field as for a new cell.
  template <class Restore>
  std::optional<std::uint64_t> resume(Restore&& restore) {
    if (!store_) return std::nullopt;
    auto bytes = store_->load();
    if (!bytes) return std::nullopt;
    try {
      StateReader in(*bytes);
      const std::uint64_t progress = restore(in);
      in.expect_end();
      saved_progress_ = progress;
      return progress;
    } catch (const StateFormatError& e) {
      store_->reject(e.what());
      return std::nullopt;
    }
  }

  // A safe point between two steps, `progress` steps done. Saves the state written by save(writer) when the
  // interval has passed or a stop is requested (and the state differs from the one saved last); on a stop
  // request then throws CellInterrupted.
  template <class Save>
  void safe_point(std::uint64_t progress, Save&& save) {
    const bool stop = stop_requested();
    if (store_ && progress != saved_progress_ && (stop || interval_passed())) {
      StateWriter out;
      save(out);
      store_->save(progress, out.bytes());
      saved_progress_ = progress;
      last_save_ = std::chrono::steady_clock::now();
    }
    if (stop) throw CellInterrupted();
  }

 private:
  // Reading the clock costs up to ~0.4 µs on a loaded VM, comparable to a small optimize step; so it is read
  // only every `clock_stride_` safe points, the stride doubling while reads come less than 1 ms apart and
  // halving when they come more than 10 ms apart: a few reads per 10 ms at most, and a periodic save at
  // most ~10 ms (or one step) late. The stop request is checked at every safe point.
  bool interval_passed() {
    const double interval = store_->interval_seconds();
    if (interval <= 0 || ++since_clock_ < clock_stride_) return false;
    since_clock_ = 0;
    const auto now = std::chrono::steady_clock::now();
    const double apart = std::chrono::duration<double>(now - last_clock_).count();
    last_clock_ = now;
    if (apart < 1e-3 && clock_stride_ < 4096) clock_stride_ *= 2;
    if (apart > 1e-2 && clock_stride_ > 1) clock_stride_ /= 2;
    return std::chrono::duration<double>(now - last_save_).count() >= interval;
  }
  CheckpointStore* store_;
  std::chrono::steady_clock::time_point last_save_, last_clock_ = last_save_;
  std::uint64_t saved_progress_ = 0;  // a new cell at progress 0 has nothing worth saving
  std::uint64_t clock_stride_ = 1, since_clock_ = 0;
};

}  // namespace vibench
