#pragma once
// Append-only, checksummed part files (DESIGN §7). A run process appends each finished cell as one record
// to its own part file (<parts>/<host>.<pid>.<n>.part), so a sweep of 10^5 cells needs neither 10^5 files
// nor memory per cell. File: the 16-byte magic "vibench-parts-1\n", then records, each
//   8 bytes "vbcell1\n", u64 payload length n, u64 XXH64 (seed 0) of the payload, n payload bytes
// (integers little endian). A record is used only when whole and its checksum matches, so a record torn by
// a kill (or damaged later) is detected and its cell recomputed.
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vibench/plugin/study.hpp"
#include "vibench/plugin/value.hpp"

namespace vibench {

// One finished cell as stored: the attributes and datasets of its /cells/<id> group.
struct StoredCell {
  std::string id;
  std::vector<std::pair<std::string, Value>> attrs;
  std::vector<Metric> datasets;
  const Value* attr(std::string_view name) const;  // nullptr if absent
};

std::string encode_cell(const StoredCell& cell);
StoredCell decode_cell(std::string_view payload);  // throws std::runtime_error on malformed bytes

// Appends records to one part file, created on the first append. Thread-safe. Records are written with one
// checked write each and fsync'd at most every `sync_seconds` and on close: a killed process loses nothing
// appended (the page cache survives it); a power loss may lose the records of the last seconds.
class PartWriter {
 public:
  explicit PartWriter(std::string path, double sync_seconds = 2.0);
  ~PartWriter();  // fsync and close (errors ignored: every record was already checked when written)
  PartWriter(const PartWriter&) = delete;
  PartWriter& operator=(const PartWriter&) = delete;

  // Appends one record and returns its offset. A failed write (a full disk) is cut back off the file, so
  // the file stays a sequence of whole records, and throws with the system's reason.
  std::uint64_t append(const std::string& payload);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  double sync_seconds_;
  std::mutex mutex_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  double last_sync_ = 0;
};

// Calls visit(offset, payload) for every whole record of a part file in order. Returns a description of
// what follows the last whole record when that is not the end of the file (a torn or damaged record: it and
// anything after it are ignored), empty otherwise. Throws when the file cannot be read or is not a part file.
std::string read_part_records(const std::string& path,
                              const std::function<void(std::uint64_t, std::string_view)>& visit);

// Reads back one record (checksum verified), e.g. at assembly.
std::string read_part_record(int fd, const std::string& path, std::uint64_t offset);

bool is_part_file(const std::string& filename);  // by name: "*.part"

}  // namespace vibench
