"""adapters/account.py: the venue's books of our orders and holdings."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.account import ORDER_MEMORY, VenueAccount
from router.model.orders import LegFill


def fill(coid: str, side: str, qty: Decimal) -> LegFill:
    status = "filled" if qty else "rejected"
    return LegFill(
        "v", side, coid, qty or Decimal(1), qty, qty * 3000, Decimal(0), Decimal(0), status
    )


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.integers(0, 500)), max_size=150))
def test_holdings_sum_every_fill_and_recent_ids_are_answered(trades) -> None:
    account = VenueAccount("ETH")
    expected = Decimal(0)
    for i, (side, units) in enumerate(trades):
        qty = Decimal(units) / 100
        account.book(fill(f"c{i}", side, qty))
        expected += qty if side == "buy" else -qty
    assert account.holdings() == {"ETH": expected}
    for i in range(len(trades)):
        answer = account.order(f"c{i}")
        if i >= len(trades) - ORDER_MEMORY:
            assert answer is not None and answer.client_order_id == f"c{i}"
        else:
            assert answer is None  # archived, as an exchange archives old orders
    assert account.order("never") is None
