#pragma once
// Crash-safe results store (DESIGN §7). Each finished cell is appended as a checksummed record to this
// process's part file (<out>/.<name>.parts/<host>.<pid>.<n>.part, see part_log.hpp). The final
// <out>/<name>.h5 is assembled from the parts under a temporary name, sealed, fsync'd and renamed, so a
// killed run loses at most the cells in flight and never leaves a half-written results file.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vibench/plugin/study.hpp"
#include "vibench/run/grid.hpp"

namespace vibench {

class PartWriter;

// Where a finished cell lives: a record of a part file (group empty, at byte `offset`) or a group of an
// earlier final file ("/cells/<id>").
struct CellSource {
  std::string file;
  std::string group;
  bool stale = false;         // computed from the same config by other code (its code fingerprint differs)
  bool marked_stale = false;  // the stored group carries stale = 1 (so the final file needs rewriting if !stale)
  std::uint64_t offset = 0;   // a part-file record: its byte offset
};

struct ScanOptions {
  bool reuse_stale = false;  // keep stale cells (flagged) instead of recomputing them
  bool read_only = false;    // a report (--dry-run): delete nothing, and list stale cells (flagged) either way
};

using Provenance = std::vector<std::pair<std::string, Value>>;

class ResultStore {
 public:
  ResultStore(std::string out_dir, std::string name);

  const std::string& final_path() const { return final_path_; }
  const std::string& parts_dir() const { return parts_dir_; }
  // Number of cell groups in the final file (0 when there is none or it is unreadable), as counted by the
  // last scan_finished when there was one.
  std::size_t final_cell_count() const;

  // Cells already finished with the same resolved config, study and seed and the same code fingerprint:
  // from valid part records, then from an existing final file. Unreadable, torn and stale records are reported
  // and their cells recomputed (the append-only logs keep them until the parts are removed; a current record
  // of the same cell wins); with reuse_stale, stale cells are kept and flagged instead.
  std::map<std::string, CellSource> scan_finished(const Experiment& ex, std::vector<std::string>& notes,
                                                  const ScanOptions& options = {}) const;

  // Thread-safe.
  CellSource write_part(const Experiment& ex, const Cell& cell, const CellResult& result, double wall_seconds) const;

  // Write <name>.h5 from the finished cells (every non-skipped cell must be in `done`), atomically. Stale
  // cells get the attribute stale = 1; /index has the columns code_fingerprint and stale (0/1).
  void assemble(const Experiment& ex, const Provenance& root_attrs, const std::map<std::string, CellSource>& done) const;

  // An exclusive advisory lock (flock) on <parts>/<lock_name>, held while the returned object lives; empty
  // when another process holds it. Two runs of the same experiment (or shard) into one directory cannot
  // interleave their writes this way.
  class Lock {
   public:
    explicit Lock(int fd) : fd_(fd) {}
    Lock(Lock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Lock& operator=(Lock&& o) noexcept {
      std::swap(fd_, o.fd_);
      return *this;
    }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
    ~Lock();

   private:
    int fd_;
  };
  std::optional<Lock> try_lock(const std::string& lock_name) const;

  // A cell's checkpoint (checkpoint.hpp): <parts>/<id>.ckpt, replaced atomically (temporary file, fsync,
  // rename) so that a kill leaves the previous one intact; removed once the cell's part is written.
  std::string checkpoint_path(const std::string& id) const;
  void write_checkpoint(const std::string& id, const std::vector<unsigned char>& bytes) const;
  std::optional<std::vector<unsigned char>> read_checkpoint(const std::string& id) const;  // nullopt: none
  void remove_checkpoint(const std::string& id) const;

  void remove_parts() const;
  void remove_all() const;  // --fresh: forget parts and the final file

 private:
  std::string out_dir_, name_, final_path_, parts_dir_;
  // This process's part file, opened on the first write_part.
  mutable std::shared_ptr<std::mutex> writer_mutex_ = std::make_shared<std::mutex>();
  mutable std::shared_ptr<PartWriter> writer_;
  mutable std::optional<std::size_t> final_cells_;  // cells in the final file, as last scanned
};

}  // namespace vibench
