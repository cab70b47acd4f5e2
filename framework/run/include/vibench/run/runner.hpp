#pragma once
// `vibench run`: load and validate an experiment, run its unfinished cells in parallel, store them.
#include <iosfwd>
#include <optional>
#include <string>

#include "vibench/run/grid.hpp"
#include "vibench/run/store.hpp"

namespace vibench {

// Which share of the cells this process runs: cells with index % count == index. A shard writes part
// files only; `vibench merge` assembles them once every shard has finished.
struct Shard {
  int index = 0;
  int count = 1;
};

// The shard a launcher assigned through the environment (Open MPI, PMI/MPICH, Slurm tasks, Slurm job
// arrays), if any; `source` names the variables used.
std::optional<Shard> launcher_shard(std::string* source = nullptr);

// Accepted range of --threads (a request beyond the hardware's threads oversubscribes, as asked).
constexpr int max_threads = 4096;

struct RunOptions {
  std::string out_dir = "results";
  int threads = 0;  // 1..max_threads; 0 = all hardware threads
  Shard shard;
  bool dry_run = false;
  bool fresh = false;  // discard earlier parts and results of this experiment first (and checkpoints)
  bool reuse_stale = false;  // keep cells whose code fingerprint differs from this binary's (marked stale)
  // Seconds between checkpoints of a training cell (checkpoint.hpp); 0: only on SIGINT/SIGTERM. A run
  // option, not a cell key: it changes no number, so it must not change cell ids.
  double checkpoint_every_seconds = 300;
  Overrides overrides;
  std::string command_line;
};

// Exit status: 0 success, 1 a cell failed at run time (finished cells are kept; re-run resumes),
// 2 invalid input (nothing is written), 128 + signal (130, 143) when SIGINT/SIGTERM stopped the run (finished
// cells and checkpoints are kept; re-run resumes; the caller should then end by the signal: exit_by_signal).
int run_experiment_command(const std::string& path, const RunOptions& options, std::ostream& out, std::ostream& err);

// `vibench merge`: assemble the final file from the parts of all shards. 0 when written (or already
// complete), 1 if cells are still missing (listed), 2 for invalid input.
int merge_experiment_command(const std::string& path, const RunOptions& options, std::ostream& out, std::ostream& err);

// Provenance attributes for the root of a results file (DESIGN §7).
Provenance make_provenance(const Experiment& ex, const RunOptions& options, int threads, const std::string& started_utc);
std::string utc_now();

}  // namespace vibench
