"""Shortfall components add up exactly, for any fills."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from router.backtest.engine import ParentOrder
from router.backtest.report import COMPONENTS, fill_shortfall, parent_shortfall

money = st.decimals(
    min_value=Decimal("0.01"),
    max_value=Decimal(10**6),
    places=8,
    allow_nan=False,
    allow_infinity=False,
)
qty = st.decimals(
    min_value=Decimal("0.0001"),
    max_value=Decimal(1000),
    places=4,
    allow_nan=False,
    allow_infinity=False,
)


@st.composite
def fills(draw, side: str):
    bid = draw(money)
    ask = bid + draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(50), places=2))
    return {
        "side": draw(st.sampled_from([side, side, "sell" if side == "buy" else "buy"])),
        "qty": draw(qty),
        "quote_amount": draw(money),
        "fee": draw(money) / 100,
        "leg_cost": draw(st.sampled_from([Decimal(0), Decimal("1.5"), Decimal(8)])),
        "decision_bid": bid,
        "decision_ask": ask,
    }


@settings(max_examples=150)
@given(
    st.sampled_from(["buy", "sell"]).flatmap(
        lambda s: st.tuples(st.just(s), st.lists(fills(s), min_size=1, max_size=6))
    ),
    money,
)
def test_components_add_up_exactly_to_the_shortfall(case, arrival: Decimal) -> None:
    side, rows = case
    parent = ParentOrder("p", side, Decimal(1), "X/Y", 0, arrival, fills=rows)
    for row in rows:
        parts = fill_shortfall(side, arrival, row)
        assert sum(parts[c] for c in COMPONENTS) == parts["shortfall"]
    summary = parent_shortfall(parent)
    assert sum(summary[c] for c in COMPONENTS) == summary["shortfall"]


def test_a_buy_at_the_touch_costs_exactly_half_the_spread_plus_fees() -> None:
    row = {
        "side": "buy",
        "qty": Decimal(2),
        "quote_amount": Decimal("202.2"),
        "fee": Decimal("0.2"),
        "leg_cost": Decimal(0),
        "decision_bid": Decimal(100),
        "decision_ask": Decimal(101),
    }
    parts = fill_shortfall("buy", Decimal("100.5"), row)
    assert (
        parts["spread"] == Decimal(1) and parts["impact"] == 0 and parts["fees"] == Decimal("0.2")
    )
    assert parts["shortfall"] == Decimal("1.2")


def test_jsonable_decimals_drop_trailing_zeros_and_keep_their_value() -> None:
    from decimal import Decimal

    from router.backtest.report import to_jsonable

    values = {
        "pool_qty": Decimal("20.000000000000000000"),
        "zero": Decimal("0E-18"),
        "neg_zero": Decimal("-0.00"),
        "big": Decimal("1E+3"),
        "amount": Decimal("4475.87750000"),
        "nested": [Decimal("1.50")],
    }
    out = to_jsonable(values)
    assert out == {
        "pool_qty": "20",
        "zero": "0",
        "neg_zero": "0",
        "big": "1000",
        "amount": "4475.8775",
        "nested": ["1.5"],
    }
    assert all(Decimal(out[k]) == v for k, v in values.items() if k != "nested")
