"""One liquidation loop for every caller: the margin core decides each step, a filler trades it,
the exact fill is booked, repeated until above maintenance, flat, or blocked (named)."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.margin import LedgerLeg, MarginInputError, MarginRejected
from router.margin.liquidation import (
    ENDED_ABOVE,
    ENDED_BLOCKED,
    ENDED_FLAT,
    Liquidation,
    LiquidationFill,
    LiquidationOrder,
    liquidate,
)
from router.margin.quantities import BPS, SCALE

from .test_spot_credit import eth_ledger, spot


def worse_by(bps: int, share_pct: int = 100):
    """A filler trading ``share_pct`` of each order at ``bps`` worse than the mark (a venue whose
    price moved away while the liquidation sold into it)."""

    def fill(ledger, order: LiquidationOrder) -> LiquidationFill:
        mark = ledger.mark_units(order.symbol)
        price = mark * (BPS + bps) // BPS if order.signed_units > 0 else mark * (BPS - bps) // BPS
        units = order.signed_units * share_pct // 100
        return LiquidationFill(units, max(1, price), "" if units else "no depth")

    return fill


def test_a_fill_worse_than_the_mark_is_booked_as_filled_and_the_rest_closed_next():
    ledger, sub = eth_ledger("10000")
    ledger.apply_leg(sub, spot("sell", "10", "3000"))
    ledger.set_mark("ETH", "3850")
    result = liquidate(ledger, sub, worse_by(200))  # buys back 2% above the mark
    assert result.triggered and len(result.steps) >= 1
    first = result.steps[0]
    assert first.price_units == 3850 * SCALE * (BPS + 200) // BPS  # the fill, not the mark
    assert first.mark_units == 3850 * SCALE
    assert first.closed_units == first.asked_units
    entries = [e for e in ledger.journal.events() if e["event"] == "liquidation_step"]
    assert entries[0]["price"] != entries[0]["mark"]
    summary = ledger.summary(sub)
    assert result.ended in (ENDED_ABOVE, ENDED_FLAT)
    if result.ended == ENDED_ABOVE:
        assert summary["maintenance_equity"] >= summary["maintenance_margin"]
    ledger._check()


def test_a_venue_that_fills_nothing_blocks_the_liquidation_and_says_which_exposure():
    ledger, sub = eth_ledger("10000")
    ledger.apply_leg(sub, spot("sell", "10", "3000"))
    ledger.set_mark("ETH", "3850")
    before = ledger.balance(sub, "ETH")
    result = liquidate(ledger, sub, worse_by(0, share_pct=0))
    assert result.triggered and not result.steps
    assert result.ended == ENDED_BLOCKED
    assert result.reason is not None and "ETH" in result.reason and "no depth" in result.reason
    assert ledger.balance(sub, "ETH") == before
    events = [e["event"] for e in ledger.journal.events()]
    assert "liquidation_unfilled" in events and "liquidation_blocked" in events
    ledger._check()


def test_a_fill_beyond_the_order_is_refused_and_books_nothing():
    ledger, sub = eth_ledger("10000")
    ledger.apply_leg(sub, spot("sell", "10", "3000"))
    ledger.set_mark("ETH", "3850")
    run = Liquidation(ledger, sub)
    order = run.next_order()
    assert order is not None and order.kind == "spot" and order.signed_units > 0
    before = ledger.balance(sub, "ETH")
    with pytest.raises(MarginInputError, match="filled_units"):
        run.book(order, LiquidationFill(order.signed_units * 2, order.mark_units))
    with pytest.raises(MarginInputError, match="filled_units"):
        run.book(order, LiquidationFill(-order.signed_units, order.mark_units))
    assert ledger.balance(sub, "ETH") == before
    ledger._check()


def test_an_account_above_maintenance_is_not_liquidated():
    ledger, sub = eth_ledger("10000")
    run = Liquidation(ledger, sub)
    assert run.next_order() is None
    result = run.finish()
    assert not result.triggered and result.ended is None and not result.steps


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["spot", "perp"]), st.sampled_from(["buy", "sell"])),
        min_size=1,
        max_size=6,
    ),
    st.integers(1, 40),
    st.integers(-60, 80),
    st.integers(-60, 80),
    st.integers(0, 500),
    st.sampled_from([0, 30, 100]),
)
def test_through_any_filler_liquidation_reduces_risk_and_ends_above_flat_or_blocked(
    trades, size_tenths, spot_move_pct, perp_move_pct, slip_bps, share_pct
):
    ledger, sub = eth_ledger("5000", initial_weight="0.8", maintenance_weight="0.9")
    for kind, side in trades:
        leg = LedgerLeg(
            kind, "ETH" if kind == "spot" else "ETH-PERP", side, str(size_tenths / 10), "3000"
        )
        try:
            ledger.apply_leg(sub, leg)
        except MarginRejected:
            pass
    ledger.set_mark("ETH", str(3000 * (100 + spot_move_pct) // 100))
    ledger.set_mark("ETH-PERP", str(3000 * (100 + perp_move_pct) // 100))
    state = ledger.subs[sub]
    gross_before = state.totals[6]
    result = liquidate(ledger, sub, worse_by(slip_bps, share_pct))
    ledger._check()  # every asset conserved: subaccounts + market + fund + fees
    if not result.triggered:
        return
    assert result.steps or result.bad_debt_units or result.reason
    for step in result.steps:
        assert step.mm_after <= step.mm_before + 1  # a step never adds requirement
        assert abs(step.closed_units) <= abs(step.asked_units)
    assert state.totals[6] <= gross_before  # gross exposure never grows
    summary = ledger.summary(sub)
    flat = not state.positions and all(u == 0 for a, u in state.balances.items() if a != "USDC")
    healthy = summary["maintenance_equity"] >= summary["maintenance_margin"]
    assert result.ended in (ENDED_ABOVE, ENDED_FLAT, ENDED_BLOCKED)
    if result.ended == ENDED_BLOCKED:
        assert result.unfilled  # blocked only by what the filler could not trade
    else:
        assert healthy or flat
    if flat and result.ended == ENDED_FLAT:
        assert ledger.balance(sub, "USDC") >= Decimal(0)  # a negative rest is the fund's
