// Code fingerprints (DESIGN §6, issue 12 items 8 and 6): every cell stores a build-time hash of the code that
// computed it; resume recomputes cells whose code changed (or keeps them, marked, with --reuse-stale);
// --dry-run says per cell whether it is stored, stale or to run; git_dirty counts untracked sources.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

#include "helpers.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/run/code_fingerprint.hpp"
#include "vibench/run/source_hashes.hpp"

using namespace vibench;
using namespace vibench::test;
namespace fs = std::filesystem;

namespace {

bool has_source(const CodeFingerprint& fp, const std::string& source) {
  return std::any_of(fp.sources.begin(), fp.sources.end(), [&](const auto& s) { return s.first == source; });
}

// 2 estimators × 2 values of k: 4 tiny cells.
const char* grid_yaml = R"(name: fp
study: gradient_stats
seed: 3
replicates: 200
fixed:
  target: {name: quadratic, dim: 1}
  family: {name: gaussian_diag, parameterization: mean_sigma}
  point: {mean: [1.0], sigma: [1.0]}
  objective: expectation
  samples: 2
grid:
  estimator: [score_function, reparam]
  target.k: [1.0, 2.0]
)";

struct StoredCell {
  std::string estimator, fingerprint;
  bool stale_attr = false;
};

std::map<std::string, StoredCell> stored_cells(const std::string& path) {
  std::map<std::string, StoredCell> out;
  auto lock = h5::hdf5_lock();
  h5::Handle f = h5::open_file_readonly(path);
  h5::Handle cells = h5::open_group(f, "cells");
  for (const auto& id : h5::member_names(cells)) {
    h5::Handle g = h5::open_group(cells, id);
    out[id] = {h5::read_attr_string(g, "estimator.name"),
               h5::has_attr(g, "code_fingerprint") ? h5::read_attr_string(g, "code_fingerprint") : "",
               h5::has_attr(g, "stale")};
  }
  return out;
}

// The /index column `stale` by cell id (via h5py: what pandas readers see).
std::string index_stale_column(const std::string& path) {
  auto r = run_shell("/usr/bin/python3 -c \"import h5py; t = h5py.File('" + path +
                         "', 'r')['index'][()]; print(' '.join(f'{i.decode()}={s}/{len(c)}' for i, s, c in "
                         "sorted(zip(t['id'], t['stale'], t['code_fingerprint']))))\"",
                     "fp_index");
  REQUIRE(r.code == 0);
  return r.out;
}

std::string with_hashes(const std::string& hashes, const std::string& args) {
  return std::string(test_source_hashes_env) + "='" + hashes + "' " + VIBENCH_BINARY + " " + args;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// Every file under `dir` with its size and modification time: a dry run must leave this unchanged.
std::string tree_state(const std::string& dir) {
  std::string s;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    s += e.path().string() + " " + std::to_string(e.is_regular_file() ? e.file_size() : 0) + " " +
         std::to_string(e.last_write_time().time_since_epoch().count()) + "\n";
  return s;
}

}  // namespace

TEST_CASE("every registered plugin is hashed at build time under the file that registers it", "[registry]") {
  std::map<std::string, int> plugin_sources;
  for (const SourceGroupHash& e : build_source_hashes()) {
    CHECK(std::string(e.hash).size() == 16);
    if (std::string(e.kind) == "plugin") plugin_sources[e.source] = 0;
  }
  REQUIRE(std::count_if(build_source_hashes().begin(), build_source_hashes().end(),
                        [](const SourceGroupHash& e) { return std::string(e.kind) == "framework"; }) >= 1);
  for (const PluginInfo* p : Registry::instance().list()) {
    INFO(p->kind << " " << p->name << " registered in " << p->source_file);
    int matches = 0;
    for (auto& [source, uses] : plugin_sources)
      if (p->source_file.ends_with("/" + source) || p->source_file == source) {
        ++matches;
        ++uses;
      }
    CHECK(matches == 1);
  }
  for (const auto& [source, uses] : plugin_sources) {
    INFO(source);
    CHECK(uses >= 1);  // every hashed plugin file registers something
  }
}

TEST_CASE("a cell's code fingerprint covers the framework, its study and exactly the plugins it names", "[unit]") {
  Experiment ex = load_experiment_text(grid_yaml, "fp.yaml", {});
  REQUIRE(ex.cells.size() == 4);
  const CodeFingerprint sf = cell_code_fingerprint(ex.study, ex.cells[0].config);  // score_function, k = 1
  const CodeFingerprint sf2 = cell_code_fingerprint(ex.study, ex.cells[1].config);  // score_function, k = 2
  const CodeFingerprint rp = cell_code_fingerprint(ex.study, ex.cells[2].config);   // reparam, k = 1
  REQUIRE(std::get<std::string>(ex.cells[2].config.at("estimator.name")) == "reparam");
  CHECK(sf.value.size() == 16);
  CHECK(sf.value == sf2.value);  // same code, other numbers in the config
  CHECK(sf.value != rp.value);
  CHECK(changed_sources(sf.sources_text(), rp) ==  // with score_function's control variate, a plugin of its own
        std::vector<std::string>{"estimators/control_variates/none.cpp", "estimators/gradients/reparam.cpp",
                                 "estimators/gradients/score_function.cpp"});
  CHECK(changed_sources(rp.sources_text(), rp).empty());

  // Only the plugin names matter; the objective slot names the objective iwae, not the estimator of that name.
  const CodeFingerprint iw = cell_code_fingerprint(
      "gradient_stats", {{"target.name", std::string("quadratic")}, {"family.name", std::string("gaussian_diag")},
                         {"objective.name", std::string("iwae")}, {"estimator.name", std::string("reparam")}});
  // Every framework layer is a source group of its own (each cell links all of them).
  for (const char* s : {"framework/math", "framework/vi", "framework/nn", "framework/mi", "framework/data",
                        "framework/plugin", "framework/run", "estimators/studies/gradient_stats.cpp",
                        "estimators/targets/quadratic.cpp", "estimators/families/gaussian_diag.cpp",
                        "estimators/objectives/iwae.cpp", "estimators/gradients/reparam.cpp"}) {
    INFO(s);
    CHECK(has_source(iw, s));
  }
  CHECK(has_source(iw, "libm"));  // the C library's elementary functions, by what they compute (libm_fingerprint.hpp)
  CHECK(iw.sources.size() == 13);  // not estimators/gradients/iwae.cpp, nor any other plugin

  // A slot's kind comes from the study's declaration: mi_estimation's `target` is an mi_task.
  const CodeFingerprint mi = cell_code_fingerprint(
      "mi_estimation", {{"target.name", std::string("correlated_gaussian")}, {"bound.name", std::string("nwj")},
                        {"critic.name", std::string("oracle")}});
  for (const char* s : {"estimators/studies/mi_estimation.cpp", "estimators/mi_tasks/correlated_gaussian.cpp",
                        "estimators/bounds/nwj.cpp", "estimators/critics/oracle.cpp"}) {
    INFO(s);
    CHECK(has_source(mi, s));
  }
}

TEST_CASE("an edited plugin recomputes exactly its cells; --reuse-stale keeps them marked; dry-run says which",
          "[cli]") {
  const std::string dir = fresh_dir("fingerprint");
  const std::string yaml = write_file(dir + "/fp.yaml", grid_yaml);
  const std::string out = dir + "/out", results = out + "/fp.h5";
  auto first = run_cli("run " + yaml + " --out " + out, "fp_first");
  REQUIRE(first.code == 0);
  auto before = stored_cells(results);
  const auto bits_before = metric_bits(results);
  REQUIRE(before.size() == 4);
  std::map<std::string, std::set<std::string>> fingerprints_by_estimator;
  for (const auto& [id, c] : before) {
    CHECK(std::regex_match(c.fingerprint, std::regex("[0-9a-f]{16}")));
    fingerprints_by_estimator[c.estimator].insert(c.fingerprint);
  }
  CHECK(fingerprints_by_estimator["reparam"].size() == 1);
  CHECK(fingerprints_by_estimator["reparam"] != fingerprints_by_estimator["score_function"]);
  CHECK(index_stale_column(results).find("=0/16") != std::string::npos);

  // Unchanged code: nothing to do, and dry-run says every cell is stored.
  auto again = run_cli("run " + yaml + " --out " + out, "fp_again");
  CHECK(again.err.find("nothing to do") != std::string::npos);
  auto dry_same = run_cli("run " + yaml + " --out " + out + " --dry-run", "fp_dry_same");
  REQUIRE(dry_same.code == 0);
  CHECK(count_of(dry_same.out, "  stored  ") == 4);
  CHECK(dry_same.out.find("0 to run, 4 stored, 0 stale (to be recomputed), 0 skipped") != std::string::npos);

  // "Edit" reparam.cpp (the test hook stands for an edited, rebuilt source). The dry run reports, writes nothing.
  const std::string edited = "estimators/gradients/reparam.cpp=00000000deadbeef";
  const std::string state = tree_state(out);
  auto dry = run_shell(with_hashes(edited, "run " + yaml + " --out " + out + " --dry-run --set target.k=1.0,2.0,3.0"),
                       "fp_dry");
  INFO(dry.out << dry.err);
  REQUIRE(dry.code == 0);
  CHECK(count_of(dry.out, "  stale   ") == 2);
  CHECK(count_of(dry.out, "  stored  ") == 2);
  CHECK(std::regex_search(dry.out, std::regex("stale +estimator.name=reparam target.k=1")));
  CHECK(std::regex_search(dry.out, std::regex("run +estimator.name=reparam target.k=3")));
  CHECK(dry.out.find("2 to run, 2 stored, 2 stale (to be recomputed), 0 skipped") != std::string::npos);
  CHECK(dry.err.find("changed since: estimators/gradients/reparam.cpp") != std::string::npos);
  CHECK(tree_state(out) == state);
  auto dry_fresh = run_shell(with_hashes(edited, "run " + yaml + " --out " + out + " --dry-run --fresh"), "fp_dry_fresh");
  CHECK(dry_fresh.out.find("4 to run, 0 stored, 0 stale (to be recomputed), 0 skipped") != std::string::npos);
  CHECK(tree_state(out) == state);

  // The rerun recomputes the two reparam cells only, and says how many and why.
  auto rerun = run_shell(with_hashes(edited, "run " + yaml + " --out " + out), "fp_rerun");
  INFO(rerun.err);
  REQUIRE(rerun.code == 0);
  CHECK(rerun.err.find("2 cell(s) of " + results + " are stale: computed from the same config by other code (changed "
                       "since: estimators/gradients/reparam.cpp); they are recomputed") != std::string::npos);
  CHECK(rerun.err.find("resuming: 2 of 4 cells already finished") != std::string::npos);
  CHECK(count_of(rerun.err, " done in ") == 2);
  auto after = stored_cells(results);
  for (const auto& [id, c] : after) {
    INFO(c.estimator);
    CHECK((c.fingerprint != before[id].fingerprint) == (c.estimator == "reparam"));
    CHECK(!c.stale_attr);
  }
  CHECK(metric_bits(results) == bits_before);  // the hook changes hashes, not code: same numbers

  // --reuse-stale keeps cells whose code changed and marks them (attribute and /index column).
  const std::string edited_sf = edited + ",estimators/gradients/score_function.cpp=00000000feedface";
  auto reuse = run_shell(with_hashes(edited_sf, "run " + yaml + " --out " + out + " --reuse-stale"), "fp_reuse");
  INFO(reuse.err);
  REQUIRE(reuse.code == 0);
  CHECK(reuse.err.find("2 cell(s) of " + results + " are stale") != std::string::npos);
  CHECK(reuse.err.find("kept as --reuse-stale asks, and marked stale") != std::string::npos);
  CHECK(count_of(reuse.err, " done in ") == 0);
  auto kept = stored_cells(results);
  for (const auto& [id, c] : kept) {
    INFO(c.estimator);
    CHECK(c.stale_attr == (c.estimator == "score_function"));
    CHECK(c.fingerprint == after[id].fingerprint);  // kept as computed
  }
  const std::string column = index_stale_column(results);
  CHECK(count_of(column, "=1/16") == 2);
  CHECK(count_of(column, "=0/16") == 2);
  auto dry_reuse = run_shell(with_hashes(edited_sf, "run " + yaml + " --out " + out + " --dry-run --reuse-stale"),
                             "fp_dry_reuse");
  CHECK(dry_reuse.out.find("0 to run, 2 stored, 2 stale (kept: --reuse-stale), 0 skipped") != std::string::npos);
  auto reuse_again = run_shell(with_hashes(edited_sf, "run " + yaml + " --out " + out + " --reuse-stale"), "fp_reuse2");
  CHECK(reuse_again.err.find("nothing to do") != std::string::npos);  // already marked

  // inspect shows the stored fingerprint against this binary's, per cell and for the table.
  const std::string sf_id = std::find_if(kept.begin(), kept.end(), [](const auto& kv) {
                              return kv.second.estimator == "score_function";
                            })->first;
  auto cell = run_shell(with_hashes(edited_sf, "inspect " + results + " --cell " + sf_id), "fp_inspect_cell");
  CHECK(cell.out.find("code fingerprint " + kept[sf_id].fingerprint + ": this binary's is ") != std::string::npos);
  CHECK(cell.out.find("(stale; changed since: estimators/gradients/score_function.cpp)") != std::string::npos);
  auto table = run_shell(with_hashes(edited_sf, "inspect " + results), "fp_inspect");
  CHECK(table.out.find("code fingerprints: 2 distinct") != std::string::npos);
  CHECK(table.out.find("2 of 4 cells differ from this binary's (stale)") != std::string::npos);

  // score_function.cpp "reverted": its kept cells match again and lose their mark; nothing is recomputed.
  auto reverted = run_shell(with_hashes(edited, "run " + yaml + " --out " + out), "fp_reverted");
  INFO(reverted.err);
  REQUIRE(reverted.code == 0);
  CHECK(count_of(reverted.err, " done in ") == 0);
  CHECK(reverted.err.find("nothing to do") == std::string::npos);
  for (const auto& [id, c] : stored_cells(results)) CHECK(!c.stale_attr);
  CHECK(count_of(index_stale_column(results), "=0/16") == 4);
}

// glibc chooses its exp, log, sin, … for the CPU (an FMA build where the CPU has AVX2 and FMA); the builds round
// differently, so cells computed under the other one are not what this machine computes. The tunable below makes
// glibc choose as on a CPU without those features; vibench's own kernels are unaffected (they read CPUID).
TEST_CASE("cells computed under a libm that rounds differently are stale, say libm changed, and agree within round-off or standard errors", "[cli]") {
  const std::string dir = fresh_dir("fp_libm");
  const std::string yaml = write_file(dir + "/fp.yaml", grid_yaml);
  const std::string out = dir + "/out";
  REQUIRE(run_cli("run " + yaml + " --out " + out, "fp_libm_first").code == 0);
  const std::string baseline_libm = "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F ";
  auto dry = run_shell(baseline_libm + VIBENCH_BINARY + " run " + yaml + " --out " + out + " --dry-run", "fp_libm_dry");
  INFO(dry.out << dry.err);
  REQUIRE(dry.code == 0);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {  // glibc's choice changes
    CHECK(dry.out.find("0 to run, 0 stored, 4 stale (to be recomputed), 0 skipped") != std::string::npos);
    CHECK(dry.err.find("changed since: libm") != std::string::npos);
  } else {  // nothing to change: this CPU already runs the baseline build
    CHECK(dry.out.find("0 to run, 4 stored, 0 stale (to be recomputed), 0 skipped") != std::string::npos);
  }

  // The difference between the builds is bounded: IWAE-100 gradients (5·10⁵ log-weights a cell, each through exp) computed under
  // each differ only by round-off or within their standard errors (vibench compare exits 0: no cell disagrees).
  const std::string iwae_yaml = write_file(dir + "/iwae.yaml", R"(name: libm_iwae
study: gradient_stats
seed: 5
replicates: 5000
fixed:
  target: {name: linear_gaussian, dim: 20, data_seed: 1}
  family: gaussian_diag
  objective: {name: iwae, k: 100}
grid:
  estimator: [iwae, dreg]
)");
  REQUIRE(run_cli("run " + iwae_yaml + " --out " + dir + "/fma", "fp_libm_a").code == 0);
  REQUIRE(run_shell(baseline_libm + VIBENCH_BINARY + " run " + iwae_yaml + " --out " + dir + "/baseline", "fp_libm_b").code == 0);
  const std::string a = dir + "/fma/libm_iwae.h5", b = dir + "/baseline/libm_iwae.h5";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    CHECK(metric_bits(a) != metric_bits(b));  // measured 2026-12-04: 6 of 1,014 values differ
  const auto cmp = run_cli("compare " + a + " " + b, "fp_libm_compare");
  INFO(cmp.out << cmp.err);
  CHECK(cmp.code == 0);
  CHECK(cmp.out.find("0 disagree") != std::string::npos);
}

TEST_CASE("cells stored before code fingerprints existed count as stale", "[cli]") {
  const std::string dir = fresh_dir("fingerprint_old");
  const std::string yaml = write_file(dir + "/fp.yaml", grid_yaml);
  REQUIRE(run_cli("run " + yaml + " --out " + dir, "fpo_first").code == 0);
  auto strip = run_shell("/usr/bin/python3 -c \"import h5py; f = h5py.File('" + dir +
                             "/fp.h5', 'a'); [g.attrs.__delitem__(a) for g in f['cells'].values() for a in "
                             "('code_fingerprint', 'code_sources')]; del f['resume']\"",  // files of that age had no /resume either
                         "fpo_strip");
  REQUIRE(strip.code == 0);
  reseal(dir + "/fp.h5");
  auto dry = run_cli("run " + yaml + " --out " + dir + " --dry-run", "fpo_dry");
  CHECK(dry.out.find("0 to run, 0 stored, 4 stale (to be recomputed), 0 skipped") != std::string::npos);
  auto r = run_cli("run " + yaml + " --out " + dir, "fpo_rerun");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("4 cell(s) of " + dir + "/fp.h5 are stale: computed from the same config by other code (4 written "
                   "before code fingerprints existed); they are recomputed") != std::string::npos);
  CHECK(count_of(r.err, " done in ") == 4);
  for (const auto& [id, c] : stored_cells(dir + "/fp.h5")) CHECK(c.fingerprint.size() == 16);
}

TEST_CASE("the test hook refuses a source it does not hash", "[cli]") {
  const std::string dir = fresh_dir("fingerprint_hook");
  const std::string yaml = write_file(dir + "/fp.yaml", grid_yaml);
  REQUIRE(run_cli("run " + yaml + " --out " + dir, "fph_first").code == 0);
  auto r = run_shell(with_hashes("estimators/gradients/reparm.cpp=0", "run " + yaml + " --out " + dir), "fph");
  CHECK(r.code == 2);
  CHECK(r.err.find("'estimators/gradients/reparm.cpp=0' is not <hashed source>=<hash>") != std::string::npos);
}

TEST_CASE("git_dirty counts untracked, non-ignored files but not ignored ones or committed outputs", "[cli]") {
  const std::string repo = fresh_dir("git_state");
  fs::create_directories(repo + "/framework/run/src");
  fs::copy_file(std::string(VIBENCH_SOURCE_DIR) + "/framework/run/src/git_state.cpp.in", repo + "/framework/run/src/git_state.cpp.in");
  write_file(repo + "/.gitignore", "/build/\n");
  const std::string git = "git -C " + repo + " -c user.name=t -c user.email=t@t ";
  REQUIRE(run_shell(git + "init -q && " + git + "add -A && " + git + "commit -q -m init", "git_init").code == 0);
  auto dirty = [&] {
    auto r = run_shell("cmake -DSRC=" + repo + " -DOUT=" + repo + "/build/git_state.cpp -P " + VIBENCH_SOURCE_DIR +
                           "/cmake/git_state.cmake",
                       "git_state");
    REQUIRE(r.code == 0);
    std::smatch m;
    const std::string text = read_text(repo + "/build/git_state.cpp");
    REQUIRE(std::regex_search(text, m, std::regex("dirty = (-?[0-9]+);")));
    return std::stoi(m[1]);
  };
  CHECK(dirty() == 0);  // the generated file itself is under the ignored build/
  fs::create_directories(repo + "/results");
  write_file(repo + "/results/new.h5", "x");  // a committed output, not code
  CHECK(dirty() == 0);
  fs::create_directories(repo + "/estimators/targets");
  write_file(repo + "/estimators/targets/new_target.cpp", "// a new plugin, not yet added to git\n");
  CHECK(dirty() == 1);
}

TEST_CASE("merge takes stale parts as missing cells unless --reuse-stale accepts them (marked)", "[cli]") {
  const std::string dir = fresh_dir("fingerprint_merge");
  const std::string yaml = write_file(dir + "/fp.yaml", grid_yaml);
  const std::string edited = "estimators/gradients/reparam.cpp=00000000deadbeef";
  auto run_shards = [&] {  // built with another reparam.cpp than this binary's
    for (const char* shard : {"0/2", "1/2"})
      REQUIRE(run_shell(with_hashes(edited, "run " + yaml + " --out " + dir + " --shard " + shard), "fpm_shard").code == 0);
  };
  run_shards();
  auto plain = run_cli("merge " + yaml + " --out " + dir, "fpm_plain");
  INFO(plain.err);
  CHECK(plain.code == 1);
  CHECK(plain.err.find("2 cell(s) of the part files in " + dir + "/.fp.parts are stale") != std::string::npos);
  CHECK(plain.err.find("2 of 4 cells are not finished yet") != std::string::npos);
  CHECK(!fs::exists(dir + "/fp.h5"));

  run_shards();
  auto reuse = run_cli("merge " + yaml + " --out " + dir + " --reuse-stale", "fpm_reuse");
  INFO(reuse.err);
  REQUIRE(reuse.code == 0);
  CHECK(reuse.err.find("kept as --reuse-stale asks") != std::string::npos);
  std::size_t marked = 0;
  for (const auto& [id, c] : stored_cells(dir + "/fp.h5")) {
    CHECK(c.stale_attr == (c.estimator == "reparam"));
    marked += c.stale_attr;
  }
  CHECK(marked == 2);
}

TEST_CASE("a stale part file does not hide a current copy of its cell in the final file", "[cli]") {
  const std::string dir = fresh_dir("fingerprint_part");
  const std::string yaml = write_file(dir + "/fp.yaml", grid_yaml);
  REQUIRE(run_cli("run " + yaml + " --out " + dir, "fpp_first").code == 0);
  // A shard of another build leaves parts for the reparam cells beside the current final file.
  REQUIRE(run_shell(with_hashes("estimators/gradients/reparam.cpp=00000000deadbeef",
                                "run " + yaml + " --out " + dir + " --set estimator=reparam --shard 0/2"),
                    "fpp_shard")
              .code == 0);
  REQUIRE(fs::exists(dir + "/.fp.parts"));
  auto dry = run_cli("run " + yaml + " --out " + dir + " --dry-run", "fpp_dry");
  INFO(dry.out << dry.err);
  CHECK(dry.out.find("0 to run, 4 stored, 0 stale (to be recomputed), 0 skipped") != std::string::npos);
  auto r = run_cli("run " + yaml + " --out " + dir, "fpp_run");
  INFO(r.err);
  CHECK(count_of(r.err, " done in ") == 0);
  for (const auto& [id, c] : stored_cells(dir + "/fp.h5")) CHECK(!c.stale_attr);
}
