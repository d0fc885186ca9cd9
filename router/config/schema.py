"""Schema checks for every TOML file crossroute reads, in one place.

A table is declared as :class:`Keys` (required and optional keys); :func:`check_table` is THE
"a table, with no unknown key and every required one" check, shared by the market config, orders,
account files, stress scenarios and backtests. :class:`Fields` adds the typed values (names,
integers, exact decimals through :mod:`venues.values`, arrays), each failure raised through the
caller's error factory as one error naming the key path, the value as written and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Context, Decimal
from typing import Any, NamedTuple

from router.model.errors import ConfigError
from venues.values import parse_decimal, parse_int

# (key path, value, allowed) -> the error to raise: ConfigError with its file, or a module's own.
ErrorFactory = Callable[[str, Any, str], Exception]

TOP_LEVEL = "(top level)"  # the key path of a file's root table
# Exact arithmetic for grid checks: wide enough that no config number is ever rounded.
EXACT = Context(prec=200)
# Decimal places and whole digits a config decimal may have unless its field says otherwise:
# the finest asset (36 decimals) and amounts far beyond any market.
MAX_SCALE = 36
MAX_INTEGER_DIGITS = 24

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class _Described:
    """A value shown by a description instead of a Python repr (errors print values with !r)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


MISSING: Any = _Described("(missing)")


def shown(value: Any) -> Any:
    """``value`` for an error message: a table or an array by its kind, not its Python repr."""
    if isinstance(value, dict):
        return _Described("(a table)")
    if isinstance(value, list):
        return _Described("(an array)")
    return value


class Keys(NamedTuple):
    """A table's declared keys: ``required`` ones must be present, nothing else but ``optional``."""

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()


def join(key: str, name: str) -> str:
    """The key path of ``name`` inside the table at ``key``."""
    return name if key in ("", TOP_LEVEL) else f"{key}.{name}"


def check_table(key: str, value: Any, keys: Keys, fail: ErrorFactory) -> dict[str, Any]:
    """``value`` as a table with only ``keys`` (the first unknown key in file order is named)
    and every required key; else ``fail(key path, value, allowed)``. O(keys)."""
    if not isinstance(value, dict):
        raise fail(key, shown(value), "a table")
    known = keys.required + keys.optional
    for name in value:
        if name not in known:
            raise fail(
                join(key, name),
                shown(value[name]),
                f"no such key here; known keys: {', '.join(known)}",
            )
    for name in keys.required:
        if name not in value:
            raise fail(join(key, name), MISSING, "a value (required)")
    return value


class Fields:
    """Typed value checks for one file; every failure is ConfigError(file, key, value, allowed)."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, value: Any, allowed: str) -> ConfigError:
        return ConfigError(self.file, key, value, allowed)

    # -- shapes --

    def table(self, key: str, value: Any, keys: Keys) -> dict[str, Any]:
        return check_table(key, value, keys, self.fail)

    def array(self, key: str, value: Any, *, allow_empty: bool = True) -> list[Any]:
        if not isinstance(value, list) or (not allow_empty and not value):
            raise self.fail(key, value, "an array" if allow_empty else "a non-empty array")
        return value

    def name(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not _NAME.match(value):
            raise self.fail(key, value, "a name of letters, digits, '_', '.', '-'")
        return value

    def text(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(key, value, "a non-empty string")
        return value

    # -- numbers --

    def integer(self, key: str, value: Any, lo: int, hi: int) -> int:
        """A TOML integer in [lo, hi] (a string of digits is refused: counts are not amounts)."""
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(key, value, f"integer in [{lo}, {hi}]")
        return value

    def big_integer(self, key: str, value: Any, lo: int, hi: int) -> int:
        """An integer given as a TOML integer or a string of digits (L often exceeds int64)."""
        if isinstance(value, float):
            raise self.fail(key, value, f"integer in [{lo}, {hi}] (a TOML float is refused)")
        allowed = f"integer in [{lo}, {hi}] (a TOML integer or a string of digits)"
        if isinstance(value, str) and value.startswith(("-", "+")):
            raise self.fail(key, value, allowed)
        return parse_int(
            key, value, minimum=lo, maximum=hi, error=lambda k, v, _why: self.fail(k, v, allowed)
        )

    def decimal(
        self,
        key: str,
        value: Any,
        *,
        positive: bool = False,
        places: int | None = None,
        maximum: Decimal | int | None = None,
        what: str = "",
    ) -> Decimal:
        """An exact decimal >= 0 (> 0 when ``positive``) from a string or a TOML integer, in
        the grammar of :mod:`venues.values`; at most ``places`` decimal places (an amount must be
        exact in its asset's smallest unit) and at most ``maximum`` when given."""
        sign = "> 0" if positive else ">= 0"
        if isinstance(value, float):
            raise self.fail(
                key,
                value,
                f'a decimal string {sign}{what} such as "1.5" in quotes'
                " (a TOML float has already lost precision)",
            )
        return parse_decimal(
            key,
            value,
            minimum=0,
            exclusive_minimum=positive,
            maximum=maximum,
            max_scale=MAX_SCALE if places is None else places,
            max_integer_digits=MAX_INTEGER_DIGITS,
            kind=f"a decimal string{what}",
            error=self.fail,
        )

    def grid_decimal(
        self,
        key: str,
        value: Any,
        places: int,
        *,
        positive: bool = False,
        lo: Decimal | None = None,
        hi: Decimal | None = None,
        what: str = "",
    ) -> Decimal:
        """A decimal on a 10^-places grid, within [lo, hi] when given."""
        number = self.decimal(key, value, positive=positive, places=places, what=what)
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise self.fail(key, value, f"a decimal string in [{lo}, {hi}]{what}")
        return number

    def multiple(self, key: str, value: Decimal, step: Decimal, raw: Any, what: str) -> None:
        """``value`` is a whole multiple of ``step`` (a price on the tick grid, a size in lots)."""
        if EXACT.remainder(value, step) != 0:
            raise self.fail(key, raw, f"a multiple of the {what} {step}")
