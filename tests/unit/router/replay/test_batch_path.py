"""The replay's batch path into the margin core (integer units, unjournaled) leaves the ledger in
exactly the state of the checked path (LedgerLeg, set_mark, book_leg), for any history."""

from __future__ import annotations

from decimal import Decimal

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


prices = st.integers(1_000_000, 9_000_000).map(lambda c: Decimal(c) / 100)
events = st.lists(
    st.one_of(
        st.tuples(st.just("mark"), st.sampled_from(["BTC", "BTC-PERP"]), prices),
        st.tuples(
            st.sampled_from(["spot", "perp"]),
            st.sampled_from(["buy", "sell"]),
            st.integers(1, 10**17).map(lambda u: Decimal(u) / SCALE),  # to the wei
            prices,
            st.integers(0, 10**6).map(lambda u: Decimal(u) / 10**4),
            st.booleans(),
        ),
    ),
    min_size=1,
    max_size=30,
)


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
        kind, side, size, price, fee, isolated = event
        symbol = "BTC" if kind == "spot" else "BTC-PERP"
        position = checked.position(sub, symbol) if kind == "perp" else None
        margin = (
            (size * price / 20).quantize(Decimal("1E-8"))
            if kind == "perp" and isolated and (position is None or position.mode == "isolated")
            else None
        )
        leg = LedgerLeg(kind, symbol, side, size, price, fee, margin)
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
