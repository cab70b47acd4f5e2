#pragma once
// Thin RAII layer over the HDF5 C API. HDF5 is not thread safe: every call goes through hdf5_lock().
#include <hdf5.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "vibench/plugin/value.hpp"

namespace vibench::h5 {

std::unique_lock<std::mutex> hdf5_lock();

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*closer)(hid_t), const std::string& what);  // throws if id < 0
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();
  hid_t id() const { return id_; }
  hid_t release() {  // the caller closes it now
    const hid_t id = id_;
    id_ = -1;
    return id;
  }
  operator hid_t() const { return id_; }

 private:
  hid_t id_ = -1;
  herr_t (*closer_)(hid_t) = nullptr;
};

// Every file vibench writes starts with a seal: 512 bytes with the length and XXH64 of the HDF5 image after
// them, which open_sealed_image / open_file_readonly verify before HDF5 parses anything: truncated,
// corrupted or foreign files are refused with a message. create_sealed_file makes the file on disk (HDF5
// writes it directly, the 512 bytes reserved as a user block); close_and_seal closes it, checking that HDF5
// wrote everything, and writes the seal. The file is never held in memory whole.
Handle create_sealed_file(const std::string& path);
void close_and_seal(Handle& file, const std::string& path);
Handle open_sealed_image(const std::vector<unsigned char>& bytes, const std::string& name);
// Thrown by open_file_readonly / open_sealed_image when the bytes are not a vibench-sealed file at all (as
// opposed to a sealed file that is truncated or corrupted), so callers can say what the file is instead.
struct NotAResultsFile : std::runtime_error {
  using std::runtime_error::runtime_error;
};
Handle open_file_readonly(const std::string& path);
Handle create_group(hid_t parent, const std::string& name);
Handle open_group(hid_t parent, const std::string& name);
bool exists(hid_t parent, const std::string& path);

void write_attr(hid_t obj, const std::string& name, const Value& v);
void write_attr_strings(hid_t obj, const std::string& name, const std::vector<std::string>& v);
std::vector<std::string> read_attr_strings(hid_t obj, const std::string& name);
bool has_attr(hid_t obj, const std::string& name);
std::string read_attr_string(hid_t obj, const std::string& name);
double read_attr_double(hid_t obj, const std::string& name);  // any numeric class
std::vector<std::string> attr_names(hid_t obj);
// Attribute as text (numbers with 17 significant digits, arrays as [a, b]); for inspect and tables.
std::string read_attr_text(hid_t obj, const std::string& name);
// Is the attribute a numeric scalar?
bool attr_is_numeric_scalar(hid_t obj, const std::string& name);

// An attribute or dataset exactly as stored: integers, doubles or strings, flattened in C order, with its
// shape (empty = scalar). For readers that must give every value back exactly and typed (inspect).
struct Stored {
  std::vector<std::size_t> shape;
  std::variant<std::vector<std::int64_t>, std::vector<double>, std::vector<std::string>> values;
};
Stored read_attr(hid_t obj, const std::string& name);
Stored read_dataset(hid_t parent, const std::string& name);

void write_dataset(hid_t parent, const std::string& name, const std::vector<std::size_t>& shape,
                   const std::vector<double>& values);
void write_dataset_strings(hid_t parent, const std::string& name, const std::vector<std::string>& values);
std::vector<std::string> member_names(hid_t group);  // links in a group, sorted
std::vector<std::size_t> dataset_shape(hid_t parent, const std::string& name);
bool dataset_is_string(hid_t parent, const std::string& name);
std::vector<double> read_dataset_doubles(hid_t parent, const std::string& name);
std::vector<std::string> read_dataset_strings(hid_t parent, const std::string& name);

Handle open_dataset(hid_t parent, const std::string& name);

// A one-dimensional compound dataset (such as /index) read whole, column by column: string members as text,
// numeric ones as doubles (64-bit integers above 2^53 lose precision).
struct Table {
  std::size_t rows = 0;
  std::vector<std::string> columns;  // in member order
  std::map<std::string, std::vector<std::string>> text;
  std::map<std::string, std::vector<double>> numbers;
};
Table read_table(hid_t parent, const std::string& name);

// Flush to disk: fsync the file, then its directory (so a rename is durable).
void fsync_path(const std::string& path);

}  // namespace vibench::h5
