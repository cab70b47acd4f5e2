#include "vibench/store.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "vibench/code_fingerprint.hpp"
#include "vibench/hdf5_io.hpp"

namespace fs = std::filesystem;

namespace vibench {

namespace {

// Attribute names the store itself writes on each cell group (config keys never use these).
const std::set<std::string> bookkeeping = {"status", "reason", "cell_index", "config_canonical", "seed", "study",
                                           "code_fingerprint", "code_sources", "stale"};

void write_cell_attrs(hid_t g, const Experiment& ex, const Cell& cell, const std::string& status,
                      const std::string& reason) {
  for (const auto& [k, v] : cell.config) h5::write_attr(g, k, v);
  h5::write_attr(g, "status", status);
  if (!reason.empty()) h5::write_attr(g, "reason", reason);
  h5::write_attr(g, "cell_index", static_cast<std::int64_t>(cell.index));
  h5::write_attr(g, "config_canonical", canonical_text(cell.config));
  h5::write_attr(g, "seed", static_cast<std::int64_t>(ex.seed));
  h5::write_attr(g, "study", ex.study);
  const CodeFingerprint fp = cell_code_fingerprint(ex.study, cell.config);
  h5::write_attr(g, "code_fingerprint", fp.value);
  h5::write_attr(g, "code_sources", fp.sources_text());
}

// --reuse-stale: a kept stale cell says so (stale = 1); a cell whose code matches again loses an old mark.
void mark_stale(hid_t g, bool stale) {
  if (H5Aexists(g, "stale") > 0 && H5Adelete(g, "stale") < 0) throw std::runtime_error("HDF5: delete attribute stale");
  if (stale) h5::write_attr(g, "stale", std::int64_t{1});
}

// A finished group is reusable only if it was computed from exactly this cell, study and seed.
// A cell that ran to the end: "ok", or "diverged" (deterministic, so rerunning would diverge again).
bool finished_status(const std::string& status) { return status == "ok" || status == "diverged"; }

// Of those, a group whose code fingerprint differs from this binary's for the cell (or that has none: it was
// written before fingerprints existed) is stale: other code computed it.
enum class Match { different, stale, same };

Match same_cell(hid_t g, const Experiment& ex, const Cell& cell, const CodeFingerprint& fp) {
  const bool same_inputs = h5::has_attr(g, "config_canonical") && h5::has_attr(g, "seed") && h5::has_attr(g, "status") &&
                           h5::read_attr_string(g, "config_canonical") == canonical_text(cell.config) &&
                           static_cast<std::uint64_t>(h5::read_attr_double(g, "seed")) == ex.seed &&
                           h5::read_attr_string(g, "study") == ex.study &&
                           finished_status(h5::read_attr_string(g, "status"));
  if (!same_inputs) return Match::different;
  const bool same_code = h5::has_attr(g, "code_fingerprint") && h5::read_attr_string(g, "code_fingerprint") == fp.value;
  return same_code ? Match::same : Match::stale;
}

// Stale cells found in one place (the parts or the final file), for one note saying how many and why.
struct StaleTally {
  std::size_t count = 0, unfingerprinted = 0;
  std::set<std::string> changed;  // sources whose hash differs from the stored one

  void add(hid_t g, const CodeFingerprint& fp) {
    ++count;
    if (!h5::has_attr(g, "code_sources")) {
      ++unfingerprinted;
      return;
    }
    for (auto& s : changed_sources(h5::read_attr_string(g, "code_sources"), fp)) changed.insert(std::move(s));
  }
  void note(const std::string& where, const ScanOptions& options, std::vector<std::string>& notes) const {
    if (!count) return;
    std::vector<std::string> why;
    if (!changed.empty()) {
      std::vector<std::string> names(changed.begin(), changed.end());
      const std::size_t shown = std::min<std::size_t>(names.size(), 6);
      why.push_back(fmt::format("changed since: {}{}", fmt::join(names.begin(), names.begin() + static_cast<long>(shown), ", "),
                                names.size() > shown ? fmt::format(" and {} more", names.size() - shown) : ""));
    }
    if (unfingerprinted) why.push_back(fmt::format("{} written before code fingerprints existed", unfingerprinted));
    const std::string action =
        options.reuse_stale ? "kept as --reuse-stale asks, and marked stale (cell attribute stale = 1, /index column stale)"
        : options.read_only ? "a run would recompute them (--reuse-stale keeps them)"
                            : "they are recomputed (--reuse-stale keeps them)";
    notes.push_back(fmt::format("{} cell(s) of {} are stale: computed from the same config by other code ({}); {}", count,
                                where, fmt::join(why, "; "), action));
  }
};

// /index: one row per cell; columns = id, index, status, reason, every config key, every scalar
// metric and timing. Types: all-integer columns are int64, numeric ones float64 (NaN where absent),
// the rest fixed-length strings.
void write_index(hid_t file, const std::vector<std::map<std::string, Value>>& rows) {
  std::vector<std::string> columns = {"index", "id", "status", "reason"};
  std::set<std::string> seen(columns.begin(), columns.end());
  for (const auto& r : rows)
    for (const auto& [k, v] : r)
      if (seen.insert(k).second) columns.push_back(k);

  enum class Kind { Int, Double, String };
  struct Column {
    std::string name;
    Kind kind;
    std::size_t size, offset;
  };
  std::vector<Column> cols;
  std::size_t offset = 0;
  for (const auto& name : columns) {
    bool all_int = true, all_num = true, any_missing = false;
    std::size_t width = 1;
    for (const auto& r : rows) {
      auto it = r.find(name);
      if (it == r.end()) {
        any_missing = true;
        continue;
      }
      const Value& v = it->second;
      bool is_int = std::holds_alternative<std::int64_t>(v) || std::holds_alternative<bool>(v);
      all_int = all_int && is_int;
      all_num = all_num && (is_int || std::holds_alternative<double>(v));
      width = std::max(width, canonical_text(v).size() + 1);
    }
    Kind kind = Kind::String;
    if (name != "id" && name != "status" && name != "reason")
      kind = all_int && !any_missing ? Kind::Int : all_num ? Kind::Double : Kind::String;
    std::size_t size = kind == Kind::String ? width : 8;
    cols.push_back({name, kind, size, offset});
    offset += size;
  }
  const std::size_t row_size = std::max<std::size_t>(offset, 1);
  std::vector<char> buf(row_size * rows.size(), '\0');
  for (std::size_t i = 0; i < rows.size(); ++i) {
    char* base = buf.data() + i * row_size;
    for (const Column& c : cols) {
      auto it = rows[i].find(c.name);
      if (c.kind == Kind::Int) {
        const Value& v = it->second;
        std::int64_t x = std::holds_alternative<bool>(v) ? std::get<bool>(v) : std::get<std::int64_t>(v);
        std::memcpy(base + c.offset, &x, 8);
      } else if (c.kind == Kind::Double) {
        double x = std::numeric_limits<double>::quiet_NaN();
        if (it != rows[i].end()) {
          const Value& v = it->second;
          x = std::holds_alternative<double>(v) ? std::get<double>(v)
              : std::holds_alternative<bool>(v) ? static_cast<double>(std::get<bool>(v))
                                                : static_cast<double>(std::get<std::int64_t>(v));
        }
        std::memcpy(base + c.offset, &x, 8);
      } else if (it != rows[i].end()) {
        std::string s = canonical_text(it->second);
        std::memcpy(base + c.offset, s.data(), std::min(s.size(), c.size - 1));
      }
    }
  }
  h5::Handle type(H5Tcreate(H5T_COMPOUND, row_size), H5Tclose, "compound type");
  std::vector<h5::Handle> string_types;
  for (const Column& c : cols) {
    hid_t member = c.kind == Kind::Int ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
    if (c.kind == Kind::String) {
      string_types.emplace_back(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
      H5Tset_size(string_types.back(), c.size);
      H5Tset_strpad(string_types.back(), H5T_STR_NULLTERM);
      member = string_types.back();
    }
    if (H5Tinsert(type, c.name.c_str(), c.offset, member) < 0) throw std::runtime_error("HDF5: index column " + c.name);
  }
  hsize_t n = rows.size();
  h5::Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose, "index dataspace");
  h5::Handle d(H5Dcreate2(file, "index", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose, "create /index");
  if (n > 0 && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
    throw std::runtime_error("HDF5: write /index");
}

std::map<std::string, Value> index_row(hid_t g, const Cell& cell) {
  std::map<std::string, Value> row;
  row["index"] = static_cast<std::int64_t>(cell.index);
  row["id"] = cell.id;
  for (const auto& [k, v] : cell.config) row[k] = v;
  row["code_fingerprint"] = h5::has_attr(g, "code_fingerprint") ? h5::read_attr_string(g, "code_fingerprint") : "";
  row["stale"] = static_cast<std::int64_t>(h5::has_attr(g, "stale"));
  for (const std::string& a : h5::attr_names(g)) {
    if (a == "status" || a == "reason") row[a] = h5::read_attr_string(g, a);
    if (bookkeeping.count(a) || cell.config.count(a)) continue;
    if (h5::attr_is_numeric_scalar(g, a)) row[a] = h5::read_attr_double(g, a);
  }
  for (const std::string& d : h5::member_names(g))
    if (h5::dataset_shape(g, d).empty() && !h5::dataset_is_string(g, d)) row[d] = h5::read_dataset_doubles(g, d)[0];
  return row;
}

// "<file>.tmp.<host>.<pid>": unique per writer, so shards sharing a parts directory never collide.
std::string this_host() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return host;
}
std::string temp_suffix() { return fmt::format(".tmp.{}.{}", this_host(), ::getpid()); }
bool is_stale_temp(const std::string& filename) {
  const auto at = filename.find(".tmp.");
  if (at == std::string::npos) return false;
  const std::string rest = filename.substr(at + 5);
  const auto dot = rest.rfind('.');
  if (dot == std::string::npos) return true;  // an old-style temp name: nobody writes those any more
  if (rest.substr(0, dot) != this_host()) return false;  // another host's writer: not ours to judge
  const long pid = std::strtol(rest.c_str() + dot + 1, nullptr, 10);
  return pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH);
}

void atomic_replace(const std::string& tmp, const std::string& final_path) {
  h5::fsync_path(tmp);
  if (std::rename(tmp.c_str(), final_path.c_str()) != 0)
    throw std::runtime_error(fmt::format("cannot rename {} to {}: {}", tmp, final_path, std::strerror(errno)));
  h5::fsync_path(final_path);
}


// Write bytes to a new file at `path`, every write and the fsync checked.
void write_file_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw std::runtime_error(fmt::format("cannot write {}: {}", path, std::strerror(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  const int synced = ::fsync(fd), err = errno;
  if (::close(fd) != 0 || synced != 0)
    throw std::runtime_error(fmt::format("cannot write {}: {}", path, std::strerror(synced ? err : errno)));
}

// Write `bytes` to `tmp`, then rename that over `final_path`; on failure remove `tmp` and leave final_path as it was.
void write_bytes_then_rename(const std::string& tmp, const std::string& final_path, const std::vector<unsigned char>& bytes) {
  const fs::path dir = fs::path(final_path).parent_path();
  fs::create_directories(dir.empty() ? fs::path(".") : dir);
  try {
    write_file_bytes(tmp, bytes);
    atomic_replace(tmp, final_path);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

// Build a new HDF5 file in memory with fill(file), write its bytes to `tmp`, then rename that over
// `final_path`. On any failure (a full disk, a read-only directory) the temporary file is removed and
// nothing at final_path changes.
template <class Fill>
void write_then_rename(const std::string& tmp, const std::string& final_path, Fill&& fill) {
  std::vector<unsigned char> image;
  {
    auto lock = h5::hdf5_lock();
    h5::Handle f = h5::create_file_in_memory(tmp);
    fill(f);
    image = h5::sealed_file_image(f);
  }
  write_bytes_then_rename(tmp, final_path, image);
}
}  // namespace

ResultStore::ResultStore(std::string out_dir, std::string name)
    : out_dir_(std::move(out_dir)),
      name_(std::move(name)),
      final_path_((fs::path(out_dir_) / (name_ + ".h5")).string()),
      parts_dir_((fs::path(out_dir_) / ("." + name_ + ".parts")).string()) {}

std::map<std::string, CellSource> ResultStore::scan_finished(const Experiment& ex, std::vector<std::string>& notes,
                                                             const ScanOptions& options) const {
  std::map<std::string, CellSource> done;
  const bool list_stale = options.reuse_stale || options.read_only;
  auto lock = h5::hdf5_lock();
  if (fs::is_directory(parts_dir_)) {
    // Temporary parts of processes that died on this host (other shards may be writing theirs right now).
    if (!options.read_only)
      for (const auto& entry : fs::directory_iterator(parts_dir_))
        if (is_stale_temp(entry.path().filename().string())) fs::remove(entry.path());
    StaleTally stale;
    for (const Cell& cell : ex.cells) {
      if (cell.skip_reason) continue;
      const std::string path = (fs::path(parts_dir_) / (cell.id + ".h5")).string();
      if (!fs::exists(path)) continue;
      Match match = Match::different;
      try {
        h5::Handle f = h5::open_file_readonly(path);
        h5::Handle g = h5::open_group(f, "cell");
        const CodeFingerprint fp = cell_code_fingerprint(ex.study, cell.config);
        match = same_cell(g, ex, cell, fp);
        if (match == Match::different)
          notes.push_back(fmt::format("part {} was computed from a different config or seed; recomputing", path));
        if (match == Match::stale) stale.add(g, fp);
      } catch (const std::exception& e) {
        notes.push_back(fmt::format("part unreadable, recomputing its cell: {}", e.what()));
      }
      if (match == Match::same || (match == Match::stale && list_stale))
        done[cell.id] = {path, "cell", match == Match::stale};
      else if (!options.read_only)
        fs::remove(path);
    }
    stale.note("the part files in " + parts_dir_, options, notes);
  }
  // Temporary final files of assemblies killed on this host (<name>.h5.tmp.<host>.<pid>).
  if (fs::is_directory(out_dir_) && !options.read_only)
    for (const auto& entry : fs::directory_iterator(out_dir_)) {
      const std::string f = entry.path().filename().string();
      if (f.rfind(name_ + ".h5.tmp.", 0) == 0 && is_stale_temp(f)) fs::remove(entry.path());
    }
  if (fs::exists(final_path_)) {
    try {
      h5::Handle f = h5::open_file_readonly(final_path_);
      const bool same_schema =
          !h5::has_attr(f, "schema_version") || h5::read_attr_double(f, "schema_version") == schema_version;
      if (!same_schema)
        notes.push_back(fmt::format("{} was written with results schema {} (this vibench writes {}); its cells are "
                                    "recomputed and the file replaced",
                                    final_path_, h5::read_attr_text(f, "schema_version"), schema_version));
      std::set<std::string> ours;
      std::size_t differing = 0;
      StaleTally stale;
      for (const Cell& cell : ex.cells) {
        ours.insert(cell.id);
        // A stale part may still have a current copy here.
        const auto part = done.find(cell.id);
        if (!same_schema || cell.skip_reason || (part != done.end() && !part->second.stale) ||
            !h5::exists(f, "/cells/" + cell.id))
          continue;
        h5::Handle g = h5::open_group(f, "/cells/" + cell.id);
        const CodeFingerprint fp = cell_code_fingerprint(ex.study, cell.config);
        const Match match = same_cell(g, ex, cell, fp);
        if (match == Match::stale && part == done.end()) stale.add(g, fp);  // else counted with the parts
        if (match == Match::same || (match == Match::stale && list_stale && part == done.end()))
          done[cell.id] = {final_path_, "/cells/" + cell.id, match == Match::stale, h5::has_attr(g, "stale")};
        else if (match == Match::different)
          ++differing;
      }
      stale.note(final_path_, options, notes);
      std::size_t foreign = 0;
      if (h5::exists(f, "/cells"))
        for (const auto& id : h5::member_names(h5::open_group(f, "cells"))) foreign += !ours.count(id);
      // Reusing only matching cells keeps old and new results from mixing; say what is replaced.
      if (differing)
        notes.push_back(fmt::format("{} cell(s) of {} were computed from a different config, seed or study; they are "
                                    "recomputed",
                                    differing, final_path_));
      if (foreign)
        notes.push_back(fmt::format("{} cell(s) of {} are not in this grid; the rewritten file will not contain them",
                                    foreign, final_path_));
    } catch (const std::exception& e) {
      notes.push_back(fmt::format("existing results file unreadable, its cells are recomputed: {}", e.what()));
    }
  }
  return done;
}

CellSource ResultStore::write_part(const Experiment& ex, const Cell& cell, const CellResult& result,
                                   double wall_seconds) const {
  const std::string path = (fs::path(parts_dir_) / (cell.id + ".h5")).string();
  const std::string tmp = path + temp_suffix();
  write_then_rename(tmp, path, [&](h5::Handle& f) {
    h5::Handle g = h5::create_group(f, "cell");
    write_cell_attrs(g, ex, cell, result.status, result.reason);
    h5::write_attr(g, "wall_seconds", wall_seconds);
    for (const auto& [name, value] : result.timings) h5::write_attr(g, name, value);
    for (const Metric& m : result.metrics) {
      if (!m.strings.empty())
        h5::write_dataset_strings(g, m.name, m.strings);
      else
        h5::write_dataset(g, m.name, m.shape, m.values);
    }
  });
  return {path, "cell"};
}

void ResultStore::assemble(const Experiment& ex, const Provenance& root_attrs,
                           const std::map<std::string, CellSource>& done) const {
  const std::string tmp = final_path_ + temp_suffix();
  write_then_rename(tmp, final_path_, [&](h5::Handle& f) {
    for (const auto& [k, v] : root_attrs) h5::write_attr(f, k, v);
    h5::Handle cells = h5::create_group(f, "cells");
    std::map<std::string, h5::Handle> sources;
    std::vector<std::map<std::string, Value>> rows;
    for (const Cell& cell : ex.cells) {
      if (cell.skip_reason) {
        h5::Handle g = h5::create_group(cells, cell.id);
        write_cell_attrs(g, ex, cell, "skipped", *cell.skip_reason);
      } else {
        auto it = done.find(cell.id);
        if (it == done.end()) throw std::logic_error("assemble: cell " + cell.id + " is not finished");
        auto src = sources.find(it->second.file);
        if (src == sources.end()) src = sources.emplace(it->second.file, h5::open_file_readonly(it->second.file)).first;
        if (H5Ocopy(src->second, it->second.group.c_str(), cells, cell.id.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
          throw std::runtime_error("HDF5: copy cell " + cell.id + " from " + it->second.file);
        mark_stale(h5::open_group(cells, cell.id), it->second.stale);
      }
      h5::Handle g = h5::open_group(cells, cell.id);
      rows.push_back(index_row(g, cell));
    }
    write_index(f, rows);
  });
}

std::size_t ResultStore::final_cell_count() const {
  auto lock = h5::hdf5_lock();
  if (!fs::exists(final_path_)) return 0;
  try {
    h5::Handle f = h5::open_file_readonly(final_path_);
    return h5::exists(f, "/cells") ? h5::member_names(h5::open_group(f, "cells")).size() : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

ResultStore::Lock::~Lock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

std::optional<ResultStore::Lock> ResultStore::try_lock(const std::string& lock_name) const {
  std::error_code ec;
  fs::create_directories(parts_dir_, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot write to the output directory {}: {}", out_dir_, ec.message()));
  const std::string path = (fs::path(parts_dir_) / lock_name).string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot create lock file {}: {}", path, std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      ::close(fd);
      return std::nullopt;
    }
    // Some network filesystems (e.g. Lustre mounted without flock) refuse locks altogether: go on unlocked,
    // as HDF5 does with HDF5_USE_FILE_LOCKING=BEST_EFFORT, and say what protection is lost.
    fmt::print(stderr, "[vibench] warning: cannot lock {} ({}); running unlocked: do not start two runs of this "
                       "experiment into this directory at once\n", path, std::strerror(err));
  }
  return Lock(fd);
}

std::string ResultStore::checkpoint_path(const std::string& id) const {
  return (fs::path(parts_dir_) / (id + ".ckpt")).string();
}

void ResultStore::write_checkpoint(const std::string& id, const std::vector<unsigned char>& bytes) const {
  const std::string path = checkpoint_path(id);
  write_bytes_then_rename(path + temp_suffix(), path, bytes);
}

std::optional<std::vector<unsigned char>> ResultStore::read_checkpoint(const std::string& id) const {
  std::ifstream in(checkpoint_path(id), std::ios::binary);
  if (!in) return std::nullopt;
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(fmt::format("cannot read {}", checkpoint_path(id)));
  return bytes;
}

void ResultStore::remove_checkpoint(const std::string& id) const {
  std::error_code ignored;
  fs::remove(checkpoint_path(id), ignored);
}

void ResultStore::remove_parts() const { fs::remove_all(parts_dir_); }

void ResultStore::remove_all() const {
  fs::remove_all(parts_dir_);
  fs::remove(final_path_);
}

}  // namespace vibench
