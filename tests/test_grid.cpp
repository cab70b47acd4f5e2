// Grid expansion (fixed, grid, zip, scales, --set, generators, shorthand) and the malformed-YAML corpus.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "helpers.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/run/grid.hpp"

using namespace vibench;
using namespace vibench::test;

namespace {
const std::string header = R"(name: g
study: gradient_stats
seed: 3
replicates: 10
fixed:
  target: {name: quadratic, dim: 1}
  point: {mean: [1.0], sigma: [1.0]}
)";

Experiment load(const std::string& body, Overrides o = {}) { return load_experiment_text(header + body, "t.yaml", o); }
std::string str(const Cell& c, const std::string& key) { return canonical_text(c.config.at(key)); }
}  // namespace

TEST_CASE("cartesian grid: first axis slowest, defaults filled, shorthand expanded", "[grid]") {
  Experiment ex = load("grid:\n  estimator: [score_function, reparam]\n  samples: [1, 10, 100]\n");
  REQUIRE(ex.cells.size() == 6);
  CHECK(str(ex.cells[0], "estimator.name") == "score_function");
  CHECK(str(ex.cells[0], "samples") == "1");
  CHECK(str(ex.cells[1], "samples") == "10");
  CHECK(str(ex.cells[3], "estimator.name") == "reparam");
  CHECK(str(ex.cells[5], "samples") == "100");
  // defaults
  CHECK(str(ex.cells[0], "family.name") == "gaussian_diag");
  CHECK(str(ex.cells[0], "family.parameterization") == "mean_log_sigma");
  CHECK(str(ex.cells[0], "objective.name") == "elbo");
  CHECK(str(ex.cells[0], "target.k") == "0");
  CHECK(std::holds_alternative<std::int64_t>(ex.cells[0].config.at("samples")));
  std::set<std::string> ids;
  for (const Cell& c : ex.cells) ids.insert(c.id);
  CHECK(ids.size() == 6);
}

TEST_CASE("a parameter declared unless_given stays out of the config and the cell id until it is given", "[grid]") {
  // linear_gaussian's data_points/data_index and point.noise_seed came after results were stored: a file that
  // does not give them must keep its cell ids (and so its random streams) bit for bit.
  const std::string lg = "name: g\nstudy: gradient_stats\nseed: 3\nreplicates: 10\nfixed:\n"
                         "  target: {name: linear_gaussian, dim: 2}\n  estimator: reparam\n";
  Experiment plain = load_experiment_text(lg, "t.yaml", {});
  REQUIRE(plain.cells.size() == 1);
  CHECK(plain.cells[0].config.count("target.data_points") == 0);
  CHECK(plain.cells[0].config.count("target.data_index") == 0);
  CHECK(plain.cells[0].config.count("point.noise_seed") == 0);
  CHECK(plain.cells[0].config.count("target.data_seed") == 1);  // ordinary defaults are still filled in
  Experiment given = load_experiment_text(lg + "  target.data_points: 4\n  point.noise_seed: 7\n", "t.yaml", {});
  CHECK(std::get<std::int64_t>(given.cells[0].config.at("target.data_points")) == 4);
  CHECK(std::get<std::int64_t>(given.cells[0].config.at("point.noise_seed")) == 7);
  CHECK(given.cells[0].id != plain.cells[0].id);
  // The first cell of experiments/snr_vs_k_one_point.yaml (stored as snr_vs_k before these keys existed) keeps
  // the id the older binary gave it (results/snr_vs_k.h5 of commit 3a037bc).
  Experiment old = load_experiment_text(R"(name: snr_vs_k
study: gradient_stats
seed: 20261129
replicates: 10000
fixed:
  target: {name: linear_gaussian, dim: 20, likelihood: identity, data_seed: 1}
  family: {name: gaussian_affine_encoder, scale: fixed}
  point: {kind: perturbed_optimum, theta: optimum, sd: 0.01}
  objective: iwae
  samples: 1
  estimator: iwae
  objective.k: 1
)", "t.yaml", {});
  CHECK(old.cells[0].id == "a813abcd59f1074e");
}

TEST_CASE("zip axes move together and cross with grid axes", "[grid]") {
  Experiment ex = load("  estimator: reparam\ngrid:\n  target.k: [0, 1]\nzip:\n  - {target.dim: [1, 2, 3], samples: [5, 6, 7]}\n");
  REQUIRE(ex.cells.size() == 6);
  CHECK(str(ex.cells[0], "target.dim") == "1");
  CHECK(str(ex.cells[0], "samples") == "5");
  CHECK(str(ex.cells[2], "target.dim") == "3");
  CHECK(str(ex.cells[2], "samples") == "7");
  CHECK(str(ex.cells[3], "target.k") == "1");
}

TEST_CASE("range and logspace generators", "[grid]") {
  Experiment ex = load("  estimator: reparam\ngrid:\n  target.k: range(-3, 3, 0.5)\n");
  REQUIRE(ex.cells.size() == 13);
  CHECK(std::get<double>(ex.cells[0].config.at("target.k")) == -3.0);
  CHECK(std::get<double>(ex.cells[7].config.at("target.k")) == 0.5);
  CHECK(std::get<double>(ex.cells[12].config.at("target.k")) == 3.0);
  std::vector<std::string> out;
  REQUIRE(expand_generator("logspace(-9, 0, 10)", {}, "k", out));
  REQUIRE(out.size() == 10);
  CHECK(std::stod(out[0]) == 1e-9);
  CHECK(std::stod(out[9]) == 1.0);
  out.clear();
  REQUIRE(expand_generator("range(0, 1, 0.1)", {}, "k", out));
  REQUIRE(out.size() == 11);
  CHECK(std::stod(out[3]) == 0.3);  // computed as a + i·step, printed without drift
  CHECK(!expand_generator("reparam", {}, "k", out));
}

TEST_CASE("scales replace axes, broadcast into zips, and override fixed keys", "[grid]") {
  const std::string body =
      "  estimator: reparam\ngrid:\n  target.k: [0, 1]\nzip:\n  - {target.dim: [1, 2], samples: [5, 6]}\n"
      "scales:\n  paper: {replicates: 1000, target.k: [0, 1, 2], samples: 9}\n";
  Experiment quick = load(body);
  CHECK(quick.cells.size() == 4);
  CHECK(str(quick.cells[0], "replicates") == "10");
  Experiment paper = load(body, {.scale = "paper"});
  REQUIRE(paper.cells.size() == 6);
  CHECK(paper.scale == "paper");
  for (const Cell& c : paper.cells) {
    CHECK(str(c, "replicates") == "1000");
    CHECK(str(c, "samples") == "9");
  }
  CHECK_THROWS_WITH(load(body, {.scale = "huge"}), Catch::Contains("no scale named 'huge' in this file; defined: paper"));
}

TEST_CASE("--set overrides a fixed key, creates or replaces an axis, and sets the seed", "[grid]") {
  const std::string body = "  estimator: reparam\ngrid:\n  target.k: [0, 1]\n";
  Experiment a = load(body, {.sets = {"samples=4"}});
  CHECK(a.cells.size() == 2);
  CHECK(str(a.cells[1], "samples") == "4");
  Experiment b = load(body, {.sets = {"samples=1,2,3"}});
  CHECK(b.cells.size() == 6);
  Experiment c = load(body, {.sets = {"target.k=5"}});
  REQUIRE(c.cells.size() == 1);
  CHECK(str(c.cells[0], "target.k") == "5");
  Experiment d = load(body, {.sets = {"estimator=score_function,reparam", "point.mean=[2.0]", "seed=11"}});
  CHECK(d.cells.size() == 4);
  CHECK(d.seed == 11);
  CHECK(str(d.cells[0], "point.mean") == "[2]");
  CHECK(str(d.cells[0], "estimator.name") == "score_function");
  CHECK_THROWS_WITH(load(body, {.sets = {"samples"}}), Catch::Contains("--set samples: expected key=value"));
  CHECK_THROWS_WITH(load(body, {.sets = {"samples=zero"}}), Catch::Contains("--set samples=zero: key 'samples': expected an integer >= 1"));
}

TEST_CASE("cell ids depend on the resolved config only", "[grid]") {
  // Key order, shorthand vs map, and explicit defaults do not change the id; a value does.
  Experiment a = load("  estimator: reparam\n");
  Experiment b = load_experiment_text(R"(seed: 3
study: gradient_stats
name: other_name
fixed:
  point: {sigma: [1.0], mean: [1.0], kind: given}
  estimator: {name: reparam}
  target: {k: 0, dim: 1, name: quadratic}
  family: gaussian_diag
replicates: 10
)", "b.yaml", {});
  REQUIRE(a.cells.size() == 1);
  REQUIRE(b.cells.size() == 1);
  CHECK(a.cells[0].id == b.cells[0].id);
  Experiment c = load("  estimator: reparam\n", {.sets = {"target.k=0.5"}});
  CHECK(c.cells[0].id != a.cells[0].id);
  CHECK(a.cells[0].id.size() == 16);
}

TEST_CASE("incompatible cells are marked with a reason", "[grid]") {
  // Every cell of these plugins is compatible; the mechanism is exercised through the study hook.
  Experiment ex = load("grid:\n  estimator: [score_function, reparam]\n");
  for (const Cell& c : ex.cells) CHECK(!c.skip_reason);
}

TEST_CASE("malformed experiment files fail with file:line:column, key and expectation", "[grid]") {
  // Each corpus file ends with "# expect: <substring of the message>" and optionally "# at: L:C".
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(VIBENCH_TEST_DATA) + "/bad_yaml")) {
    const std::string path = entry.path().string();
    const std::string text = read_text(path);
    std::smatch m;
    REQUIRE(std::regex_search(text, m, std::regex("# expect: (.*)")));
    const std::string expect = m[1];
    std::string at;
    if (std::regex_search(text, m, std::regex("# at: (\\d+:\\d+)"))) at = m[1];
    INFO(path);
    try {
      load_experiment(path, {});
      FAIL("no error for " << path);
    } catch (const ConfigError& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find(expect) != std::string::npos);
      CHECK(msg.rfind(path, 0) == 0);  // starts with the file name
      if (!at.empty()) CHECK(msg.find(path + ":" + at + ":") == 0);
    }
    ++n;
  }
  CHECK(n >= 15);
}

TEST_CASE("a sub-key of a plugin axis applies to every plugin on the axis that declares it", "[grid]") {
  const std::string axis = "grid:\n  estimator: [score_function, reparam]\n";
  auto check = [](const Experiment& ex, const std::string& control_variate) {
    REQUIRE(ex.cells.size() == 2);
    CHECK(str(ex.cells[0], "estimator.name") == "score_function");
    CHECK(str(ex.cells[0], "estimator.control_variate.name") == control_variate);
    CHECK(str(ex.cells[1], "estimator.name") == "reparam");
    CHECK(ex.cells[1].config.count("estimator.control_variate.name") == 0);  // reparam takes no control variate
  };
  SECTION("from --set") {
    check(load(axis, {.sets = {"estimator.control_variate=moving_average"}}), "moving_average");
    check(load(axis, {.sets = {"estimator.control_variate.name=moving_average"}}), "moving_average");
  }
  SECTION("from fixed, dotted or as a map") {
    check(load_experiment_text(header + "  estimator.control_variate: optimal\n" + axis, "t.yaml", {}), "optimal");
    check(load_experiment_text(header + "  estimator: {control_variate: optimal}\n" + axis, "t.yaml", {}), "optimal");
    check(load_experiment_text(header + "  estimator: {control_variate: {name: optimal}}\n" + axis, "t.yaml", {}), "optimal");
  }
  SECTION("from a scale") {
    check(load(axis + "scales:\n  paper: {estimator.control_variate.name: leave_one_out, samples: 2}\n", {.scale = "paper"}),
          "leave_one_out");
  }
  SECTION("on a zip axis, beside the axis values' own keys, one plugin further down") {
    Experiment ex = load("zip:\n  - estimator: [score_function, reparam, {name: score_function, control_variate: {warmup: 5}}]\n"
                         "    samples: [2, 3, 4]\n",
                         {.sets = {"estimator.control_variate=moving_average"}});
    REQUIRE(ex.cells.size() == 3);
    CHECK(str(ex.cells[0], "estimator.control_variate.name") == "moving_average");
    CHECK(ex.cells[1].config.count("estimator.control_variate.name") == 0);
    CHECK(str(ex.cells[2], "estimator.control_variate.name") == "moving_average");
    CHECK(str(ex.cells[2], "estimator.control_variate.warmup") == "5");
  }
  SECTION("a grid over the nested plugin's name") {
    Experiment ex = load("grid:\n  estimator.control_variate.name: [none, moving_average, delta_method]\n"
                         "  estimator: [score_function]\n", {.sets = {"estimator.control_variate.decay=0.5"}});
    REQUIRE(ex.cells.size() == 3);
    CHECK(str(ex.cells[1], "estimator.control_variate.decay") == "0.5");
    CHECK(ex.cells[0].config.count("estimator.control_variate.decay") == 0);  // `none` takes no decay
  }
  SECTION("on another plugin slot (a family axis)") {
    Experiment ex = load("grid:\n  family: [gaussian_diag, gaussian_lowrank]\n  estimator: [reparam]\n",
                         {.sets = {"family.rank=2"}});
    REQUIRE(ex.cells.size() == 2);
    CHECK(ex.cells[0].config.count("family.rank") == 0);
    CHECK(str(ex.cells[1], "family.rank") == "2");
  }
  SECTION("an axis over the plugin's name key") {
    check(load("grid:\n  estimator.name: [score_function, reparam]\n", {.sets = {"estimator.control_variate=optimal"}}), "optimal");
  }
  SECTION("replacing a fixed plugin by an axis keeps the fixed plugin's sub-keys") {
    check(load_experiment_text(header + "  estimator: {name: score_function, control_variate: optimal}\n", "t.yaml",
                               {.sets = {"estimator=score_function,reparam"}}),
          "optimal");
  }
}

TEST_CASE("score_function's control variates keep the cell ids of the keys they replaced", "[grid]") {
  // Ids (and with them the random streams) of cells stored before control variates became plugins, under
  // estimator.baseline / decay / warmup / control_variate: the migrated experiment files must give them again.
  const std::map<std::string, std::vector<std::string>> stored = {
      {"estimator_variance", {"06135ee517fefe9e", "09cbccd785637b0d", "0b9d6bdec8629a85"}},  // moving_average, none, delta_method
      {"discrete_optimize", {"10082ef5d2eee321", "50afefebac1a5ced", "6a25472554f9989e", "a70f61dbb281029c"}}};  // + optimal, leave_one_out
  for (const auto& [name, ids] : stored) {
    Experiment ex = load_experiment(std::string(VIBENCH_SOURCE_DIR) + "/experiments/" + name + ".yaml", {});
    std::set<std::string> have;
    for (const Cell& c : ex.cells) have.insert(c.id);
    for (const std::string& id : ids) {
      INFO(name << ": cell " << id);
      CHECK(have.count(id) == 1);
    }
  }
  // The id config spells a legacy control variate with the old keys; a newer one keeps its own keys.
  Experiment ex = load("grid:\n  estimator: [{name: score_function, control_variate: {name: moving_average, decay: 0.5}}, "
                       "{name: score_function, control_variate: optimal_scalar}]\n");
  REQUIRE(ex.cells.size() == 2);
  const Config old_keys = cell_id_config(ex.cells[0].config, Registry::instance().find("study", "gradient_stats")->params);
  CHECK(old_keys.count("estimator.control_variate.name") == 0);
  CHECK(canonical_text(old_keys.at("estimator.baseline")) == "moving_average");
  CHECK(canonical_text(old_keys.at("estimator.decay")) == "0.5");
  CHECK(canonical_text(old_keys.at("estimator.warmup")) == "100");
  CHECK(canonical_text(old_keys.at("estimator.control_variate")) == "none");
  CHECK(ex.cells[0].key == cell_hash(old_keys, "gradient_stats"));
  CHECK(ex.cells[1].key == cell_hash(ex.cells[1].config, "gradient_stats"));
  CHECK(ex.cells[0].config.count("estimator.control_variate.decay") == 1);  // what is stored keeps the new spelling
}

TEST_CASE("an estimator that takes no control variate rejects one", "[grid]") {
  try {
    load("  estimator: {name: reparam, control_variate: delta_method}\n");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.key() == "estimator.control_variate");
    CHECK(e.where().str() == "t.yaml:8:30");
    CHECK(e.message().find("unknown key") != std::string::npos);
  }
}

TEST_CASE("a sub-key of a plugin axis is validated, and one no plugin on the axis takes is an error", "[grid]") {
  const std::string axis = "grid:\n  estimator: [score_function, reparam]\n";
  auto error = [&](const std::string& text, Overrides o) -> ConfigError {
    try {
      load_experiment_text(text, "t.yaml", o);
    } catch (const ConfigError& e) {
      return e;
    }
    FAIL("no error");
    throw;
  };
  ConfigError bogus = error(header + axis, {.sets = {"estimator.control_variate=bogus"}});
  CHECK(bogus.where().file == "--set estimator.control_variate=bogus");
  CHECK(bogus.key() == "estimator.control_variate");
  CHECK(bogus.message().find("unknown control_variate 'bogus'; registered: delta_method, leave_one_out") != std::string::npos);

  ConfigError unknown = error(header + axis, {.sets = {"estimator.nonsense=3"}});
  CHECK(unknown.where().file == "--set estimator.nonsense=3");
  CHECK(unknown.key() == "estimator.nonsense");
  CHECK(unknown.message().find("no plugin on the axis 'estimator' (score_function, reparam) takes this key") != std::string::npos);

  ConfigError fixed = error(header + "  estimator.control_variat: none\n" + axis, {});
  CHECK(fixed.where().str() == "t.yaml:8:3");
  CHECK(fixed.message().find("did you mean 'control_variate'?") != std::string::npos);

  // An axis value that is a map merges with the sub-keys given outside it; the same key on both sides is a
  // conflict, not a silent choice.
  Experiment merged = load_experiment_text(
      header + "  estimator.control_variate: moving_average\ngrid:\n  estimator: [{name: score_function, control_variate: {warmup: 3}}]\n",
      "t.yaml", {});
  CHECK(str(merged.cells[0], "estimator.control_variate.name") == "moving_average");
  CHECK(str(merged.cells[0], "estimator.control_variate.warmup") == "3");
  ConfigError conflict = error(header + "grid:\n  estimator: [{name: score_function, control_variate: none}, reparam]\n",
                               {.sets = {"estimator.control_variate=optimal"}});
  CHECK(conflict.where().str() == "t.yaml:9:38");
  CHECK(conflict.message().find("given both by this axis value and at --set estimator.control_variate=optimal") != std::string::npos);

  // Several values of a sub-key on an axis whose other plugins do not take it give those plugins' cells twice.
  ConfigError twice = error(header + axis, {.sets = {"estimator.control_variate=none,optimal"}});
  CHECK(twice.where().file == "--set estimator.control_variate=none,optimal");
  CHECK(twice.message().find("estimator 'reparam' does not take this key") != std::string::npos);
}

TEST_CASE("an axis that repeats a value is blamed where it was written", "[grid]") {
  try {
    load("  estimator: reparam\n", {.sets = {"target.dim=2,2"}});
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.where().file == "--set target.dim=2,2");
    CHECK(e.key() == "target.dim");
    CHECK(e.message().find("values '2' and '2' of this axis give the same cell") != std::string::npos);
  }
  try {
    load("  estimator: reparam\ngrid:\n  samples: [1, 2]\n  target.dim: [3, 3]\n");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.where().str() == "t.yaml:11:3");
    CHECK(e.key() == "target.dim");
  }
}

TEST_CASE("a scale gives a zip a new length when it gives each of its keys that many values or one", "[grid]") {
  const std::string body = "  estimator: reparam\nzip:\n  - {samples: [1, 2], replicates: [10, 20]}\n";
  Experiment ex = load(body + "scales:\n  paper: {samples: [1, 2, 3], replicates: [10, 20, 30]}\n", {.scale = "paper"});
  REQUIRE(ex.cells.size() == 3);
  CHECK(str(ex.cells[2], "samples") == "3");
  CHECK(str(ex.cells[2], "replicates") == "30");
  Experiment broadcast = load(body + "scales:\n  paper: {samples: [1, 2, 3], replicates: 50}\n", {.scale = "paper"});
  REQUIRE(broadcast.cells.size() == 3);
  CHECK(str(broadcast.cells[1], "replicates") == "50");
  CHECK_THROWS_WITH(load(body + "scales:\n  paper: {samples: [1, 2, 3]}\n", {.scale = "paper"}),
                    Catch::Contains("this scale gives the zip of 'samples', 'replicates' 3 values; give 'replicates' 3 values"));
}
