# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates the virtual environment in .venv (once) and installs the project into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/crossroute demo --config config/default.toml

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

bench: $(STAMP)
	$(BIN)/python -m pytest -q benchmarks --benchmark-only -p no:cacheprovider

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
