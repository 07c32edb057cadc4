# Pergola: `make run` serves the demo on SQLite; `make test` runs everything CI runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format install services services-stop bench bench-quick clean

# Debian's python3 lacks venv/ensurepip until python3-venv is installed.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV) && apt-get update -qq && \
	  apt-get install -y -qq --no-install-recommends python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall whenever the dependency list changes. The example third-party addon goes in
# too, through pip like any other: the suite proves it is found by its entry point.
$(STAMP): setup.cfg pyproject.toml examples/pergola-notes/setup.cfg | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-build-isolation -e examples/pergola-notes
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/pergola db upgrade
	$(BIN)/pergola demo
	@echo "Serving http://127.0.0.1:5000 (Ctrl-C to stop)"
	$(BIN)/pergola run --host 127.0.0.1 --port 5000

test: install
	bash scripts/test.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy core

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

services:
	bash scripts/services.sh start

services-stop:
	bash scripts/services.sh stop

bench: install
	bash scripts/bench.sh

bench-quick: install
	bash scripts/bench.sh --quick

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache test-artifacts
