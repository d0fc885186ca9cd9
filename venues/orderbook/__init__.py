"""Exact limit order book (price-time priority, spot and perpetual): the public names.

``types`` holds the vocabulary and the immutable records, ``book`` the :class:`OrderBook` itself
(its module docstring states the units and the semantics), ``prices`` the sorted price levels.

``book`` and ``prices`` are plain Python that the install compiles with Cython (setup.py, the
``.pxd`` files beside them). ``COMPILED`` says whether the compiled modules run. They do not when
the environment sets ``CROSSROUTE_PURE_PYTHON=1`` (the same tests run both ways), when no compiled
module was built, or when one is older than its source: a stale build would run old code, so the
source runs instead, with a warning naming the fix.
"""

from __future__ import annotations

import os
import sys
import warnings
from importlib.machinery import EXTENSION_SUFFIXES
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_COMPILABLE = ("prices", "book")  # in import order: book imports prices
# A built module may be written up to this long before its source by an installer that copies
# files in any order; an edit after a build is minutes later.
_STALE_AFTER_NS = 2_000_000_000


def _built_module(stem: str) -> Path | None:
    for suffix in EXTENSION_SUFFIXES:
        path = _HERE / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def _stale(built: Path, stem: str) -> bool:
    sources = [_HERE / f"{stem}.py", _HERE / f"{stem}.pxd"]
    newest_ns = max(path.stat().st_mtime_ns for path in sources if path.is_file())
    return newest_ns > built.stat().st_mtime_ns + _STALE_AFTER_NS


def _use_compiled() -> bool:
    if os.environ.get("CROSSROUTE_PURE_PYTHON") == "1":
        return False
    built = [(_built_module(stem), stem) for stem in _COMPILABLE]
    if any(path is None for path, _ in built):
        return False
    stale = [stem for path, stem in built if path is not None and _stale(path, stem)]
    if stale:
        warnings.warn(
            f"venues.orderbook: the compiled {', '.join(stale)} is older than its source; running "
            "the source as pure Python (rebuild with `pip install -e .`)",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    return True


def _load_sources() -> None:
    """Import the compilable modules from their .py files, which Python would otherwise skip for
    the built modules beside them."""
    for stem in _COMPILABLE:
        name = f"{__name__}.{stem}"
        spec = spec_from_file_location(name, _HERE / f"{stem}.py")
        assert spec is not None and spec.loader is not None
        module = module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


if not _use_compiled():
    _load_sources()

from venues.orderbook import book as book  # noqa: E402  (after the choice above)
from venues.orderbook.book import OrderBook  # noqa: E402
from venues.orderbook.types import (  # noqa: E402
    PIPS_PER_UNIT,
    BookQuote,
    BookSide,
    Fill,
    Kind,
    Order,
    OrderResult,
    Side,
    Status,
    StpMode,
    TimeInForce,
)

COMPILED: bool = not book.__file__.endswith(".py") if book.__file__ else False
"""True when the Cython-compiled book and price set run (see the module docstring)."""

__all__ = [
    "COMPILED",
    "PIPS_PER_UNIT",
    "BookQuote",
    "BookSide",
    "Fill",
    "Kind",
    "Order",
    "OrderBook",
    "OrderResult",
    "Side",
    "Status",
    "StpMode",
    "TimeInForce",
]
