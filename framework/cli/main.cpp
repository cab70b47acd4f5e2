// vibench command line: run | merge | slurm | list | describe | inspect | schema | compare
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "inspect.hpp"
#include "vibench/math/cpu_isa.hpp"
#include "vibench/plugin/cell_plugins.hpp"
#include "vibench/plugin/did_you_mean.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/plugin/stop_request.hpp"
#include "vibench/run/grid.hpp"
#include "vibench/run/hdf5_io.hpp"
#include "vibench/run/results_layout.hpp"
#include "vibench/run/runner.hpp"
#include "vibench/run/signal_stop.hpp"

using namespace vibench;

namespace {

std::string default_text(const ParamSpec& p) {
  if (!p.default_value) return p.type == ParamType::Group ? "" : "(required)";
  std::string t = canonical_text(*p.default_value);
  return t.empty() ? "\"\"" : t;
}

// One table for a plugin's parameters, nested groups indented under their parent: columns sized to the
// longest entry, so long names and expectations never run into the next column.
struct ParamRow {
  std::string name, expectation, default_value;
  std::vector<std::string> notes;  // help and plugin hints, printed under the row
};

void collect_param_rows(const std::vector<ParamSpec>& params, const std::string& indent, std::vector<ParamRow>& rows) {
  for (const ParamSpec& p : params) {
    ParamRow row{indent + p.name, p.expectation(), default_text(p), {}};
    if (!p.help.empty()) row.notes.push_back(p.help);
    if (p.type == ParamType::Plugin)
      row.notes.push_back(fmt::format("plugin parameters: see `vibench describe <{}>`; registered: {}", p.plugin_kind,
                                      fmt::join(Registry::instance().names(p.plugin_kind), ", ")));
    rows.push_back(std::move(row));
    if (p.type == ParamType::Group) collect_param_rows(p.fields, indent + "  ", rows);
  }
}

void describe_params(const std::vector<ParamSpec>& params, const std::string& indent) {
  std::vector<ParamRow> rows;
  collect_param_rows(params, "", rows);
  std::size_t name_width = 0, expectation_width = 0;
  for (const ParamRow& r : rows) {
    name_width = std::max(name_width, r.name.size());
    expectation_width = std::max(expectation_width, r.expectation.size());
  }
  for (const ParamRow& r : rows) {
    if (r.default_value.empty())  // a group: no default of its own
      std::cout << fmt::format("{}{:<{}}  {}\n", indent, r.name, name_width, r.expectation);
    else
      std::cout << fmt::format("{}{:<{}}  {:<{}}  default {}\n", indent, r.name, name_width, r.expectation,
                               expectation_width, r.default_value);
    for (const std::string& note : r.notes) std::cout << fmt::format("{}{:<{}}  {}\n", indent, "", name_width, note);
  }
}

int cmd_list(const std::string& kind) {
  const auto& kinds = Registry::kinds();
  if (!kind.empty() && std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
    std::cerr << fmt::format("vibench: error: unknown kind '{}'{}; kinds: {}\n", kind, did_you_mean(kind, kinds),
                             fmt::join(kinds, ", "));
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
// target (linear_gaussian or bernoulli_toy, D = 6, so one-hot blocks of 2 or 3 fit): derived from the
// declared needs and offers (vi/capabilities.hpp), as --dry-run's SKIP reasons are.
std::optional<CellPlugins> build_default_cell(const std::string& target, const std::string& family,
                                              const std::string& objective, const std::string& estimator) {
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
}

// What an estimator or objective needs, what a family or target offers (at its defaults): the declarations
// the combination table below is derived from.
void describe_declarations(const PluginInfo& info) {
  std::optional<CellPlugins> p;
  if (info.kind == "estimator") p = build_default_cell("linear_gaussian", "gaussian_diag", "elbo", info.name);
  if (info.kind == "objective") p = build_default_cell("linear_gaussian", "gaussian_diag", info.name, "score_function");
  if (info.kind == "target") p = build_default_cell(info.name, "gaussian_diag", "elbo", "score_function");
  if (info.kind == "family")
    for (const char* target : {"linear_gaussian", "bernoulli_toy"})
      if (!p) p = build_default_cell(target, info.name, "elbo", "score_function");
  if (!p) return;
  if (info.kind == "estimator") std::cout << "needs: " << needs_text(p->estimator->needs()) << "\n";
  if (info.kind == "objective") std::cout << "needs: " << needs_text(p->objective->needs()) << "\n";
  if (info.kind == "family") std::cout << "offers: " << p->family->offers().text() << "\n";
  if (info.kind == "target") std::cout << "offers: " << p->target->offers().text() << "\n";
}

void describe_compatibility(const PluginInfo& info) {
  if (info.kind != "estimator" && info.kind != "family" && info.kind != "objective") return;
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
          auto p = build_default_cell(target, family, objective, estimator);
          runs = runs || (p && plugins_run(*p));
        }
        if (runs)
          supported.push_back(info.kind == "estimator" ? family + " × " + objective
                              : info.kind == "family"  ? estimator + " × " + objective
                                                       : estimator + " × " + family);
      }
  const char* what = info.kind == "estimator" ? "families × objectives" : info.kind == "family" ? "estimators × objectives"
                                                                                                 : "estimators × families";
  std::cout << fmt::format("runs with these {} (defaults; targets linear_gaussian or bernoulli_toy):\n", what);
  // Columns as wide as the longest entry plus two spaces, as many as fit in 100 characters.
  std::size_t width = 0;
  for (const auto& s : supported) width = std::max(width, s.size() + 2);
  const std::size_t per_row = std::max<std::size_t>(1, 100 / std::max<std::size_t>(width, 1));
  for (std::size_t i = 0; i < supported.size(); i += per_row) {
    std::string line = "  ";
    for (std::size_t j = i; j < std::min(i + per_row, supported.size()); ++j) line += fmt::format("{:<{}}", supported[j], width);
    line.erase(line.find_last_not_of(' ') + 1);
    std::cout << line << "\n";
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
    describe_declarations(*p);
    describe_compatibility(*p);
    std::cout << "\n";
  }
  if (!found) {
    std::vector<std::string> names;
    for (const PluginInfo* p : Registry::instance().list()) names.push_back(p->name);
    std::cerr << fmt::format("vibench: error: no plugin named '{}'{}; see `vibench list`\n", name, did_you_mean(name, names));
    return 2;
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
  int array = 2, cpus = 1, signal_before = 120;
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
  // `exec`: --wrap runs the command under /bin/sh, and --signal=B: signals only that batch shell, which
  // would die without passing SIGTERM on; exec makes vibench the batch shell, so it receives the signal,
  // checkpoints, and exits 143 (the task can be resubmitted to resume).
  const std::string run = "exec " + quoted(self) + " run " + quoted(file) + common + " --threads " + std::to_string(o.cpus) +
                          " --shard \\${SLURM_ARRAY_TASK_ID}/" + std::to_string(o.array);
  const std::string merge = quoted(self) + " merge " + quoted(file) + common;
  std::cout << "#!/bin/bash\n"
            << "# vibench on Slurm: " << o.array << " array tasks, one shard each, then a merge job that starts when\n"
            << "# every task has succeeded (--dependency=afterok). Submit with: bash THIS_SCRIPT\n"
            << "# Each task gets SIGTERM " << o.signal_before << " s before its time limit (--signal=B:TERM@" << o.signal_before
            << "): vibench then\n# checkpoints its training cells and stops; submitting this script again resumes.\n"
            << "set -euo pipefail\n"
            << "mkdir -p " << quoted(out) << "\n"
            << "array=$(" << sbatch << " --job-name=" << quoted("vibench-" + name) << " --array=0-" << o.array - 1
            << " --cpus-per-task=" << o.cpus << " --signal=B:TERM@" << o.signal_before << " --output=" << quoted(out + "/slurm-%A_%a.out") << " --wrap=\"" << run
            << "\")\n"
            << "array=${array%%;*}\n"
            << "merge=$(" << sbatch << " --job-name=" << quoted("vibench-" + name + "-merge")
            << " --dependency=afterok:${array} --output=" << quoted(out + "/slurm-%j-merge.out") << " --wrap=\"" << merge
            << "\")\n"
            << "echo \"submitted array job ${array} and merge job ${merge%%;*}\"\n";
  return 0;
}

// After a failed parse: the first unknown command or option, with a spelling suggestion (CLI11 only lists
// the arguments it did not expect). Empty when every word is known (the parse failed for another reason).
std::string unknown_word_message(const CLI::App& app, int argc, char** argv) {
  const auto subcommands = app.get_subcommands([](const CLI::App*) { return true; });
  std::vector<std::string> commands;
  for (const CLI::App* sub : subcommands) commands.push_back(sub->get_name());
  int i = 1;
  while (i < argc && argv[i][0] == '-') ++i;  // the top level's own options (--help)
  if (i >= argc) return "";
  const std::string command = argv[i];
  const auto sub = std::find_if(subcommands.begin(), subcommands.end(), [&](const CLI::App* s) { return s->get_name() == command; });
  if (sub == subcommands.end())
    return fmt::format("vibench: error: unknown command '{}'{}; commands: {}\n", command, did_you_mean(command, commands),
                       fmt::join(commands, ", "));
  std::vector<std::string> options;
  for (const CLI::Option* o : (*sub)->get_options()) {
    for (const auto& name : o->get_lnames()) options.push_back("--" + name);
    for (const auto& name : o->get_snames()) options.push_back("-" + name);
  }
  for (++i; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--") break;
    if (word.size() < 2 || word[0] != '-' || std::isdigit(static_cast<unsigned char>(word[1])) || word[1] == '.') continue;
    // --name=value, and -jN (a short option with its value attached)
    const std::string name = word[1] == '-' ? word.substr(0, word.find('=')) : word.substr(0, 2);
    if (std::find(options.begin(), options.end(), name) == options.end())
      return fmt::format("vibench: error: unknown option '{}' for `vibench {}`{}; see `vibench {} --help`\n", name,
                         command, did_you_mean(name, options), command);
  }
  return "";
}

// `vibench compare` is implemented in the Python package (python/vibench_results/compare.py, shared with the
// report and `make reproduce`); this runs it from the source tree the binary was built from.
int cmd_compare(const std::vector<std::string>& args) {
  const std::string python_dir = VIBENCH_PYTHON_DIR;
  if (::access((python_dir + "/vibench_results/compare.py").c_str(), R_OK) != 0) {
    std::cerr << "vibench: error: compare needs the Python package in " << python_dir
              << " (the source tree this binary was built from); it is not there\n";
    return 2;
  }
  const char* old = std::getenv("PYTHONPATH");
  const std::string path = python_dir + (old && *old ? ":" + std::string(old) : "");
  ::setenv("PYTHONPATH", path.c_str(), 1);
  ::setenv("VIBENCH_COMPARE_PROG", "vibench compare", 1);
  std::vector<std::string> words{"python3", "-m", "vibench_results.compare"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  ::execv("/usr/bin/python3", argv.data());
  std::cerr << "vibench: error: cannot run /usr/bin/python3 for compare (" << std::strerror(errno)
            << "); `make deps` installs it with python3-h5py\n";
  return 2;
}

}  // namespace

// The whole of main is a try block: nothing a user can write ends in std::terminate (exit 134); what escapes
// everything else is reported, and the exit status is 1.
int main(int argc, char** argv) try {
  // HDF5 locks every file it opens; on filesystems without flock that makes every open fail. vibench's own
  // run lock already keeps writers apart, so HDF5's is best effort unless the user chose otherwise.
  ::setenv("HDF5_USE_FILE_LOCKING", "BEST_EFFORT", /*overwrite=*/0);
  CLI::App app{"vibench: reproducible experiments on variational inference gradient estimators and bounds"};
  app.require_subcommand(1);
  app.footer("Environment: VIBENCH_ISA=scalar|avx2|avx512 runs the kernels of a lower instruction-set class than this "
             "CPU's (vibench's kernels give the same bits on every class; this checks it). The C library's exp, log, "
             "sin, ... are chosen by the CPU too and round differently without AVX2 and FMA: each cell records "
             "them as the source 'libm' of its code fingerprint (README \"Determinism\").");
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);

  RunOptions run_opts;
  run_opts.command_line = command_line;
  std::string run_file;
  auto* run = app.add_subcommand("run", "Run an experiment grid and write <out>/<name>.h5 (resumes unfinished runs)");
  run->add_option("file", run_file, "Experiment YAML file")->required()->check(CLI::ExistingFile);
  run->add_option("--threads,-j", run_opts.threads,
                  fmt::format("Worker threads, 1 to {} (default: all hardware threads); results do not depend on it", max_threads))
      ->check(CLI::Range(1, max_threads));
  run->add_option("--scale", run_opts.overrides.scale, "Apply the named entry of the file's `scales:` (e.g. paper)");
  run->add_option("--set", run_opts.overrides.sets,
                  "Override a key: key=value (fixed) or key=v1,v2 (an axis); repeatable");
  run->add_option("--out,-o", run_opts.out_dir, "Output directory (default: results)");
  run->add_flag("--dry-run", run_opts.dry_run, "Print the expanded cells, their ids and whether each is stored, stale or to run; run and write nothing");
  run->add_flag("--fresh", run_opts.fresh,
                "Discard earlier results, parts and checkpoints of this experiment before running");
  run->add_flag("--reuse-stale", run_opts.reuse_stale,
                "Keep stored cells computed by other code (their code fingerprint differs) instead of recomputing "
                "them; they are marked stale");
  run->add_option("--checkpoint-every", run_opts.checkpoint_every_seconds,
                  "Seconds between checkpoints of a training cell (default 300; 0: only on SIGINT/SIGTERM)")
      ->check(CLI::NonNegativeNumber);
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
  merge->add_flag("--reuse-stale", merge_opts.reuse_stale, "Accept parts computed by other code (marked stale)");

  SlurmOptions slurm_opts;
  std::string slurm_file;
  auto* slurm = app.add_subcommand("slurm", "Print a Slurm submission script: a job array over shards, then a dependent merge");
  slurm->add_option("file", slurm_file, "Experiment YAML file")->required()->check(CLI::ExistingFile);
  slurm->add_option("--array", slurm_opts.array, "Number of array tasks (shards)")->required()->check(CLI::Range(1, 100000));
  slurm->add_option("--partition", slurm_opts.partition, "Slurm partition");
  slurm->add_option("--time", slurm_opts.time, "Slurm time limit per task (e.g. 01:00:00)");
  slurm->add_option("--cpus", slurm_opts.cpus, "CPUs per task (= vibench --threads)")->check(CLI::Range(1, max_threads));
  slurm->add_option("--signal-before", slurm_opts.signal_before,
                    "Seconds before the time limit at which Slurm sends SIGTERM, to checkpoint and stop (default 120)")
      ->check(CLI::Range(1, 65535));
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

  auto* schema = app.add_subcommand(
      "schema", "Print the results-file layout (groups, attributes, metric standard errors) as JSON, for readers");
  bool schema_as_json = true;  // JSON is the only format; --json says so explicitly
  schema->add_flag("--json", schema_as_json, "JSON (the only format)");

  auto* compare = app.add_subcommand(
      "compare", "Compare two results files cell by cell (bitwise, or z-scores from both files' standard errors)");
  compare->prefix_command();  // every argument goes to the Python implementation, --help included
  compare->set_help_flag();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0)
      if (const std::string unknown = unknown_word_message(app, argc, argv); !unknown.empty()) {
        std::cerr << unknown;
        return 2;
      }
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {  // a bad VIBENCH_ISA is bad input: refused before anything runs (cpu_isa() reads it once)
    (void)cpu_isa();
  } catch (const std::invalid_argument& e) {
    std::cerr << "vibench: error: " << e.what() << "\n";
    return 2;
  }
  if (*run) {
    if (!std::isfinite(run_opts.checkpoint_every_seconds)) {
      std::cerr << "vibench: error: --checkpoint-every expects a finite number of seconds >= 0\n";
      return 2;
    }
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
    const int status = run_experiment_command(run_file, run_opts, std::cout, std::cerr);
    // Stopped by SIGINT/SIGTERM: end by that signal, so that a calling shell loop or Slurm sees it (130/143).
    if (const int sig = stop_signal_number.load(); sig != 0 && status == stopped_exit_status(sig)) exit_by_signal(sig);
    return status;
  }
  if (*merge) return merge_experiment_command(merge_file, merge_opts, std::cout, std::cerr);
  if (*slurm) return cmd_slurm(slurm_file, slurm_opts);
  if (*list) return cmd_list(list_kind);
  if (*describe) return cmd_describe(describe_name);
  if (*inspect) return cli::inspect_command(inspect_file, inspect_cell, inspect_format);
  if (*schema) {
    std::cout << layout::schema_json();
    return 0;
  }
  if (*compare) return cmd_compare(compare->remaining());
  return 2;
} catch (const std::bad_alloc&) {
  std::cerr << "vibench: error: out of memory (std::bad_alloc); lower the experiment's sizes or --threads\n";
  return 1;
} catch (const std::exception& e) {
  std::cerr << "vibench: error: " << e.what() << "\n";
  return 1;
}
