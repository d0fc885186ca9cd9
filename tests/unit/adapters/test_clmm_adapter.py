"""ClmmAdapter: exact price/tick conversions, one curve segment per initialised-tick range."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from math import isqrt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.clmm import price_from_sqrt_price_x96, sqrt_price_x96_from_price, tick_at_price
from router.model.depth import HyperbolicSegment
from router.model.errors import RouteError
from venues.clmm.tick_math import MAX_TICK, MIN_TICK, get_sqrt_ratio_at_tick

from .conftest import ETH, USDC, make_clmm

prices = st.decimals(
    min_value=Decimal("0.000001"),
    max_value=Decimal("10000000"),
    places=6,
    allow_nan=False,
    allow_infinity=False,
).filter(lambda p: p > 0)


@given(price=prices)
def test_sqrt_price_is_the_floor_of_the_exact_root(price: Decimal) -> None:
    sqrt_x96 = sqrt_price_x96_from_price(price, ETH, USDC)
    target = Fraction(price) * Fraction(10) ** (USDC - ETH) * 2**192
    assert sqrt_x96**2 <= target < (sqrt_x96 + 1) ** 2
    assert sqrt_x96 == isqrt(int(target))


@settings(max_examples=60)
@given(price=prices, spacing=st.sampled_from([1, 10, 60, 200]))
def test_tick_bound_is_the_greatest_grid_tick_at_or_below_the_price(
    price: Decimal, spacing: int
) -> None:
    tick = tick_at_price(price, ETH, USDC, spacing)
    sqrt_x96 = sqrt_price_x96_from_price(price, ETH, USDC)
    assert tick % spacing == 0
    assert get_sqrt_ratio_at_tick(tick) <= sqrt_x96
    if tick + spacing <= MAX_TICK:
        assert get_sqrt_ratio_at_tick(tick + spacing) > sqrt_x96


def test_tick_of_a_price_outside_the_range_is_refused() -> None:
    with pytest.raises(RouteError, match="price"):
        tick_at_price(Decimal("1e-40"), ETH, USDC, 10)
    # MIN_TICK rounded down to spacing 60 falls below MIN_TICK
    low = price_from_sqrt_price_x96(get_sqrt_ratio_at_tick(MIN_TICK), 0, 0)
    with pytest.raises(RouteError, match="tick"):
        tick_at_price(
            Decimal(low.numerator) / Decimal(low.denominator) * Decimal("1.00001"), 0, 0, 60
        )
    assert MIN_TICK % 60 != 0


def test_curve_has_one_segment_per_liquid_range_and_is_continuous() -> None:
    adapter = make_clmm()
    for side in ("buy", "sell"):
        curve = adapter.depth_curve(side)
        # ranges from 3000 outwards: 2 bounds of the tight position, 1 of the middle, 1 of the wide
        assert len(curve.segments) == 3
        assert all(isinstance(seg, HyperbolicSegment) and seg.qty > 0 for seg in curve.segments)
        start = 0.0
        for seg in curve.segments[:-1]:
            end = start + seg.qty
            # the price where one range ends is where the next begins (x*y/x^2 = y/x at the start)
            left = curve.marginal_price(end * (1 - 1e-12))
            right = curve.marginal_price(end * (1 + 1e-12))
            assert left == pytest.approx(right, rel=1e-6)
            start = end


def test_curve_stops_where_liquidity_ends_and_skips_empty_ranges() -> None:
    # two disjoint positions above the price: an empty range between them adds no segment
    adapter = make_clmm(positions=(("2990", "3010", 10**17), ("3050", "3100", 10**17)))
    buy = adapter.depth_curve("buy")
    assert len(buy.segments) == 2
    total = Decimal(repr(buy.total_qty)).quantize(Decimal("1e-12"))
    adapter.quote("buy", total - Decimal("1e-9"))
    with pytest.raises(RouteError, match="liquidity ends"):
        adapter.quote("buy", total + Decimal("1e-6"))
    sell = adapter.depth_curve("sell")
    assert len(sell.segments) == 1  # only [2990, 3000) below the price


def test_pool_without_liquidity_has_an_empty_curve() -> None:
    adapter = make_clmm(positions=())
    assert adapter.depth_curve("buy").segments == ()
    with pytest.raises(RouteError):
        adapter.quote("buy", Decimal("0.1"))


def test_mid_price_is_the_initial_price() -> None:
    assert make_clmm().mid_price() == pytest.approx(Decimal(3000), rel=Decimal("1e-15"))


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((Decimal(0), ETH, USDC, 10), "price"),
        ((Decimal("NaN"), ETH, USDC, 10), "price"),
        ((3000.0, ETH, USDC, 10), "price"),
        ((Decimal(3000), -1, USDC, 10), "base_decimals"),
        ((Decimal(3000), ETH, True, 10), "quote_decimals"),
        ((Decimal(3000), ETH, USDC, 0), "tick_spacing"),
        ((Decimal(3000), ETH, USDC, 16384), "tick_spacing"),
    ],
)
def test_conversion_helpers_refuse_bad_arguments(args, field: str) -> None:
    with pytest.raises(RouteError) as info:
        tick_at_price(*args)
    assert info.value.details["field"] == field


def test_adapter_fee_must_match_the_pool() -> None:
    from adapters.clmm import ClmmAdapter

    pool = make_clmm().pool
    with pytest.raises(RouteError, match="fee_pips"):
        ClmmAdapter("c", "ETH/USDC", pool, base_decimals=ETH, quote_decimals=USDC, fee_pips=3000)
