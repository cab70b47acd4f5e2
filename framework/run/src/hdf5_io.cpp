#include "vibench/run/hdf5_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <fmt/format.h>
#include <xxhash.h>

namespace vibench::h5 {

namespace {
std::mutex& mutex() {
  static std::mutex m;
  return m;
}


Handle vlen_string_type() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

// The scalar dataspace and the string type of every scalar attribute, made once (callers hold hdf5_lock):
// a cell group has dozens of attributes, and making them anew for each was a good part of its cost.
hid_t scalar_space() {
  static Handle space(H5Screate(H5S_SCALAR), H5Sclose, "scalar dataspace");
  return space;
}
hid_t string_type() {
  static Handle type = vlen_string_type();
  return type;
}

void check(herr_t r, const std::string& what) {
  if (r < 0) throw std::runtime_error("HDF5: " + what + " failed");
}

Handle simple_space(const std::vector<std::size_t>& shape) {
  if (shape.empty()) return Handle(H5Screate(H5S_SCALAR), H5Sclose, "scalar dataspace");
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  return Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose, "dataspace");
}

std::vector<hsize_t> space_dims(hid_t space) {
  int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

std::size_t element_count(const std::vector<hsize_t>& dims) {
  std::size_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

// Transfer properties for n variable-length strings. HDF5's default type-conversion buffer is 1 MB,
// allocated and zeroed on every string read or write: most of the cost of storing a cell. Size it to the data.
Handle string_transfer_list(std::size_t n) {
  Handle dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose, "transfer list");
  check(H5Pset_buffer(dxpl, std::max<std::size_t>(n * 32, 4096), nullptr, nullptr), "size the conversion buffer");
  return dxpl;
}

std::vector<std::string> read_strings(hid_t obj, hid_t type, hid_t space, bool is_attr) {
  std::size_t n = element_count(space_dims(space));
  std::vector<std::string> out;
  if (H5Tis_variable_str(type) > 0) {
    Handle mem = vlen_string_type();
    std::vector<char*> ptrs(n, nullptr);
    Handle dxpl = string_transfer_list(n);
    check(is_attr ? H5Aread(obj, mem, ptrs.data()) : H5Dread(obj, mem, H5S_ALL, H5S_ALL, dxpl, ptrs.data()),
          "read strings");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mem, space, H5P_DEFAULT, ptrs.data());
  } else {
    std::size_t size = H5Tget_size(type);
    std::vector<char> buf(n * size + 1, '\0');
    check(is_attr ? H5Aread(obj, type, buf.data()) : H5Dread(obj, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()),
          "read strings");
    for (std::size_t i = 0; i < n; ++i) out.emplace_back(std::string(buf.data() + i * size, strnlen(buf.data() + i * size, size)));
  }
  return out;
}
}  // namespace

std::unique_lock<std::mutex> hdf5_lock() {
  std::unique_lock<std::mutex> lock(mutex());
  // HDF5's own error-stack printing is replaced by our exceptions. The library is built thread-safe, which
  // makes that setting per thread: switch it off in every thread that uses HDF5.
  thread_local const bool silenced = H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0;
  (void)silenced;
  return lock;
}

// "HDF5: cannot <what>", with the system's reason when the failing call left one in errno (the callers
// clear errno first, so a stale value is not blamed).
namespace {
[[noreturn]] void fail(const std::string& what) {
  const int err = errno;
  throw std::runtime_error("HDF5: cannot " + what + (err ? std::string(": ") + std::strerror(err) : std::string()));
}
}  // namespace

Handle::Handle(hid_t id, herr_t (*closer)(hid_t), const std::string& what) : id_(id), closer_(closer) {
  if (id < 0) fail(what);
}

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = o.id_;
    closer_ = o.closer_;
    o.id_ = -1;
  }
  return *this;
}
Handle::~Handle() {
  if (id_ >= 0 && closer_) closer_(id_);
}

// Every file vibench writes starts with 512 bytes of its own, in front of the HDF5 image (HDF5 finds its
// superblock at offset 512 and reads the file as if those bytes were a user block), holding
//   bytes 0-15  the magic "vibench-sealed1\n",
//   bytes 16-23 n, the length of the rest of the file (little endian),
//   bytes 24-31 XXH64 (seed 0) of those n bytes (little endian).
// Readers check it before HDF5 sees a byte, so a truncated or corrupted file is reported as such instead of
// being parsed (HDF5's parser is not hardened against malformed files).
namespace {
constexpr std::size_t seal_size = 512;
constexpr char seal_magic[17] = "vibench-sealed1\n";

void put_u64(unsigned char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
std::uint64_t get_u64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}
}  // namespace

// Groups keep up to this many links and attributes in their object header (HDF5's defaults move more than
// 8 into separate heaps and B-trees: several KB per cell group).
constexpr unsigned compact_links = 64, compact_attrs = 256;

Handle create_sealed_file(const std::string& path) {
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose, "file creation list");
  if (H5Pset_userblock(fcpl, seal_size) < 0) fail("reserve the seal");
  if (H5Pset_link_phase_change(fcpl, compact_links, compact_links / 2) < 0 ||
      H5Pset_attr_phase_change(fcpl, compact_attrs, compact_attrs / 2) < 0)
    fail("set compact storage");
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "file access list");
  // The 1.8 object format: compact groups and attributes (readable by HDF5 >= 1.8, h5py, ...).
  if (H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0) fail("choose the file format");
  errno = 0;
  return Handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, fapl), H5Fclose, "create " + path);
}

namespace {
// XXH64 of bytes [from, from + n) of fd, read in blocks; false on a read error or a short file.
bool hash_range(int fd, std::uint64_t from, std::uint64_t n, std::uint64_t& hash) {
  XXH64_state_t* state = XXH64_createState();
  XXH64_reset(state, 0);
  std::vector<char> buf(1 << 20);
  bool ok = true;
  while (n > 0 && ok) {
    const ssize_t r = ::pread(fd, buf.data(), std::min<std::uint64_t>(n, buf.size()), static_cast<off_t>(from));
    if (r < 0 && errno == EINTR) continue;
    ok = r > 0;
    if (ok) {
      XXH64_update(state, buf.data(), static_cast<std::size_t>(r));
      from += static_cast<std::uint64_t>(r);
      n -= static_cast<std::uint64_t>(r);
    }
  }
  hash = XXH64_digest(state);
  XXH64_freeState(state);
  return ok;
}
}  // namespace

void close_and_seal(Handle& file, const std::string& path) {
  errno = 0;
  // Closing flushes HDF5's caches: a failed write (a full disk) shows here at the latest.
  if (H5Fclose(file.release()) < 0) fail("write " + path);
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) fail("reopen " + path);
  struct stat st {};
  std::uint64_t hash = 0;
  bool ok = ::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) > seal_size;
  const std::uint64_t n = ok ? static_cast<std::uint64_t>(st.st_size) - seal_size : 0;
  ok = ok && hash_range(fd, seal_size, n, hash);
  unsigned char seal[32];
  std::memcpy(seal, seal_magic, 16);
  put_u64(seal + 16, n);
  put_u64(seal + 24, hash);
  ok = ok && ::pwrite(fd, seal, sizeof seal, 0) == static_cast<ssize_t>(sizeof seal) && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) {
    errno = err;
    fail("seal " + path);
  }
}

namespace {
// HDF5's signature sits at offset 0 or at a power-of-two user-block size; 512 covers h5py and vibench < 0.2.
bool is_hdf5_signature(const unsigned char* at) {
  static const unsigned char hdf5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  return std::memcmp(at, hdf5_signature, 8) == 0;
}

[[noreturn]] void throw_unsealed(const std::string& name, bool hdf5) {
  if (hdf5)
    throw NotAResultsFile(name + " is not a vibench results file: an HDF5 file without vibench's seal (written by "
                          "another tool, or by vibench before 0.2: regenerate it with `vibench run`)");
  throw NotAResultsFile(name + " is not a vibench results file (not an HDF5 file)");
}

// Compare hashes of the two checksums, not the checksums: a coverage-guided fuzzer that learns the operands
// of comparisons (libFuzzer's CMP tracing) would otherwise copy the computed checksum into the header and
// hand HDF5 a forged file — and HDF5 1.10 crashes on some crafted files (found that way). The seal guards
// against accidental corruption and truncation, not against deliberately crafted files.
bool same_checksum(std::uint64_t computed, std::uint64_t stored) {
  return XXH64(&computed, sizeof computed, 1) == XXH64(&stored, sizeof stored, 1);
}
}  // namespace

Handle open_sealed_image(const std::vector<unsigned char>& bytes, const std::string& name) {
  if (bytes.size() < 32 || std::memcmp(bytes.data(), seal_magic, 16) != 0)
    throw_unsealed(name, (bytes.size() >= 8 && is_hdf5_signature(bytes.data())) ||
                             (bytes.size() >= 520 && is_hdf5_signature(bytes.data() + 512)));
  const std::uint64_t n = get_u64(bytes.data() + 16);
  if (bytes.size() < seal_size || bytes.size() - seal_size != n)
    throw std::runtime_error(fmt::format("{} is truncated or extended: {} bytes, the seal says {}", name,
                                         bytes.size(), n + seal_size));
  const std::uint64_t computed = XXH64(bytes.data() + seal_size, n, 0), stored = get_u64(bytes.data() + 24);
  if (!same_checksum(computed, stored))
    throw std::runtime_error(name + " is corrupted (checksum mismatch)");
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "file access list");
  if (H5Pset_fapl_core(fapl, 1 << 16, /*backing_store=*/0) < 0) fail("use the in-memory driver");
  if (H5Pset_file_image(fapl, const_cast<unsigned char*>(bytes.data()) + seal_size, n) < 0) fail("load " + name);
  // The core driver refuses a name that exists on disk when given an image; HDF5 never touches this name.
  errno = 0;
  return Handle(H5Fopen(("vibench-image:" + name).c_str(), H5F_ACC_RDONLY, fapl), H5Fclose, "open " + name);
}

Handle open_file_readonly(const std::string& path) {
  // Verify the seal by streaming over the file, then let HDF5 read it from disk (it finds the superblock
  // after the 512-byte user block): opening a large results file needs no memory of its size.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  unsigned char head[32] = {0};
  struct stat st {};
  const bool have_head = ::fstat(fd, &st) == 0 && ::pread(fd, head, sizeof head, 0) == static_cast<ssize_t>(sizeof head);
  std::string problem;
  if (!have_head || std::memcmp(head, seal_magic, 16) != 0) {
    unsigned char at512[8] = {0};
    const bool hdf5 = (have_head && is_hdf5_signature(head)) ||
                      (::pread(fd, at512, sizeof at512, 512) == static_cast<ssize_t>(sizeof at512) && is_hdf5_signature(at512));
    ::close(fd);
    throw_unsealed(path, hdf5);
  } else {
    const std::uint64_t n = get_u64(head + 16), size = static_cast<std::uint64_t>(st.st_size);
    std::uint64_t computed = 0;
    if (size < seal_size || size - seal_size != n)
      problem = fmt::format("{} is truncated or extended: {} bytes, the seal says {}", path, size, n + seal_size);
    else if (!hash_range(fd, seal_size, n, computed))
      problem = fmt::format("cannot read {}: {}", path, std::strerror(errno));
    else if (!same_checksum(computed, get_u64(head + 24)))
      problem = path + " is corrupted (checksum mismatch)";
  }
  ::close(fd);
  if (!problem.empty()) throw std::runtime_error(problem);
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "file access list");
  errno = 0;
  return Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl), H5Fclose, "open " + path);
}
// The creation property lists every cell group and small dataset use, made once like scalar_space() (callers
// hold hdf5_lock): a property list made, set and closed per object was ~7 µs of each small dataset's ~27.
namespace {
Handle make_group_creation_list() {
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, "group creation list");
  if (H5Pset_link_phase_change(gcpl, compact_links, compact_links / 2) < 0 ||
      H5Pset_attr_phase_change(gcpl, compact_attrs, compact_attrs / 2) < 0 || H5Pset_obj_track_times(gcpl, false) < 0 ||
      H5Pset_est_link_info(gcpl, 48, 24) < 0)
    fail("set compact storage");
  return gcpl;
}
// No timestamps (smaller headers, and equal runs give equal files); `compact`: the data lives in the dataset's
// header, with no separate block.
Handle make_dataset_creation_list(bool compact) {
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "dataset properties");
  if (H5Pset_obj_track_times(dcpl, false) < 0 || (compact && H5Pset_layout(dcpl, H5D_COMPACT) < 0))
    fail("set dataset properties");
  return dcpl;
}
}  // namespace

Handle create_group(hid_t parent, const std::string& name) {
  static const Handle gcpl = make_group_creation_list();
  return Handle(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT), H5Gclose, "create group " + name);
}
Handle open_group(hid_t parent, const std::string& name) {
  return Handle(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), H5Gclose, "open group " + name);
}
bool exists(hid_t parent, const std::string& path) {
  // Check each component: H5Lexists fails on a missing intermediate.
  std::size_t pos = 0;
  while (true) {
    pos = path.find('/', pos + 1);
    std::string prefix = path.substr(0, pos);
    if (!prefix.empty() && prefix != "/" && H5Lexists(parent, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (pos == std::string::npos) return true;
  }
}

void write_attr(hid_t obj, const std::string& name, const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    Handle a(H5Acreate2(obj, name.c_str(), string_type(), scalar_space(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
             "create attribute " + name);
    const char* p = s->c_str();
    check(H5Awrite(a, string_type(), &p), "write attribute " + name);
  } else if (const auto* xs = std::get_if<std::vector<double>>(&v)) {
    Handle space = simple_space({xs->size()});
    Handle a(H5Acreate2(obj, name.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose, "create attribute " + name);
    static const double none = 0;  // HDF5 rejects a null buffer even for zero elements
    check(H5Awrite(a, H5T_NATIVE_DOUBLE, xs->empty() ? &none : xs->data()), "write attribute " + name);
  } else if (const auto* d = std::get_if<double>(&v)) {
    Handle a(H5Acreate2(obj, name.c_str(), H5T_NATIVE_DOUBLE, scalar_space(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
             "create attribute " + name);
    check(H5Awrite(a, H5T_NATIVE_DOUBLE, d), "write attribute " + name);
  } else {
    // Integers and booleans (as 0/1) are 64-bit integers.
    std::int64_t i = std::holds_alternative<bool>(v) ? std::get<bool>(v) : std::get<std::int64_t>(v);
    Handle a(H5Acreate2(obj, name.c_str(), H5T_NATIVE_INT64, scalar_space(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
             "create attribute " + name);
    check(H5Awrite(a, H5T_NATIVE_INT64, &i), "write attribute " + name);
  }
}

void write_attr_strings(hid_t obj, const std::string& name, const std::vector<std::string>& v) {
  Handle type = vlen_string_type();
  Handle space = simple_space({v.size()});
  Handle a(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose, "create attribute " + name);
  std::vector<const char*> ptrs;
  for (const auto& s : v) ptrs.push_back(s.c_str());
  check(H5Awrite(a, type, ptrs.data()), "write attribute " + name);
}

std::vector<std::string> read_attr_strings(hid_t obj, const std::string& name) {
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, "open attribute " + name);
  Handle type(H5Aget_type(a), H5Tclose, "attribute type");
  if (H5Tget_class(type) != H5T_STRING) throw std::runtime_error("HDF5: attribute " + name + " is not a string list");
  Handle space(H5Aget_space(a), H5Sclose, "attribute space");
  return read_strings(a, type, space, true);
}

bool has_attr(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

std::string read_attr_string(hid_t obj, const std::string& name) {
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, "open attribute " + name);
  Handle type(H5Aget_type(a), H5Tclose, "attribute type");
  if (H5Tget_class(type) != H5T_STRING) throw std::runtime_error("HDF5: attribute " + name + " is not a string");
  Handle space(H5Aget_space(a), H5Sclose, "attribute space");
  auto v = read_strings(a, type, space, true);
  return v.empty() ? "" : v[0];
}

double read_attr_double(hid_t obj, const std::string& name) {
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, "open attribute " + name);
  double d = 0;
  check(H5Aread(a, H5T_NATIVE_DOUBLE, &d), "read attribute " + name);
  return d;
}

std::vector<std::string> attr_names(hid_t obj) {
  std::vector<std::string> names;
  H5O_info_t info;
  check(H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS), "object info");
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    ssize_t len = H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) throw std::runtime_error("HDF5: attribute name");
    std::string n(static_cast<std::size_t>(len) + 1, '\0');
    if (H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, n.data(), n.size(), H5P_DEFAULT) < 0)
      throw std::runtime_error("HDF5: attribute name");
    n.resize(static_cast<std::size_t>(len));
    names.push_back(n);
  }
  return names;
}

bool attr_is_numeric_scalar(hid_t obj, const std::string& name) {
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, "open attribute " + name);
  Handle type(H5Aget_type(a), H5Tclose, "attribute type");
  Handle space(H5Aget_space(a), H5Sclose, "attribute space");
  H5T_class_t c = H5Tget_class(type);
  return (c == H5T_FLOAT || c == H5T_INTEGER) && H5Sget_simple_extent_type(space) == H5S_SCALAR;
}

std::string read_attr_text(hid_t obj, const std::string& name) {
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, "open attribute " + name);
  Handle type(H5Aget_type(a), H5Tclose, "attribute type");
  Handle space(H5Aget_space(a), H5Sclose, "attribute space");
  H5T_class_t c = H5Tget_class(type);
  bool scalar = H5Sget_simple_extent_type(space) == H5S_SCALAR;
  if (c == H5T_STRING) {
    auto v = read_strings(a, type, space, true);
    if (scalar) return v.empty() ? "" : v[0];
    return fmt::format("[{}]", fmt::join(v, ", "));
  }
  std::size_t n = element_count(space_dims(space));
  if (c == H5T_INTEGER) {
    std::vector<long long> v(std::max<std::size_t>(n, 1));
    check(H5Aread(a, H5T_NATIVE_LLONG, v.data()), "read attribute " + name);
    return scalar ? std::to_string(v[0]) : fmt::format("[{}]", fmt::join(v.begin(), v.begin() + static_cast<long>(n), ", "));
  }
  if (c == H5T_FLOAT) {
    std::vector<double> v(std::max<std::size_t>(n, 1));
    check(H5Aread(a, H5T_NATIVE_DOUBLE, v.data()), "read attribute " + name);
    return scalar ? fmt::format("{}", v[0]) : fmt::format("[{}]", fmt::join(v.begin(), v.begin() + static_cast<long>(n), ", "));
  }
  return "<unsupported type>";
}

void write_dataset(hid_t parent, const std::string& name, const std::vector<std::size_t>& shape,
                   const std::vector<double>& values) {
  Handle space = simple_space(shape);
  static const Handle compact_dcpl = make_dataset_creation_list(true), contiguous_dcpl = make_dataset_creation_list(false);
  hid_t dcpl = values.size() <= 1024 ? compact_dcpl : contiguous_dcpl;
  Handle chunked_dcpl;
  // Large arrays (trajectories, per-replicate values) are chunked and compressed.
  if (!shape.empty() && values.size() >= 4096) {
    chunked_dcpl = make_dataset_creation_list(false);
    dcpl = chunked_dcpl;
    std::vector<hsize_t> chunk(shape.begin(), shape.end());
    hsize_t budget = 65536;
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      chunk[i] = std::max<hsize_t>(1, std::min<hsize_t>(chunk[i], budget));
      budget = std::max<hsize_t>(1, budget / chunk[i]);
    }
    H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 4);
  }
  Handle d(H5Dcreate2(parent, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose,
           "create dataset " + name);
  check(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "write dataset " + name);
}

void write_dataset_strings(hid_t parent, const std::string& name, const std::vector<std::string>& values) {
  Handle type = vlen_string_type();
  Handle space = simple_space({values.size()});
  Handle d(H5Dcreate2(parent, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose,
           "create dataset " + name);
  std::vector<const char*> ptrs;
  for (const auto& s : values) ptrs.push_back(s.c_str());
  Handle dxpl = string_transfer_list(values.size());
  check(H5Dwrite(d, type, H5S_ALL, H5S_ALL, dxpl, ptrs.data()), "write dataset " + name);
}

std::vector<std::string> member_names(hid_t group) {
  // One pass in storage order, then sorted: looking links up by index in name order costs a pass over the
  // whole group per link in HDF5's dense (1.8-format) groups.
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  check(H5Literate(group, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, collect, &names), "list group");
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::size_t> dataset_shape(hid_t parent, const std::string& name) {
  Handle d(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose, "open dataset " + name);
  Handle space(H5Dget_space(d), H5Sclose, "dataspace");
  auto dims = space_dims(space);
  return {dims.begin(), dims.end()};
}

bool dataset_is_string(hid_t parent, const std::string& name) {
  Handle d(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose, "open dataset " + name);
  Handle type(H5Dget_type(d), H5Tclose, "dataset type");
  return H5Tget_class(type) == H5T_STRING;
}

std::vector<double> read_dataset_doubles(hid_t parent, const std::string& name) {
  Handle d(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose, "open dataset " + name);
  Handle space(H5Dget_space(d), H5Sclose, "dataspace");
  std::vector<double> v(element_count(space_dims(space)));
  if (!v.empty() || H5Sget_simple_extent_type(space) == H5S_SCALAR) {
    v.resize(std::max<std::size_t>(v.size(), 1));
    check(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "read dataset " + name);
  }
  return v;
}

std::vector<std::string> read_dataset_strings(hid_t parent, const std::string& name) {
  Handle d(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose, "open dataset " + name);
  Handle type(H5Dget_type(d), H5Tclose, "dataset type");
  Handle space(H5Dget_space(d), H5Sclose, "dataspace");
  return read_strings(d, type, space, false);
}

namespace {
Stored read_stored(hid_t obj, hid_t type, hid_t space, bool is_attr, const std::string& name) {
  Stored out;
  const auto dims = space_dims(space);
  out.shape.assign(dims.begin(), dims.end());
  const std::size_t n = element_count(dims);
  auto read = [&](hid_t mem, void* buf) {
    check(is_attr ? H5Aread(obj, mem, buf) : H5Dread(obj, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), "read " + name);
  };
  switch (H5Tget_class(type)) {
    case H5T_STRING:
      out.values = read_strings(obj, type, space, is_attr);
      break;
    case H5T_INTEGER: {
      std::vector<std::int64_t> v(n);
      if (n > 0) read(H5T_NATIVE_INT64, v.data());
      out.values = std::move(v);
      break;
    }
    case H5T_FLOAT: {
      std::vector<double> v(n);
      if (n > 0) read(H5T_NATIVE_DOUBLE, v.data());
      out.values = std::move(v);
      break;
    }
    default:
      throw std::runtime_error("HDF5: " + name + " has a type vibench does not write");
  }
  return out;
}
}  // namespace

Stored read_attr(hid_t obj, const std::string& name) {
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, "open attribute " + name);
  Handle type(H5Aget_type(a), H5Tclose, "attribute type");
  Handle space(H5Aget_space(a), H5Sclose, "attribute space");
  return read_stored(a, type, space, true, "attribute " + name);
}

Stored read_dataset(hid_t parent, const std::string& name) {
  Handle d(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose, "open dataset " + name);
  Handle type(H5Dget_type(d), H5Tclose, "dataset type");
  Handle space(H5Dget_space(d), H5Sclose, "dataspace");
  return read_stored(d, type, space, false, "dataset " + name);
}

Handle open_dataset(hid_t parent, const std::string& name) {
  return Handle(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose, "open dataset " + name);
}

Table read_table(hid_t parent, const std::string& name) {
  Handle d = open_dataset(parent, name);
  Handle type(H5Dget_type(d), H5Tclose, "table type");
  Handle space(H5Dget_space(d), H5Sclose, "table space");
  if (H5Tget_class(type) != H5T_COMPOUND) throw std::runtime_error("HDF5: " + name + " is not a table");
  Table t;
  t.rows = element_count(space_dims(space));
  const int members = H5Tget_nmembers(type);
  for (int m = 0; m < members; ++m) {
    char* raw = H5Tget_member_name(type, static_cast<unsigned>(m));
    const std::string column = raw ? raw : "";
    H5free_memory(raw);
    t.columns.push_back(column);
    Handle member(H5Tget_member_type(type, static_cast<unsigned>(m)), H5Tclose, "table column type");
    const H5T_class_t c = H5Tget_class(member);
    if (c == H5T_STRING && H5Tis_variable_str(member) <= 0) {
      // Read this one column: a memory compound type with just this member.
      const std::size_t size = H5Tget_size(member);
      Handle mem(H5Tcreate(H5T_COMPOUND, size), H5Tclose, "column type");
      check(H5Tinsert(mem, column.c_str(), 0, member), "column type");
      std::vector<char> buf(size * t.rows + 1, '\0');
      if (t.rows) check(H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), "read " + name + " column " + column);
      auto& out = t.text[column];
      out.reserve(t.rows);
      for (std::size_t i = 0; i < t.rows; ++i) out.emplace_back(buf.data() + i * size, strnlen(buf.data() + i * size, size));
    } else if (c == H5T_INTEGER || c == H5T_FLOAT) {
      Handle mem(H5Tcreate(H5T_COMPOUND, sizeof(double)), H5Tclose, "column type");
      check(H5Tinsert(mem, column.c_str(), 0, H5T_NATIVE_DOUBLE), "column type");
      auto& out = t.numbers[column];
      out.resize(t.rows);
      if (t.rows) check(H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "read " + name + " column " + column);
    }
  }
  return t;
}

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    const int r = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (r != 0) throw std::runtime_error("cannot flush " + path + " to disk: " + std::strerror(err));
  }
  // The directory too, so a rename is durable (some filesystems refuse fsync on directories: best effort).
  std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace vibench::h5
