// vibench inspect (see inspect.hpp). CSV and JSON write every number in its shortest round-trip form and
// every value with its stored type, so a script gets the stored bits back.
#include "inspect.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <type_traits>

#include <fmt/format.h>

#include "vibench/run/code_fingerprint.hpp"
#include "vibench/run/hdf5_io.hpp"
#include "vibench/run/results_layout.hpp"

namespace vibench::cli {
namespace {

using h5::Stored;
namespace attr = layout::cell_attr;

// One-dimensional datasets of at most this many elements are columns of the cell table (`name[i]` in CSV,
// arrays in JSON): per-parameter statistics such as grad_var. Longer or multi-dimensional datasets
// (trajectories) are shown by --cell only.
constexpr std::size_t max_table_array = 1024;

// Shortest text that reads back as the same double, always with a '.' or an exponent so readers type it as
// a float ("2.0", not "2"); non-finite values as "nan", "inf", "-inf" (what pandas and Python's float read).
std::string float_text(double x) {
  std::string t = fmt::format("{}", x);
  if (t.find_first_of(".en") == std::string::npos) t += ".0";
  return t;
}

// JSON has no NaN or infinity: NaN is null, ±infinity is ±1e999 (valid JSON that IEEE parsers, e.g.
// Python's json and JavaScript, read as ±infinity).
std::string json_double(double x) {
  if (std::isnan(x)) return "null";
  if (std::isinf(x)) return x > 0 ? "1e999" : "-1e999";
  return float_text(x);
}

std::string json_string(const std::string& s) {
  std::string q = "\"";
  for (unsigned char ch : s) {
    if (ch == '"' || ch == '\\') {
      q += '\\';
      q += static_cast<char>(ch);
    } else if (ch == '\n') {
      q += "\\n";
    } else if (ch < 0x20) {
      q += fmt::format("\\u{:04x}", ch);
    } else {
      q += static_cast<char>(ch);
    }
  }
  return q + "\"";
}

std::string csv_field(const std::string& t) {  // RFC 4180 quoting where needed
  if (t.find_first_of(",\"\n\r") == std::string::npos) return t;
  std::string q = "\"";
  for (char ch : t) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

std::size_t element_count(const Stored& s) {
  return std::visit([](const auto& v) { return v.size(); }, s.values);
}

// Element i of s, as a JSON literal (json = true) or as plain text.
std::string element(const Stored& s, std::size_t i, bool json) {
  return std::visit(
      [&](const auto& v) -> std::string {
        using T = typename std::decay_t<decltype(v)>::value_type;
        if constexpr (std::is_same_v<T, std::string>) return json ? json_string(v[i]) : v[i];
        else if constexpr (std::is_same_v<T, double>) return json ? json_double(v[i]) : float_text(v[i]);
        else return std::to_string(v[i]);
      },
      s.values);
}

// A scalar as a JSON literal, an array as nested JSON arrays following its shape.
std::string json_value(const Stored& s) {
  if (s.shape.empty()) return element(s, 0, true);
  std::size_t next = 0;
  std::function<std::string(std::size_t)> level = [&](std::size_t d) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.shape[d]; ++i)
      out += (i ? ", " : "") + (d + 1 == s.shape.size() ? element(s, next++, true) : level(d + 1));
    return out + "]";
  };
  return level(0);
}

// For people: a scalar as its text, an array as [a, b, ...] (every element).
std::string display_text(const Stored& s) {
  if (s.shape.empty()) return element(s, 0, false);
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < element_count(s); ++i) parts.push_back(element(s, i, false));
  return fmt::format("[{}]", fmt::join(parts, ", "));
}

// Name of element `flat` (C order) of s: "name" for a scalar, "name[i]", "name[i,j]", ...
std::string element_name(const std::string& name, const Stored& s, std::size_t flat) {
  if (s.shape.empty()) return name;
  std::vector<std::size_t> index(s.shape.size());
  for (std::size_t d = s.shape.size(); d-- > 0;) {
    index[d] = flat % s.shape[d];
    flat /= s.shape[d];
  }
  return fmt::format("{}[{}]", name, fmt::join(index, ","));
}

bool is_numeric_scalar(const Stored& s) {
  return s.shape.empty() && !std::holds_alternative<std::vector<std::string>>(s.values);
}
double as_double(const Stored& s) {
  if (const auto* d = std::get_if<std::vector<double>>(&s.values)) return (*d)[0];
  return static_cast<double>(std::get<std::vector<std::int64_t>>(s.values)[0]);
}

struct Cell {
  std::string id;
  std::map<std::string, Stored> attributes, datasets;
};

// One cell group; table_only leaves out what the cell table does not show (multi-dimensional or long datasets).
Cell read_cell(hid_t cells, const std::string& id, bool table_only) {
  Cell c{id, {}, {}};
  h5::Handle g = h5::open_group(cells, id);
  for (const auto& a : h5::attr_names(g)) c.attributes.emplace(a, h5::read_attr(g, a));
  for (const auto& d : h5::member_names(g)) {
    if (table_only) {
      const auto shape = h5::dataset_shape(g, d);
      if (shape.size() > 1 || (shape.size() == 1 && shape[0] > max_table_array)) continue;
    }
    c.datasets.emplace(d, h5::read_dataset(g, d));
  }
  return c;
}

// A string attribute's text ("" when the cell has no such string attribute).
std::string string_attribute(const Cell& c, const std::string& name) {
  auto it = c.attributes.find(name);
  if (it == c.attributes.end()) return "";
  const auto* s = std::get_if<std::vector<std::string>>(&it->second.values);
  return s && !s->empty() ? (*s)[0] : "";
}

// The fingerprint this binary gives a stored cell (from its study and plugin names), to compare with the
// stored `code_fingerprint`.
CodeFingerprint current_fingerprint(const Cell& c) {
  Config names;
  for (const auto& [a, s] : c.attributes)
    if (a.ends_with(".name")) names[a] = string_attribute(c, a);
  return cell_code_fingerprint(string_attribute(c, attr::study), names);
}

std::string stored_fingerprint(const Cell& c) {
  const std::string fp = string_attribute(c, attr::code_fingerprint);
  return fp.empty() ? "(none)" : fp;
}

// Does the stored code fingerprint match what this binary would compute, and if not, why.
std::string fingerprint_verdict(const Cell& c) {
  const CodeFingerprint now = current_fingerprint(c);
  if (!c.attributes.count(attr::code_fingerprint))
    return fmt::format("this binary's is {}; the cell was written before code fingerprints existed (stale)", now.value);
  if (stored_fingerprint(c) == now.value) return fmt::format("this binary's is the same ({})", now.value);
  return fmt::format("this binary's is {} (stale; changed since: {})", now.value,
                     fmt::join(changed_sources(string_attribute(c, attr::code_sources), now), ", "));
}

int show_cell(const std::string& path, const Cell& c, const std::string& format) {
  if (format == "json") {
    auto members = [](const std::map<std::string, Stored>& m) {
      std::vector<std::string> parts;
      for (const auto& [name, s] : m) parts.push_back(json_string(name) + ": " + json_value(s));
      return fmt::format("{{{}}}", fmt::join(parts, ", "));
    };
    std::cout << fmt::format("{{\"file\": {}, \"id\": {}, \"attributes\": {}, \"datasets\": {}}}\n", json_string(path),
                             json_string(c.id), members(c.attributes), members(c.datasets));
  } else if (format == "csv") {  // long format: one row per value, arrays element by element
    std::cout << "kind,name,value\n";
    for (const auto& [kind, m] : {std::pair{"attribute", &c.attributes}, std::pair{"dataset", &c.datasets}})
      for (const auto& [name, s] : *m)
        for (std::size_t i = 0; i < element_count(s); ++i)
          std::cout << fmt::format("{},{},{}\n", kind, csv_field(element_name(name, s, i)), csv_field(element(s, i, false)));
  } else {
    std::cout << fmt::format("cell {}\nattributes:\n", c.id);
    for (const auto& [name, s] : c.attributes) std::cout << fmt::format("  {} = {}\n", name, display_text(s));
    std::cout << fmt::format("code fingerprint {}: {}\n", stored_fingerprint(c), fingerprint_verdict(c));
    std::cout << "datasets:\n";
    for (const auto& [name, s] : c.datasets)
      std::cout << fmt::format("  {} shape ({}) = {}\n", name, fmt::join(s.shape, ", "), display_text(s));
  }
  return 0;
}

// CSV/JSON cell table: id, then every attribute but the multi-line config_canonical and code_sources (--cell
// shows them; each config key is a column of its own), then every scalar or short one-dimensional dataset;
// rows in grid order.
void write_machine_table(const std::string& path, hid_t file, const std::vector<Cell>& cells, bool json) {
  // Column order: id; cell_index, status, reason; other attributes; datasets (each group by name).
  static const std::vector<std::string> lead = {attr::cell_index, attr::status, attr::reason};
  struct Key {
    int group;
    std::string name;
    auto operator<=>(const Key&) const = default;
  };
  std::map<Key, std::size_t> columns;  // -> longest array (0 for a scalar)
  auto note = [&](int group, const std::string& name, const Stored& s) {
    std::size_t& n = columns[Key{group, name}];
    if (!s.shape.empty()) n = std::max(n, element_count(s));
  };
  for (const Cell& c : cells) {
    for (const auto& [name, s] : c.attributes) {
      const auto at = std::find(lead.begin(), lead.end(), name);
      if (name != attr::config_canonical && name != attr::code_sources) note(at != lead.end() ? static_cast<int>(at - lead.begin()) : 3, name, s);
    }
    for (const auto& [name, s] : c.datasets) note(4, name, s);
  }
  auto find = [](const Cell& c, const Key& k) -> const Stored* {
    const auto& m = k.group == 4 ? c.datasets : c.attributes;
    auto it = m.find(k.name);
    return it == m.end() ? nullptr : &it->second;
  };
  if (json) {
    std::vector<std::string> provenance;
    for (const auto& a : h5::attr_names(file))
      provenance.push_back(json_string(a) + ": " + json_value(h5::read_attr(file, a)));
    std::cout << fmt::format("{{\"file\": {}, \"provenance\": {{{}}}, \"cells\": [", json_string(path),
                             fmt::join(provenance, ", "));
    for (std::size_t r = 0; r < cells.size(); ++r) {
      std::vector<std::string> parts = {"\"id\": " + json_string(cells[r].id)};
      for (const auto& [key, n] : columns)
        if (const Stored* s = find(cells[r], key)) parts.push_back(json_string(key.name) + ": " + json_value(*s));
      std::cout << (r ? ", " : "") << fmt::format("{{{}}}", fmt::join(parts, ", "));
    }
    std::cout << "]}\n";
    return;
  }
  std::vector<std::string> header = {"id"};
  for (const auto& [key, n] : columns)
    if (n == 0) header.push_back(csv_field(key.name));
    else for (std::size_t i = 0; i < n; ++i) header.push_back(csv_field(fmt::format("{}[{}]", key.name, i)));
  std::cout << fmt::format("{}\n", fmt::join(header, ","));
  for (const Cell& c : cells) {
    std::vector<std::string> row = {csv_field(c.id)};
    for (const auto& [key, n] : columns) {
      const Stored* s = find(c, key);
      // A scalar in a scalar column, an array element by element; empty where the cell has no such value.
      for (std::size_t i = 0; i < std::max<std::size_t>(n, 1); ++i)
        row.push_back(s && i < element_count(*s) && s->shape.empty() == (n == 0) ? csv_field(element(*s, i, false)) : "");
    }
    std::cout << fmt::format("{}\n", fmt::join(row, ","));
  }
}

// The table for people: id, status, the config keys that vary across cells and the scalar results (text),
// and which code computed the cells.
struct TextTable {
  std::vector<std::map<std::string, std::string>> rows;  // grid order
  std::set<std::string> varying, result_cols;
  std::map<std::string, std::size_t> fingerprints;  // stored code fingerprint -> cells
  std::size_t stale = 0;                            // cells whose fingerprint is not this binary's
};

// From the cell groups (files without the /index column lists).
TextTable text_table_from_cells(const std::vector<Cell>& cells) {
  TextTable t;
  std::map<std::string, std::set<std::string>> values_of;
  for (const Cell& c : cells) {
    ++t.fingerprints[stored_fingerprint(c)];
    t.stale += stored_fingerprint(c) != current_fingerprint(c).value;
    auto& row = t.rows.emplace_back();
    row["id"] = c.id;
    std::set<std::string> config_keys;
    const std::string canon = string_attribute(c, attr::config_canonical);
    for (std::size_t pos = 0; pos < canon.size();) {
      const auto colon = canon.find(':', pos), nl = canon.find('\n', pos);
      config_keys.insert(canon.substr(pos, colon - pos));
      pos = nl == std::string::npos ? canon.size() : nl + 1;
    }
    for (const auto& [a, s] : c.attributes) {
      if (config_keys.count(a)) {
        row[a] = display_text(s);
        values_of[a].insert(row[a]);
      } else if (a == attr::status) {
        row[a] = display_text(s);
      } else if (layout::is_timing(a) && is_numeric_scalar(s)) {
        row[a] = fmt::format("{:.4g}", as_double(s));
        t.result_cols.insert(a);
      }
    }
    for (const auto& [d, s] : c.datasets)
      if (is_numeric_scalar(s)) {
        row[d] = fmt::format("{:.6g}", as_double(s));
        t.result_cols.insert(d);
      }
  }
  for (const auto& [k, vals] : values_of)
    if (vals.size() > 1) t.varying.insert(k);
  return t;
}

// From /index alone (one read whatever the number of cells), using its config_columns / dataset_columns lists.
TextTable text_table_from_index(hid_t file) {
  TextTable t;
  const h5::Table index = h5::read_table(file, layout::index_table);
  h5::Handle index_ds = h5::open_dataset(file, layout::index_table);
  const auto config_list = h5::read_attr_strings(index_ds, layout::config_columns_attr);
  const auto dataset_list = h5::read_attr_strings(index_ds, layout::dataset_columns_attr);
  const std::set<std::string> config_cols(config_list.begin(), config_list.end());
  const std::set<std::string> dataset_cols(dataset_list.begin(), dataset_list.end());
  for (const auto& [column, values] : index.text) {
    std::set<std::string> distinct(values.begin(), values.end());
    distinct.erase("");  // absent
    if (config_cols.count(column) && distinct.size() > 1) t.varying.insert(column);
  }
  for (const auto& [column, values] : index.numbers) {
    std::set<double> distinct;
    for (double v : values)
      if (!std::isnan(v)) distinct.insert(v);
    if (config_cols.count(column) && distinct.size() > 1) t.varying.insert(column);
  }
  const std::string study = h5::has_attr(file, "study") ? h5::read_attr_string(file, "study") : "";
  const auto fp_column = index.text.find(attr::code_fingerprint);
  std::map<std::string, std::string> current;  // plugin names -> this binary's fingerprint (few distinct)
  std::vector<std::pair<double, std::size_t>> order;
  for (std::size_t r = 0; r < index.rows; ++r) order.emplace_back(index.numbers.at(layout::index_column::index)[r], r);
  std::sort(order.begin(), order.end());
  for (const auto& [position, r] : order) {
    auto& row = t.rows.emplace_back();
    row["id"] = index.text.at(layout::index_column::id)[r];
    row["status"] = index.text.at(attr::status)[r];
    Config names;
    std::string names_key;
    for (const auto& [column, values] : index.text) {
      if (config_cols.count(column) && column.ends_with(".name") && !values[r].empty()) {
        names[column] = values[r];
        names_key += column + "=" + values[r] + "\n";
      }
      if (t.varying.count(column) && !values[r].empty()) row[column] = values[r];
    }
    const std::string stored = fp_column == index.text.end() || fp_column->second[r].empty() ? "(none)" : fp_column->second[r];
    auto now = current.find(names_key);
    if (now == current.end()) now = current.emplace(names_key, cell_code_fingerprint(study, names).value).first;
    ++t.fingerprints[stored];
    t.stale += stored != now->second;
    for (const auto& [column, values] : index.numbers) {
      if (std::isnan(values[r])) continue;
      if (config_cols.count(column)) {
        if (t.varying.count(column)) row[column] = fmt::format("{}", values[r]);
      } else if (layout::is_timing(column) || dataset_cols.count(column)) {
        row[column] = dataset_cols.count(column) ? fmt::format("{:.6g}", values[r]) : fmt::format("{:.4g}", values[r]);
        t.result_cols.insert(column);
      }
    }
  }
  return t;
}

void write_text_table(const std::string& path, hid_t file, const TextTable& t) {
  std::cout << fmt::format("{}\n", path);
  for (const auto& a : h5::attr_names(file))
    if (a != "config_yaml") std::cout << fmt::format("  {:<16} {}\n", a, display_text(h5::read_attr(file, a)));
  std::vector<std::string> cols = {"id", "status"};
  cols.insert(cols.end(), t.varying.begin(), t.varying.end());
  cols.insert(cols.end(), t.result_cols.begin(), t.result_cols.end());
  // Columns by position and each row's cells looked up once: a 10^5-cell table prints in well under a second.
  std::vector<std::size_t> width;
  for (const auto& c : cols) width.push_back(c.size());
  std::vector<std::vector<std::string>> lines;
  lines.reserve(t.rows.size());
  for (const auto& row : t.rows) {
    auto& line = lines.emplace_back();
    for (std::size_t i = 0; i < cols.size(); ++i) {
      auto it = row.find(cols[i]);
      line.push_back(it == row.end() ? "" : it->second);
      width[i] = std::max(width[i], line.back().size());
    }
  }
  std::cout << fmt::format("{} cells\n", t.rows.size());
  std::string text;
  for (std::size_t i = 0; i < cols.size(); ++i) fmt::format_to(std::back_inserter(text), "{:<{}}  ", cols[i], width[i]);
  text += "\n";
  for (const auto& line : lines) {
    for (std::size_t i = 0; i < cols.size(); ++i) fmt::format_to(std::back_inserter(text), "{:<{}}  ", line[i], width[i]);
    text += "\n";
  }
  std::cout << text;
  std::vector<std::string> fp_counts;
  for (const auto& [fp, n] : t.fingerprints) fp_counts.push_back(fmt::format("{} ({} cells)", fp, n));
  std::cout << fmt::format("code fingerprints: {} distinct: {}; {} of {} cells differ from this binary's (stale)\n",
                           t.fingerprints.size(), fmt::join(fp_counts, ", "), t.stale, t.rows.size());
  std::cout << fmt::format("(every value of one cell, and its code fingerprint: vibench inspect {} --cell ID)\n", path);
}

// A results file named like an experiment file, or holding a `study:` line, was probably meant for `run`.
bool looks_like_experiment_yaml(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".yaml" || ext == ".yml") return true;
  std::ifstream in(path);
  std::string line;
  for (int i = 0; i < 200 && std::getline(in, line); ++i)
    if (line.rfind("study:", 0) == 0) return true;
  return false;
}

}  // namespace

int inspect_command(const std::string& path, const std::string& cell_id, const std::string& format) {
  try {
    auto lock = h5::hdf5_lock();
    h5::Handle f = h5::open_file_readonly(path);
    h5::Handle cells = h5::open_group(f, layout::cells_group);
    if (!cell_id.empty()) {
      if (!h5::exists(cells, cell_id)) {
        std::cerr << fmt::format("vibench: error: {} has no cell {} (the cell table lists the ids: vibench inspect {})\n",
                                 path, cell_id, path);
        return 2;
      }
      return show_cell(path, read_cell(cells, cell_id, /*table_only=*/false), format);
    }
    if (format == "table" && h5::exists(f, layout::index_table) &&
        h5::has_attr(h5::open_dataset(f, layout::index_table), layout::config_columns_attr)) {
      write_text_table(path, f, text_table_from_index(f));
      return 0;
    }
    std::vector<std::pair<std::int64_t, Cell>> ordered;
    for (const auto& id : h5::member_names(cells)) {
      Cell c = read_cell(cells, id, /*table_only=*/true);
      const auto index = static_cast<std::int64_t>(as_double(c.attributes.at(attr::cell_index)));
      ordered.emplace_back(index, std::move(c));
    }
    std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Cell> rows;
    for (auto& [index, c] : ordered) rows.push_back(std::move(c));
    if (format == "table") write_text_table(path, f, text_table_from_cells(rows));
    else write_machine_table(path, f, rows, format == "json");
  } catch (const h5::NotAResultsFile& e) {
    std::cerr << fmt::format("vibench: error: {}\n", e.what());
    if (looks_like_experiment_yaml(path))
      std::cerr << fmt::format("vibench: {} looks like an experiment file: run it with `vibench run {}`, then inspect "
                               "the .h5 it writes (results/<name>.h5 unless --out says otherwise)\n", path, path);
    return 2;
  } catch (const std::exception& e) {
    std::cerr << fmt::format("vibench: error: cannot read {}: {}\n", path, e.what());
    return 1;
  }
  return 0;
}

}  // namespace vibench::cli
