"""What a command reads from its flags: numbers through the one grammar, paths checked up front.

Every number goes through :mod:`venues.values` with its field's bounds, so ``1e30``, ``1_0``,
``١`` or ``10000000000`` ETH are refused with one line naming the flag before any work starts.
Every path a command will write is checked before it runs (parent directory exists, the path
is not a directory), so a run never fails half-way with a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from router.model.errors import ConfigError
from venues.values import parse_decimal, parse_int, parse_positive

# Bounds of what a command routes or trades: far beyond any venue's depth, small enough that the
# exact quote arithmetic (uint256 amounts at 18 decimals) never overflows.
MAX_QTY_BASE = 10**9  # base units per order (1e9 ETH)
MAX_QTY_QUOTE = 10**15  # quote units per order
MAX_PRICE_QUOTE = 10**12  # quote per base
MAX_SCALE = 18  # decimal places: the finest asset (wei)
COMMAND_LINE = "<command line>"


def qty(flag: str, text: str) -> Decimal:
    """A base quantity > 0."""
    return parse_positive(flag, text, maximum=MAX_QTY_BASE, max_scale=MAX_SCALE)


def quote_qty(flag: str, text: str) -> Decimal:
    """A quote amount > 0."""
    return parse_positive(flag, text, maximum=MAX_QTY_QUOTE, max_scale=MAX_SCALE)


def price(flag: str, text: str) -> Decimal:
    """A price > 0 in quote per base."""
    return parse_positive(flag, text, maximum=MAX_PRICE_QUOTE, max_scale=MAX_SCALE)


def optional(parse: Callable[[str, str], Decimal], flag: str, text: str | None) -> Decimal | None:
    """``parse(flag, text)``, or None when the flag was not given."""
    return None if text is None else parse(flag, text)


def decimal_in(
    flag: str, text: str, minimum: int, maximum: int, max_scale: int = MAX_SCALE
) -> Decimal:
    """A decimal in [minimum, maximum] with at most ``max_scale`` places (``--speed``)."""
    return parse_decimal(flag, text, minimum=minimum, maximum=maximum, max_scale=max_scale)


def integer_in(flag: str, text: str | int, minimum: int, maximum: int) -> int:
    """An integer in [minimum, maximum] (``--port``, ``--seed``, ``--workers``)."""
    return parse_int(flag, text, minimum=minimum, maximum=maximum)


def _unusable(flag: str, path: str | Path, why: str) -> ConfigError:
    return ConfigError(COMMAND_LINE, flag, str(path), why)


def writable_file(flag: str, path: str | Path) -> Path:
    """``path`` as a file the command may create or append to: not a directory, in an existing
    directory it may write. Checked before any work, so nothing is half-written."""
    target = Path(path)
    parent = target.parent
    if target.is_dir():
        raise _unusable(flag, path, "a file path (this is a directory)")
    if not parent.is_dir():
        raise _unusable(flag, path, f"a file in an existing directory ({parent} does not exist)")
    if (target.exists() and not os.access(target, os.W_OK)) or not os.access(parent, os.W_OK):
        raise _unusable(flag, path, "a file this user may write")
    return target


def writable_dir(flag: str, path: str | Path) -> Path:
    """``path`` as a directory the command may create or replace: not a file, its parent
    existing or creatable and writable."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise _unusable(flag, path, "a directory path (this is a file)")
    existing = target
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise _unusable(flag, path, f"a directory under one this user may write ({existing})")
    return target


def readable_file(flag: str, path: str | Path) -> Path:
    """``path`` as an existing regular file this user may read."""
    target = Path(path)
    if not target.is_file() or not os.access(target, os.R_OK):
        raise _unusable(flag, path, "an existing file this user may read")
    return target
