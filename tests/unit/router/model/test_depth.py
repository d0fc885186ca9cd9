"""Depth model closed forms: cost is the integral of the marginal price, the inverse inverts it,
curves agree with exact Uniswap v2 integer math, and bad curves are refused with the field."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from router.model.depth import DepthCurve, FlatSegment, HyperbolicSegment, InvalidRouteArgument
from router.model.errors import CrossrouteError, RouteError

reserves = st.floats(1.0, 1e6)
prices = st.floats(10.0, 1e5)
fees = st.sampled_from([0.0, 0.0001, 0.0005, 0.003, 0.01, 0.3])
sides = st.sampled_from(["buy", "sell"])


@settings(max_examples=60)
@given(x=reserves, price=prices, fee=fees, share=st.floats(0.0, 0.95), side=sides)
def test_hyperbolic_cost_is_the_integral_of_the_marginal_price(x, price, fee, share, side) -> None:
    seg = HyperbolicSegment(x * 0.96, x, x * price, fee)
    q = share * seg.qty
    integral, _ = quad(lambda t: seg.marginal_price(t, side), 0.0, q, epsabs=0.0, epsrel=1e-12)
    assert seg.cost(q, side) == pytest.approx(integral, rel=1e-9, abs=1e-12 * price)


@settings(max_examples=60)
@given(x=reserves, price=prices, fee=fees, share=st.floats(0.001, 0.95), side=sides)
def test_hyperbolic_inverse_inverts_the_marginal_price(x, price, fee, share, side) -> None:
    seg = HyperbolicSegment(x * 0.96, x, x * price, fee)
    q = share * seg.qty
    lam = seg.marginal_price(q, side)
    assert seg.qty_at_price(lam, side) == pytest.approx(q, rel=1e-9)
    # the inverse is clamped to the segment
    assert seg.qty_at_price(lam * (1e6 if side == "buy" else 1e-6), side) == seg.qty
    assert (
        seg.qty_at_price(seg.marginal_price(0.0, side) * (0.5 if side == "buy" else 2.0), side)
        == 0.0
    )


@pytest.mark.parametrize("fee_pips", [500, 3000, 10000])
@pytest.mark.parametrize("out_share", [1e-6, 0.01, 0.3])
def test_hyperbolic_buy_and_sell_match_uniswap_v2_integer_math(
    fee_pips: int, out_share: float
) -> None:
    r_base, r_quote = 1000 * 10**18, 3_000_000 * 10**6
    seg = HyperbolicSegment(999.0, 1000.0, 3_000_000.0, fee_pips / 1e6)
    out = int(r_base * out_share)
    amount_in = r_quote * out * 10**6 // ((r_base - out) * (10**6 - fee_pips)) + 1
    assert seg.cost(out / 1e18, "buy") == pytest.approx(amount_in / 1e6, rel=1e-9, abs=2e-6)
    base_in = out
    with_fee = base_in * (10**6 - fee_pips)
    got = with_fee * r_quote // (r_base * 10**6 + with_fee)
    assert seg.cost(base_in / 1e18, "sell") == pytest.approx(got / 1e6, rel=1e-9, abs=2e-6)


def test_flat_segment_closed_forms() -> None:
    seg = FlatSegment(4.0, 3000.0)
    assert seg.cost(1.5) == 4500.0 and seg.marginal_price(2.0) == 3000.0
    assert seg.qty_at_price(3000.0, "buy") == 4.0 and seg.qty_at_price(2999.0, "buy") == 0.0
    assert seg.qty_at_price(3000.0, "sell") == 4.0 and seg.qty_at_price(3001.0, "sell") == 0.0


def v3_like(side: str) -> DepthCurve:
    """Three ranges at one continuous price path, then a flat level (a book behind the pool)."""
    segs, p, g = [], 3000.0, 0.997
    for liquidity in (5000.0, 2000.0, 9000.0):
        x, y = liquidity / math.sqrt(p), liquidity * math.sqrt(p)
        q = 0.2 * x
        segs.append(HyperbolicSegment(q, x, y, 0.003))
        p = (y / x) * (x / (x - q)) ** 2 if side == "buy" else x * y / (x + q * g) ** 2
    end = segs[-1].marginal_price(segs[-1].qty, side)
    segs.append(FlatSegment(10.0, end * (1.001 if side == "buy" else 0.999)))
    return DepthCurve("v3", side, tuple(segs))


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_curve_cost_is_continuous_and_monotone_across_segments(side: str) -> None:
    curve = v3_like(side)
    curve._check()
    qs = np.linspace(0.0, curve.total_qty, 2001)
    costs = [curve.cost(q) for q in qs]
    assert all(b > a for a, b in zip(costs, costs[1:]))
    offsets = np.cumsum([s.qty for s in curve.segments])[:-1]
    for b in offsets:
        assert curve.cost(b * (1 - 1e-12)) == pytest.approx(curve.cost(b * (1 + 1e-12)), rel=1e-9)
    integral = sum(
        quad(curve.marginal_price, lo, hi, epsrel=1e-12)[0]
        for lo, hi in zip(np.r_[0.0, offsets], np.r_[offsets, curve.total_qty])
    )
    assert curve.cost(curve.total_qty) == pytest.approx(integral, rel=1e-9)


@settings(max_examples=60)
@given(share=st.floats(0.0, 1.0), side=sides)
def test_curve_qty_at_price_inverts_marginal_price(share: float, side: str) -> None:
    curve = v3_like(side)
    q = share * curve.total_qty
    lam = curve.marginal_price(q)
    back = curve.qty_at_price(lam)
    if isinstance(curve.segments[-1], FlatSegment) and lam == curve.segments[-1].price:
        assert back == curve.total_qty  # a flat level at λ is available in full
    else:
        assert back == pytest.approx(q, rel=1e-9, abs=1e-9)


def test_curve_qty_at_price_is_monotone_and_capped() -> None:
    curve = v3_like("buy")
    lams = np.linspace(2900.0, 5000.0, 500)
    qs = [curve.qty_at_price(x) for x in lams]
    assert all(b >= a for a, b in zip(qs, qs[1:]))
    assert curve.qty_at_price(math.inf) == curve.total_qty
    capped = DepthCurve("c", "buy", curve.segments, max_qty=3.0)
    assert capped.total_qty == 3.0 and capped.qty_at_price(1e9) == 3.0


def test_zero_length_segments_are_skipped_and_empty_curves_are_empty() -> None:
    curve = DepthCurve("a", "buy", (FlatSegment(0.0, 3000.0), FlatSegment(1.0, 3001.0)))
    curve._check()
    assert curve.marginal_price(0.0) == 3001.0 and curve.total_qty == 1.0
    empty = DepthCurve("e", "sell", ())
    assert empty.total_qty == 0.0 and empty.cost(0.0) == 0.0 and empty.qty_at_price(1.0) == 0.0


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: FlatSegment(-1.0, 3000.0), "qty"),
        (lambda: FlatSegment(1.0, math.nan), "price"),
        (lambda: FlatSegment(1.0, 0.0), "price"),
        (lambda: FlatSegment(math.inf, 1.0), "qty"),
        (lambda: HyperbolicSegment(1.0, 0.0, 1.0, 0.0), "base_reserve"),
        (lambda: HyperbolicSegment(1.0, 10.0, -1.0, 0.0), "quote_reserve"),
        (lambda: HyperbolicSegment(1.0, 10.0, 1.0, 1.0), "fee"),
        (lambda: HyperbolicSegment(1.0, 10.0, 1.0, math.nan), "fee"),
        (lambda: DepthCurve("a", "hold", ()), "side"),
        (lambda: DepthCurve("", "buy", ()), "venue"),
        (lambda: DepthCurve("a", "buy", (), fixed_cost=-1.0), "fixed_cost"),
        (lambda: DepthCurve("a", "buy", (), min_qty=math.inf), "min_qty"),
        (lambda: DepthCurve("a", "buy", (), max_qty=math.nan), "max_qty"),
        (lambda: DepthCurve("a", "buy", ("x",)), "segments[0]"),
        (
            lambda: DepthCurve("a", "buy", (HyperbolicSegment(10.0, 10.0, 1.0, 0.0),)),
            "segments[0].qty",
        ),
        (
            lambda: DepthCurve("a", "buy", (FlatSegment(1.0, 3000.0), FlatSegment(1.0, 2990.0))),
            "segments[1]",
        ),
        (
            lambda: DepthCurve("a", "sell", (FlatSegment(1.0, 2990.0), FlatSegment(1.0, 3000.0))),
            "segments[1]",
        ),
    ],
)
def test_invalid_segments_and_curves_are_refused_with_the_field(make, field: str) -> None:
    with pytest.raises(InvalidRouteArgument) as info:
        make()
    assert info.value.field == field
    assert isinstance(info.value, RouteError) and isinstance(info.value, CrossrouteError)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.cost(-1.0),
        lambda c: c.cost(math.nan),
        lambda c: c.cost(1e9),
        lambda c: c.marginal_price(math.inf),
        lambda c: c.qty_at_price(0.0),
        lambda c: c.qty_at_price(math.nan),
    ],
)
def test_curve_queries_reject_bad_arguments_and_change_nothing(call) -> None:
    curve = v3_like("buy")
    before = (curve.segments, curve._arrays["matrix"].copy(), list(curve._arrays["cum_cost_list"]))
    with pytest.raises(InvalidRouteArgument):
        call(curve)
    assert curve.segments == before[0]
    assert np.array_equal(curve._arrays["matrix"], before[1])
    assert curve._arrays["cum_cost_list"] == before[2]
    curve._check()


def test_near_joint_float_noise_is_tolerated() -> None:
    a = FlatSegment(1.0, 3000.0)
    b = FlatSegment(1.0, 3000.0 * (1 - 1e-12))  # a float hair below: not a real inversion
    DepthCurve("a", "buy", (a, b))._check()
