// SIGINT and SIGTERM end to end through the vibench binary: a run stops taking cells, its training cells in
// flight save a checkpoint, it says how many cells are saved and ends by the signal (a shell's 130/143); the
// same command resumes each training cell from its checkpoint and ends bit for bit equal to an
// uninterrupted run, for optimize, vib, rate_distortion and vae. Checkpoints of another seed or config, and
// damaged ones, are refused with a note; --fresh removes them; the Slurm script delivers Slurm's SIGTERM.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "helpers.hpp"
#include "vibench/plugin/stop_request.hpp"
#include "vibench/run/code_fingerprint.hpp"
#include "vibench/run/signal_stop.hpp"

extern char** environ;

using namespace vibench;
using namespace vibench::test;
namespace fs = std::filesystem;

namespace {

// Two training cells of about a second each on one thread (score_function with a moving-average
// baseline: the estimator carries state from step to step; θ is learned; variance probes are recorded).
const char* optimize_yaml = R"(name: opt
study: optimize
seed: 5
fixed:
  target: {name: linear_gaussian, dim: 6, data_seed: 1}
  family: gaussian_fullrank
  estimator: {name: score_function, control_variate: moving_average}
  samples: 4
  steps: 200000
  log_every: 2000
  variance_replicates: 4
grid:
  learning_rate: [0.01, 0.02]
)";

// Small networks on the first Fashion-MNIST images, about a second of training per cell: many short epochs,
// so a stop lands mid-epoch (the learning-rate decay and the per-epoch sums must survive it).
const char* vib_yaml = R"(name: vibi
study: vib
seed: 3
fixed:
  latent_dim: 4
  hidden_layers: 1
  hidden_units: 64
  epochs: 25
  learning_rate: 0.001
  train_examples: 2000
  test_examples: 500
  test_samples: 2
grid:
  beta: [0.001, 0.01]
)";

const char* rate_distortion_yaml = R"(name: rd
study: rate_distortion
seed: 4
fixed:
  latent_dim: 4
  hidden_units: 32
  epochs: 15
  train_examples: 1500
  test_examples: 500
grid:
  beta: [0.5, 2.0]
)";

const char* vae_yaml = R"(name: vaei
study: vae
seed: 4
fixed: {hidden_layers: 1, hidden_units: 32, latent_dim: 4, epochs: 15, batch_size: 100, train_examples: 1500,
        test_examples: 200, eval_examples: 4, eval_k: 100, lr_schedule: burda}
zip:
  - {k: [1, 5], gradient: [iwae, dreg]}
)";

std::vector<fs::path> checkpoint_files(const std::string& parts) {
  std::vector<fs::path> out;
  if (fs::exists(parts))
    for (const auto& e : fs::directory_iterator(parts))
      if (e.path().extension() == ".ckpt") out.push_back(e.path());
  return out;
}

std::size_t count_substr(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t pos = 0; (pos = text.find(what, pos)) != std::string::npos; pos += what.size()) ++n;
  return n;
}

// Starts `vibench args...` with stderr to err_path.
pid_t spawn_vibench(std::vector<std::string> args, const std::string& err_path) {
  const std::string bin = VIBENCH_BINARY;
  args.insert(args.begin(), bin);
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  return pid;
}

// Waits until pred() holds while process `pid` runs; false if it ended first or `seconds` passed.
template <class Pred>
bool wait_while_running(pid_t pid, Pred&& pred, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!pred()) {
    siginfo_t info{};
    const bool ended = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
    if (ended || std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

const char* signal_name(int sig) { return sig == SIGINT ? "SIGINT" : "SIGTERM"; }

// Interrupts a one-thread run of `yaml` (experiment `name`, two training cells) with `sig` while a cell
// trains, checks how it ended, resumes it and compares every dataset with <dir>/ref. With `periodic`,
// checkpoints are also written every 50 ms and the signal is sent once the first cell's first one exists;
// without, a checkpoint is written only on the signal, sent 0.1 s after the first cell's part appeared
// (the second cell is then training: its data are loaded and a step takes milliseconds).
void interrupt_and_resume(const std::string& dir, const std::string& yaml, const std::string& name, int sig, bool periodic) {
  const std::string out = dir + "/" + signal_name(sig), parts = out + "/." + name + ".parts";
  const std::string err_path = dir + "/" + signal_name(sig) + ".err";
  const pid_t pid = spawn_vibench({"run", yaml, "--out", out, "--threads", "1", "--checkpoint-every", periodic ? "0.05" : "0"},
                                  err_path);
  if (periodic) {
    REQUIRE(wait_while_running(pid, [&] { return !checkpoint_files(parts).empty(); }, 120));
  } else {
    REQUIRE(wait_while_running(pid, [&] { return finished_parts(parts) == 1; }, 120));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(::kill(pid, sig) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  const std::string err = read_text(err_path);
  INFO(err);
  // Ended by the signal itself (a shell shows 128 + n: 130 for SIGINT, 143 for SIGTERM).
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == sig);
  CHECK(err.find(std::string("[vibench] ") + signal_name(sig) + ": stopping") != std::string::npos);
  CHECK(err.find(fmt::format("[vibench] stopped by {}: {} of 2 cells are saved in {}", signal_name(sig), periodic ? 0 : 1,
                             parts)) != std::string::npos);
  CHECK(err.find("; 1 cell(s) in flight saved a checkpoint and continue from it. Rerun the same command to resume.") !=
        std::string::npos);
  CHECK(checkpoint_files(parts).size() == 1);  // the cell in flight's; with `periodic` the second never started
  CHECK(!fs::exists(out + "/" + name + ".h5"));

  auto resumed = run_cli("run " + yaml + " --out " + out + " --threads 1", std::string(signal_name(sig)) + "_resume");
  INFO(resumed.err);
  REQUIRE(resumed.code == 0);
  CHECK(count_substr(resumed.err, "resumes from its checkpoint after ") == 1);
  CHECK(resumed.err.find("resumes from its checkpoint after 0 ") == std::string::npos);
  CHECK(!fs::exists(parts));  // checkpoints went with the parts
  CHECK(metric_bits(out + "/" + name + ".h5") == metric_bits(dir + "/ref/" + name + ".h5"));
}

void check_study(const std::string& name, const char* yaml_text) {
  const std::string dir = fresh_dir("interrupt_" + name);
  const std::string yaml = write_file(dir + "/" + name + ".yaml", yaml_text);
  auto ref = run_cli("run " + yaml + " --out " + dir + "/ref --threads 1", name + "_ref");
  INFO(ref.err);
  REQUIRE(ref.code == 0);
  interrupt_and_resume(dir, yaml, name, SIGINT, /*periodic=*/true);
  interrupt_and_resume(dir, yaml, name, SIGTERM, /*periodic=*/false);
}

std::vector<std::string> cell_ids(const std::string& h5file) {
  auto lock = h5::hdf5_lock();
  h5::Handle f = h5::open_file_readonly(h5file);
  return h5::member_names(h5::open_group(f, "cells"));
}

}  // namespace

TEST_CASE("optimize: SIGINT/SIGTERM checkpoint the cell in flight; resuming gives the bits of an uninterrupted run",
          "[interrupt]") {
  check_study("opt", optimize_yaml);
}

TEST_CASE("vib: SIGINT/SIGTERM checkpoint the cell in flight; resuming gives the bits of an uninterrupted run",
          "[interrupt]") {
  check_study("vibi", vib_yaml);
}

TEST_CASE("rate_distortion: SIGINT/SIGTERM checkpoint the cell in flight; resuming gives the bits of an uninterrupted run",
          "[interrupt]") {
  check_study("rd", rate_distortion_yaml);
}

TEST_CASE("vae: SIGINT/SIGTERM checkpoint the cell in flight; resuming gives the bits of an uninterrupted run",
          "[interrupt]") {
  check_study("vaei", vae_yaml);
}

TEST_CASE("a checkpoint of another seed, config, code or with a damaged byte is refused with a note; --fresh removes it",
          "[interrupt]") {
  const std::string dir = fresh_dir("interrupt_foreign");
  const std::string yaml = write_file(dir + "/opt.yaml", optimize_yaml);
  const std::string parts = dir + "/run/.opt.parts";
  // A checkpoint of the first cell, taken mid-way.
  const pid_t pid = spawn_vibench({"run", yaml, "--out", dir + "/run", "--threads", "1", "--checkpoint-every", "0.05"},
                                  dir + "/first.err");
  REQUIRE(wait_while_running(pid, [&] { return !checkpoint_files(parts).empty(); }, 120));
  REQUIRE(::kill(pid, SIGINT) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  const auto files = checkpoint_files(parts);
  REQUIRE(files.size() == 1);
  const std::string saved = dir + "/saved.ckpt";
  fs::copy_file(files[0], saved);
  const std::string cell0 = files[0].stem().string();

  // Reference results of the three variants.
  REQUIRE(run_cli("run " + yaml + " --out " + dir + "/ref_seed --set seed=6", "ref_seed").code == 0);
  REQUIRE(run_cli("run " + yaml + " --out " + dir + "/ref_steps --set steps=29000", "ref_steps").code == 0);
  REQUIRE(run_cli("run " + yaml + " --out " + dir + "/ref", "ref").code == 0);

  auto resume_with = [&](const std::string& out, const std::string& id, const std::string& set) {
    fs::create_directories(out + "/.opt.parts");
    fs::copy_file(saved, out + "/.opt.parts/" + id + ".ckpt", fs::copy_options::overwrite_existing);
    return run_cli("run " + yaml + " --out " + out + set, "resume_" + fs::path(out).filename().string());
  };
  {  // another seed: the same cell id, refused
    auto r = resume_with(dir + "/seed", cell0, " --set seed=6");
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.find("is not used (it was written with seed 5, not 6); cell 0 starts from the beginning") != std::string::npos);
    CHECK(r.err.find("resumes from its checkpoint") == std::string::npos);
    CHECK(metric_bits(dir + "/seed/opt.h5") == metric_bits(dir + "/ref_seed/opt.h5"));
  }
  {  // another config, put under that config's cell id: refused
    const std::string other = cell_ids(dir + "/ref_steps/opt.h5").front();
    auto r = resume_with(dir + "/steps", other, " --set steps=29000");
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.find("is not used (it was written for cell " + cell0 + ")") != std::string::npos);
    CHECK(r.err.find("resumes from its checkpoint") == std::string::npos);
    CHECK(metric_bits(dir + "/steps/opt.h5") == metric_bits(dir + "/ref_steps/opt.h5"));
  }
  {  // written by other code: the test hook stands for an edited, rebuilt optimize.cpp (code_fingerprint.hpp)
    fs::create_directories(dir + "/code/.opt.parts");
    fs::copy_file(saved, dir + "/code/.opt.parts/" + cell0 + ".ckpt");
    auto r = run_shell(std::string(test_source_hashes_env) + "='estimators/studies/optimize.cpp=00000000deadbeef' " +
                           VIBENCH_BINARY + " run " + yaml + " --out " + dir + "/code",
                       "resume_code");
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.find("is not used (it was written by other code (code fingerprint") != std::string::npos);
    CHECK(r.err.find("resumes from its checkpoint") == std::string::npos);
  }
  {  // one flipped byte: the checksum refuses it
    fs::create_directories(dir + "/flip/.opt.parts");
    const std::string path = dir + "/flip/.opt.parts/" + cell0 + ".ckpt";
    fs::copy_file(saved, path);
    {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(static_cast<std::streamoff>(fs::file_size(path) / 2));
      char c = 0;
      f.read(&c, 1);
      f.seekp(static_cast<std::streamoff>(fs::file_size(path) / 2));
      c = static_cast<char>(c ^ 0x10);
      f.write(&c, 1);
    }
    auto r = run_cli("run " + yaml + " --out " + dir + "/flip", "resume_flip");
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.find("is not used (its checksum does not match its contents)") != std::string::npos);
    CHECK(metric_bits(dir + "/flip/opt.h5") == metric_bits(dir + "/ref/opt.h5"));
  }
  {  // the interrupted run itself, with --fresh: the checkpoint is gone, the cell starts over
    REQUIRE(fs::exists(files[0]));
    auto r = run_cli("run " + yaml + " --out " + dir + "/run --fresh", "fresh");
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.find("resumes from its checkpoint") == std::string::npos);
    CHECK(r.err.find("not used") == std::string::npos);
    CHECK(metric_bits(dir + "/run/opt.h5") == metric_bits(dir + "/ref/opt.h5"));
  }
}

TEST_CASE("--checkpoint-every rejects a negative or non-finite interval", "[interrupt]") {
  const std::string dir = fresh_dir("interrupt_flag");
  const std::string yaml = write_file(dir + "/opt.yaml", optimize_yaml);
  for (const char* bad : {"-1", "nan", "inf"}) {
    auto r = run_cli("run " + yaml + " --out " + dir + "/out --checkpoint-every " + bad, "bad_interval");
    INFO(bad << ": " << r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find("--checkpoint-every") != std::string::npos);
    CHECK(!fs::exists(dir + "/out"));
  }
}

TEST_CASE("a task of the printed Slurm script receives Slurm's SIGTERM before its time limit and checkpoints",
          "[interrupt]") {
  // A stand-in `sbatch` does what Slurm does with the array job: writes --wrap into a /bin/sh batch script,
  // runs it, and for --signal=B:TERM@N sends SIGTERM to the batch shell only. Without `exec` in the wrapped
  // command the shell would die of it and vibench would run on, unaware.
  const std::string dir = fresh_dir("interrupt_slurm");
  const std::string yaml = write_file(dir + "/opt.yaml", optimize_yaml);
  write_file(dir + "/sbatch", R"SH(#!/bin/bash
d="$(dirname "$0")"; array=""; wrap=""; sig=""
for a in "$@"; do
  case "$a" in
    --array=*) array="${a#--array=}" ;;
    --wrap=*) wrap="${a#--wrap=}" ;;
    --signal=*) sig="${a#--signal=}" ;;
  esac
done
if [ -n "$array" ]; then
  printf '#!/bin/sh\n%s\n' "$wrap" > "$d/batch.sh"
  SLURM_ARRAY_TASK_ID=0 sh "$d/batch.sh" 2> "$d/task.err" &
  shell=$!
  sleep 1
  if [ "${sig%%:*}" = B ]; then kill -TERM "$shell"; fi
  wait "$shell" && status=0 || status=$?
  echo "signal=$sig task_status=$status" > "$d/task.log"
  echo 101
else
  echo 102
fi
)SH");
  fs::permissions(dir + "/sbatch", fs::perms::owner_all);
  // Cells of a few seconds: the signal, a second after the start, finds the first one training.
  auto script = run_cli("slurm " + yaml + " --array 1 --time 01:00:00 --signal-before 300 --set steps=1000000 --out " +
                            dir + "/out",
                        "print");
  INFO(script.out << script.err);
  REQUIRE(script.code == 0);
  CHECK(script.out.find("--signal=B:TERM@300") != std::string::npos);
  write_file(dir + "/submit.sh", script.out);
  auto submitted = run_shell("PATH=" + dir + ":$PATH bash " + dir + "/submit.sh", "submit");
  INFO(submitted.out << submitted.err);
  REQUIRE(submitted.code == 0);
  const std::string task_err = read_text(dir + "/task.err");
  INFO(task_err);
  CHECK(read_text(dir + "/task.log") == "signal=B:TERM@300 task_status=143\n");
  CHECK(task_err.find("[vibench] stopped by SIGTERM: 0 of 2 cells are saved") != std::string::npos);
  CHECK(task_err.find("1 cell(s) in flight saved a checkpoint") != std::string::npos);
  CHECK(checkpoint_files(dir + "/out/.opt.parts").size() == 1);
}

TEST_CASE("a non-training cell in flight is abandoned at once on SIGTERM and recomputed on resume", "[interrupt]") {
  // Two gradient_stats cells of about two seconds each on one thread; the signal comes while the second runs.
  const std::string dir = fresh_dir("interrupt_abandon");
  const std::string yaml = write_file(dir + "/gs.yaml", R"(name: gs
study: gradient_stats
seed: 1
replicates: 400000
fixed:
  target: {name: linear_gaussian, dim: 20}
  estimator: reparam
  samples: 2
grid:
  target.data_seed: [0, 1]
)");
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(run_cli("run " + yaml + " --out " + dir + "/ref --threads 1", "gs_ref").code == 0);
  const double cell_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 2;
  const std::string parts = dir + "/out/.gs.parts";
  const pid_t pid = spawn_vibench({"run", yaml, "--out", dir + "/out", "--threads", "1"}, dir + "/gs.err");
  REQUIRE(wait_while_running(pid, [&] { return finished_parts(parts) == 1; }, 120));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto signalled = std::chrono::steady_clock::now();
  REQUIRE(::kill(pid, SIGTERM) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  const double latency = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  const std::string err = read_text(dir + "/gs.err");
  INFO(err << "stopped " << latency << " s after the signal; a cell takes " << cell_seconds << " s");
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGTERM);
  CHECK(err.find("[vibench] stopped by SIGTERM: 1 of 2 cells are saved in " + parts +
                 "; 1 cell(s) in flight were abandoned and start over. Rerun the same command to resume.") !=
        std::string::npos);
  CHECK(latency < cell_seconds / 2);  // it did not run the cell to its end
  CHECK(checkpoint_files(parts).empty());
  auto resumed = run_cli("run " + yaml + " --out " + dir + "/out --threads 1", "gs_resume");
  INFO(resumed.err);
  REQUIRE(resumed.code == 0);
  CHECK(resumed.err.find("resuming: 1 of 2 cells already finished") != std::string::npos);
  CHECK(metric_bits(dir + "/out/gs.h5") == metric_bits(dir + "/ref/gs.h5"));
}

TEST_CASE("the first stop signal sets the stop request, a second ends the process by it, an ignored one stays ignored",
          "[interrupt]") {
  // In forked children: the handlers are process-wide, and the second signal ends the process.
  const pid_t twice = ::fork();
  REQUIRE(twice >= 0);
  if (twice == 0) {
    const StopSignals handlers;
    ::raise(SIGTERM);
    if (stop_signal_number.load() != SIGTERM) ::_exit(3);
    ::raise(SIGINT);  // the second: aborts with SIGINT's default action
    ::_exit(4);
  }
  int status = 0;
  REQUIRE(::waitpid(twice, &status, 0) == twice);
  INFO("exit status " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGINT);

  const pid_t ignoring = ::fork();
  REQUIRE(ignoring >= 0);
  if (ignoring == 0) {
    ::signal(SIGINT, SIG_IGN);  // as for a background job of a script
    const StopSignals handlers;
    ::raise(SIGINT);
    ::_exit(stop_signal_number.load() == 0 ? 0 : 5);
  }
  REQUIRE(::waitpid(ignoring, &status, 0) == ignoring);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
