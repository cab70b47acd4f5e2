#pragma once
// Exact binary serialization of a computation's state (a checkpoint's payload): integers and doubles are
// written as their bytes, so a restored double has the same bits as the saved one. Native byte order: a
// checkpoint is resumed by the same build on the same kind of machine.
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace vibench {

// A payload that does not have the layout its reader expects (truncated, or left over).
class StateFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class StateWriter {
 public:
  template <class T>
    requires std::is_arithmetic_v<T>
  void put(T x) {
    append(&x, sizeof x);
  }
  template <class T>
    requires std::is_arithmetic_v<T>
  void put(const std::vector<T>& v) {
    put(static_cast<std::uint64_t>(v.size()));
    append(v.data(), v.size() * sizeof(T));
  }
  void put(const std::string& s) {
    put(static_cast<std::uint64_t>(s.size()));
    append(s.data(), s.size());
  }
  const std::vector<unsigned char>& bytes() const { return bytes_; }
  std::vector<unsigned char> take() { return std::move(bytes_); }

 private:
  // resize + memcpy rather than insert: GCC 12 warns falsely (-Wstringop-overflow) on inserting into an empty vector.
  void append(const void* p, std::size_t n) {
    const std::size_t at = bytes_.size();
    bytes_.resize(at + n);
    if (n) std::memcpy(bytes_.data() + at, p, n);
  }
  std::vector<unsigned char> bytes_;
};

class StateReader {
 public:
  StateReader(const unsigned char* data, std::size_t size) : data_(data), size_(size) {}
  explicit StateReader(const std::vector<unsigned char>& bytes) : StateReader(bytes.data(), bytes.size()) {}

  template <class T>
    requires std::is_arithmetic_v<T>
  T get() {
    T x;
    std::memcpy(&x, take(sizeof x), sizeof x);
    return x;
  }
  template <class T>
    requires std::is_arithmetic_v<T>
  void get(T& x) {
    x = get<T>();
  }
  template <class T>
    requires std::is_arithmetic_v<T>
  void get(std::vector<T>& v) {
    const auto n = get<std::uint64_t>();
    if (n > (size_ - pos_) / sizeof(T)) throw StateFormatError("a saved array is longer than the data left");
    v.resize(n);
    const auto* p = take(n * sizeof(T));
    if (n) std::memcpy(v.data(), p, n * sizeof(T));  // an empty vector's data() may be null
  }
  void get(std::string& s) {
    const auto n = get<std::uint64_t>();
    if (n > size_ - pos_) throw StateFormatError("a saved string is longer than the data left");
    const auto* p = take(n);
    s.assign(p, p + n);
  }
  // Reads a vector that must have `n` elements (e.g. parameters of a known network).
  template <class T>
  void get_sized(std::vector<T>& v, std::size_t n) {
    get(v);
    if (v.size() != n)
      throw StateFormatError("a saved array has " + std::to_string(v.size()) + " elements, expected " + std::to_string(n));
  }
  std::size_t offset() const { return pos_; }
  // Every byte must have been read: a longer payload was written by another layout.
  void expect_end() const {
    if (pos_ != size_) throw StateFormatError(std::to_string(size_ - pos_) + " bytes left over after the saved state");
  }

 private:
  const unsigned char* take(std::size_t n) {
    if (n > size_ - pos_) throw StateFormatError("the saved state is truncated");
    const unsigned char* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  const unsigned char* data_;
  std::size_t size_, pos_ = 0;
};

}  // namespace vibench
