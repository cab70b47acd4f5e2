#include "vibench/run/store.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <optional>
#include <set>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "vibench/run/cell_table.hpp"
#include "vibench/run/code_fingerprint.hpp"
#include "vibench/run/hdf5_io.hpp"
#include "vibench/run/part_log.hpp"
#include "vibench/run/results_layout.hpp"

namespace fs = std::filesystem;

namespace vibench {

namespace {

namespace attr = layout::cell_attr;

using Attrs = std::vector<std::pair<std::string, Value>>;

std::string cell_group(const std::string& id) { return fmt::format("/{}/{}", layout::cells_group, id); }

void write_cell_attrs(Attrs& out, const Experiment& ex, const Cell& cell, const std::string& status,
                      const std::string& reason) {
  for (const auto& [k, v] : cell.config) out.emplace_back(k, v);
  out.emplace_back(attr::status, status);
  if (!reason.empty()) out.emplace_back(attr::reason, reason);
  out.emplace_back(attr::cell_index, static_cast<std::int64_t>(cell.index));
  out.emplace_back(attr::config_canonical, canonical_text(cell.config));
  out.emplace_back(attr::seed, static_cast<std::int64_t>(ex.seed));
  out.emplace_back(attr::study, ex.study);
  const CodeFingerprint fp = cell_code_fingerprint(ex.study, cell.config);
  out.emplace_back(attr::code_fingerprint, fp.value);
  out.emplace_back(attr::code_sources, fp.sources_text());
}

// --reuse-stale: a kept stale cell says so (stale = 1); a cell whose code matches again loses an old mark.
void mark_stale(Attrs& attrs, bool stale) {
  std::erase_if(attrs, [](const auto& a) { return a.first == attr::stale; });
  if (stale) attrs.emplace_back(attr::stale, std::int64_t{1});
}
void mark_stale(hid_t g, bool stale) {
  if (H5Aexists(g, attr::stale) > 0 && H5Adelete(g, attr::stale) < 0) throw std::runtime_error("HDF5: delete attribute stale");
  if (stale) h5::write_attr(g, attr::stale, std::int64_t{1});
}

void write_h5_attrs(hid_t g, const Attrs& attrs) {
  for (const auto& [k, v] : attrs) h5::write_attr(g, k, v);
}

// A stored attribute as text or number, from a part record or a results file's group; nullopt if absent.
struct StoredAttrs {
  std::function<std::optional<std::string>(const std::string&)> text;
  std::function<std::optional<double>(const std::string&)> number;
};

StoredAttrs attrs_of(hid_t g) {
  return {[g](const std::string& name) -> std::optional<std::string> {
            if (!h5::has_attr(g, name)) return std::nullopt;
            return h5::read_attr_string(g, name);
          },
          [g](const std::string& name) -> std::optional<double> {
            if (!h5::has_attr(g, name)) return std::nullopt;
            return h5::read_attr_double(g, name);
          }};
}

StoredAttrs attrs_of(const StoredCell& c) {
  return {[&c](const std::string& name) -> std::optional<std::string> {
            const Value* v = c.attr(name);
            if (!v || !std::holds_alternative<std::string>(*v)) return std::nullopt;
            return std::get<std::string>(*v);
          },
          [&c](const std::string& name) -> std::optional<double> {
            const Value* v = c.attr(name);
            if (!v) return std::nullopt;
            if (const auto* i = std::get_if<std::int64_t>(v)) return static_cast<double>(*i);
            if (const auto* d = std::get_if<double>(v)) return *d;
            return std::nullopt;
          }};
}

// A finished group is reusable only if it was computed from exactly this cell, study and seed.
// A cell that ran to the end: "ok", or "diverged" (deterministic, so rerunning would diverge again).
bool finished_status(const std::string& status) { return status == layout::status_ok || status == layout::status_diverged; }

// Of those, one whose code fingerprint differs from this binary's for the cell (or that has none: it was
// written before fingerprints existed) is stale: other code computed it.
enum class Match { different, stale, same };

Match same_cell(const StoredAttrs& stored, const Experiment& ex, const Cell& cell, const CodeFingerprint& fp) {
  const auto canonical = stored.text(attr::config_canonical), study = stored.text(attr::study),
             status = stored.text(attr::status);
  const auto seed = stored.number(attr::seed);
  const bool same_inputs = canonical && seed && status && study && *canonical == canonical_text(cell.config) &&
                           static_cast<std::uint64_t>(*seed) == ex.seed && *study == ex.study && finished_status(*status);
  if (!same_inputs) return Match::different;
  return stored.text(attr::code_fingerprint) == fp.value ? Match::same : Match::stale;
}

// Stale cells found in one place (the parts or the final file), for one note saying how many and why.
struct StaleTally {
  std::size_t count = 0, unfingerprinted = 0;
  std::set<std::string> changed;  // sources whose hash differs from the stored one

  // `sources`: the stored code_sources text (none: written before fingerprints existed).
  void add(const std::optional<std::string>& sources, const CodeFingerprint& fp) {
    ++count;
    if (!sources) {
      ++unfingerprinted;
      return;
    }
    for (auto& s : changed_sources(*sources, fp)) changed.insert(std::move(s));
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

using Row = std::map<std::string, Value>;

// /index: one row per cell; columns = index, id, status, reason, every config key, every scalar metric and
// timing. Its attributes config_columns and dataset_columns say which columns are config keys and which
// scalar datasets, so `vibench inspect` can show the table without opening every cell group.
CellTable index_table() {
  return CellTable({layout::index_column::index, layout::index_column::id, attr::status, attr::reason},
                   {layout::index_column::id, attr::status, attr::reason});
}

void write_index(hid_t file, const CellTable& rows, const std::set<std::string>& config_columns,
                 const std::set<std::string>& dataset_columns) {
  rows.write(file, layout::index_table);
  h5::Handle index = h5::open_dataset(file, layout::index_table);
  h5::write_attr_strings(index, layout::config_columns_attr, {config_columns.begin(), config_columns.end()});
  h5::write_attr_strings(index, layout::dataset_columns_attr, {dataset_columns.begin(), dataset_columns.end()});
}

// /resume: one row per cell: its id and the attributes write_cell_attrs stores beyond the config (status,
// config_canonical, seed, study, ...), so resuming a 10^5-cell file compares cells without opening 10^5
// groups.
using layout::resume_table;

// A row of /resume (or of any table of stored attributes) seen as the attributes same_cell compares.
StoredAttrs attrs_of(const h5::Table& table, std::size_t row) {
  return {[&table, row](const std::string& name) -> std::optional<std::string> {
            auto it = table.text.find(name);
            if (it == table.text.end() || it->second[row].empty()) return std::nullopt;
            return it->second[row];
          },
          [&table, row](const std::string& name) -> std::optional<double> {
            auto it = table.numbers.find(name);
            if (it == table.numbers.end() || std::isnan(it->second[row])) return std::nullopt;
            return it->second[row];
          }};
}

std::map<std::string, Value> index_base(const Cell& cell, const StoredAttrs& stored) {
  std::map<std::string, Value> row;
  row[layout::index_column::index] = static_cast<std::int64_t>(cell.index);
  row[layout::index_column::id] = cell.id;
  for (const auto& [k, v] : cell.config) row[k] = v;
  row[attr::code_fingerprint] = stored.text(attr::code_fingerprint).value_or("");
  row[attr::stale] = static_cast<std::int64_t>(stored.number(attr::stale).has_value());
  return row;
}

// status and reason as text; other numeric scalar attributes (not config or bookkeeping) as doubles.
bool index_attr_is_text(const std::string& a) { return a == attr::status || a == attr::reason; }
bool index_attr_is_number(const std::string& a, const Cell& cell) {
  return !layout::bookkeeping_attributes().count(a) && !cell.config.count(a);
}

std::map<std::string, Value> index_row(hid_t g, const Cell& cell) {
  std::map<std::string, Value> row = index_base(cell, attrs_of(g));
  for (const std::string& a : h5::attr_names(g)) {
    if (index_attr_is_text(a)) row[a] = h5::read_attr_string(g, a);
    if (index_attr_is_number(a, cell) && h5::attr_is_numeric_scalar(g, a)) row[a] = h5::read_attr_double(g, a);
  }
  for (const std::string& d : h5::member_names(g))
    if (h5::dataset_shape(g, d).empty() && !h5::dataset_is_string(g, d)) row[d] = h5::read_dataset_doubles(g, d)[0];
  return row;
}

// The same row from a part record, without reading the written group back.
std::map<std::string, Value> index_row(const StoredCell& stored, const Cell& cell) {
  std::map<std::string, Value> row = index_base(cell, attrs_of(stored));
  for (const auto& [a, v] : stored.attrs) {
    if (index_attr_is_text(a)) row[a] = std::get<std::string>(v);
    if (!index_attr_is_number(a, cell)) continue;
    if (const auto* i = std::get_if<std::int64_t>(&v)) row[a] = static_cast<double>(*i);
    if (const auto* b = std::get_if<bool>(&v)) row[a] = static_cast<double>(*b);
    if (const auto* d = std::get_if<double>(&v)) row[a] = *d;
  }
  for (const Metric& m : stored.datasets)
    if (m.shape.empty() && m.strings.empty()) row[m.name] = m.values.at(0);
  return row;
}

// A cell's row of /resume: its id and every attribute that is not a config key.
Row resume_row(const Attrs& attrs, const Cell& cell) {
  Row row{{layout::index_column::id, cell.id}};
  for (const auto& [k, v] : attrs)
    if (!cell.config.count(k)) row[k] = v;
  return row;
}

// A group's attributes that are not config keys (strings and numeric scalars: all the store writes).
Attrs read_h5_attrs(hid_t g, const Cell& cell) {
  Attrs out;
  for (const std::string& a : h5::attr_names(g)) {
    if (cell.config.count(a)) continue;
    if (h5::attr_is_numeric_scalar(g, a))
      out.emplace_back(a, h5::read_attr_double(g, a));
    else if (auto text = attrs_of(g).text(a))
      out.emplace_back(a, *text);
  }
  return out;
}

void write_h5_cell(hid_t cells, const StoredCell& stored) {
  h5::Handle g = h5::create_group(cells, stored.id);
  write_h5_attrs(g, stored.attrs);
  for (const Metric& m : stored.datasets) {
    if (!m.strings.empty())
      h5::write_dataset_strings(g, m.name, m.strings);
    else
      h5::write_dataset(g, m.name, m.shape, m.values);
  }
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

// Runs write(tmp), then renames tmp over `final_path`; on failure removes tmp and leaves final_path as it was.
template <class Write>
void write_via_temp(const std::string& tmp, const std::string& final_path, Write&& write) {
  const fs::path dir = fs::path(final_path).parent_path();
  fs::create_directories(dir.empty() ? fs::path(".") : dir);
  try {
    write(tmp);
    atomic_replace(tmp, final_path);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

// Write a new sealed HDF5 file with fill(file) under `tmp`, then rename it over `final_path`. On any failure
// (a full disk, a read-only directory) the temporary file is removed and nothing at final_path changes.
template <class Fill>
void write_then_rename(const std::string& tmp, const std::string& final_path, Fill&& fill) {
  write_via_temp(tmp, final_path, [&](const std::string& path) {
    auto lock = h5::hdf5_lock();
    h5::Handle f = h5::create_sealed_file(path);
    fill(f);
    h5::close_and_seal(f, path);
  });
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
  // This binary's fingerprint of a cell, computed once per combination of plugins (it reads only the
  // `<slot>.name` keys), so a 10^5-cell grid holds a handful.
  std::unordered_map<std::string, CodeFingerprint> fingerprints;
  auto fingerprint_of = [&](const Cell& cell) -> const CodeFingerprint& {
    std::string plugins;
    for (const auto& [k, v] : cell.config)
      if (k.ends_with(".name")) plugins += k + "=" + canonical_text(v) + "\n";
    auto it = fingerprints.find(plugins);
    if (it == fingerprints.end()) it = fingerprints.emplace(plugins, cell_code_fingerprint(ex.study, cell.config)).first;
    return it->second;
  };
  final_cells_.reset();
  auto lock = h5::hdf5_lock();
  if (fs::is_directory(parts_dir_)) {
    // Temporary parts of processes that died on this host (other shards may be writing theirs right now).
    if (!options.read_only)
      for (const auto& entry : fs::directory_iterator(parts_dir_))
        if (is_stale_temp(entry.path().filename().string())) fs::remove(entry.path());
    std::unordered_map<std::string_view, const Cell*> by_id;
    for (const Cell& cell : ex.cells)
      if (!cell.skip_reason) by_id.emplace(cell.id, &cell);
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(parts_dir_))
      if (is_part_file(entry.path().filename().string())) files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    std::set<std::string> differing;
    // A stale record counts only where no current record of its cell exists (a rerun appends one). Only its
    // location and code_sources are kept, so a scan holds no metrics.
    std::map<std::string, std::pair<CellSource, std::optional<std::string>>> stale_parts;
    for (const std::string& path : files) {
      try {
        const std::string torn = read_part_records(path, [&](std::uint64_t offset, std::string_view payload) {
          StoredCell stored;
          try {
            stored = decode_cell(payload);
          } catch (const std::exception& e) {
            notes.push_back(fmt::format("{}: the record at byte {} is unreadable ({}); its cell is recomputed", path,
                                        offset, e.what()));
            return;
          }
          auto it = by_id.find(stored.id);
          if (it == by_id.end()) return;  // a cell of another grid: not ours to use
          const Match match = same_cell(attrs_of(stored), ex, *it->second, fingerprint_of(*it->second));
          if (match == Match::same) {
            done[stored.id] = {path, "", false, false, offset};
          } else if (match == Match::stale) {
            stale_parts.insert_or_assign(stored.id, std::pair{CellSource{path, "", true, false, offset},
                                                              attrs_of(stored).text(attr::code_sources)});
          } else {
            differing.insert(stored.id);
          }
        });
        if (!torn.empty()) notes.push_back(torn + "; its cell is recomputed");
      } catch (const std::exception& e) {
        notes.push_back(fmt::format("part file unreadable, recomputing its cells: {}", e.what()));
      }
    }
    StaleTally stale;
    for (const auto& [id, part] : stale_parts) {
      if (done.count(id)) continue;
      stale.add(part.second, fingerprint_of(*by_id.at(id)));
      if (list_stale) done[id] = part.first;
    }
    stale.note("the part files in " + parts_dir_, options, notes);
    for (const std::string& id : differing)
      if (!done.count(id))
        notes.push_back(fmt::format("the part of cell {} was computed from a different config or seed; recomputing", id));
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
          !h5::has_attr(f, layout::root_attr::schema_version) || h5::read_attr_double(f, layout::root_attr::schema_version) == schema_version;
      if (!same_schema)
        notes.push_back(fmt::format("{} was written with results schema {} (this vibench writes {}); its cells are "
                                    "recomputed and the file replaced",
                                    final_path_, h5::read_attr_text(f, layout::root_attr::schema_version), schema_version));
      // The stored attributes of each cell: from /resume when the file has it (one read), else its group.
      std::optional<h5::Table> resume;
      std::unordered_map<std::string, std::size_t> resume_row_of;
      if (h5::exists(f, resume_table)) {
        resume = h5::read_table(f, resume_table);
        const auto& ids = resume->text.at(layout::index_column::id);
        for (std::size_t i = 0; i < ids.size(); ++i) resume_row_of.emplace(ids[i], i);
      }
      std::unordered_set<std::string_view> ours;
      std::size_t differing = 0;
      StaleTally stale;
      for (const Cell& cell : ex.cells) {
        ours.insert(cell.id);
        // A stale part may still have a current copy here.
        const auto part = done.find(cell.id);
        if (!same_schema || cell.skip_reason || (part != done.end() && !part->second.stale)) continue;
        std::optional<h5::Handle> group;
        std::optional<StoredAttrs> stored;
        if (resume) {
          auto row = resume_row_of.find(cell.id);
          if (row == resume_row_of.end()) continue;
          stored = attrs_of(*resume, row->second);
        } else {
          if (!h5::exists(f, cell_group(cell.id))) continue;
          group = h5::open_group(f, cell_group(cell.id));
          stored = attrs_of(*group);
        }
        const CodeFingerprint& fp = fingerprint_of(cell);
        const Match match = same_cell(*stored, ex, cell, fp);
        if (match == Match::stale && part == done.end()) stale.add(stored->text(attr::code_sources), fp);  // else counted with the parts
        if (match == Match::same || (match == Match::stale && list_stale && part == done.end()))
          done[cell.id] = {final_path_, cell_group(cell.id), match == Match::stale, stored->number(attr::stale).has_value()};
        else if (match == Match::different)
          ++differing;
      }
      stale.note(final_path_, options, notes);
      // The file's cells: the ids of /resume (one per group), else the group names.
      const std::vector<std::string> stored_ids =
          resume                                  ? resume->text.at(layout::index_column::id)
          : h5::exists(f, layout::cells_group) ? h5::member_names(h5::open_group(f, layout::cells_group))
                                                  : std::vector<std::string>();
      std::size_t foreign = 0;
      for (const auto& id : stored_ids) foreign += !ours.count(id);
      final_cells_ = stored_ids.size();
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
  StoredCell stored{cell.id, {}, result.metrics};
  write_cell_attrs(stored.attrs, ex, cell, result.status, result.reason);
  stored.attrs.emplace_back(attr::wall_seconds, wall_seconds);
  for (const auto& [name, value] : result.timings) stored.attrs.emplace_back(name, value);
  const std::string payload = encode_cell(stored);
  PartWriter* writer = nullptr;
  {
    std::lock_guard<std::mutex> lock(*writer_mutex_);
    if (!writer_) {
      // One part file per process and store: shards and restarts never write to the same file.
      static std::atomic<unsigned> serial{0};
      fs::create_directories(parts_dir_);
      writer_ = std::make_shared<PartWriter>(
          (fs::path(parts_dir_) / fmt::format("{}.{}.{}.part", this_host(), ::getpid(), serial++)).string());
    }
    writer = writer_.get();
  }
  const std::uint64_t offset = writer->append(payload);
  return {writer->path(), "", false, false, offset};
}

void ResultStore::assemble(const Experiment& ex, const Provenance& root_attrs,
                           const std::map<std::string, CellSource>& done) const {
  const std::string tmp = final_path_ + temp_suffix();
  write_then_rename(tmp, final_path_, [&](h5::Handle& f) {
    for (const auto& [k, v] : root_attrs) h5::write_attr(f, k, v);
    h5::Handle cells = h5::create_group(f, layout::cells_group);
    // Cells come from part files (read one record at a time) or an earlier results file (group copies).
    std::map<std::string, int> part_fds;
    std::map<std::string, h5::Handle> results_files;
    struct CloseAll {
      std::map<std::string, int>& fds;
      ~CloseAll() {
        for (const auto& [path, fd] : fds) ::close(fd);
      }
    } close_all{part_fds};
    CellTable index = index_table(), resume({layout::index_column::id}, {layout::index_column::id});
    std::set<std::string> config_columns, dataset_columns;
    // Adds the cell's rows of /index and /resume; index columns that are neither config keys nor
    // attributes are the cell's scalar datasets.
    auto add_rows = [&](const Cell& cell, const Row& cell_index_row, const Row& cell_resume_row) {
      for (const auto& [k, v] : cell_index_row)
        if (k != layout::index_column::index && k != attr::code_fingerprint && k != attr::stale && !cell.config.count(k) &&
            !cell_resume_row.count(k))
          dataset_columns.insert(k);
      index.add_row(cell_index_row);
      resume.add_row(cell_resume_row);
    };
    for (const Cell& cell : ex.cells) {
      for (const auto& [k, v] : cell.config) config_columns.insert(k);
      if (cell.skip_reason) {
        StoredCell skipped{cell.id, {}, {}};
        write_cell_attrs(skipped.attrs, ex, cell, layout::status_skipped, *cell.skip_reason);
        write_h5_cell(cells, skipped);
        add_rows(cell, index_row(skipped, cell), resume_row(skipped.attrs, cell));
        continue;
      }
      auto it = done.find(cell.id);
      if (it == done.end()) throw std::logic_error("assemble: cell " + cell.id + " is not finished");
      const CellSource& source = it->second;
      if (source.group.empty()) {
        auto fd = part_fds.find(source.file);
        if (fd == part_fds.end()) {
          const int opened = ::open(source.file.c_str(), O_RDONLY | O_CLOEXEC);
          if (opened < 0) throw std::runtime_error(fmt::format("cannot open {}: {}", source.file, std::strerror(errno)));
          fd = part_fds.emplace(source.file, opened).first;
        }
        StoredCell stored = decode_cell(read_part_record(fd->second, source.file, source.offset));
        mark_stale(stored.attrs, source.stale);
        write_h5_cell(cells, stored);
        add_rows(cell, index_row(stored, cell), resume_row(stored.attrs, cell));
      } else {
        auto src = results_files.find(source.file);
        if (src == results_files.end()) src = results_files.emplace(source.file, h5::open_file_readonly(source.file)).first;
        if (H5Ocopy(src->second, source.group.c_str(), cells, cell.id.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
          throw std::runtime_error("HDF5: copy cell " + cell.id + " from " + source.file);
        h5::Handle g = h5::open_group(cells, cell.id);
        mark_stale(g, source.stale);
        add_rows(cell, index_row(g, cell), resume_row(read_h5_attrs(g, cell), cell));
      }
    }
    write_index(f, index, config_columns, dataset_columns);
    resume.write(f, resume_table);
  });
}

std::size_t ResultStore::final_cell_count() const {
  if (final_cells_) return *final_cells_;  // counted by scan_finished
  auto lock = h5::hdf5_lock();
  if (!fs::exists(final_path_)) return 0;
  try {
    h5::Handle f = h5::open_file_readonly(final_path_);
    return h5::exists(f, layout::cells_group) ? h5::member_names(h5::open_group(f, layout::cells_group)).size() : 0;
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
  write_via_temp(path + temp_suffix(), path, [&](const std::string& tmp) { write_file_bytes(tmp, bytes); });
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

void ResultStore::remove_parts() const {
  {
    std::lock_guard<std::mutex> lock(*writer_mutex_);
    writer_.reset();
  }
  fs::remove_all(parts_dir_);
}

void ResultStore::remove_all() const {
  remove_parts();
  fs::remove(final_path_);
}

}  // namespace vibench
