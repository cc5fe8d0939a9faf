# jailfs: every target creates .venv and installs the project into it when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS ?= dev,all
# The project is installed as a wheel, not in editable mode: the CLI source lives in ./cli but
# installs as the package `jailfs_cli`, a rename that editable installs cannot express. So the
# wheel is rebuilt (quickly, without dependencies) whenever a source file changes.
SOURCES := $(shell find jailfs cli -name '*.py' -o -name 'py.typed') pyproject.toml
BUILT  := $(VENV)/.built

.PHONY: venv demo test unit lint format bench bench-quick bench-results clean

venv: $(BUILT)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "jailfs needs Python 3.11 or newer (PYTHON=$(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip hatchling
	$(BIN)/python -m pip install --quiet ".[$(EXTRAS)]"
	touch $(STAMP)

$(BUILT): $(STAMP) $(SOURCES)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --force-reinstall .
	touch $(BUILT)

demo: venv
	$(BIN)/jailfs demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

unit: venv
	$(BIN)/python -m pytest -q

test: lint unit bench-quick

bench-quick: venv
	$(BIN)/python -m benchmarks --quick --gate

bench: venv
	$(BIN)/python -m benchmarks --json benchmarks/out/results.json --plot benchmarks/out

# regenerate the committed summary (benchmarks/RESULTS.md and its plots) with a full run
bench-results: venv
	$(BIN)/python -m benchmarks --results benchmarks/RESULTS.md --plot benchmarks/

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
