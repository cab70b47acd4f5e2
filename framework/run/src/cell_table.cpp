#include "vibench/run/cell_table.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "vibench/run/hdf5_io.hpp"

namespace vibench {

CellTable::CellTable(std::vector<std::string> leading, std::set<std::string> text) : text_(std::move(text)) {
  for (const std::string& name : leading) column(name);
}

CellTable::Column& CellTable::column(const std::string& name) {
  auto [it, added] = column_of_.emplace(name, columns_.size());
  if (added) {
    columns_.push_back({name, std::vector<std::uint8_t>(rows_, absent), std::vector<std::uint64_t>(rows_, 0)});
  }
  return columns_[it->second];
}

void CellTable::add_row(const std::map<std::string, Value>& row) {
  for (const auto& [name, v] : row) column(name);
  for (Column& c : columns_) {
    c.tags.push_back(absent);
    c.bits.push_back(0);
  }
  for (const auto& [name, v] : row) {
    Column& c = columns_[column_of_.at(name)];
    if (const auto* b = std::get_if<bool>(&v)) {
      c.tags.back() = boolean;
      c.bits.back() = *b;
    } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
      c.tags.back() = integer;
      c.bits.back() = static_cast<std::uint64_t>(*i);
    } else if (const auto* d = std::get_if<double>(&v)) {
      c.tags.back() = real;
      c.bits.back() = std::bit_cast<std::uint64_t>(*d);
    } else {
      auto [it, added] = pool_index_.emplace(canonical_text(v), pool_.size());
      if (added) pool_.push_back(&it->first);
      c.tags.back() = text;
      c.bits.back() = it->second;
    }
  }
  ++rows_;
}

Value CellTable::value(const Column& c, std::size_t row) const {
  switch (c.tags[row]) {
    case boolean: return c.bits[row] != 0;
    case integer: return static_cast<std::int64_t>(c.bits[row]);
    case real: return std::bit_cast<double>(c.bits[row]);
    default: return *pool_[c.bits[row]];
  }
}

void CellTable::write(hid_t parent, const std::string& name) const {
  enum class Kind { Int, Double, String };
  struct Layout {
    Kind kind;
    std::size_t size, offset;
  };
  std::vector<Layout> layout;
  std::size_t offset = 0;
  for (const Column& c : columns_) {
    bool all_int = true, all_num = true, any_missing = false;
    std::size_t width = 1;
    for (std::size_t r = 0; r < rows_; ++r) {
      const std::uint8_t tag = c.tags[r];
      if (tag == absent) {
        any_missing = true;
        continue;
      }
      all_int = all_int && (tag == boolean || tag == integer);
      all_num = all_num && tag != text;
      width = std::max(width, (tag == text ? pool_[c.bits[r]]->size() : canonical_text(value(c, r)).size()) + 1);
    }
    Kind kind = Kind::String;
    if (!text_.count(c.name)) kind = all_int && !any_missing ? Kind::Int : all_num ? Kind::Double : Kind::String;
    const std::size_t size = kind == Kind::String ? width : 8;
    layout.push_back({kind, size, offset});
    offset += size;
  }
  const std::size_t row_size = std::max<std::size_t>(offset, 1);
  std::vector<char> buf(row_size * rows_, '\0');
  for (std::size_t k = 0; k < columns_.size(); ++k) {
    const Column& c = columns_[k];
    const Layout& l = layout[k];
    for (std::size_t r = 0; r < rows_; ++r) {
      char* at = buf.data() + r * row_size + l.offset;
      const std::uint8_t tag = c.tags[r];
      if (l.kind == Kind::Int) {
        const std::int64_t x = static_cast<std::int64_t>(c.bits[r]);
        std::memcpy(at, &x, 8);
      } else if (l.kind == Kind::Double) {
        const double x = tag == absent ? std::numeric_limits<double>::quiet_NaN()
                         : tag == real ? std::bit_cast<double>(c.bits[r])
                         : tag == boolean ? static_cast<double>(c.bits[r])
                                          : static_cast<double>(static_cast<std::int64_t>(c.bits[r]));
        std::memcpy(at, &x, 8);
      } else if (tag != absent) {
        const std::string s = tag == text ? *pool_[c.bits[r]] : canonical_text(value(c, r));
        std::memcpy(at, s.data(), std::min(s.size(), l.size - 1));
      }
    }
  }
  h5::Handle type(H5Tcreate(H5T_COMPOUND, row_size), H5Tclose, "compound type");
  std::vector<h5::Handle> string_types;
  for (std::size_t k = 0; k < columns_.size(); ++k) {
    const Layout& l = layout[k];
    hid_t member = l.kind == Kind::Int ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
    if (l.kind == Kind::String) {
      string_types.emplace_back(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
      H5Tset_size(string_types.back(), l.size);
      H5Tset_strpad(string_types.back(), H5T_STR_NULLTERM);
      member = string_types.back();
    }
    if (H5Tinsert(type, columns_[k].name.c_str(), l.offset, member) < 0)
      throw std::runtime_error("HDF5: " + name + " column " + columns_[k].name);
  }
  hsize_t n = rows_;
  h5::Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose, name + " dataspace");
  h5::Handle d(H5Dcreate2(parent, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose,
               "create /" + name);
  if (n > 0 && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
    throw std::runtime_error("HDF5: write /" + name);
}

}  // namespace vibench
