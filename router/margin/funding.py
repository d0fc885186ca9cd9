"""Funding: a per-interval rate (Binance USD-M's formula), accumulated in a per-market index and
settled lazily into each position.

Binance: F = P + clamp(I - P, -band, +band), then clamp(F, -cap, +cap), where P is the
time-weighted average premium of the interval's samples (sample k of n weighs k: later samples
count more), I the interest component and band the clamp around it. Binance's I = 0.01% and
band = 0.05% are per 8 hours; an interval of h hours scales them by h/8 (a 4-hour contract
charges half of each). The premium of one sample is (perp mark - oracle) / oracle. With I = 0 and
band = 0 the formula is the clamped premium alone (the market default, as before).

Binance computes the premium every 5 seconds (5,760 samples per 8 hours). :class:`PremiumSamples`
keeps one interval's samples as a running weighted sum, the same for every caller: paper takes one
sample per tick, the venue server one per 5 s of its market clock (router/server/risk.py).

premium (1e-12 units) = (mark - oracle) / oracle, truncated toward zero;
index += oracle_units * rate_units  (1e-30 quote per base);
a position owes size_units * (index - index_at_last_settlement) / 1e20 ledger units, rounded up
(against the account: a payer pays the ceiling, a receiver receives the floor). Exact payments
of longs and shorts cancel whenever sizes net to zero; the rounding dust stays with the market.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from router.margin.book import MarginBook
from router.margin.errors import MarginInputError, OraclePriceError
from router.margin.oracle import MISSING
from router.margin.quantities import INDEX_SCALE, RATE_SCALE, parse_units, to_decimal


def premium_units(mark_units: int, oracle_units: int) -> int:
    """(mark - oracle) / oracle in 1e-12 units, truncated toward zero. O(1)."""
    premium = mark_units - oracle_units
    magnitude = abs(premium) * RATE_SCALE // oracle_units
    return magnitude if premium >= 0 else -magnitude


def market_premium_units(ledger: MarginBook, symbol: Any) -> int | None:
    """The premium sample of perp market ``symbol`` now: its mark over its oracle asset's mark
    (1e-12), None unless both marks are valid and positive (no sample then). O(1)."""
    market = ledger.market(symbol)
    mark, index = ledger.marks.get(market.symbol), ledger.marks.get(market.oracle_asset)
    if mark is None or index is None or not (mark.valid and index.valid):
        return None
    if not (mark.price_units and index.price_units):
        return None
    return premium_units(mark.price_units, index.price_units)


def funding_rate_units(mark_units: int, oracle_units: int, cap_units: int) -> int:
    """The premium-only rate (I = band = 0): clamp(premium, -cap, cap). O(1)."""
    return max(-cap_units, min(cap_units, premium_units(mark_units, oracle_units)))


def average_premium_units(weighted: int, count: int) -> int:
    """The linearly weighted average of ``count`` samples (sample k weighs k) from their weighted
    sum, truncated toward zero: what a running sum needs, without keeping the samples. O(1)."""
    total = count * (count + 1) // 2
    return abs(weighted) // total * (1 if weighted >= 0 else -1)


# Binance computes the premium index every 5 seconds: 5,760 samples in an 8-hour interval.
PREMIUM_SAMPLE_MS = 5_000


@dataclass(frozen=True, slots=True)
class PremiumSamples:
    """One funding interval's premium samples as a running weighted sum: ``count`` samples and
    ``weighted`` = sum of k x premium_k (sample k weighs k, Binance's linear weights), so the
    state does not grow with the samples. Immutable: :meth:`add` returns the new sums. Paper (one
    sample per tick) and the venue server (one per 5 s of its clock) both keep one per market."""

    count: int = 0
    weighted: int = 0

    def add(self, premium_units: int, times: int = 1) -> PremiumSamples:
        """``times`` more samples of ``premium_units`` (1e-12), as when a premium held over
        several sample points: their weights count+1 .. count+times sum to
        times x count + times x (times + 1) / 2. O(1)."""
        if type(times) is not int or times < 0:
            raise MarginInputError("times", times, "an integer >= 0")
        weight = times * self.count + times * (times + 1) // 2
        return PremiumSamples(self.count + times, self.weighted + weight * premium_units)

    def rate_units(self, market: Any) -> int | None:
        """The interval's rate by ``market``'s funding terms (a core market: interest, band,
        cap, interval hours) on the average of the samples; None when nothing was sampled."""
        if not self.count:
            return None
        return clamped_rate_units(
            average_premium_units(self.weighted, self.count),
            market.funding_interest_units,
            market.funding_band_units,
            market.funding_cap_units,
            market.funding_interval_hours,
        )

    def premiums(self) -> list[str] | None:
        """The interval's average premium as :func:`accrue_funding`'s one-sample list (a
        decimal fraction), None when nothing was sampled."""
        if not self.count:
            return None
        return [str(to_decimal(average_premium_units(self.weighted, self.count), RATE_SCALE))]


def clamped_rate_units(
    average_units: int, interest_units: int, band_units: int, cap_units: int, hours: int
) -> int:
    """F = clamp(P + clamp(I - P, -band, band), -cap, cap) for an average premium P, with I and
    band (per 8 hours) scaled by hours/8; 1e-12 units, truncated toward zero. O(1)."""
    interest = interest_units * hours // 8
    band = band_units * hours // 8
    rate = average_units + max(-band, min(band, interest - average_units))
    return max(-cap_units, min(cap_units, rate))


def binance_rate_units(
    premium_units: list[int], interest_units: int, band_units: int, cap_units: int, hours: int
) -> int:
    """:func:`clamped_rate_units` of P = the linearly weighted average of the samples. O(n)."""
    weighted = sum(k * p for k, p in enumerate(premium_units, start=1))
    average = average_premium_units(weighted, len(premium_units))
    return clamped_rate_units(average, interest_units, band_units, cap_units, hours)


def exact_payment(size_units: int, index_delta: int) -> Fraction:
    """Exact funding owed (ledger units, > 0 pays) for a size over an index change."""
    return Fraction(size_units * index_delta, INDEX_SCALE)


def accrue_funding(ledger: MarginBook, symbol: Any, premiums: Any = None) -> Decimal:
    """Accrue one funding interval on ``symbol``: ``premiums`` (the interval's premium samples,
    decimal fractions, oldest first) or else the premium of its mark over its oracle asset's mark
    now (both valid, else OraclePriceError); index += oracle x rate, holders refreshed; returns the
    rate. O(holders of the symbol + samples)."""
    market = ledger.market(symbol)
    marks = []
    for name in (market.symbol, market.oracle_asset):
        mark = ledger.marks.get(name)
        if mark is None or mark.price_units is None or not mark.valid:
            raise OraclePriceError(name, MISSING if mark is None else mark.state)
        marks.append(mark.price_units)
    if premiums is None:
        samples = [premium_units(marks[0], marks[1])]
    elif isinstance(premiums, (list, tuple)) and premiums:
        samples = [
            parse_units(f"premiums[{i}]", p, scale=RATE_SCALE) for i, p in enumerate(premiums)
        ]
    else:
        raise MarginInputError("premiums", premiums, "a non-empty list of decimal fractions")
    rate = binance_rate_units(
        samples,
        market.funding_interest_units,
        market.funding_band_units,
        market.funding_cap_units,
        market.funding_interval_hours,
    )
    ledger.move_funding_index(market.symbol, marks[1] * rate, rate)
    return to_decimal(rate, RATE_SCALE)
