"""Paper funding averages the interval's premium as Binance averages its premium index: one
sample per tick (mark over index), weighted by position, then clamped with the interest term."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from router.app import build_margin, load_market
from router.margin.funding import binance_rate_units, premium_units
from router.margin.quantities import RATE_SCALE
from router.paper.market import MarketSimulator, SimParams


def test_funding_is_the_weighted_average_of_every_ticks_premium() -> None:
    market = load_market()
    setup = build_margin(market)
    sim = MarketSimulator(
        market, setup.ledger, setup.perp_markets, SimParams(seed=11, funding_interval_ticks=25)
    )
    ledger = setup.ledger
    (name,) = setup.perp_markets.values()
    spec = ledger.markets[name]
    seen: list[int] = []
    funding = {}
    for _ in range(25):
        report = asyncio.run(sim.step())
        marks = ledger.marks
        seen.append(premium_units(marks[name].price_units, marks[spec.oracle_asset].price_units))
        funding = report.funding
    assert name in funding and not sim.premium_sums  # settled, samples cleared
    assert len(set(seen)) > 1  # the premium moved during the interval
    expected = binance_rate_units(
        seen,
        spec.funding_interest_units,
        spec.funding_band_units,
        spec.funding_cap_units,
        spec.funding_interval_hours,
    )
    assert funding[name] == Decimal(expected) / RATE_SCALE
    # the last tick's premium alone (the old rule) would have given another rate
    last_only = binance_rate_units(
        seen[-1:],
        spec.funding_interest_units,
        spec.funding_band_units,
        spec.funding_cap_units,
        spec.funding_interval_hours,
    )
    assert expected != last_only
