# One command runner for fjdp. Bare `make` prints the targets and does nothing else.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Prefer Python 3.11 (the version fjdp is tested on); fall back to python3.
PYTHON_BOOT ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed-stamp
CHECK_PATHS := src tests benchmarks tools docs/figures

# Extra arguments, e.g. `make demo DEMO_ARGS="--people 50000 --force"`.
# The demo folder is disposable and git-ignored: `make demo` rebuilds it each time.
DEMO_ARGS   ?= --force
PYTEST_ARGS ?=
BENCH_ARGS  ?=
# The demo folder `make figures` photographs the portal of.
FIGURES_DEMO ?= demo

.PHONY: help venv demo serve figures test test-fuzz test-spark test-browser test-postgres test-all check security fix bench-synth bench-linkage bench-split bench-databank bench-databank-engines bench-analysis bench-disclosure bench-portal clean

help: ## list the targets
	@echo "fjdp: make targets"
	@echo
	@echo "  make demo         build the synthetic world and the demo layout in demo/ (DEMO_ARGS=...)"
	@echo "  make serve        run the governance portal on http://127.0.0.1:8000 under waitress"
	@echo "                   (PORTAL_DIR=demo/portal; FJDP_PORTAL_HTTPS=1 behind a TLS proxy)"
	@echo "  make test         run the fast tests (no slow/browser/spark/postgres)"
	@echo "  make test-fuzz    fuzz every parser of untrusted input with FJDP_FUZZ_SCALE (default 10)"
	@echo "                   times the examples of make test; counts in test-artifacts/fuzz/cases.json"
	@echo "  make test-spark   run the Spark tests (pyspark local mode; needs Java 17)"
	@echo "  make test-browser run the portal in headless Chromium (Debian's chromium; screenshots"
	@echo "                   in test-artifacts/browser, or FJDP_TEST_ARTIFACTS)"
	@echo "  make test-postgres run the portal's tests on PostgreSQL: a throw-away local server, or"
	@echo "                   the one FJDP_TEST_POSTGRES=postgresql://... names"
	@echo "  make test-all     run every test, including slow ones, then the portal's on PostgreSQL"
	@echo "  make check        ruff lint + format check, mypy, import contracts"
	@echo "  make security     bandit on src/ and pip-audit on the environment; results in"
	@echo "                   benchmarks/results/security.md (says so when pip-audit cannot reach"
	@echo "                   its vulnerability service; PIP_AUDIT_REQUIRED=1 fails then)"
	@echo "  make fix          ruff format and ruff check --fix"
	@echo "  make bench-synth  time and measure the synthetic-world generator (BENCH_ARGS=...)"
	@echo "  make bench-linkage  time, memory and accuracy of linkage at 300k and 3.2M people"
	@echo "  make bench-split  time and measure the split and receipt of an extract (BENCH_ARGS=...)"
	@echo "  make bench-databank  time and memory of databank load and provisioning of 10M rows"
	@echo "  make bench-databank-engines  the load's work by DuckDB, DataFusion (and Polars if"
	@echo "                   installed) in turn on the same 10M rows: why the load uses DuckDB"
	@echo "  make bench-analysis  time and memory of each family-justice measure on a 3.2M-person workspace"
	@echo "  make bench-disclosure  disclosure checks of a 10M-row crosstab and a 50x20 table, against ACRO"
	@echo "  make figures      redraw docs/img: the flow picture, and portal screenshots of demo/"
	@echo "                   (needs make demo and Debian's chromium; FIGURES_DEMO=...)"
	@echo "  make bench-portal  50 users signing in (password + TOTP) and reading pages at once, on"
	@echo "                   loopback for 40 s: requests/s, p50/p95/p99 per page, server memory"
	@echo "  make clean        remove demo/ and caches (keeps .venv)"
	@echo
	@echo "The first target that needs it creates .venv and installs fjdp with its dev and spark extras."

# The interpreter exists once the virtualenv has been created.
$(PY):
	@test -n "$(PYTHON_BOOT)" || { echo "error: neither python3.11 nor python3 is on PATH; install Python 3.11" >&2; exit 1; }
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

# Re-install only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[dev,spark]'
	@touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(VENV)/bin/fjdp demo $(DEMO_ARGS)

# The portal folder; `fjdp portal init` creates it (and its database) on first use.
PORTAL_DIR  ?= demo/portal
PORTAL_PORT ?= 8000

serve: venv
	@test -f $(PORTAL_DIR)/secret_key || $(VENV)/bin/fjdp portal init --dir $(PORTAL_DIR)
	$(VENV)/bin/fjdp portal serve --dir $(PORTAL_DIR) --port $(PORTAL_PORT)

# The README's pictures. Not run by the tests: the screenshots need a built demo and Chromium.
figures: venv
	$(PY) docs/figures/flow.py
	$(PY) docs/figures/portal_screenshots.py --demo $(FIGURES_DEMO)

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

# The fuzz tests (marker fuzz) with more examples each; prints the examples every test ran.
FJDP_FUZZ_SCALE ?= 10

test-fuzz: venv
	FJDP_FUZZ_SCALE=$(FJDP_FUZZ_SCALE) $(PY) -m pytest -m fuzz tests/property $(PYTEST_ARGS)

test-spark: venv
	$(PY) -m pytest -m spark $(PYTEST_ARGS)

test-browser: venv
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

# The tests that touch the portal's database. FJDP_TEST_POSTGRES=1 (the default here)
# starts a throw-away cluster for the run (tests/lib/pgserver.py); a DSN uses that server.
# The role x address matrices and the form fuzzing check rules that do not depend on the
# database; they run on SQLite in `make test` (and on PostgreSQL in `make test-all`).
PORTAL_DB_TESTS := (django_db or postgres or browser) and not slow
PORTAL_DB_SKIP  := not test_authorisation_matrix and not test_output_matrix and not fuzz

test-postgres: venv
	FJDP_TEST_POSTGRES="$${FJDP_TEST_POSTGRES:-1}" $(PY) -m pytest -m '$(PORTAL_DB_TESTS)' $(if $(PORTAL_DB_SKIP),-k '$(PORTAL_DB_SKIP)') $(PYTEST_ARGS)

test-all: venv
	$(PY) -m pytest -m '' -o addopts='-ra --strict-markers' $(PYTEST_ARGS)
	$(MAKE) test-postgres PORTAL_DB_SKIP=

check: venv
	$(VENV)/bin/ruff check $(CHECK_PATHS)
	$(VENV)/bin/ruff format --check $(CHECK_PATHS)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

security: venv
	$(PY) tools/security.py

fix: venv
	$(VENV)/bin/ruff format $(CHECK_PATHS)
	$(VENV)/bin/ruff check --fix $(CHECK_PATHS)

bench-linkage: venv
	$(PY) benchmarks/bench_linkage.py $(BENCH_ARGS)

bench-synth: venv
	$(PY) benchmarks/bench_synth.py $(BENCH_ARGS)

bench-split: venv
	$(PY) benchmarks/bench_split.py $(BENCH_ARGS)

bench-databank: venv
	$(PY) benchmarks/bench_databank.py $(BENCH_ARGS)

bench-databank-engines: venv
	$(PY) benchmarks/compare_load_engines.py $(BENCH_ARGS)

bench-analysis: venv
	$(PY) benchmarks/bench_analysis.py $(BENCH_ARGS)
bench-disclosure: venv
	$(PY) benchmarks/bench_disclosure.py $(BENCH_ARGS)

bench-portal: venv
	$(PY) benchmarks/bench_portal.py $(BENCH_ARGS)

clean:
	rm -rf demo benchmarks/work build dist src/*.egg-info
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
