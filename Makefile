# kuntalib — make help lists the targets.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv build verify test test-fast lint browser bench clean
help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements-lock.txt pyproject.toml
	@if command -v uv >/dev/null 2>&1; then \
	  uv venv --python $(PY) $(VENV) && uv pip install --python $(BIN)/python -r requirements-lock.txt && uv pip install --python $(BIN)/python --no-deps -e . ; \
	else \
	  $(PY) -m venv $(VENV) && $(BIN)/python -m pip install -q --upgrade pip && \
	  $(BIN)/python -m pip install -q -r requirements-lock.txt && $(BIN)/python -m pip install -q --no-deps -e . ; \
	fi
	@touch $(STAMP)

venv: $(STAMP)  ## create .venv with the locked versions (uv if present, else pip)

build: $(STAMP)  ## rebuild every output from data/raw (incremental)
	$(BIN)/kuntalib build

verify: $(STAMP)  ## rebuild into a scratch folder and compare with outputs/MANIFEST.sha256
	$(BIN)/kuntalib verify

browser:  ## install headless Chromium (Debian package) for the site test, if missing and root
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: sudo apt-get install chromium (the browser test is skipped without it)"; fi; }

test: $(STAMP) browser  ## run the whole test suite (lint, unit, pipeline, notebooks, browser)
	$(BIN)/ruff check kuntalib tests $(wildcard benchmarks) $(wildcard tools)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)  ## tests without the slow notebook and browser tests
	$(BIN)/python -m pytest -q -m "not slow and not browser"

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check kuntalib tests $(wildcard benchmarks) $(wildcard tools)

bench: $(STAMP)  ## benchmarks: ingest vs DuckDB/fhir.resources/fhiry, national-scale memory, build vs papermill loop
	$(BIN)/python benchmarks/run_all.py

clean:  ## remove built outputs (not data/raw)
	rm -rf outputs/* data/processed/* && touch outputs/.gitkeep data/processed/.gitkeep
