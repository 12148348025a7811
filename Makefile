# One command to run, one to test. Everything installs into .venv from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-unit lint fmt bench bench-carve chaos fuzz migrate clean chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/fleet serve $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy fleet_core fleet_adapters fleet_http fleet_osquery
	$(BIN)/lint-imports

# The console's browser tests (tests/browser) drive the distribution's Chromium, never a downloaded one.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@test -x $(CHROMIUM) || { echo "$(CHROMIUM) is missing: install the chromium package"; exit 1; }

test: lint chromium
	CONSOLE_CHROMIUM=$(CHROMIUM) $(BIN)/pytest -q $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/pytest -q -m "not postgres and not redis and not e2e" $(PYTEST_ARGS)

migrate: $(STAMP)
	$(BIN)/fleet prepare db

# The agent hot-path benchmark (not a test: never fails on a target). Rewrites docs/performance.md
# below its marker line; e.g. `make bench HOSTS=2000 DURATION=180 WORKERS=1,2`.
# BENCH_ARGS=--live adds the live query phase after the steady state (a campaign on every host over
# the results WebSocket, then Redis commands per check-in with 0/1/10/100 campaigns running).
# Each run is preceded by its floor (tests/bench/floor_app.py) and followed by two TLS runs; the
# ratio to the floor and what TLS adds are printed (BENCH_ARGS="--no-floor --tls none" skips them).
HOSTS ?= 2000
DURATION ?= 180
WINDOW ?= 90
WORKERS ?= 1
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python tests/bench/run.py --hosts $(HOSTS) --duration $(DURATION) --window $(WINDOW) \
		--workers $(WORKERS) $(BENCH_ARGS)

# The server at fleet size (not a test): enrollment storm, steady state, live query and detail
# refresh wave at SCALE_HOSTS hosts with --workers 2, the simulator in processes of its own; each
# phase rewrites its own section of docs/performance.md (about 20 min at 10,000 hosts). A quick
# check: `make bench-scale SCALE_HOSTS=300 SCALE_ARGS="--start-period 20 --settle 15 --window 20
# --wave-window 75 --storm-period 15"`; one phase: SCALE_ARGS="--phases storm".
SCALE_HOSTS ?= 10000
SCALE_ARGS ?=
.PHONY: bench-scale
bench-scale: $(STAMP)
	$(BIN)/python tests/bench/scale.py --hosts $(SCALE_HOSTS) --storm-hosts $(SCALE_HOSTS) $(SCALE_ARGS)

# The vulnerability feed engine at NVD's size (not a test): rewrites the "Vulnerability detection"
# section of docs/performance.md; e.g. `make bench-vulns VULNS_BENCH_ARGS="--scale 0.05"`.
VULNS_BENCH_ARGS ?=
.PHONY: bench-vulns
bench-vulns: $(STAMP)
	$(BIN)/python tests/bench/vulnerabilities.py $(VULNS_BENCH_ARGS)

# The software inventory and the whole vulnerability job on Postgres (not a test): 10,000 hosts of 300
# packages from 20,000 software rows, the statements per software answer, the job on an NVD-sized
# feed on one core and its unchanged re-run; rewrites that section of docs/performance.md, e.g.
# `make bench-software SOFTWARE_BENCH_ARGS="--scale 0.02 --hosts 200"`.
SOFTWARE_BENCH_ARGS ?=
.PHONY: bench-software
bench-software: $(STAMP)
	$(BIN)/python tests/bench/software.py $(SOFTWARE_BENCH_ARGS)
# distributed/write in one process over an embedded Postgres (not a test; prints, writes no doc):
# server CPU and Postgres statements per write of a detail refresh, and per node-key miss after it;
# e.g. `make bench-write WRITE_ARGS="--hosts 200 --rounds 2 --profile"`.
WRITE_ARGS ?= --hosts 200 --rounds 3
.PHONY: bench-write
bench-write: $(STAMP)
	$(BIN)/python tests/bench/write_path.py $(WRITE_ARGS)
# File carving throughput on the Postgres and the S3 carve store (moto's server), not a test: a
# 1 GiB carve from one host, then 100 simultaneous 10 MiB carves, with check-ins meanwhile. Rewrites
# the "File carving" section of docs/performance.md; e.g. `make bench-carve CARVE_ARGS="--single-mib 256"`.
CARVE_ARGS ?=
bench-carve: $(STAMP)
	$(BIN)/python tests/bench/carving.py $(CARVE_ARGS)

# The metrics' CPU per agent request, in one process (not a test; see "Metrics overhead" in
# docs/performance.md); `make bench` before and after measures it on the whole server.
.PHONY: bench-metrics
bench-metrics: $(STAMP)
	$(BIN)/python tests/bench/metrics_overhead.py

# The agent hot path against the floor app, in one process (not a test; see "The agent hot path
# against its floor" in docs/performance.md); HOT_PATH_ARGS="--profile", "--cache-bytes 10000", ...
HOT_PATH_ARGS ?=
.PHONY: bench-hot-path
bench-hot-path: $(STAMP)
	$(BIN)/python tests/bench/hot_path.py $(HOT_PATH_ARGS)

# The fault drills (not a test: never fails on a target). Rewrites docs/reliability.md below its
# marker line: 500 simulated hosts on `fleet serve --workers 2` while the embedded Redis, then
# Postgres, then a server worker are killed and frozen in turn, then the server is restarted;
# e.g. `make chaos CHAOS_ARGS="--hosts 1000 --freeze 30"` (see tests/chaos/run.py --help).
CHAOS_ARGS ?=
chaos: $(STAMP)
	$(BIN)/python tests/chaos/run.py $(CHAOS_ARGS)

# Schemathesis against a real `fleet serve` for FUZZ_SECONDS over the document it serves (not a
# test: `make test` runs the short deterministic slice, tests/fuzz/test_fuzz_api.py). Fails on any
# server error, any response the document does not describe, or a login or write failing afterwards.
FUZZ_SECONDS ?= 300
FUZZ_ARGS ?=
fuzz: $(STAMP)
	$(BIN)/python tests/fuzz/run.py --seconds $(FUZZ_SECONDS) $(FUZZ_ARGS)

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# The management API over 100,000 hosts loaded straight into a real `fleet serve`'s Postgres (not a
# test): host list/count/summary/report, labels, software, policies and targets timed over HTTP;
# rewrites the "Management API at scale" section of docs/performance.md, e.g.
# `make bench-management MGMT_ARGS="--hosts 10000 --explain"` (see tests/bench/management.py --help).
MGMT_ARGS ?=
.PHONY: bench-management
bench-management: $(STAMP)
	$(BIN)/python tests/bench/management.py $(MGMT_ARGS)
