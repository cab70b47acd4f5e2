#include "vibench/run/runner.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "vibench/plugin/stop_request.hpp"
#include "vibench/plugin/study.hpp"
#include "vibench/run/build_info.hpp"
#include "vibench/run/cell_checkpoint_file.hpp"
#include "vibench/run/git_state.hpp"
#include "vibench/run/progress.hpp"
#include "vibench/run/results_layout.hpp"
#include "vibench/run/signal_stop.hpp"
#include "vibench/run/tbb_parallel_for.hpp"

namespace vibench {

namespace {

// What a run would do with each cell, from a read-only scan of the output directory: "SKIP", "stored"
// (reused), "stale" (stored by other code: recomputed, or kept with --reuse-stale) or "run".
std::string dry_run_status(const Cell& c, const std::map<std::string, CellSource>& stored) {
  if (c.skip_reason) return "SKIP";
  auto it = stored.find(c.id);
  return it == stored.end() ? "run" : it->second.stale ? "stale" : "stored";
}

void print_dry_run(const Experiment& ex, const std::map<std::string, CellSource>& stored, bool reuse_stale,
                   std::ostream& out) {
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
    out << fmt::format("  [{:>3}] {}  {:<6}  {}\n", c.index, c.id, dry_run_status(c, stored), fmt::join(parts, " "));
    if (c.skip_reason) out << fmt::format("        skipped: {}\n", *c.skip_reason);
  }
  std::map<std::string, std::size_t> count;
  for (const Cell& c : ex.cells) ++count[dry_run_status(c, stored)];
  out << fmt::format("{} to run, {} stored, {} stale ({}), {} skipped\n", count["run"], count["stored"], count["stale"],
                     reuse_stale ? "kept: --reuse-stale" : "to be recomputed", count["SKIP"]);
}

}  // namespace

std::optional<Shard> launcher_shard(std::string* source) {
  auto get = [](const char* name) -> std::optional<long> {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    if (*end != '\0') return std::nullopt;
    return x;
  };
  struct Pair {
    const char *rank, *size;
  };
  for (const Pair& p : {Pair{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"}, Pair{"PMI_RANK", "PMI_SIZE"},
                        Pair{"SLURM_PROCID", "SLURM_NTASKS"}}) {
    auto rank = get(p.rank), size = get(p.size);
    if (rank && size && *size > 1 && *rank >= 0 && *rank < *size) {
      if (source) *source = fmt::format("{}/{}", p.rank, p.size);
      return Shard{static_cast<int>(*rank), static_cast<int>(*size)};
    }
  }
  // Job arrays number tasks from SLURM_ARRAY_TASK_MIN (often 0 or 1).
  auto task = get("SLURM_ARRAY_TASK_ID"), count = get("SLURM_ARRAY_TASK_COUNT"), first = get("SLURM_ARRAY_TASK_MIN");
  if (task && count && *count > 1) {
    const long index = *task - first.value_or(0);
    if (index >= 0 && index < *count) {
      if (source) *source = "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT";
      return Shard{static_cast<int>(index), static_cast<int>(*count)};
    }
  }
  return std::nullopt;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

Provenance make_provenance(const Experiment& ex, const RunOptions& options, int threads, const std::string& started_utc) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return {
      {layout::root_attr::schema_version, static_cast<std::int64_t>(schema_version)},
      {layout::root_attr::vibench_version, std::string(build_info::version)},
      {layout::root_attr::git_commit, std::string(git_state::commit)},
      {layout::root_attr::git_dirty, static_cast<std::int64_t>(git_state::dirty)},
      {layout::root_attr::compiler, std::string(build_info::compiler)},
      {layout::root_attr::flags, std::string(build_info::flags)},
      {layout::root_attr::build_type, std::string(build_info::build_type)},
      {layout::root_attr::host, std::string(host)},
      {layout::root_attr::threads, static_cast<std::int64_t>(threads)},
      {layout::root_attr::started_utc, started_utc},
      {layout::root_attr::finished_utc, utc_now()},
      {layout::root_attr::command_line, options.command_line},
      {layout::root_attr::config_path, ex.path},
      {layout::root_attr::config_yaml, ex.yaml_text},
      {layout::root_attr::name, ex.name},
      {layout::root_attr::study, ex.study},
      {layout::root_attr::description, ex.description},
      {layout::root_attr::scale, ex.scale.empty() ? std::string("quick") : ex.scale},
      {layout::root_attr::seed, static_cast<std::int64_t>(ex.seed)},
  };
}

namespace {
// --out must name a directory, or a path still to be created below directories: a file on the way is bad input.
bool output_dir_usable(const std::string& out_dir, std::ostream& err) {
  for (std::filesystem::path p(out_dir); !p.empty(); p = p.parent_path()) {
    std::error_code ec;
    if (std::filesystem::exists(p, ec) && !std::filesystem::is_directory(p, ec)) {
      err << fmt::format("vibench: error: --out {}: {} is not a directory; give a directory (it is created if "
                         "missing)\n", out_dir, p.string());
      return false;
    }
    if (p == p.parent_path()) break;
  }
  return true;
}

// Loads the experiment and checks --out; on invalid input writes the error (file:line:column, key,
// expectation) and returns false.
bool load_or_report(const std::string& path, const RunOptions& options, std::ostream& err, Experiment& ex) {
  try {
    ex = load_experiment(path, options.overrides);
  } catch (const ConfigError& e) {
    err << fmt::format("vibench: error: {}\n", e.what());
    return false;
  }
  return output_dir_usable(options.out_dir, err);
}

// A grid whose every cell is skipped has nothing to run: the distinct skip reasons with their counts.
std::optional<std::string> nothing_runs(const Experiment& ex) {
  if (ex.cells.empty()) return std::nullopt;
  std::vector<std::pair<std::string, std::size_t>> reasons;  // in order of first appearance
  for (const Cell& c : ex.cells) {
    if (!c.skip_reason) return std::nullopt;
    auto it = std::find_if(reasons.begin(), reasons.end(), [&](const auto& r) { return r.first == *c.skip_reason; });
    if (it == reasons.end())
      reasons.emplace_back(*c.skip_reason, 1);
    else
      ++it->second;
  }
  std::string text = fmt::format("{}: every one of the {} cells is skipped, so nothing can run:", ex.path, ex.cells.size());
  for (const auto& [reason, count] : reasons) text += fmt::format("\n  {} cell{}: {}", count, count == 1 ? "" : "s", reason);
  return text;
}
}  // namespace

int merge_experiment_command(const std::string& path, const RunOptions& options, std::ostream& out, std::ostream& err) {
  Experiment ex;
  if (!load_or_report(path, options, err, ex)) return 2;
  if (auto why = nothing_runs(ex)) {
    err << fmt::format("vibench: error: {}\n", *why);
    return 2;
  }
  const std::string started = utc_now();
  ResultStore store(options.out_dir, ex.name);
  auto lock = store.try_lock("lock");
  if (!lock) {
    err << fmt::format("vibench: error: a vibench run is writing '{}' into {}; merge when it has finished\n", ex.name,
                       options.out_dir);
    return 1;
  }
  std::vector<std::string> notes;
  std::map<std::string, CellSource> done = store.scan_finished(ex, notes, {.reuse_stale = options.reuse_stale});
  for (const auto& n : notes) err << fmt::format("[vibench] note: {}\n", n);
  std::vector<std::string> missing;
  std::size_t skipped = 0;
  for (const Cell& c : ex.cells) {
    if (c.skip_reason)
      ++skipped;
    else if (!done.count(c.id))
      missing.push_back(fmt::format("{} ({})", c.index, c.id));
  }
  if (!missing.empty()) {
    err << fmt::format("vibench: error: {} of {} cells are not finished yet (first: {}); run the missing shards, then merge again\n",
                       missing.size(), ex.cells.size() - skipped,
                       fmt::join(missing.begin(), missing.begin() + static_cast<long>(std::min<std::size_t>(5, missing.size())), ", "));
    return 1;
  }
  const bool parts = std::any_of(done.begin(), done.end(), [&](const auto& kv) {
    return kv.second.file != store.final_path() || kv.second.stale != kv.second.marked_stale;
  });
  if (!parts && std::filesystem::exists(store.final_path())) {
    err << fmt::format("[vibench] {} is already complete; nothing to merge\n", store.final_path());
    store.remove_parts();  // only our lock file is there
    return 0;
  }
  try {
    store.assemble(ex, make_provenance(ex, options, 0, started), done);
  } catch (const std::exception& e) {
    err << fmt::format("vibench: error: writing {}: {}\n", store.final_path(), e.what());
    return 1;
  }
  store.remove_parts();
  err << fmt::format("[vibench] merged {} cells ({} skipped) into {}\n", ex.cells.size() - skipped, skipped, store.final_path());
  (void)out;
  return 0;
}

int run_experiment_command(const std::string& path, const RunOptions& options, std::ostream& out, std::ostream& err) {
  if (options.threads < 0 || options.threads > max_threads) {
    err << fmt::format("vibench: error: --threads {}: expected 1 to {} (default: all {} hardware threads)\n",
                       options.threads, max_threads, tbb::info::default_concurrency());
    return 2;
  }
  Experiment ex;
  if (!load_or_report(path, options, err, ex)) return 2;
  if (options.dry_run) {  // never writes, locks or deletes: the scan is read-only
    std::vector<std::string> notes;
    std::map<std::string, CellSource> stored;
    if (!options.fresh)
      stored = ResultStore(options.out_dir, ex.name).scan_finished(ex, notes, {.reuse_stale = options.reuse_stale, .read_only = true});
    for (const auto& n : notes) err << fmt::format("[vibench] note: {}\n", n);
    print_dry_run(ex, stored, options.reuse_stale, out);
    if (auto why = nothing_runs(ex)) out << *why << "\n";
    return 0;
  }
  if (auto why = nothing_runs(ex)) {
    err << fmt::format("vibench: error: {}\n", *why);
    return 2;
  }

  // From here on SIGINT/SIGTERM stop the run in order (stop_request.hpp) instead of killing it.
  const StopSignals stop_signals;
  const std::string started = utc_now();
  const auto t0 = std::chrono::steady_clock::now();
  const int threads = options.threads > 0 ? options.threads : tbb::info::default_concurrency();
  // TBB caps its workers at the hardware's threads unless told otherwise; lift the cap so the arena really
  // has `threads` threads, the number the provenance records.
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
  use_tbb_for_parallel_for();  // a cell's replicate chunks share the arena's threads
  ResultStore store(options.out_dir, ex.name);
  const std::string lock_name = options.shard.count > 1 ? fmt::format("lock.shard-{}-of-{}", options.shard.index, options.shard.count)
                                                        : std::string("lock");
  std::optional<ResultStore::Lock> lock;
  try {
    if (options.fresh) store.remove_all();
    lock = store.try_lock(lock_name);
  } catch (const std::exception& e) {
    err << fmt::format("vibench: error: {}\n", e.what());
    return 1;
  }
  if (!lock) {
    err << fmt::format("vibench: error: another vibench run is writing '{}' into {} (lock {}/{} is held); wait for it "
                       "to finish, or use another --out\n", ex.name, options.out_dir, store.parts_dir(), lock_name);
    return 1;
  }

  std::vector<std::string> notes;
  std::map<std::string, CellSource> done = store.scan_finished(ex, notes, {.reuse_stale = options.reuse_stale});
  for (const auto& n : notes) err << fmt::format("[vibench] note: {}\n", n);
  const Shard shard = options.shard;
  const bool sharded = shard.count > 1;
  auto mine = [&](const Cell& c) { return c.index % static_cast<std::size_t>(shard.count) == static_cast<std::size_t>(shard.index); };
  std::vector<const Cell*> pending;
  std::size_t skipped = 0;
  for (const Cell& c : ex.cells) {
    if (c.skip_reason) {
      ++skipped;
      if (mine(c)) err << fmt::format("[vibench] skipping cell {} ({}): {}\n", c.index, c.id, *c.skip_reason);
    } else if (!done.count(c.id) && mine(c)) {
      pending.push_back(&c);
    }
  }
  if (sharded)
    err << fmt::format("[vibench] shard {}/{}: {} of {} cells are this shard's, {} to run\n", shard.index, shard.count,
                       std::count_if(ex.cells.begin(), ex.cells.end(), [&](const Cell& c) { return mine(c) && !c.skip_reason; }),
                       ex.cells.size() - skipped, pending.size());
  // The file is rewritten when a cell's stale mark must be added (--reuse-stale) or dropped (its code matches again).
  bool all_in_final = std::all_of(done.begin(), done.end(), [&](const auto& kv) {
    return kv.second.file == store.final_path() && kv.second.stale == kv.second.marked_stale;
  });
  // The final file is left alone only when it holds exactly this grid's cells (no cells of an older grid).
  if (!sharded && pending.empty() && all_in_final && store.final_cell_count() == ex.cells.size()) {
    err << fmt::format("[vibench] all {} cells of '{}' are already in {}; nothing to do (use --fresh to recompute)\n",
                       ex.cells.size() - skipped, ex.name, store.final_path());
    store.remove_parts();  // only our lock file is there
    return 0;
  }
  if (!done.empty() && !sharded)
    err << fmt::format("[vibench] resuming: {} of {} cells already finished\n", done.size(), ex.cells.size() - skipped);

  std::unique_ptr<Study> study = make_plugin<Study>(Params(Config{{"name", ex.study}}, ""));
  std::uint64_t total_units = 0;
  for (const Cell* c : pending) total_units += study->work_units(c->config);
  Progress progress(pending.size(), total_units, study->work_unit_name(), err);
  std::mutex done_mutex;
  std::vector<std::string> failures;
  std::size_t checkpointed = 0, abandoned = 0;  // cells in flight when a stop came
  tbb::task_arena arena(threads);
  arena.execute([&] {
    tbb::parallel_for(
        tbb::blocked_range<std::size_t>(0, pending.size(), 1),
        [&](const tbb::blocked_range<std::size_t>& r) {
          for (std::size_t i = r.begin(); i != r.end(); ++i) {
            if (stop_requested()) return;  // no new cells after a stop signal
            const Cell& cell = *pending[i];
            auto c0 = std::chrono::steady_clock::now();
            bool ok = false;
            CellCheckpointFile checkpoint(store, ex, cell, options.checkpoint_every_seconds, study->work_unit_name(),
                                          [&](const std::string& line) { progress.note(line); });
            try {
              CellResult result = study->run(CellContext{cell.config, ex.seed, cell.key, &checkpoint});
              double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
              CellSource src = store.write_part(ex, cell, result, secs);
              if (checkpoint.holds_progress()) store.remove_checkpoint(cell.id);
              std::lock_guard<std::mutex> lock(done_mutex);
              done[cell.id] = src;
              if (result.status != "ok")
                progress.note(fmt::format("[vibench] cell {} ({}) {}: {}", cell.index, cell.id, result.status, result.reason));
              ok = true;
            } catch (const CellInterrupted&) {
              std::lock_guard<std::mutex> lock(done_mutex);
              ++(checkpoint.holds_progress() ? checkpointed : abandoned);
              continue;
            } catch (const std::bad_alloc&) {
              std::lock_guard<std::mutex> lock(done_mutex);
              failures.push_back(fmt::format("cell {} ({}): out of memory (std::bad_alloc) while running; lower its sizes or "
                                             "run fewer threads", cell.index, cell.id));
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
  const std::size_t unfinished = pending.size() - std::count_if(pending.begin(), pending.end(), [&](const Cell* c) { return done.count(c->id) > 0; });
  if (const int sig = stop_signal_number.load(); sig != 0 && unfinished > failures.size()) {
    for (const auto& f : failures) err << fmt::format("vibench: error: {}\n", f);
    err << fmt::format("[vibench] stopped by {}: {} of {} cells are saved in {}", sig == SIGINT ? "SIGINT" : "SIGTERM",
                       done.size(), ex.cells.size() - skipped, store.parts_dir());
    if (checkpointed) err << fmt::format("; {} cell(s) in flight saved a checkpoint and continue from it", checkpointed);
    if (abandoned) err << fmt::format("; {} cell(s) in flight were abandoned and start over", abandoned);
    err << ". Rerun the same command to resume.\n";
    return stopped_exit_status(sig);
  }
  if (!failures.empty()) {
    for (const auto& f : failures) err << fmt::format("vibench: error: {}\n", f);
    err << fmt::format("vibench: {} cell(s) failed; {} finished cell(s) are kept in {}; re-run to retry the rest\n",
                       failures.size(), done.size(), store.parts_dir());
    return 1;
  }
  if (sharded) {
    err << fmt::format("[vibench] shard {}/{} done; when every shard has finished: vibench merge {} --out {}\n",
                       shard.index, shard.count, path, options.out_dir);
    return 0;
  }
  try {
    store.assemble(ex, make_provenance(ex, options, threads, started), done);
  } catch (const std::exception& e) {
    err << fmt::format("vibench: error: writing {}: {}\n", store.final_path(), e.what());
    return 1;
  }
  store.remove_parts();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  err << fmt::format("[vibench] wrote {} ({} cells, {} skipped) in {}\n", store.final_path(), ex.cells.size() - skipped,
                     skipped, format_duration(secs));
  return 0;
}

}  // namespace vibench
