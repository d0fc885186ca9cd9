"""Properties every in-process adapter keeps: the curve agrees with the exact quote, executing a
quote gives exactly the quoted amounts, quote-sized legs respect the amount, and bad input raises a
clear error and leaves the venue exactly as it was."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.model.errors import RouteError
from router.model.orders import LegOrder
from router.model.venue import VenueAdapter

from .conftest import MAKERS, snapshot

KINDS = sorted(MAKERS)


def _qty_on_grid(adapter, fraction: float, side: str) -> Decimal:
    """A quantity on the adapter's grid at ``fraction`` of what its curve offers (capped for sells)."""
    total = min(adapter.depth_curve(side).total_qty, 150.0)
    quantum = adapter.base_quantum()
    qty = (Decimal(repr(total * fraction)) / quantum).to_integral_value() * quantum
    return max(qty, adapter.min_qty())


@pytest.mark.parametrize("kind", KINDS)
def test_adapter_satisfies_protocol(kind: str) -> None:
    assert isinstance(MAKERS[kind](), VenueAdapter)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("side", ["buy", "sell"])
@settings(max_examples=40)
@given(fraction=st.floats(min_value=1e-4, max_value=0.97))
def test_curve_cost_matches_exact_quote(kind: str, side: str, fraction: float) -> None:
    adapter = MAKERS[kind]()
    curve = adapter.depth_curve(side)
    qty = _qty_on_grid(adapter, fraction, side)
    exact = adapter.quote(side, qty)
    model = curve.cost(float(qty))
    venue_part = (
        exact.quote_amount - exact.leg_cost
        if side == "buy"
        else exact.quote_amount + exact.leg_cost
    )
    # Venues round per step/fill in their favour (at most one quote unit or quantum each), so the
    # float curve may differ by a few millionths of a USDC on top of float error.
    assert float(venue_part) == pytest.approx(model, rel=1e-9, abs=1e-4)
    # and the exact quote always rounds against the trader
    if side == "buy":
        assert float(venue_part) >= model * (1 - 1e-12)
    assert curve.fixed_cost == float(adapter.leg_cost)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("side", ["buy", "sell"])
@settings(max_examples=25)
@given(fraction=st.floats(min_value=1e-3, max_value=0.9))
def test_executing_a_quote_fills_exactly_the_quote(kind: str, side: str, fraction: float) -> None:
    adapter = MAKERS[kind]()
    qty = _qty_on_grid(adapter, fraction, side)
    quoted = adapter.quote(side, qty)
    before = snapshot(adapter)
    fill = asyncio.run(
        adapter.execute(LegOrder(adapter.name, side, qty, "c1", limit_price=quoted.avg_price))
    )
    assert fill.status == "filled", fill.reason
    assert (fill.filled_qty, fill.quote_amount, fill.fee, fill.leg_cost) == (
        quoted.qty,
        quoted.quote_amount,
        quoted.fee,
        quoted.leg_cost,
    )
    assert snapshot(adapter) != before
    # the venue moved against the next taker on the same side
    if qty < _qty_on_grid(adapter, 0.5, side):
        assert adapter.quote(side, qty).avg_price * (
            1 if side == "buy" else -1
        ) >= quoted.avg_price * (1 if side == "buy" else -1)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_limit_beyond_quote_is_rejected_and_venue_unchanged(kind: str, side: str) -> None:
    adapter = MAKERS[kind]()
    qty = _qty_on_grid(adapter, 0.2, side)
    quoted = adapter.quote(side, qty)
    tighter = (
        quoted.avg_price - Decimal("0.01") if side == "buy" else quoted.avg_price + Decimal("0.01")
    )
    before = snapshot(adapter)
    fill = asyncio.run(
        adapter.execute(LegOrder(adapter.name, side, qty, "c1", limit_price=tighter))
    )
    assert fill.status == "rejected" and "limit" in fill.reason
    assert fill.filled_qty == 0 and fill.quote_amount == 0
    assert snapshot(adapter) == before


@pytest.mark.parametrize("kind", KINDS)
def test_unfillable_order_is_rejected_not_raised(kind: str) -> None:
    adapter = MAKERS[kind]()
    too_much = _qty_on_grid(adapter, 1.0, "buy") * 1000
    before = snapshot(adapter)
    fill = asyncio.run(adapter.execute(LegOrder(adapter.name, "buy", too_much, "c1")))
    assert fill.status == "rejected" and fill.reason
    assert snapshot(adapter) == before
    with pytest.raises(RouteError):
        adapter.quote("buy", too_much)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("side", ["buy", "sell"])
@settings(max_examples=25)
@given(amount=st.integers(min_value=50, max_value=200_000))
def test_quote_for_quote_respects_the_amount(kind: str, side: str, amount: int) -> None:
    adapter = MAKERS[kind]()
    budget = Decimal(amount) + Decimal("0.123457")
    before = snapshot(adapter)
    try:
        leg = adapter.quote_for_quote(side, budget)
    except RouteError:
        # only a sell can fail, and only when selling everything the venue takes pays too little
        assert side == "sell"
        curve = adapter.depth_curve("sell")
        assert curve.cost(curve.total_qty) - float(adapter.leg_cost) < float(budget) * (1 + 1e-6)
        return
    assert snapshot(adapter) == before
    assert leg == adapter.quote(side, leg.qty)  # consistent with the base-sized quote
    step = adapter.base_quantum()
    if side == "buy":
        assert leg.quote_amount <= budget
        # one more quantum would overspend (or cannot be filled)
        try:
            assert adapter.quote("buy", leg.qty + step).quote_amount > budget
        except RouteError:
            pass
    else:
        assert leg.quote_amount >= budget
        if leg.qty > adapter.min_qty():
            assert adapter.quote("sell", leg.qty - step).quote_amount < budget


BAD_AMOUNTS = [
    Decimal(-1),
    Decimal(0),
    Decimal("NaN"),
    Decimal("Infinity"),
    1.5,
    2,
    "1",
    None,
    True,
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["quote", "quote_for_quote"])
@pytest.mark.parametrize("bad", BAD_AMOUNTS, ids=repr)
def test_bad_amount_raises_clear_error_and_changes_nothing(kind: str, method: str, bad) -> None:
    adapter = MAKERS[kind]()
    before = snapshot(adapter)
    with pytest.raises(RouteError) as info:
        getattr(adapter, method)("buy", bad)
    assert info.value.details["field"] in ("qty", "quote_amount")
    assert repr(bad) in str(info.value) and "allowed" in str(info.value)
    assert snapshot(adapter) == before


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad_side", ["BUY", "bid", "", None, 1])
def test_bad_side_raises_on_every_read(kind: str, bad_side) -> None:
    adapter = MAKERS[kind]()
    before = snapshot(adapter)
    for call in (
        lambda: adapter.quote(bad_side, Decimal(1)),
        lambda: adapter.quote_for_quote(bad_side, Decimal(1000)),
        lambda: adapter.depth_curve(bad_side),
    ):
        with pytest.raises(RouteError) as info:
            call()
        assert info.value.details["field"] == "side"
    assert snapshot(adapter) == before


@pytest.mark.parametrize("kind", KINDS)
def test_qty_off_the_grid_is_refused(kind: str) -> None:
    adapter = MAKERS[kind]()
    off = Decimal(1) + adapter.base_quantum() / 2
    before = snapshot(adapter)
    with pytest.raises(RouteError, match="multiple"):
        adapter.quote("buy", off)
    assert snapshot(adapter) == before


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "order, field",
    [
        ("not an order", "order"),
        (LegOrder("other-venue", "buy", Decimal(1), "c"), "order.venue"),
        (LegOrder("{name}", "hold", Decimal(1), "c"), "side"),
        (LegOrder("{name}", "buy", Decimal(-1), "c"), "order.qty"),
        (LegOrder("{name}", "buy", 1.0, "c"), "order.qty"),  # type: ignore[arg-type]
        (
            LegOrder("{name}", "buy", Decimal(1), "c", limit_price=Decimal("NaN")),
            "order.limit_price",
        ),
        (LegOrder("{name}", "buy", Decimal(1), ""), "order.client_order_id"),
        (LegOrder("{name}", "buy", Decimal("1e-40"), "c"), "order.qty"),
    ],
    ids=["type", "venue", "side", "qty", "float-qty", "limit", "client-id", "off-grid"],
)
def test_execute_bad_order_raises_naming_the_field_and_changes_nothing(
    kind: str, order, field: str
) -> None:
    adapter = MAKERS[kind]()
    if isinstance(order, LegOrder) and order.venue == "{name}":
        order = LegOrder(
            adapter.name, order.side, order.qty, order.client_order_id, order.limit_price
        )
    before = snapshot(adapter)
    with pytest.raises(RouteError) as info:
        asyncio.run(adapter.execute(order))
    assert info.value.details["field"] == field
    assert snapshot(adapter) == before
