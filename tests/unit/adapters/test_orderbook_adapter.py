"""OrderBookAdapter: flat curve per level with the fee inside, exact fee rounding, min notional."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from router.model.errors import RouteError
from router.model.orders import LegOrder

from .conftest import ASKS, BIDS, make_book, snapshot


def test_curve_is_one_flat_segment_per_level_with_the_fee_inside() -> None:
    adapter = make_book(taker_fee_pips=1000)
    buy = adapter.depth_curve("buy")
    assert [(s.qty, s.price) for s in buy.segments] == [
        (float(size), float(Decimal(price) * Decimal("1.001"))) for price, size in ASKS
    ]
    sell = adapter.depth_curve("sell")
    assert [s.price for s in sell.segments] == [
        float(Decimal(p) * Decimal("0.999")) for p, _ in BIDS
    ]
    assert buy.lot == 0.0001


def test_quote_rounds_fees_per_fill_in_the_venues_favour() -> None:
    adapter = make_book(taker_fee_pips=1000)
    # 2.0001 ETH: fills 1.0 + 1.0 at 3000.50 then 0.0001 at 3001.00 (three fills)
    leg = adapter.quote("buy", Decimal("2.0001"))
    # fee per fill = ceil(notional_quanta * 1000 / 1e6) quanta of 1e-6 USDC (ticks * lots)
    quanta = [300050 * 10000, 300050 * 10000, 300100 * 1]
    fee_quanta = sum(-(-q * 1000 // 1_000_000) for q in quanta)
    assert leg.fee == Decimal(fee_quanta).scaleb(-6)
    assert leg.quote_amount == Decimal(sum(quanta) + fee_quanta).scaleb(-6)
    assert fee_quanta == 2 * 3000500 + 301  # the last fill's 300.1 quanta fee rounds up to 301


def test_sell_receives_notional_minus_fee_minus_leg_cost() -> None:
    adapter = make_book(leg_cost="0.5", taker_fee_pips=1000)
    leg = adapter.quote("sell", Decimal("1"))
    assert leg.quote_amount == Decimal("2999.50") - Decimal("2.999500") - Decimal("0.5")


def test_min_notional_sets_min_qty_and_refuses_small_legs() -> None:
    adapter = make_book(min_notional="100")
    assert adapter.min_qty() == Decimal("0.0334")  # ceil(100 / 2999.50 / 0.0001) lots
    with pytest.raises(RouteError, match="minimum"):
        adapter.quote("buy", Decimal("0.03"))
    assert adapter.quote("buy", Decimal("0.0334")).qty == Decimal("0.0334")


def test_duplicate_client_order_id_is_rejected_and_changes_nothing() -> None:
    adapter = make_book()
    first = asyncio.run(adapter.execute(LegOrder("book", "buy", Decimal("3"), "c1")))
    assert first.status == "filled" and first.filled_qty == Decimal("3")
    before = snapshot(adapter)
    again = asyncio.run(adapter.execute(LegOrder("book", "buy", Decimal("3"), "c1")))
    assert again.status == "rejected" and "c1" in again.reason
    assert snapshot(adapter) == before


def test_quote_for_quote_sell_beyond_the_bids_is_refused() -> None:
    adapter = make_book()
    before = snapshot(adapter)
    with pytest.raises(RouteError, match="does not receive"):
        adapter.quote_for_quote("sell", Decimal("1000000"))
    assert snapshot(adapter) == before


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "name"),
        ({"symbol": "ETHUSDC"}, "symbol"),
        ({"quote_decimals": 37}, "quote_decimals"),
        ({"taker_fee_pips": 1_000_000}, "taker_fee_pips"),
        ({"min_notional": Decimal(-1)}, "min_notional"),
        ({"leg_cost": Decimal("0.0000001")}, "leg_cost"),
        ({"owner": ""}, "owner"),
    ],
)
def test_constructor_refuses_bad_arguments(kwargs: dict, field: str) -> None:
    from adapters.orderbook import OrderBookAdapter

    book = make_book().book
    args = {
        "name": "book",
        "symbol": "ETH/USDC",
        "quote_decimals": 6,
        "taker_fee_pips": 1000,
        "min_notional": Decimal(0),
        "leg_cost": Decimal(0),
        "owner": "router",
    } | kwargs
    name, symbol = args.pop("name"), args.pop("symbol")
    with pytest.raises(RouteError) as info:
        OrderBookAdapter(name, symbol, book, **args)
    assert info.value.details["field"] == field
