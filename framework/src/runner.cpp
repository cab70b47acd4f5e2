#include "vibench/runner.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <mutex>

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "vibench/build_info.hpp"
#include "vibench/progress.hpp"
#include "vibench/study.hpp"

namespace vibench {

namespace {

std::string shell_output(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    if (::pclose(p) != 0) return "";
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

void print_dry_run(const Experiment& ex, std::ostream& out) {
  out << fmt::format("experiment '{}' (study {}, seed {}{}): {} cells\n", ex.name, ex.study, ex.seed,
                     ex.scale.empty() ? "" : ", scale " + ex.scale, ex.cells.size());
  // Show the keys that vary between cells; the rest are common to all.
  std::vector<std::string> varying;
  if (!ex.cells.empty())
    for (const auto& [k, v] : ex.cells[0].config)
      for (const Cell& c : ex.cells) {
        auto it = c.config.find(k);
        if (it == c.config.end() || canonical_text(it->second) != canonical_text(v)) {
          varying.push_back(k);
          break;
        }
      }
  for (const Cell& c : ex.cells)
    for (const auto& [k, v] : c.config)
      if (!ex.cells[0].config.count(k) && std::find(varying.begin(), varying.end(), k) == varying.end())
        varying.push_back(k);
  if (!ex.cells.empty()) {
    out << "common to all cells:\n";
    for (const auto& [k, v] : ex.cells[0].config)
      if (std::find(varying.begin(), varying.end(), k) == varying.end())
        out << fmt::format("  {} = {}\n", k, canonical_text(v));
  }
  for (const Cell& c : ex.cells) {
    std::vector<std::string> parts;
    for (const auto& k : varying) {
      auto it = c.config.find(k);
      if (it != c.config.end()) parts.push_back(fmt::format("{}={}", k, canonical_text(it->second)));
    }
    out << fmt::format("  [{:>3}] {}  {}  {}\n", c.index, c.id, c.skip_reason ? "SKIP" : "run ",
                       fmt::join(parts, " "));
    if (c.skip_reason) out << fmt::format("        skipped: {}\n", *c.skip_reason);
  }
}

}  // namespace

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

Provenance make_provenance(const Experiment& ex, const RunOptions& options, int threads, const std::string& started_utc) {
  const std::string src = build_info::source_dir;
  std::string commit = shell_output("git -C '" + src + "' rev-parse HEAD 2>/dev/null");
  std::string dirty = commit.empty() ? "" : shell_output("git -C '" + src + "' status --porcelain --untracked-files=no 2>/dev/null");
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return {
      {"schema_version", static_cast<std::int64_t>(schema_version)},
      {"vibench_version", std::string(build_info::version)},
      {"git_commit", commit.empty() ? std::string("unknown") : commit},
      {"git_dirty", static_cast<std::int64_t>(commit.empty() ? -1 : !dirty.empty())},
      {"compiler", std::string(build_info::compiler)},
      {"flags", std::string(build_info::flags)},
      {"build_type", std::string(build_info::build_type)},
      {"host", std::string(host)},
      {"threads", static_cast<std::int64_t>(threads)},
      {"started_utc", started_utc},
      {"finished_utc", utc_now()},
      {"command_line", options.command_line},
      {"config_path", ex.path},
      {"config_yaml", ex.yaml_text},
      {"name", ex.name},
      {"study", ex.study},
      {"description", ex.description},
      {"scale", ex.scale.empty() ? std::string("quick") : ex.scale},
      {"seed", static_cast<std::int64_t>(ex.seed)},
  };
}

int run_experiment_command(const std::string& path, const RunOptions& options, std::ostream& out, std::ostream& err) {
  Experiment ex;
  try {
    ex = load_experiment(path, options.overrides);
  } catch (const ConfigError& e) {
    err << "vibench: error: " << e.what() << "\n";
    return 2;
  }
  if (options.dry_run) {
    print_dry_run(ex, out);
    return 0;
  }

  const std::string started = utc_now();
  const auto t0 = std::chrono::steady_clock::now();
  const int threads = options.threads > 0 ? options.threads : tbb::info::default_concurrency();
  ResultStore store(options.out_dir, ex.name);
  if (options.fresh) store.remove_all();

  std::vector<std::string> notes;
  std::map<std::string, CellSource> done = store.scan_finished(ex, notes);
  for (const auto& n : notes) err << "[vibench] note: " << n << "\n";
  std::vector<const Cell*> pending;
  std::size_t skipped = 0;
  for (const Cell& c : ex.cells) {
    if (c.skip_reason) {
      ++skipped;
      err << fmt::format("[vibench] skipping cell {} ({}): {}\n", c.index, c.id, *c.skip_reason);
    } else if (!done.count(c.id)) {
      pending.push_back(&c);
    }
  }
  bool all_in_final = std::all_of(done.begin(), done.end(), [&](const auto& kv) { return kv.second.file == store.final_path(); });
  if (pending.empty() && all_in_final && std::filesystem::exists(store.final_path())) {
    err << fmt::format("[vibench] all {} cells of '{}' are already in {}; nothing to do (use --fresh to recompute)\n",
                       ex.cells.size() - skipped, ex.name, store.final_path());
    return 0;
  }
  if (!done.empty())
    err << fmt::format("[vibench] resuming: {} of {} cells already finished\n", done.size(), ex.cells.size() - skipped);

  std::unique_ptr<Study> study = make_plugin<Study>(Params(Config{{"name", ex.study}}, ""));
  Progress progress(pending.size(), err);
  std::mutex done_mutex;
  std::vector<std::string> failures;
  tbb::task_arena arena(threads);
  arena.execute([&] {
    tbb::parallel_for(
        tbb::blocked_range<std::size_t>(0, pending.size(), 1),
        [&](const tbb::blocked_range<std::size_t>& r) {
          for (std::size_t i = r.begin(); i != r.end(); ++i) {
            const Cell& cell = *pending[i];
            auto c0 = std::chrono::steady_clock::now();
            bool ok = false;
            try {
              CellResult result = study->run(CellContext{cell.config, ex.seed, cell.key});
              double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
              CellSource src = store.write_part(ex, cell, result, secs);
              std::lock_guard<std::mutex> lock(done_mutex);
              done[cell.id] = src;
              ok = true;
            } catch (const std::exception& e) {
              std::lock_guard<std::mutex> lock(done_mutex);
              failures.push_back(fmt::format("cell {} ({}): {}", cell.index, cell.id, e.what()));
            }
            progress.cell_finished(cell.id, std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count(),
                                   !ok);
          }
        },
        tbb::simple_partitioner());
  });
  progress.finish();
  if (!failures.empty()) {
    for (const auto& f : failures) err << "vibench: error: " << f << "\n";
    err << fmt::format("vibench: {} cell(s) failed; {} finished cell(s) are kept in {}; re-run to retry the rest\n",
                       failures.size(), done.size(), store.parts_dir());
    return 1;
  }
  try {
    store.assemble(ex, make_provenance(ex, options, threads, started), done);
  } catch (const std::exception& e) {
    err << "vibench: error: writing " << store.final_path() << ": " << e.what() << "\n";
    return 1;
  }
  store.remove_parts();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  err << fmt::format("[vibench] wrote {} ({} cells, {} skipped) in {}\n", store.final_path(), ex.cells.size() - skipped,
                     skipped, format_duration(secs));
  return 0;
}

}  // namespace vibench
