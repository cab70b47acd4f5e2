#include "vibench/run/results_layout.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <vector>

#include "vibench/run/grid.hpp"

namespace vibench::layout {

const std::map<std::string, std::string>& standard_error_of() {
  static const std::map<std::string, std::string> table = {
      {"grad_mean", "grad_se"},         {"grad_bias", "grad_se"},         {"grad_ci_low", "grad_se"},
      {"grad_ci_high", "grad_se"},      {"objective_mean", "objective_se"}, {"bound_mean", "bound_se"},
      {"bound_ci_low", "bound_se"},     {"bound_ci_high", "bound_se"},    {"evidence_gap", "bound_se"},
      {"mi_estimate_mean", "mi_estimate_se"}, {"bias", "mi_estimate_se"}, {"mi_ci_low", "mi_estimate_se"},
      {"mi_ci_high", "mi_estimate_se"}, {"rate_nats", "rate_se"},         {"rate_minus_mi", "rate_se"},
  };
  return table;
}

const std::map<std::string, std::pair<std::string, int>>& roundoff_scale_of() {
  static const std::map<std::string, std::pair<std::string, int>> table = {
      {"grad_bias", {"grad_mean", 1}},     {"grad_ci_low", {"grad_mean", 1}},  {"grad_ci_high", {"grad_mean", 1}},
      {"grad_var", {"grad_mean", 2}},      {"bound_var", {"bound_mean", 2}},   {"evidence_gap", {"exact_log_evidence", 1}},
      {"bias", {"mi_estimate_mean", 1}},   {"mi_estimate_var", {"mi_estimate_mean", 2}}, {"rate_minus_mi", {"rate_nats", 1}},
  };
  return table;
}

const std::set<std::string>& derived_metrics() {
  static const std::set<std::string> names = {"grad_snr", "grad_bias_z", "max_abs_bias_z", "bias_z",
                                              "mi_estimate_std", "mse", "identity_z"};
  return names;
}

namespace {
// The names are plain identifiers; quotes and backslashes are escaped all the same.
std::string quoted(std::string_view s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}
template <class Range>
std::string list(const Range& r) {
  std::vector<std::string> parts;
  for (const auto& s : r) parts.push_back(quoted(s));
  return fmt::format("[{}]", fmt::join(parts, ", "));
}
}  // namespace

std::string schema_json() {
  std::vector<std::string> se, roundoff;
  for (const auto& [metric, error] : standard_error_of()) se.push_back(fmt::format("{}: {}", quoted(metric), quoted(error)));
  for (const auto& [metric, scale] : roundoff_scale_of())
    roundoff.push_back(fmt::format("{}: [{}, {}]", quoted(metric), quoted(scale.first), scale.second));
  const std::vector<std::string> attrs = {cell_attr::status,           cell_attr::reason,       cell_attr::cell_index,
                                          cell_attr::config_canonical, cell_attr::seed,         cell_attr::study,
                                          cell_attr::code_fingerprint, cell_attr::code_sources, cell_attr::stale,
                                          cell_attr::wall_seconds};
  std::string out = "{\n";
  out += fmt::format("  \"schema_version\": {},\n", schema_version);
  out += fmt::format("  \"groups\": {{\"cells\": {}, \"index\": {}, \"resume\": {}}},\n", quoted(cells_group),
                     quoted(index_table), quoted(resume_table));
  out += fmt::format("  \"root_attributes\": {},\n", list(root_attributes));
  out += fmt::format("  \"cell_attributes\": {},\n", list(attrs));
  out += fmt::format("  \"bookkeeping_attributes\": {},\n", list(bookkeeping_attributes()));
  out += fmt::format("  \"cell_statuses\": {},\n", list(cell_statuses));
  out += fmt::format("  \"timing_attribute\": {},\n", quoted(cell_attr::wall_seconds));
  out += fmt::format("  \"timing_prefixes\": {},\n", list(timing_prefixes));
  out += fmt::format("  \"index_columns\": {{\"index\": {}, \"id\": {}}},\n", quoted(index_column::index), quoted(index_column::id));
  out += fmt::format("  \"index_attributes\": {{\"config_columns\": {}, \"dataset_columns\": {}}},\n",
                     quoted(config_columns_attr), quoted(dataset_columns_attr));
  out += fmt::format("  \"param_names_dataset\": {},\n", quoted(param_names_dataset));
  out += fmt::format("  \"standard_error_suffix\": {},\n", quoted(standard_error_suffix));
  out += fmt::format("  \"standard_error\": {{{}}},\n", fmt::join(se, ", "));
  out += fmt::format("  \"roundoff_scale\": {{{}}},\n", fmt::join(roundoff, ", "));
  out += fmt::format("  \"derived_metrics\": {}\n", list(derived_metrics()));
  return out + "}\n";
}

}  // namespace vibench::layout
