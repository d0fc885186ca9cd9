"""Funding: a per-interval rate from the premium of the perp mark over the oracle, clamped to a
cap, accumulated in a per-market index and settled lazily into each position.

rate (1e-12 units) = clamp((mark - oracle) / oracle, -cap, cap), truncated toward zero;
index += oracle_units * rate_units  (1e-20 quote per base);
a position owes size_units * (index - index_at_last_settlement) / 1e20 ledger units, rounded up
(against the account: a payer pays the ceiling, a receiver receives the floor). Exact payments
of longs and shorts cancel whenever sizes net to zero; the rounding dust stays with the market.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from router.margin.book import MarginBook
from router.margin.errors import OraclePriceError
from router.margin.oracle import MISSING
from router.margin.quantities import INDEX_SCALE, RATE_SCALE, to_decimal


def funding_rate_units(mark_units: int, oracle_units: int, cap_units: int) -> int:
    """Clamped premium rate per interval in 1e-12 units, truncated toward zero. O(1)."""
    premium = mark_units - oracle_units
    magnitude = abs(premium) * RATE_SCALE // oracle_units
    rate = magnitude if premium >= 0 else -magnitude
    return max(-cap_units, min(cap_units, rate))


def exact_payment(size_units: int, index_delta: int) -> Fraction:
    """Exact funding owed (ledger units, > 0 pays) for a size over an index change."""
    return Fraction(size_units * index_delta, INDEX_SCALE)


def accrue_funding(ledger: MarginBook, symbol: Any) -> Decimal:
    """Accrue one funding interval on ``symbol`` from its mark and its oracle asset's mark (both
    valid, else OraclePriceError): index += oracle x rate, holders refreshed; returns the rate.
    O(holders of the symbol)."""
    market = ledger.market(symbol)
    marks = []
    for name in (market.symbol, market.oracle_asset):
        mark = ledger.marks.get(name)
        if mark is None or mark.price_units is None or not mark.valid:
            raise OraclePriceError(name, MISSING if mark is None else mark.state)
        marks.append(mark.price_units)
    rate = funding_rate_units(marks[0], marks[1], market.funding_cap_units)
    ledger.move_funding_index(market.symbol, marks[1] * rate, rate)
    return to_decimal(rate, RATE_SCALE)
