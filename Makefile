# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run

.PHONY: run test test-slow lint lint-c lint-systemd check-state bench start-budget stress stress-calibrate soak clean format docs

# The suites run a second time on the tables' pure-Python twin (docs/tables.md, "The C core and its
# Python twin"): the core is chosen when supervisor.tables is imported, hence a second process.
TWIN_SUITES := tests/supervisor/test_table*.py tests/daemon/test_registry*.py tests/daemon/test_cache*.py tests/daemon/migration/test_switched_registry.py
# The error context's and the spans' hot paths have a C core too (daemon/_context_speedups.c), chosen
# by the same variable when daemon.context is imported (daemon/context_core.py).
TWIN_SUITES += tests/daemon/test_context*.py tests/daemon/test_spans*.py
TWIN_SUITES += tests/daemon/test_flags.py tests/daemon/test_flags_bucket.py tests/daemon/test_flags_fastpath.py \
	tests/daemon/test_flags_openfeature.py tests/daemon/test_flags_change_set.py tests/daemon/test_flags_stateful.py
# The registry's shadow mode (issue 16) on the twin as well.
TWIN_SUITES += tests/daemon/migration/test_registry_shadow.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml setup.py supervisor/_speedups.c daemon/_context_speedups.c daemon/flags/_speedups.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP) $(RUN_STAMP)

# What running needs, and nothing more: no test tools, no console extra (off in the defaults).
$(RUN_STAMP): pyproject.toml setup.py supervisor/_speedups.c daemon/_context_speedups.c daemon/flags/_speedups.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

## run: the daemon in the foreground, on the embedded defaults (no root needed)
run: $(RUN_STAMP)
	$(BIN)/arbord run

## test: lint, type-check, hidden-state check, the documentation site's strict build, then the whole
## test suite but the tests marked slow, then the table, registry, cache, context, spans and flags suites
## again on the pure-Python twins
## (JOBS pytest-xdist workers, 2 by default: `make test JOBS=auto` takes one per core, JOBS=0 runs one process)
JOBS ?= 2
XDIST = -n $(JOBS) --dist loadgroup
test: $(STAMP) lint
	$(MAKE) --no-print-directory docs
	$(BIN)/python -m pytest -m "not slow" $(XDIST)
	ARBORD_NO_EXTENSIONS=1 $(BIN)/python -m pytest -m "not slow" -p no:cacheprovider $(XDIST) $(TWIN_SUITES)

## test-slow: the tests marked slow (the fault suite's random variants, 50 SIGKILLs of a flag write storm)
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

## lint: ruff (lint + format), mypy --strict, the C extension's stub against the module, the hidden-state check
## (over the tests too: a test's module state leaks into the next test as a server's would)
lint: $(STAMP)
	$(BIN)/ruff check supervisor daemon tests bench setup.py _arbord_entry.py docs/hooks.py
	$(BIN)/ruff format --check supervisor daemon tests bench setup.py _arbord_entry.py docs/hooks.py
	$(BIN)/mypy --strict supervisor daemon tests bench _arbord_entry.py docs/hooks.py
	@if [ -n "$$ARBORD_NO_EXTENSIONS" ] && [ "$$ARBORD_NO_EXTENSIONS" != 0 ]; then \
		echo "lint: ARBORD_NO_EXTENSIONS is set: the C extension's stub and compile checks are skipped"; \
	else \
		$(BIN)/python -m mypy.stubtest --mypy-config-file pyproject.toml supervisor._speedups daemon._context_speedups daemon.flags._speedups && \
		$(MAKE) --no-print-directory lint-c; \
	fi
	$(MAKE) --no-print-directory check-state
	$(MAKE) --no-print-directory lint-systemd

## lint-systemd: the unit must verify with no output at all, and score an exposure of 1.0 or better
## (--threshold is on the internal 0-100 scale: 10 means the printed 1.0). Without systemd-analyze it is
## skipped with a warning, except under CI (CI set), where it fails.
SYSTEMD_ANALYZE ?= /usr/bin/systemd-analyze
lint-systemd:
	@if [ ! -x "$(SYSTEMD_ANALYZE)" ]; then \
		if [ -n "$$CI" ]; then echo "lint-systemd: $(SYSTEMD_ANALYZE) not found (CI needs it: apt-get install systemd)"; exit 1; fi; \
		echo "lint-systemd: skipped, $(SYSTEMD_ANALYZE) not found (CI runs it; apt-get install systemd)"; exit 0; \
	fi; \
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	bash -c '. systemd/install.sh && render_unit "$$1" "$$2"' - "$(CURDIR)/$(VENV)" "$$tmp/arbord.service" && \
	out=$$($(SYSTEMD_ANALYZE) verify "$$tmp/arbord.service" 2>&1); rc=$$?; \
	if [ $$rc -ne 0 ] || [ -n "$$out" ]; then echo "systemd-analyze verify:"; echo "$$out"; exit 1; fi; \
	sec=$$($(SYSTEMD_ANALYZE) security --offline=yes --threshold=10 "$$tmp/arbord.service" 2>&1); rc=$$?; \
	echo "$$sec" | tail -1; exit $$rc

## lint-c: the C extensions compile warning-free (-Werror here only: never in the build users run),
## with the default compiler and with clang when clang is on PATH
C_WARNINGS := -Wall -Wextra -Wno-unused-parameter -Werror
C_SOURCES := supervisor/_speedups.c daemon/_context_speedups.c daemon/flags/_speedups.c
lint-c: $(STAMP)
	@include=$$($(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['include'])") && \
	for source in $(C_SOURCES); do \
		$(CC) -fsyntax-only $(C_WARNINGS) -I"$$include" $$source || exit 1; \
		if command -v clang >/dev/null 2>&1; then clang -fsyntax-only $(C_WARNINGS) -I"$$include" $$source || exit 1; \
		else echo "lint-c: clang is not on PATH, its check of $$source is skipped"; fi; \
	done

check-state: $(STAMP)
	$(BIN)/python -m supervisor.lint supervisor daemon tests

## docs: the documentation site (guides and API reference, mkdocs.yml) into site/, with --strict: a broken
## link or anchor, a page left out of the nav, or a public name without a docstring fails. No network.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

## bench: benchmarks, printed as ratios against baselines measured in the same run
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench

## start-budget: where start -> READY=1 goes, in CPU time per phase (interpreter, asyncio, pydantic, the
## settings models, dataclasses, the rest of the imports, the tree), against the minimal program of
## `bench daemon` (bench/start_budget.py); LOOP=asyncio for the standard loop
start-budget: $(STAMP)
	$(BIN)/python -m bench.start_budget $(if $(LOOP),--loop $(LOOP))

## stress: the reliability matrix's load tiers against a real daemon subprocess (bench/stress/, docs/testing.md
## "Load and soak"), not part of `make test`: TIER (default T1) for DURATION seconds (default 60), per tier
## throughput, p50/p99, loop lag, RSS, fds and the "nothing lost" accounting; exits 1 when a tier fails.
## RATES="cache_ops=20000 events=5000" asks other rates (the report shows the tier's beside them).
## The rates calibrated for this machine in CALIBRATION (`make stress-calibrate`) are asked when that file
## exists and calibrated TIER; `make stress CALIBRATION=` asks the matrix's own targets.
TIER ?= T1
CALIBRATION ?= bench/stress/calibration.json
stress: $(STAMP)
	$(BIN)/python -m bench.stress stress --tier $(TIER) $(if $(DURATION),--duration $(DURATION)) \
		$(if $(CALIBRATION),--calibration $(CALIBRATION)) $(foreach r,$(RATES),--rate $(r))

## stress-calibrate: each tier of TIER alone, then calibrated rates together (CAL_DURATION seconds a run,
## 6 runs; default 20), written to CALIBRATION for `make stress` (bench/stress/calibrate.py).
stress-calibrate: $(STAMP)
	$(BIN)/python -m bench.stress calibrate --tier $(TIER) $(if $(CAL_DURATION),--duration $(CAL_DURATION)) \
		--out $(CALIBRATION)

## soak: the same load for DURATION seconds (default 600) with a fault every FAULTS_EVERY seconds (a crash
## asked over the control socket, SIGHUP, `reload`), a time series in SOAK_CSV and its plot in SOAK_PNG;
## exits 1 when a tier fails or RSS, fds, tasks or p99 rise after warm-up beyond noise.
FAULTS_EVERY ?= 20
SOAK_CSV ?= soak.csv
SOAK_PNG ?= soak.png
soak: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench.stress soak --tier $(TIER) $(if $(DURATION),--duration $(DURATION)) \
		$(if $(CALIBRATION),--calibration $(CALIBRATION)) $(foreach r,$(RATES),--rate $(r)) --faults-every $(FAULTS_EVERY) --csv $(SOAK_CSV) --plot $(SOAK_PNG)

format: $(STAMP)
	$(BIN)/ruff format supervisor daemon tests bench setup.py _arbord_entry.py docs/hooks.py
	$(BIN)/ruff check --fix supervisor daemon tests bench setup.py _arbord_entry.py docs/hooks.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis site
