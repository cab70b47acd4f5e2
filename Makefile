# vibench — see README.md. Every target that needs the build installs Debian packages (deps) and builds first.
SHELL := /bin/bash
BUILD ?= build
JOBS ?= $(shell nproc)
PY := /usr/bin/python3
SCALE ?=
# Quick-scale results go to results/, other scales to results/<scale>/.
OUT ?= $(if $(SCALE),results/$(SCALE),results)
RESULTS ?= results
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

DEB_PACKAGES := cmake g++ make git libtbb-dev libyaml-cpp-dev libhdf5-dev libcli11-dev libfmt-dev \
  libxxhash-dev librandom123-dev libxtensor-dev libboost-math-dev catch2 libbenchmark-dev \
  libopenblas-pthread-dev zlib1g-dev dataset-fashion-mnist \
  python3-h5py python3-numpy python3-matplotlib python3-pandas python3-sklearn python3-jinja2 python3-pytest \
  python3-pip python3-setuptools openmpi-bin
# The Python package in python/ (reader, checks, compare, report) is used from the source tree.
export PYTHONPATH := $(CURDIR)/python$(if $(PYTHONPATH),:$(PYTHONPATH))

.PHONY: deps build test test-sanitize test-cluster fuzz experiments figures bench reproduce schema clean

# $(call install_debs,PACKAGES): apt-get install those of PACKAGES not yet installed.
define install_debs
	@missing=$$(for p in $(1); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing" $$missing; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	else echo "deps: all present"; fi
endef

deps:
	$(call install_debs,$(DEB_PACKAGES))

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j 2

# The whole suite under AddressSanitizer (with leak checks) and UndefinedBehaviorSanitizer, in its own build tree.
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
test-sanitize: deps
	cmake -S . -B $(BUILD)-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIBENCH_BENCH=OFF \
	  -DCMAKE_CXX_FLAGS="$(SAN_FLAGS)" -DCMAKE_EXE_LINKER_FLAGS="$(SAN_FLAGS)"
	cmake --build $(BUILD)-sanitize -j $(JOBS)
	cd $(BUILD)-sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j 2

# The results layout for the Python reader (python/vibench_results/schema.json), from the C++ definition
# (results_layout.hpp); commit it after a layout change (the `python` tests fail while it differs).
schema: build
	./$(BUILD)/vibench schema --json > python/vibench_results/schema.json

experiments: build
	@set -e; for f in experiments/*.yaml; do \
	  echo "== $$f"; ./$(BUILD)/vibench run $$f --out $(OUT) $(if $(SCALE),--scale $(SCALE)); done

# Every plots/*.py is a figure script (the shared reader is the vibench_results package in python/).
FIGURE_SCRIPTS := $(wildcard plots/*.py)

# results/ renders into plots/figures/; another results directory (e.g. results/paper) into
# plots/figures/<its name>/, skipping the experiments it holds no results for (paper-scale runs are partial).
FIGURES ?= $(if $(filter results results/,$(RESULTS)),plots/figures,plots/figures/$(notdir $(patsubst %/,%,$(RESULTS))))
figures: deps
	@set -e; for p in $(FIGURE_SCRIPTS); do \
	  name=$$(basename $$p .py); \
	  if [ "$(FIGURES)" != plots/figures ] && [ ! -f $(RESULTS)/$$name.h5 ]; then \
	    echo "== $$p: no $(RESULTS)/$$name.h5, skipped"; continue; fi; \
	  echo "== $$p"; $(PY) $$p --results $(RESULTS) --out $(FIGURES); done

# Recompute every experiment from scratch into $(REPRODUCE_DIR) at the scale its committed file records and
# compare each with results/ (vibench compare); one table, exit 1 on any disagreement.
REPRODUCE_DIR ?= $(BUILD)/reproduce
reproduce: build
	$(PY) -m vibench_results.reproduce --vibench $(BUILD)/vibench --results $(RESULTS) --scratch $(REPRODUCE_DIR)

# A static HTML site in report/ from results/ and the figure outputs (PNG, PDF, <name>.checks.json) that
# `make figures` wrote into plots/figures/ (results/<sub>/ with plots/figures/<sub>/, e.g. the paper-scale runs).
.PHONY: report test-report
report: deps
	$(PY) -m vibench_results.report --results $(RESULTS) --figures $(FIGURES) --out report

# Opens every report page in headless Chromium (screenshots in build/report-screenshots/) and fails on a
# missing image, a console error, a dead or external link, a check shown otherwise than the figure script
# recorded it, or a table that does not sort; then the checker's self-test (it must find a broken report).
REPORT_PACKAGES := chromium chromium-driver python3-selenium
test-report: deps
	$(call install_debs,$(REPORT_PACKAGES))
	$(PY) tests/report/check_report_browser.py --require-checks --results $(RESULTS) --figures $(FIGURES)
	$(PY) tests/report/check_report_browser.py --self-test --results $(RESULTS) --figures $(FIGURES)

# The PyTorch baseline is needed by `make bench` only.
BENCH_PACKAGES := python3-torch

bench: build
	$(call install_debs,$(BENCH_PACKAGES))
	$(PY) bench/run_bench.py --build $(BUILD)

# A real single-node Slurm cluster (slurmctld + slurmd + munged on 127.0.0.1, started and stopped by the
# test, as root): the script `vibench slurm` prints must reproduce a single-process run bit for bit.
CLUSTER_PACKAGES := slurm-wlm munge
test-cluster: build
	$(call install_debs,$(CLUSTER_PACKAGES))
	bash tests/cluster/slurm_cluster_test.sh $(BUILD)/vibench

# libFuzzer on the experiment-file parser/validator and the results-file reader, built with clang and
# ASan + UBSan in build-fuzz/; each target runs FUZZ_SECONDS from the committed corpus in fuzz/corpus/ (new
# inputs go to a scratch copy). Any crash, leak, sanitizer report, timeout or out-of-memory fails.
FUZZ_PACKAGES := clang libclang-rt-14-dev
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_experiment_yaml fuzz_results_file
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
fuzz: deps
	$(call install_debs,$(FUZZ_PACKAGES))
	cmake -S . -B $(BUILD)-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_CXX_COMPILER=clang++ -DVIBENCH_FUZZ=ON -DBUILD_TESTING=OFF -DVIBENCH_BENCH=OFF \
	  -DCMAKE_CXX_FLAGS="$(FUZZ_FLAGS)" -DCMAKE_C_FLAGS="$(FUZZ_FLAGS)"
	cmake --build $(BUILD)-fuzz -j $(JOBS) --target $(FUZZ_TARGETS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	  scratch=$$(mktemp -d); \
	  echo "== $$t: $(FUZZ_SECONDS) s from fuzz/corpus/$$t"; \
	  ( cd $$scratch && $(CURDIR)/$(BUILD)-fuzz/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 $$scratch $(CURDIR)/fuzz/corpus/$$t ) \
	    || { echo "fuzz: $$t failed; the crashing input is in $$scratch"; exit 1; }; \
	  rm -rf $$scratch; done

clean:
	rm -rf $(BUILD) $(BUILD)-sanitize $(BUILD)-fuzz
