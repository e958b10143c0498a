# Two commands on a fresh machine with Python 3.11+, git and make:
#   make demo   - the whole pipeline on the embedded default, no server, no credentials
#   make test   - the whole test suite (PostgreSQL on 127.0.0.1:5432 for the postgres tests)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
# Benchmark-only dependencies (dlt), outside the core lock; the tests' 10k smoke run uses them.
BENCH_STAMP := $(VENV)/.bench-$(shell cat requirements-bench.txt | cksum | cut -d' ' -f1)

# pytest-xdist workers for `make test` and `make test-fast` (0: one process). Most slow tests wait
# on servers and subprocesses, so two workers overlap them well even on two cores; modules that
# share one Prefect stack carry an xdist_group mark, which --dist loadgroup keeps on one worker.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

.PHONY: install demo test test-fast lint lock clean bench bench-2m bench-install

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "socmed-pipeline needs Python 3.11 or newer (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/socmed demo

test: $(STAMP) $(BENCH_STAMP)
	$(PYTEST) --durations=15

test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Regenerate the pinned lock from pyproject.toml in a throwaway environment.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet -e '.[dev]'
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^-e' > requirements.lock
	rm -rf .lockenv

# The throughput and memory benchmark (docs/performance.md): every contender on the same seeded
# raw zone, side by side into PostgreSQL on 127.0.0.1:5432. BENCH_ARGS passes extra options.
$(BENCH_STAMP): requirements-bench.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	rm -f $(VENV)/.bench-*
	touch $(BENCH_STAMP)

bench-install: $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --size 200k $(BENCH_ARGS)

bench-2m: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --size 2m $(BENCH_ARGS)

clean:
	rm -rf $(VENV) demo-data .pytest_cache bench-data
