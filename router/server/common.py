"""Small shared pieces of the venue server's answers: plain decimals, depth levels, user ids,
and the constants more than one endpoint module needs."""

from __future__ import annotations

import hashlib
from decimal import Decimal

FUNDING_INTERVAL_MS = 8 * 3_600_000
# Binance order types crossroute's venues do not model: answered -1020, not "invalid type".
UNMODELLED_ORDER_TYPES = frozenset(
    {
        "STOP",
        "STOP_MARKET",
        "STOP_LOSS",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT",
        "TAKE_PROFIT_MARKET",
        "TAKE_PROFIT_LIMIT",
        "TRAILING_STOP_MARKET",
    }
)


def plain(value: Decimal) -> str:
    """A Decimal as Binance prints numbers: positional, never an exponent."""
    return format(value, "f")


def levels_json(
    bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]
) -> dict[str, list[list[str]]]:
    """Depth levels as Binance sends them: [[price, qty], ...] of plain decimal strings."""
    return {
        "bids": [[plain(p), plain(q)] for p, q in bids],
        "asks": [[plain(p), plain(q)] for p, q in asks],
    }


def uid(account: str) -> int:
    """A stable 9-digit user id per account; hash() is salted per process, so ids would move."""
    return int.from_bytes(hashlib.sha256(account.encode()).digest()[:8], "big") % 10**9
