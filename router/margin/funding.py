"""Funding: a per-interval rate from the premium of the perp mark over the oracle, clamped to a
cap, accumulated in a per-market index and settled lazily into each position.

rate (1e-12 units) = clamp((mark - oracle) / oracle, -cap, cap), truncated toward zero;
index += oracle_units * rate_units  (1e-20 quote per base);
a position owes size_units * (index - index_at_last_settlement) / 1e20 ledger units, rounded up
(against the account: a payer pays the ceiling, a receiver receives the floor). Exact payments
of longs and shorts cancel whenever sizes net to zero; the rounding dust stays with the market.
"""

from __future__ import annotations

from fractions import Fraction

from router.margin.quantities import INDEX_SCALE, RATE_SCALE


def funding_rate_units(mark_units: int, oracle_units: int, cap_units: int) -> int:
    """Clamped premium rate per interval in 1e-12 units, truncated toward zero. O(1)."""
    premium = mark_units - oracle_units
    magnitude = abs(premium) * RATE_SCALE // oracle_units
    rate = magnitude if premium >= 0 else -magnitude
    return max(-cap_units, min(cap_units, rate))


def exact_payment(size_units: int, index_delta: int) -> Fraction:
    """Exact funding owed (ledger units, > 0 pays) for a size over an index change."""
    return Fraction(size_units * index_delta, INDEX_SCALE)
