#include "vibench/run/cell_checkpoint_file.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <xxhash.h>

#include "vibench/run/code_fingerprint.hpp"

namespace vibench {

namespace {

// File layout (StateWriter encoding): magic, layout version, study, cell id, seed, config hash, the cell's
// code fingerprint (state saved by other code must not continue under this code), progress, the study's
// state (length-prefixed), then XXH64 of every byte before it.
constexpr std::uint64_t magic = 0x54504b4348424956ULL;  // "VIBHCKPT" in little-endian bytes
constexpr std::uint64_t layout_version = 2;

std::uint64_t config_hash(const Config& config) {
  const std::string text = canonical_text(config);
  return XXH64(text.data(), text.size(), 0);
}

}  // namespace

CellCheckpointFile::CellCheckpointFile(const ResultStore& store, const Experiment& ex, const Cell& cell,
                                       double interval_seconds, std::string unit_name, Note note)
    : store_(store), ex_(ex), cell_(cell), interval_seconds_(interval_seconds), unit_name_(std::move(unit_name)),
      note_(std::move(note)) {}

void CellCheckpointFile::save(std::uint64_t progress, const std::vector<unsigned char>& state) {
  StateWriter out;
  out.put(magic);
  out.put(layout_version);
  out.put(ex_.study);
  out.put(cell_.id);
  out.put(ex_.seed);
  out.put(config_hash(cell_.config));
  out.put(cell_code_fingerprint(ex_.study, cell_.config).value);
  out.put(progress);
  out.put(state);
  out.put(static_cast<std::uint64_t>(XXH64(out.bytes().data(), out.bytes().size(), 0)));
  try {
    store_.write_checkpoint(cell_.id, out.bytes());
  } catch (const std::exception& e) {
    // A full disk must not end an hour of training: the cell goes on (an earlier checkpoint, if any, is intact).
    note_(fmt::format("[vibench] note: cell {} ({}): cannot write its checkpoint: {}; it goes on without", cell_.index,
                      cell_.id, e.what()));
    return;
  }
  holds_progress_ = true;
}

std::optional<std::vector<unsigned char>> CellCheckpointFile::load() {
  std::optional<std::vector<unsigned char>> bytes;
  try {
    bytes = store_.read_checkpoint(cell_.id);
  } catch (const std::exception& e) {
    discard(e.what());
    return std::nullopt;
  }
  if (!bytes) return std::nullopt;
  try {
    constexpr std::size_t checksum_size = sizeof(std::uint64_t);
    if (bytes->size() < 2 * checksum_size) throw StateFormatError("it is too short to be a checkpoint");
    const std::size_t body = bytes->size() - checksum_size;
    if (StateReader(bytes->data() + body, checksum_size).get<std::uint64_t>() != XXH64(bytes->data(), body, 0))
      throw StateFormatError("its checksum does not match its contents");
    StateReader in(bytes->data(), body);
    if (in.get<std::uint64_t>() != magic) throw StateFormatError("it is not a vibench checkpoint");
    if (const auto v = in.get<std::uint64_t>(); v != layout_version)
      throw StateFormatError(fmt::format("it has layout version {} (this vibench reads {})", v, layout_version));
    std::string study, id;
    in.get(study);
    in.get(id);
    if (study != ex_.study) throw StateFormatError(fmt::format("it was written by study '{}', not '{}'", study, ex_.study));
    if (id != cell_.id) throw StateFormatError(fmt::format("it was written for cell {}", id));
    if (const auto seed = in.get<std::uint64_t>(); seed != ex_.seed)
      throw StateFormatError(fmt::format("it was written with seed {}, not {}", seed, ex_.seed));
    if (in.get<std::uint64_t>() != config_hash(cell_.config))
      throw StateFormatError("it was written from a different cell config");
    std::string fingerprint;
    in.get(fingerprint);
    if (const std::string now = cell_code_fingerprint(ex_.study, cell_.config).value; fingerprint != now)
      throw StateFormatError(fmt::format("it was written by other code (code fingerprint {}, this binary's {})",
                                         fingerprint, now));
    const auto progress = in.get<std::uint64_t>();
    std::vector<unsigned char> state;
    in.get(state);
    in.expect_end();
    note_(fmt::format("[vibench] cell {} ({}) resumes from its checkpoint after {} {}", cell_.index, cell_.id, progress,
                      unit_name_));
    holds_progress_ = true;
    return state;
  } catch (const StateFormatError& e) {
    discard(e.what());
    return std::nullopt;
  }
}

void CellCheckpointFile::reject(const std::string& why) {
  holds_progress_ = false;
  discard(fmt::format("its saved state does not fit this cell: {}", why));
}

void CellCheckpointFile::discard(const std::string& why) {
  note_(fmt::format("[vibench] note: checkpoint {} is not used ({}); cell {} starts from the beginning",
                    store_.checkpoint_path(cell_.id), why, cell_.index));
  store_.remove_checkpoint(cell_.id);
}

}  // namespace vibench
