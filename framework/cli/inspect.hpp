#pragma once
// `vibench inspect`: a results file's provenance and cells, as a table for people or as CSV/JSON that gives
// every stored value back exactly and typed (README, "vibench inspect").
#include <string>

namespace vibench::cli {

// format: "table", "csv" or "json"; cell_id empty = the cell table, else every attribute and dataset of
// that cell. Returns the exit status.
int inspect_command(const std::string& path, const std::string& cell_id, const std::string& format);

}  // namespace vibench::cli
