"""Errors of the backtester: every one names the field (or file and line), the value and what is allowed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from router.model.errors import CrossrouteError, InvalidValue

__all__ = ["BacktestError", "BookSyncError", "FeedError", "decimal_arg"]


class BacktestError(InvalidValue, CrossrouteError):
    """A backtest input is wrong: names the field, the value given and what is allowed."""


class FeedError(BacktestError):
    """A data file line cannot be parsed exactly; ``field`` is ``file:line``."""


class BookSyncError(BacktestError):
    """A depth update does not follow the book (a gap in update ids) and the run asked to stop on gaps."""


def decimal_arg(
    field: str, value: Any, *, positive: bool = True, error: type[BacktestError] = BacktestError
) -> Decimal:
    """``value`` (str, int or Decimal) as an exact finite Decimal, > 0 (or >= 0 when not
    ``positive``); else ``error`` naming the field. A float is refused: its binary noise would
    enter exact money paths. O(digits)."""
    allowed = (
        "a decimal > 0 as a string (never float)"
        if positive
        else "a decimal >= 0 as a string (never float)"
    )
    if isinstance(value, (bool, float)) or not isinstance(value, (str, int, Decimal)):
        raise error(field, value, allowed)
    try:
        dec = Decimal(value)
    except ArithmeticError:
        raise error(field, value, allowed) from None
    if not dec.is_finite() or dec < 0 or (positive and dec == 0):
        raise error(field, value, allowed)
    return dec
