#include "vibench/run/part_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>
#include <xxhash.h>

namespace vibench {

namespace {

constexpr char file_magic[17] = "vibench-parts-1\n";
constexpr char record_magic[9] = "vbcell1\n";
constexpr std::size_t header_size = 24;  // record magic, length, checksum

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
std::uint64_t get_u64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}
void put_string(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}

// Reads the payload front to back; any read past the end is a malformed record.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  std::uint64_t u64() {
    need(8);
    const std::uint64_t v = get_u64(reinterpret_cast<const unsigned char*>(bytes_.data()) + pos_);
    pos_ += 8;
    return v;
  }
  unsigned char byte() {
    need(1);
    return static_cast<unsigned char>(bytes_[pos_++]);
  }
  std::string string() {
    const std::uint64_t n = u64();
    need(n);
    std::string s(bytes_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  double f64() { return std::bit_cast<double>(u64()); }
  // A count of items of at least `min_bytes` each: bounded by what is left, so a damaged count cannot
  // make us allocate without limit.
  std::uint64_t count(std::size_t min_bytes) {
    const std::uint64_t n = u64();
    if (n > (bytes_.size() - pos_) / min_bytes) throw std::runtime_error("malformed cell record (count)");
    return n;
  }
  bool at_end() const { return pos_ == bytes_.size(); }

 private:
  void need(std::uint64_t n) const {
    if (n > bytes_.size() - pos_) throw std::runtime_error("malformed cell record (truncated)");
  }
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

enum Tag : unsigned char { tag_bool, tag_int, tag_double, tag_string, tag_doubles };

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Writes all of `bytes` at the end of fd; false (errno set) on failure.
bool write_all(int fd, const char* bytes, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, bytes, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return false;
    bytes += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_exact(int fd, std::uint64_t offset, char* out, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::pread(fd, out, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    out += r;
    offset += static_cast<std::uint64_t>(r);
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// The payload length and checksum of the record header at p, or length -1 if p is no record header.
struct RecordHeader {
  bool valid;
  std::uint64_t length, checksum;
};
RecordHeader parse_header(const unsigned char* p) {
  if (std::memcmp(p, record_magic, 8) != 0) return {false, 0, 0};
  return {true, get_u64(p + 8), get_u64(p + 16)};
}

}  // namespace

const Value* StoredCell::attr(std::string_view name) const {
  for (const auto& [k, v] : attrs)
    if (k == name) return &v;
  return nullptr;
}

std::string encode_cell(const StoredCell& cell) {
  std::string out;
  put_string(out, cell.id);
  put_u64(out, cell.attrs.size());
  for (const auto& [name, v] : cell.attrs) {
    put_string(out, name);
    if (const auto* b = std::get_if<bool>(&v)) {
      out.push_back(static_cast<char>(tag_bool));
      out.push_back(static_cast<char>(*b));
    } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
      out.push_back(static_cast<char>(tag_int));
      put_u64(out, static_cast<std::uint64_t>(*i));
    } else if (const auto* d = std::get_if<double>(&v)) {
      out.push_back(static_cast<char>(tag_double));
      put_u64(out, std::bit_cast<std::uint64_t>(*d));
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      out.push_back(static_cast<char>(tag_string));
      put_string(out, *s);
    } else {
      const auto& xs = std::get<std::vector<double>>(v);
      out.push_back(static_cast<char>(tag_doubles));
      put_u64(out, xs.size());
      for (double x : xs) put_u64(out, std::bit_cast<std::uint64_t>(x));
    }
  }
  put_u64(out, cell.datasets.size());
  for (const Metric& m : cell.datasets) {
    put_string(out, m.name);
    put_u64(out, m.shape.size());
    for (std::size_t d : m.shape) put_u64(out, d);
    const bool strings = !m.strings.empty();
    out.push_back(static_cast<char>(strings));
    if (strings) {
      put_u64(out, m.strings.size());
      for (const auto& s : m.strings) put_string(out, s);
    } else {
      put_u64(out, m.values.size());
      for (double x : m.values) put_u64(out, std::bit_cast<std::uint64_t>(x));
    }
  }
  return out;
}

StoredCell decode_cell(std::string_view payload) {
  Reader r(payload);
  StoredCell cell;
  cell.id = r.string();
  for (std::uint64_t n = r.count(10), i = 0; i < n; ++i) {
    std::string name = r.string();
    const unsigned char tag = r.byte();
    switch (tag) {
      case tag_bool: cell.attrs.emplace_back(std::move(name), r.byte() != 0); break;
      case tag_int: cell.attrs.emplace_back(std::move(name), static_cast<std::int64_t>(r.u64())); break;
      case tag_double: cell.attrs.emplace_back(std::move(name), r.f64()); break;
      case tag_string: cell.attrs.emplace_back(std::move(name), r.string()); break;
      case tag_doubles: {
        std::vector<double> xs(r.count(8));
        for (double& x : xs) x = r.f64();
        cell.attrs.emplace_back(std::move(name), std::move(xs));
        break;
      }
      default: throw std::runtime_error("malformed cell record (attribute type)");
    }
  }
  for (std::uint64_t n = r.count(25), i = 0; i < n; ++i) {
    Metric m;
    m.name = r.string();
    m.shape.resize(r.count(8));
    for (std::size_t& d : m.shape) d = r.u64();
    if (r.byte()) {
      m.strings.resize(r.count(8));
      for (std::string& s : m.strings) s = r.string();
    } else {
      m.values.resize(r.count(8));
      for (double& x : m.values) x = r.f64();
    }
    cell.datasets.push_back(std::move(m));
  }
  if (!r.at_end()) throw std::runtime_error("malformed cell record (trailing bytes)");
  return cell;
}

PartWriter::PartWriter(std::string path, double sync_seconds) : path_(std::move(path)), sync_seconds_(sync_seconds) {}

PartWriter::~PartWriter() {
  if (fd_ >= 0) {
    ::fsync(fd_);
    ::close(fd_);
  }
}

std::uint64_t PartWriter::append(const std::string& payload) {
  std::string header(record_magic, 8);
  put_u64(header, payload.size());
  put_u64(header, XXH64(payload.data(), payload.size(), 0));
  std::string record = header + payload;  // one write: a kill tears at most this record
  std::lock_guard<std::mutex> lock(mutex_);
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error(fmt::format("cannot create {}: {}", path_, std::strerror(errno)));
    if (!write_all(fd_, file_magic, 16)) {
      const int err = errno;
      ::close(fd_);
      fd_ = -1;
      ::unlink(path_.c_str());
      throw std::runtime_error(fmt::format("cannot write {}: {}", path_, std::strerror(err)));
    }
    size_ = 16;
    last_sync_ = now_seconds();
  }
  if (!write_all(fd_, record.data(), record.size())) {
    const int err = errno;
    // Cut the partial record off, so later records follow whole ones (a reader stops at a torn record).
    const std::string failed = path_;
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      ::close(fd_);
      fd_ = -1;  // the next append starts a fresh file rather than writing after garbage
      path_.insert(path_.size() - 5, ".1");
    }
    throw std::runtime_error(fmt::format("cannot write {}: {}", failed, std::strerror(err)));
  }
  const std::uint64_t offset = size_;
  size_ += record.size();
  if (now_seconds() - last_sync_ >= sync_seconds_) {
    if (::fsync(fd_) != 0)
      throw std::runtime_error(fmt::format("cannot flush {} to disk: {}", path_, std::strerror(errno)));
    last_sync_ = now_seconds();
  }
  return offset;
}

std::string read_part_records(const std::string& path,
                              const std::function<void(std::uint64_t, std::string_view)>& visit) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) throw std::runtime_error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  std::setvbuf(f.get(), nullptr, _IOFBF, 1 << 20);
  char magic[16];
  if (std::fread(magic, 1, 16, f.get()) != 16 || std::memcmp(magic, file_magic, 16) != 0)
    throw std::runtime_error(path + " is not a vibench part file");
  std::uint64_t offset = 16;
  std::string payload;
  while (true) {
    unsigned char header[header_size];
    const std::size_t got = std::fread(header, 1, header_size, f.get());
    if (got == 0 && std::feof(f.get())) return "";
    if (std::ferror(f.get())) throw std::runtime_error(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    const RecordHeader h = got == header_size ? parse_header(header) : RecordHeader{false, 0, 0};
    bool whole = h.valid;
    if (whole) {
      // Read in steps, so a damaged length cannot make us allocate more than the file holds.
      payload.clear();
      char buf[1 << 16];
      for (std::uint64_t left = h.length; left > 0 && whole;) {
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, sizeof buf));
        const std::size_t n = std::fread(buf, 1, want, f.get());
        payload.append(buf, n);
        left -= n;
        whole = n == want;
      }
      whole = whole && XXH64(payload.data(), payload.size(), 0) == h.checksum;
    }
    if (!whole)
      return fmt::format("{}: the record at byte {} is torn or damaged (a run killed while writing it?); it and "
                         "anything after it are ignored",
                         path, offset);
    visit(offset, payload);
    offset += header_size + h.length;
  }
}

std::string read_part_record(int fd, const std::string& path, std::uint64_t offset) {
  unsigned char header[header_size];
  if (!read_exact(fd, offset, reinterpret_cast<char*>(header), header_size))
    throw std::runtime_error(fmt::format("cannot read the record at byte {} of {}", offset, path));
  const RecordHeader h = parse_header(header);
  std::string payload;
  if (h.valid) {
    payload.resize(h.length);
    if (!read_exact(fd, offset + header_size, payload.data(), payload.size()) ||
        XXH64(payload.data(), payload.size(), 0) != h.checksum)
      payload.clear();
    else
      return payload;
  }
  throw std::runtime_error(fmt::format("the record at byte {} of {} changed since it was checked", offset, path));
}

bool is_part_file(const std::string& filename) {
  return filename.size() > 5 && filename.compare(filename.size() - 5, 5, ".part") == 0;
}

}  // namespace vibench
