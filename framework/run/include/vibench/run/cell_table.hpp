#pragma once
// A table with one row per cell (the /index and /resume tables of a results file), built row by row in a
// compact columnar form and written as one HDF5 compound dataset. It keeps ~9 bytes per cell and column plus
// each distinct string once, so a 10^5-cell table never holds 10^5 maps.
#include <hdf5.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "vibench/plugin/value.hpp"

namespace vibench {

class CellTable {
 public:
  // `leading` columns come first (the others in first-seen order); `text` columns are strings whatever
  // their values.
  CellTable(std::vector<std::string> leading, std::set<std::string> text);

  void add_row(const std::map<std::string, Value>& row);
  std::size_t rows() const { return rows_; }

  // Types: all-integer columns (booleans as 0/1) without gaps are int64, numeric ones float64 (NaN where
  // absent), the rest fixed-length, null-terminated strings (canonical text; empty where absent).
  void write(hid_t parent, const std::string& name) const;

 private:
  enum Tag : std::uint8_t { absent, boolean, integer, real, text };
  struct Column {
    std::string name;
    std::vector<std::uint8_t> tags;
    std::vector<std::uint64_t> bits;  // the value's bits, or an index into pool_ for text
  };
  Column& column(const std::string& name);
  Value value(const Column& c, std::size_t row) const;

  std::set<std::string> text_;
  std::vector<Column> columns_;
  std::unordered_map<std::string, std::size_t> column_of_;
  std::vector<const std::string*> pool_;  // distinct texts, each stored once (as a key of pool_index_)
  std::unordered_map<std::string, std::uint64_t> pool_index_;
  std::size_t rows_ = 0;
};

}  // namespace vibench
