# kuntalib — make help lists the targets.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv build verify lab serve test test-fast lint browser bench clean catalog
help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

UV_VERSION := 0.13.9
LINTED := kuntalib tests notebooks $(wildcard benchmarks)

# uv installs the lock in seconds where pip takes minutes: use the machine's uv, else install
# uv (from PyPI, pinned) into the new venv with pip first. --compile-bytecode writes the .pyc files at
# install time, as pip does: every kernel and test process then starts in about 1 s rather than 4 s,
# also where PYTHONDONTWRITEBYTECODE is set (Python then reads .pyc files but never writes them).
# `kuntalib kernel` registers the Jupyter kernel "kuntalib" inside .venv and quiets its kernels' TCP-transport warning.
$(STAMP): requirements-lock.txt pyproject.toml
	@set -e; test -x $(BIN)/python || $(PY) -m venv $(VENV); \
	UV=$$(command -v uv || { test -x $(BIN)/uv && echo $(BIN)/uv; } || true); \
	if [ -z "$$UV" ]; then $(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip >/dev/null; \
	  $(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION); UV=$(BIN)/uv; fi; \
	$$UV pip install -q --compile-bytecode --python $(BIN)/python -r requirements-lock.txt; \
	$$UV pip install -q --python $(BIN)/python --no-deps -e .
	@$(BIN)/kuntalib kernel
	@touch $(STAMP)

venv: $(STAMP)  ## create .venv with the locked versions (with uv; installed from PyPI if missing)

build: $(STAMP)  ## rebuild every output from data/raw (incremental)
	$(BIN)/kuntalib build

verify: $(STAMP)  ## rebuild into a scratch folder and compare with outputs/MANIFEST.sha256
	$(BIN)/kuntalib verify

lab: $(STAMP)  ## JupyterLab on notebooks/ with the project's kernel "kuntalib" (registered inside .venv)
	$(BIN)/kuntalib lab

serve: $(STAMP)  ## preview outputs/site/ at http://127.0.0.1:8000/ (make serve PORT=8001 for another port)
	$(BIN)/kuntalib serve $(if $(PORT),--port $(PORT))

browser: $(STAMP)  ## headless Chromium (Debian package, if missing and root) and axe-core (npm registry, pinned) for the browser tests
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: sudo apt-get install chromium (the browser test is skipped without it)"; fi; }
	@$(BIN)/python -m tests.axe_core || echo "axe-core could not be fetched (the accessibility test is skipped without it)"

test: $(STAMP) browser  ## run the whole test suite (lint, unit, pipeline, notebooks, browser)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/python -m pytest -n auto --dist worksteal -q -rs --durations=25  # on every core (pytest-xdist; an idle worker takes queued tests from a busy one); the slowest tests, for the time from clone to passing tests

test-fast: $(STAMP)  ## tests without the slow notebook and browser tests
	$(BIN)/python -m pytest -n auto -q -rs -m "not slow and not browser"

catalog: $(STAMP)  ## after editing a notebook's text or adding keys to kuntalib/locale/kuntalib.pot: merge into each language's .po (then translate)
	$(BIN)/kuntalib prose update
	$(BIN)/pybabel update -i kuntalib/locale/kuntalib.pot -d kuntalib/locale -D kuntalib --no-fuzzy-matching --width 100
	$(BIN)/python -c "from kuntalib.i18n import check_catalogue as c; p = c(); print(*p, sep='\\n'); raise SystemExit(bool(p))"

lint: $(STAMP)  ## ruff over the package, tests, benchmarks and the notebooks' code
	$(BIN)/ruff check $(LINTED)

bench: $(STAMP)  ## benchmarks: ingest vs DuckDB/fhir.resources/fhiry, national-scale memory, build vs papermill loop, survey reader vs pandas
	$(BIN)/python benchmarks/run_all.py

clean:  ## remove built outputs (not data/raw)
	rm -rf outputs/* outputs/.[!.]* data/processed/* data/processed/.[!.]* && touch outputs/.gitkeep data/processed/.gitkeep  # with the build state and locks
