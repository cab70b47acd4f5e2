// vibench command line: run | list | describe | inspect
#include <cmath>
#include <unordered_map>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "vibench/cell_plugins.hpp"
#include "vibench/grid.hpp"
#include "vibench/hdf5_io.hpp"
#include "vibench/registry.hpp"
#include "vibench/runner.hpp"

using namespace vibench;

namespace {

std::string default_text(const ParamSpec& p) {
  if (!p.default_value) return p.type == ParamType::Group ? "" : "(required)";
  std::string t = canonical_text(*p.default_value);
  return t.empty() ? "\"\"" : t;
}

void describe_params(const std::vector<ParamSpec>& params, const std::string& indent) {
  for (const ParamSpec& p : params) {
    std::cout << fmt::format("{}{:<18} {:<40} default {}\n", indent, p.name, p.expectation(), default_text(p));
    if (!p.help.empty()) std::cout << fmt::format("{}{:<18} {}\n", indent, "", p.help);
    if (p.type == ParamType::Group) describe_params(p.fields, indent + "  ");
    if (p.type == ParamType::Plugin)
      std::cout << fmt::format("{}{:<18} plugin parameters: see `vibench describe <{}>`; registered: {}\n", indent, "",
                               p.plugin_kind, fmt::join(Registry::instance().names(p.plugin_kind), ", "));
  }
}

int cmd_list(const std::string& kind) {
  const auto& kinds = Registry::kinds();
  if (!kind.empty() && std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
    std::cerr << fmt::format("vibench: error: unknown kind '{}'; kinds: {}\n", kind, fmt::join(kinds, ", "));
    return 2;
  }
  std::string current;
  for (const PluginInfo* p : Registry::instance().list(kind)) {
    if (p->kind != current) {
      current = p->kind;
      std::cout << current << ":\n";
    }
    std::cout << fmt::format("  {:<18} {}\n", p->name, p->description);
  }
  return 0;
}

// Which (family, objective) pairs an estimator runs on, with every plugin at its defaults on a reference
// target (linear_gaussian or bernoulli_toy, D = 6, so one-hot blocks of 2 or 3 fit): the same
// unsupported() checks --dry-run applies.
void describe_compatibility(const PluginInfo& info) {
  if (info.kind != "estimator" && info.kind != "family" && info.kind != "objective") return;
  auto build = [](const std::string& target, const std::string& family, const std::string& objective,
                  const std::string& estimator) -> std::optional<CellPlugins> {
    const Location here{"<describe>", 0, 0};
    RawNode node = RawNode::make_map(here);
    std::vector<ParamSpec> specs;
    for (const auto& [slot, value] : {std::pair{"target", target}, {"family", family}, {"objective", objective}, {"estimator", estimator}}) {
      node.set(slot, RawNode::make_scalar(value, here), here);
      specs.push_back(ParamSpec::plugin(slot, slot, std::nullopt, ""));
    }
    Config c;
    std::map<std::string, Location> locs;
    try {
      resolve_params(node, specs, "", c, locs);
      c["target.dim"] = std::int64_t{6};  // divisible by the default category counts
      return build_cell_plugins(c);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  };
  std::vector<std::string> supported;
  const auto& reg = Registry::instance();
  for (const std::string& family : reg.names("family"))
    for (const std::string& objective : reg.names("objective"))
      for (const std::string& estimator : reg.names("estimator")) {
        if ((info.kind == "family" && family != info.name) || (info.kind == "objective" && objective != info.name) ||
            (info.kind == "estimator" && estimator != info.name))
          continue;
        bool runs = false;
        for (const char* target : {"linear_gaussian", "bernoulli_toy"}) {
          auto p = build(target, family, objective, estimator);
          runs = runs || (p && !p->objective->unsupported(*p->target, *p->family) &&
                          !p->estimator->unsupported(*p->target, *p->family, *p->objective));
        }
        if (runs)
          supported.push_back(info.kind == "estimator" ? family + " × " + objective
                              : info.kind == "family"  ? estimator + " × " + objective
                                                       : estimator + " × " + family);
      }
  const char* what = info.kind == "estimator" ? "families × objectives" : info.kind == "family" ? "estimators × objectives"
                                                                                                 : "estimators × families";
  std::cout << fmt::format("runs with these {} (defaults; targets linear_gaussian or bernoulli_toy):\n", what);
  for (std::size_t i = 0; i < supported.size(); i += 4) {
    std::cout << "  ";
    for (std::size_t j = i; j < std::min(i + 4, supported.size()); ++j) std::cout << fmt::format("{:<34}", supported[j]);
    std::cout << "\n";
  }
  if (supported.empty()) std::cout << "  (none)\n";
}

int cmd_describe(const std::string& name) {
  bool found = false;
  for (const PluginInfo* p : Registry::instance().list()) {
    if (p->name != name) continue;
    found = true;
    std::cout << fmt::format("{} {}: {}\n", p->kind, p->name, p->description);
    if (!p->reference.empty()) std::cout << fmt::format("reference: {}\n", p->reference);
    if (p->params.empty()) {
      std::cout << "parameters: none\n";
    } else {
      std::cout << (p->kind == "study" ? "cell keys (YAML):\n" : "parameters:\n");
      describe_params(p->params, "  ");
    }
    describe_compatibility(*p);
    std::cout << "\n";
  }
  if (!found) {
    std::cerr << fmt::format("vibench: error: no plugin named '{}'; see `vibench list`\n", name);
    return 2;
  }
  return 0;
}

int cmd_inspect(const std::string& path, const std::string& cell_id, const std::string& format) {
  try {
    auto lock = h5::hdf5_lock();
    h5::Handle f = h5::open_file_readonly(path);
    if (!cell_id.empty()) {
      std::string g_path = "/cells/" + cell_id;
      if (!h5::exists(f, g_path)) {
        std::cerr << fmt::format("vibench: error: {} has no cell {}\n", path, cell_id);
        return 2;
      }
      h5::Handle g = h5::open_group(f, g_path);
      std::cout << fmt::format("cell {}\nattributes:\n", cell_id);
      for (const auto& a : h5::attr_names(g)) std::cout << fmt::format("  {} = {}\n", a, h5::read_attr_text(g, a));
      std::cout << "datasets:\n";
      for (const auto& d : h5::member_names(g)) {
        if (h5::dataset_is_string(g, d)) {
          std::cout << fmt::format("  {} = [{}]\n", d, fmt::join(h5::read_dataset_strings(g, d), ", "));
        } else {
          auto v = h5::read_dataset_doubles(g, d);
          std::vector<std::string> parts;
          for (std::size_t i = 0; i < std::min<std::size_t>(v.size(), 12); ++i) parts.push_back(fmt::format("{:.6g}", v[i]));
          std::cout << fmt::format("  {} shape ({}) = [{}{}]\n", d, fmt::join(h5::dataset_shape(g, d), ", "),
                                   fmt::join(parts, ", "), v.size() > 12 ? ", ..." : "");
        }
      }
      return 0;
    }
    if (format == "table") {
      std::cout << fmt::format("{}\n", path);
      for (const auto& a : h5::attr_names(f)) {
        if (a == "config_yaml") continue;
        std::cout << fmt::format("  {:<16} {}\n", a, h5::read_attr_text(f, a));
      }
    }
    // Columns: config keys that vary across cells, then numeric scalar results.
    std::unordered_map<std::string, std::map<std::string, std::string>> table;  // id -> column -> text
    std::map<std::string, std::set<std::string>> values_of;
    std::vector<std::pair<std::int64_t, std::string>> order;
    std::set<std::string> result_cols;
    std::vector<std::string> ids;
    const bool indexed = h5::exists(f, "index") && h5::has_attr(h5::open_dataset(f, "index"), "config_columns");
    if (indexed) {  // from /index alone: one read, whatever the number of cells
      const h5::Table index = h5::read_table(f, "index");
      h5::Handle index_ds = h5::open_dataset(f, "index");
      const auto config_list = h5::read_attr_strings(index_ds, "config_columns");
      const auto dataset_list = h5::read_attr_strings(index_ds, "dataset_columns");
      const std::set<std::string> config_cols(config_list.begin(), config_list.end());
      const std::set<std::string> dataset_cols(dataset_list.begin(), dataset_list.end());
      ids = index.text.at("id");
      // Only config columns that vary are shown: find them first, so rows hold just what is printed.
      std::set<std::string> varying;
      for (const auto& [column, values] : index.text) {
        std::set<std::string> distinct(values.begin(), values.end());
        distinct.erase("");  // absent
        if (config_cols.count(column) && distinct.size() > 1) varying.insert(column);
      }
      for (const auto& [column, values] : index.numbers) {
        std::set<double> distinct;
        for (double v : values)
          if (!std::isnan(v)) distinct.insert(v);
        if (config_cols.count(column) && distinct.size() > 1) varying.insert(column);
      }
      for (std::size_t r = 0; r < index.rows; ++r) {
        auto& row = table[ids[r]];
        row["status"] = index.text.at("status")[r];
        for (const auto& [column, values] : index.text)
          if (varying.count(column) && !values[r].empty()) {
            row[column] = values[r];
            values_of[column].insert(values[r]);
          }
        for (const auto& [column, values] : index.numbers) {
          if (std::isnan(values[r])) continue;
          if (config_cols.count(column)) {
            if (!varying.count(column)) continue;
            row[column] = fmt::format("{}", values[r]);
            values_of[column].insert(row[column]);
          } else if (column == "wall_seconds" || column.rfind("ns_", 0) == 0 || dataset_cols.count(column)) {
            row[column] = dataset_cols.count(column) ? fmt::format("{:.6g}", values[r]) : fmt::format("{:.4g}", values[r]);
            result_cols.insert(column);
          }
        }
        order.emplace_back(static_cast<std::int64_t>(index.numbers.at("index")[r]), ids[r]);
      }
    } else {
      ids = h5::member_names(h5::open_group(f, "cells"));
    }
    h5::Handle cells = h5::open_group(f, "cells");
    for (const auto& id : indexed ? std::vector<std::string>() : ids) {
      h5::Handle g = h5::open_group(cells, id);
      std::set<std::string> config_keys;
      std::string canon = h5::read_attr_string(g, "config_canonical");
      for (std::size_t pos = 0; pos < canon.size();) {
        auto colon = canon.find(':', pos), nl = canon.find('\n', pos);
        config_keys.insert(canon.substr(pos, colon - pos));
        pos = nl == std::string::npos ? canon.size() : nl + 1;
      }
      for (const auto& a : h5::attr_names(g)) {
        std::string text = h5::read_attr_text(g, a);
        if (config_keys.count(a)) {
          values_of[a].insert(text);
          table[id][a] = text;
        } else if (a == "status" || a == "wall_seconds" || a.rfind("ns_", 0) == 0) {
          table[id][a] = a == "status" ? text : fmt::format("{:.4g}", h5::read_attr_double(g, a));
          if (a != "status") result_cols.insert(a);
        }
      }
      for (const auto& d : h5::member_names(g))
        if (h5::dataset_shape(g, d).empty() && !h5::dataset_is_string(g, d)) {
          table[id][d] = fmt::format("{:.6g}", h5::read_dataset_doubles(g, d)[0]);
          result_cols.insert(d);
        }
      order.emplace_back(static_cast<std::int64_t>(h5::read_attr_double(g, "cell_index")), id);
    }
    std::sort(order.begin(), order.end());
    std::vector<std::string> cols = {"id", "status"};
    for (const auto& [k, vals] : values_of)
      if (vals.size() > 1) cols.push_back(k);
    cols.insert(cols.end(), result_cols.begin(), result_cols.end());
    for (const auto& [idx, id] : order) table[id]["id"] = id;
    if (format == "csv") {  // RFC 4180 quoting where needed
      auto field = [](const std::string& t) {
        if (t.find_first_of(",\"\n") == std::string::npos) return t;
        std::string q = "\"";
        for (char ch : t) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        return q + "\"";
      };
      for (std::size_t i = 0; i < cols.size(); ++i) std::cout << (i ? "," : "") << field(cols[i]);
      std::cout << "\n";
      for (const auto& [idx, id] : order) {
        auto& row = table[id];
        for (std::size_t i = 0; i < cols.size(); ++i) std::cout << (i ? "," : "") << field(row[cols[i]]);
        std::cout << "\n";
      }
      return 0;
    }
    if (format == "json") {  // {"file", "provenance": {...}, "cells": [{column: value}]}; numbers where the text is one
      auto str = [](const std::string& t) {
        std::string q = "\"";
        for (char ch : t) {
          if (ch == '"' || ch == '\\') q += '\\';
          if (ch == '\n') {
            q += "\\n";
            continue;
          }
          q += ch;
        }
        return q + "\"";
      };
      auto value = [&](const std::string& t) {
        char* end = nullptr;
        const double v = std::strtod(t.c_str(), &end);
        return !t.empty() && end && *end == '\0' && std::isfinite(v) ? t : str(t);
      };
      std::cout << "{\"file\": " << str(path) << ", \"provenance\": {";
      bool first = true;
      for (const auto& a : h5::attr_names(f)) {
        std::cout << (first ? "" : ", ") << str(a) << ": " << str(h5::read_attr_text(f, a));
        first = false;
      }
      std::cout << "}, \"cells\": [";
      for (std::size_t r = 0; r < order.size(); ++r) {
        std::cout << (r ? ", " : "") << "{";
        for (std::size_t i = 0; i < cols.size(); ++i)
          std::cout << (i ? ", " : "") << str(cols[i]) << ": " << value(table[order[r].second][cols[i]]);
        std::cout << "}";
      }
      std::cout << "]}\n";
      return 0;
    }
    // Columns by position and rows looked up once: a 10^5-cell table is printed in well under a second.
    std::vector<std::size_t> col_width;
    for (const auto& c : cols) col_width.push_back(c.size());
    for (const auto& [idx, id] : order) {
      auto& row = table[id];
      row["id"] = id;
      for (std::size_t i = 0; i < cols.size(); ++i) col_width[i] = std::max(col_width[i], row[cols[i]].size());
    }
    std::cout << fmt::format("{} cells\n", ids.size());
    for (std::size_t i = 0; i < cols.size(); ++i) std::cout << fmt::format("{:<{}}  ", cols[i], col_width[i]);
    std::cout << "\n";
    for (const auto& [idx, id] : order) {
      auto& row = table[id];
      std::string line;
      for (std::size_t i = 0; i < cols.size(); ++i) fmt::format_to(std::back_inserter(line), "{:<{}}  ", row[cols[i]], col_width[i]);
      std::cout << line;
      std::cout << "\n";
    }
    std::cout << fmt::format("(per-cell datasets: vibench inspect {} --cell ID)\n", path);
  } catch (const std::exception& e) {
    std::cerr << fmt::format("vibench: error: cannot read {}: {}\n", path, e.what());
    return 1;
  }
  return 0;
}

// Shell single-quoting.
std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

struct SlurmOptions {
  int array = 2, cpus = 1;
  std::string partition, time, out_dir = "results", scale;
  std::vector<std::string> sets;
};

// `vibench slurm`: a submission script: a job array of `array` shards (each task runs its shard, named by
// its array index), then a merge job that waits for every task with --dependency=afterok.
int cmd_slurm(const std::string& yaml, const SlurmOptions& o) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string file = std::filesystem::absolute(yaml).string(), out = std::filesystem::absolute(o.out_dir).string();
  std::string common = " --out " + quoted(out);
  if (!o.scale.empty()) common += " --scale " + quoted(o.scale);
  for (const auto& s : o.sets) common += " --set " + quoted(s);
  std::string sbatch = "sbatch --parsable";
  if (!o.partition.empty()) sbatch += " --partition=" + quoted(o.partition);
  if (!o.time.empty()) sbatch += " --time=" + quoted(o.time);
  const std::string name = std::filesystem::path(file).stem().string();
  const std::string run = quoted(self) + " run " + quoted(file) + common + " --threads " + std::to_string(o.cpus) +
                          " --shard \\${SLURM_ARRAY_TASK_ID}/" + std::to_string(o.array);
  const std::string merge = quoted(self) + " merge " + quoted(file) + common;
  std::cout << "#!/bin/bash\n"
            << "# vibench on Slurm: " << o.array << " array tasks, one shard each, then a merge job that starts when\n"
            << "# every task has succeeded (--dependency=afterok). Submit with: bash THIS_SCRIPT\n"
            << "set -euo pipefail\n"
            << "mkdir -p " << quoted(out) << "\n"
            << "array=$(" << sbatch << " --job-name=" << quoted("vibench-" + name) << " --array=0-" << o.array - 1
            << " --cpus-per-task=" << o.cpus << " --output=" << quoted(out + "/slurm-%A_%a.out") << " --wrap=\"" << run
            << "\")\n"
            << "array=${array%%;*}\n"
            << "merge=$(" << sbatch << " --job-name=" << quoted("vibench-" + name + "-merge")
            << " --dependency=afterok:${array} --output=" << quoted(out + "/slurm-%j-merge.out") << " --wrap=\"" << merge
            << "\")\n"
            << "echo \"submitted array job ${array} and merge job ${merge%%;*}\"\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // HDF5 locks every file it opens; on filesystems without flock that makes every open fail. vibench's own
  // run lock already keeps writers apart, so HDF5's is best effort unless the user chose otherwise.
  ::setenv("HDF5_USE_FILE_LOCKING", "BEST_EFFORT", /*overwrite=*/0);
  CLI::App app{"vibench: reproducible experiments on variational inference gradient estimators and bounds"};
  app.require_subcommand(1);
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);

  RunOptions run_opts;
  run_opts.command_line = command_line;
  std::string run_file;
  auto* run = app.add_subcommand("run", "Run an experiment grid and write <out>/<name>.h5 (resumes unfinished runs)");
  run->add_option("file", run_file, "Experiment YAML file")->required()->check(CLI::ExistingFile);
  run->add_option("--threads,-j", run_opts.threads, "Worker threads (default: all cores); results do not depend on it");
  run->add_option("--scale", run_opts.overrides.scale, "Apply the named entry of the file's `scales:` (e.g. paper)");
  run->add_option("--set", run_opts.overrides.sets,
                  "Override a key: key=value (fixed) or key=v1,v2 (an axis); repeatable");
  run->add_option("--out,-o", run_opts.out_dir, "Output directory (default: results)");
  run->add_flag("--dry-run", run_opts.dry_run, "Print the expanded cells and their ids; run nothing");
  run->add_flag("--fresh", run_opts.fresh, "Discard earlier results and parts of this experiment before running");
  std::string shard_text;
  run->add_option("--shard", shard_text,
                  "Run only share i of N (cells with index % N == i), writing parts for `vibench merge`; default: "
                  "from the launcher's environment (mpirun, Slurm), else 0/1");

  RunOptions merge_opts;
  merge_opts.command_line = command_line;
  std::string merge_file;
  auto* merge = app.add_subcommand("merge", "Assemble <out>/<name>.h5 from the part files of all shards of a run");
  merge->add_option("file", merge_file, "Experiment YAML file (the same one the shards ran)")->required()->check(CLI::ExistingFile);
  merge->add_option("--scale", merge_opts.overrides.scale, "The --scale the shards used");
  merge->add_option("--set", merge_opts.overrides.sets, "The --set overrides the shards used");
  merge->add_option("--out,-o", merge_opts.out_dir, "Output directory of the shards (default: results)");

  SlurmOptions slurm_opts;
  std::string slurm_file;
  auto* slurm = app.add_subcommand("slurm", "Print a Slurm submission script: a job array over shards, then a dependent merge");
  slurm->add_option("file", slurm_file, "Experiment YAML file")->required()->check(CLI::ExistingFile);
  slurm->add_option("--array", slurm_opts.array, "Number of array tasks (shards)")->required()->check(CLI::Range(1, 100000));
  slurm->add_option("--partition", slurm_opts.partition, "Slurm partition");
  slurm->add_option("--time", slurm_opts.time, "Slurm time limit per task (e.g. 01:00:00)");
  slurm->add_option("--cpus", slurm_opts.cpus, "CPUs per task (= vibench --threads)")->check(CLI::Range(1, 4096));
  slurm->add_option("--out,-o", slurm_opts.out_dir, "Output directory (default: results)");
  slurm->add_option("--scale", slurm_opts.scale, "Scale to run");
  slurm->add_option("--set", slurm_opts.sets, "Overrides, as for run");

  std::string list_kind;
  auto* list = app.add_subcommand("list", "List registered plugins, optionally of one kind");
  list->add_option("kind", list_kind, "target | family | objective | estimator | bound | ib | study");

  std::string describe_name;
  auto* describe = app.add_subcommand("describe", "Show a plugin's description, reference and parameters");
  describe->add_option("name", describe_name, "Plugin name")->required();

  std::string inspect_file, inspect_cell, inspect_format = "table";
  auto* inspect = app.add_subcommand("inspect", "Summarize a results file: provenance and a table of cells");
  inspect->add_option("file", inspect_file, "Results file (.h5)")->required()->check(CLI::ExistingFile);
  inspect->add_option("--cell", inspect_cell, "Show every attribute and dataset of one cell");
  inspect->add_option("--format", inspect_format, "table (default; with provenance), csv or json (the cell table)")
      ->check(CLI::IsMember({"table", "csv", "json"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (*run) {
    if (!shard_text.empty()) {
      int i = -1, n = 0;
      char slash = 0;
      std::istringstream in(shard_text);
      if (!(in >> i >> slash >> n) || slash != '/' || !in.eof() || n < 1 || i < 0 || i >= n) {
        std::cerr << "vibench: error: --shard expects i/N with 0 <= i < N, got '" << shard_text << "'\n";
        return 2;
      }
      run_opts.shard = Shard{i, n};
    } else if (std::string source; auto env = launcher_shard(&source)) {
      run_opts.shard = *env;
      // One write per line: ranks of one job share the terminal or log file.
      std::cerr << fmt::format("[vibench] shard {}/{} from {}\n", env->index, env->count, source);
    }
    return run_experiment_command(run_file, run_opts, std::cout, std::cerr);
  }
  if (*merge) return merge_experiment_command(merge_file, merge_opts, std::cout, std::cerr);
  if (*slurm) return cmd_slurm(slurm_file, slurm_opts);
  if (*list) return cmd_list(list_kind);
  if (*describe) return cmd_describe(describe_name);
  if (*inspect) return cmd_inspect(inspect_file, inspect_cell, inspect_format);
  return 2;
}
