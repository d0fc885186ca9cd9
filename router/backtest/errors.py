"""Errors of the backtester: every one names the field (or file and line), the value and what is allowed."""

from __future__ import annotations

from router.errors import CrossrouteError, InvalidValue

__all__ = ["BacktestError", "FeedError", "BookSyncError"]


class BacktestError(InvalidValue, CrossrouteError):
    """A backtest input is wrong: names the field, the value given and what is allowed."""


class FeedError(BacktestError):
    """A data file line cannot be parsed exactly; ``field`` is ``file:line``."""


class BookSyncError(BacktestError):
    """A depth update does not follow the book (a gap in update ids) and the run asked to stop on gaps."""
