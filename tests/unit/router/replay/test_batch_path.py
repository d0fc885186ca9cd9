"""The replay's batch path into the margin core (integer units, unjournaled) leaves the ledger in
exactly the state of the checked path (LedgerLeg, set_mark, book_leg), for any history."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import event as hypothesis_event
from hypothesis import given, settings
from hypothesis import strategies as st

from router.margin.checks import LedgerLeg
from router.margin.errors import MarginInputError
from router.margin.ledger import MarginLedger
from router.margin.quantities import SCALE, parse_units
from router.replay.timeline import _units


def _ledger() -> tuple[MarginLedger, str]:
    ledger = MarginLedger("USDC")
    ledger.add_asset("BTC", "0.9", "0.95")
    ledger.set_mark("BTC", "60000")
    ledger.add_market("BTC-PERP", "BTC", max_leverage=20)
    ledger.set_mark("BTC-PERP", "60000")
    sub_id = ledger.open_subaccount("a", "main")
    ledger.deposit(sub_id, "USDC", "100000")
    return ledger, sub_id


def _leg(ledger: MarginLedger, sub: str, fill: tuple) -> LedgerLeg:
    """A generated fill as a leg; isolated margin only where the position is not held cross."""
    kind, side, size, price, fee, isolated = fill
    symbol = "BTC" if kind == "spot" else "BTC-PERP"
    position = ledger.position(sub, symbol) if kind == "perp" else None
    margin = (
        (size * price / 20).quantize(Decimal("1E-8"))
        if kind == "perp" and isolated and (position is None or position.mode == "isolated")
        else None
    )
    return LedgerLeg(kind, symbol, side, size, price, fee, margin)


prices = st.integers(1_000_000, 9_000_000).map(lambda c: Decimal(c) / 100)
marks = st.tuples(st.just("mark"), st.sampled_from(["BTC", "BTC-PERP"]), prices)
fills = st.tuples(
    st.sampled_from(["spot", "perp"]),
    st.sampled_from(["buy", "sell"]),
    st.integers(1, 10**17).map(lambda u: Decimal(u) / SCALE),  # to the wei
    prices,
    st.integers(0, 10**6).map(lambda u: Decimal(u) / 10**4),
    st.booleans(),
)
events = st.lists(st.one_of(marks, fills), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(events)
def test_batch_path_equals_checked_path(history: list) -> None:
    checked, sub = _ledger()
    batch, _ = _ledger()
    for event in history:
        if event[0] == "mark":
            _, name, price = event
            checked.set_mark(name, price)
            batch.set_mark_units(name, parse_units("price", price))
            continue
        leg = _leg(checked, sub, event)
        kind, symbol = leg.kind, leg.symbol
        try:
            checked.book_leg(sub, leg)
        except MarginInputError:
            continue  # e.g. isolated margin on a cross position: refused by both paths alike
        batch.book_units(
            sub,
            kind,
            symbol,
            leg.signed_units,
            leg.price_units,
            leg.fee_units,
            leg.isolated_margin_units,
        )
        batch._check()
        assert batch.margin_units(sub) == tuple(
            int(v * SCALE)
            for v in (
                checked.summary(sub)[k]
                for k in (
                    "equity",
                    "maintenance_equity",
                    "initial_margin",
                    "maintenance_margin",
                    "headroom",
                )
            )
        )
    assert batch.snapshot() == checked.snapshot()
    assert batch.liquidatable() == checked.liquidatable()


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False),
        st.integers(-(10**30), 10**30).map(lambda u: Decimal(u).scaleb(-8)),
        st.integers(0, 10**12).map(lambda u: Decimal(u).scaleb(-12)),
    )
)
def test_fast_units_are_the_checked_units_or_nothing(value: Decimal) -> None:
    """The replay's conversion gives parse_units' units, or None (then the checked path runs)."""
    units = _units(value)
    if units is None:
        return
    assert units == parse_units("x", value)


in_place_events = st.lists(
    st.one_of(marks, st.tuples(st.just("funding")), fills, fills), min_size=1, max_size=40
)


@settings(max_examples=150, deadline=None)
@given(in_place_events)
def test_in_place_perp_booking_equals_the_projection(history: list) -> None:
    """Property: booking a perp fill in place (book_cross_perp_units, the replay's hot path),
    with the market's new mark set by the same call or not, leaves the ledger exactly as
    set_mark_units then the projection path (book_units) do, step by step, whatever the marks,
    funding to settle, isolated positions, spot borrows and other holders of the market around
    it; where it does not apply it says so and changes nothing."""
    projected, sub = _ledger()
    in_place, _ = _ledger()
    for ledger in (projected, in_place):  # another holder of the market, re-valued by its mark
        other = ledger.open_subaccount("b", "main")
        ledger.deposit(other, "USDC", "50000")
        ledger.book_units(other, "perp", "BTC-PERP", -(10**17), 60000 * SCALE, 0)
    took = 0  # fills booked in place (hypothesis' statistics count the runs that did)
    held_back: int | None = None  # a BTC-PERP mark in_place has not applied yet
    for event in history:
        if event[0] == "mark":
            units = parse_units("price", event[2])
            projected.set_mark_units(event[1], units)
            if event[1] == "BTC-PERP":
                held_back = units
            else:
                in_place.set_mark_units(event[1], units)
            continue
        leg = None if event[0] == "funding" else _leg(projected, sub, event)
        fused = held_back if leg is not None and leg.kind == "perp" else None
        if fused is None and held_back is not None:
            in_place.set_mark_units("BTC-PERP", held_back)
        held_back = None
        if leg is None:
            for ledger in (projected, in_place):
                ledger.accrue_funding("BTC-PERP")
            assert in_place.snapshot() == projected.snapshot()
            continue
        kind, symbol = leg.kind, leg.symbol
        args = (leg.signed_units, leg.price_units, leg.fee_units)
        try:
            projected.book_units(sub, kind, symbol, *args, leg.isolated_margin_units)
        except MarginInputError:
            if fused is not None:
                in_place.set_mark_units(symbol, fused)
            continue
        before = in_place.snapshot()
        if (
            kind == "perp"
            and leg.isolated_margin_units is None
            and in_place.book_cross_perp_units(sub, symbol, *args, fused)
        ):
            took += 1
        else:
            assert in_place.snapshot() == before  # refused: nothing changed
            if fused is not None:
                in_place.set_mark_units(symbol, fused)
            in_place.book_units(sub, kind, symbol, *args, leg.isolated_margin_units)
        in_place._check()
        assert in_place.snapshot() == projected.snapshot()
        assert in_place.liquidatable() == projected.liquidatable()
    hypothesis_event("booked in place" if took else "none booked in place")
