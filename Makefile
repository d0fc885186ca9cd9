# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates the virtual environment in .venv (once) and installs the project into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test typecheck wheel-test bench clean

# The compiled order book is built by the install: editing its sources re-runs it (a stale build
# would make the source run instead, with a warning).
$(STAMP): pyproject.toml setup.py $(wildcard venues/orderbook/*.py venues/orderbook/*.pxd)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/crossroute demo --config config/default.toml

# Browser tests drive Debian's headless Chromium; install it where we can (root with apt, as in CI).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium is not installed and cannot be here: browser tests will be skipped"; fi

# Static checks first (seconds), then the tests, then the built wheel outside the checkout.
test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(MAKE) typecheck
	$(BIN)/python -m pytest -q tests
	$(MAKE) wheel-test

# Strict mypy on the modules that pass it ([[tool.mypy.overrides]] in pyproject.toml lists the
# same ones); a module joins both lists once it passes.
MYPY_STRICT := router/config router/cli.py router/commands \
	router/model/errors.py router/model/orders.py router/model/venue.py router/model/depth.py \
	router/split.py router/completion.py router/margin venues
typecheck: $(STAMP)
	$(BIN)/mypy $(MYPY_STRICT)

# The wheel, installed into a fresh venv in a temporary directory, run from that directory: the
# package must carry every file it reads (the default market, the paper page, openapi.json).
# Built from a clean copy of the tree (a stale build/ would leak old files into the wheel);
# runtime dependencies come from pip's configured wheel sources and cache.
wheel-test: $(STAMP)
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; mkdir "$$tmp/src"; \
	tar -c --exclude=./.venv --exclude=./.git --exclude=./build --exclude='*.egg-info' \
	  --exclude=__pycache__ --exclude=./tests . | tar -x -C "$$tmp/src"; \
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir "$$tmp/dist" "$$tmp/src"; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet "$$tmp"/dist/crossroute-*.whl; \
	cd "$$tmp"; \
	"$$tmp/venv/bin/crossroute" --version; \
	"$$tmp/venv/bin/crossroute" route --side buy --qty 1 --json > route.json; \
	"$$tmp/venv/bin/python" -c "import json; plan = json.load(open('route.json')); assert plan['complete'] and plan['legs'], plan"; \
	"$$tmp/venv/bin/python" -c "from router.paper.api import OPENAPI_PATH, WEB_DIR; assert OPENAPI_PATH.is_file() and (WEB_DIR / 'index.html').is_file()"; \
	echo "wheel-test: the installed wheel routes from $$tmp"

# Benchmarks are plain scripts, kept out of the test run; each prints its table and medians.
bench: $(STAMP)
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache build *.egg-info
