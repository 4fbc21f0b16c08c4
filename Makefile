# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint check-state bench clean format

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: the daemon in the foreground, on the embedded defaults (no root needed)
run: $(STAMP)
	$(BIN)/arbord run

## test: lint, type-check, hidden-state check, then the whole test suite
test: $(STAMP) lint
	$(BIN)/python -m pytest

## lint: ruff (lint + format), mypy --strict, the hidden-state check
lint: $(STAMP)
	$(BIN)/ruff check supervisor daemon tests bench
	$(BIN)/ruff format --check supervisor daemon tests bench
	$(BIN)/mypy --strict supervisor daemon tests bench
	$(MAKE) --no-print-directory check-state

check-state: $(STAMP)
	$(BIN)/python -m supervisor.lint supervisor daemon

## bench: benchmarks, printed as ratios against baselines measured in the same run
bench: $(STAMP)
	$(BIN)/python -m bench

format: $(STAMP)
	$(BIN)/ruff format supervisor daemon tests bench
	$(BIN)/ruff check --fix supervisor daemon tests bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
