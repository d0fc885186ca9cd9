"""The compiled order book (setup.py, Cython) and its pure-Python source stay one book.

The install compiles venues/orderbook/book.py and prices.py; these tests check that it did, that
the built modules are not older than their sources, and that the book's own unit, property and
state-machine tests also pass on the pure-Python source (run in a fresh interpreter with
CROSSROUTE_PURE_PYTHON=1, since a process imports one of the two).
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

import venues.orderbook
from venues.orderbook import COMPILED, book, prices

PACKAGE = Path(venues.orderbook.__file__).resolve().parent
REPO = Path(__file__).resolve().parents[3]
BOOK_TESTS = [
    "tests/unit/venues/test_orderbook.py",
    "tests/unit/venues/test_orderbook_prices.py",
    "tests/unit/venues/test_orderbook_stateful.py",
]
PURE_REQUESTED = os.environ.get("CROSSROUTE_PURE_PYTHON") == "1"


def built_module(stem: str) -> Path | None:
    found = [PACKAGE / f"{stem}{suffix}" for suffix in EXTENSION_SUFFIXES]
    return next((path for path in found if path.is_file()), None)


@pytest.mark.skipif(PURE_REQUESTED, reason="CROSSROUTE_PURE_PYTHON=1 asks for the source")
def test_the_install_compiled_the_book_and_it_is_what_runs():
    assert COMPILED, "venues.orderbook runs as pure Python: rebuild with `pip install -e .`"
    for module in (book, prices):
        assert module.__file__ is not None and not module.__file__.endswith(".py")


@pytest.mark.parametrize("stem", ["book", "prices"])
def test_a_built_module_is_not_older_than_its_sources(stem: str):
    built = built_module(stem)
    if built is None:
        pytest.skip(f"no compiled {stem} in {PACKAGE}")
    for source in (PACKAGE / f"{stem}.py", PACKAGE / f"{stem}.pxd"):
        assert source.stat().st_mtime_ns <= built.stat().st_mtime_ns + 2_000_000_000, (
            f"{built.name} is older than {source.name}: rebuild with `pip install -e .`"
        )


@pytest.mark.slow
@pytest.mark.skipif(PURE_REQUESTED, reason="this process already runs the pure-Python book")
def test_the_book_tests_pass_on_the_pure_python_source():
    env = dict(os.environ, CROSSROUTE_PURE_PYTHON="1")
    probe = subprocess.run(
        [sys.executable, "-c", "import venues.orderbook as o; print(o.COMPILED, o.book.__file__)"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.split()[0] == "False" and probe.stdout.split()[1].endswith("book.py")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *BOOK_TESTS],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " failed" not in run.stdout


# Without Cython installed (a run-time install needs only the built module, or none), the source
# must still import: `import cython` then fails and book.py takes the no-op decorators instead.
WITHOUT_CYTHON = """
import sys
sys.modules["cython"] = None  # what `import cython` meets where Cython is not installed
import venues.orderbook as o
from venues.orderbook import cython_absent
assert not o.COMPILED and o.book.cython is cython_absent
book = o.OrderBook("X/Y", tick_size="1", lot_size="1", taker_fee_pips=100)
book.place_limit("a1", "mm", "sell", 100, 3)
result = book.place_limit("b1", "tk", "buy", 100, 5)
book._check()
print(result.status, result.filled_lots, book.cancel("b1").qty_lots)
"""


def test_the_pure_python_source_runs_where_cython_is_not_installed():
    env = dict(os.environ, CROSSROUTE_PURE_PYTHON="1")
    run = subprocess.run(
        [sys.executable, "-c", WITHOUT_CYTHON],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["partially_filled", "3", "2"]
