"""Building an adapter with a bad argument raises a RouteError naming the field, and leaves the
venue it was handed exactly as it was."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.amm import AmmAdapter
from adapters.clmm import ClmmAdapter
from adapters.orderbook import OrderBookAdapter
from router.model.errors import RouteError

from .conftest import ETH, USDC, make_amm, make_book, make_clmm, snapshot

# (field, keyword overrides); every row is invalid in exactly one field
COMMON_BAD = [
    ("name", {"name": ""}),
    ("name", {"name": 7}),
    ("symbol", {"symbol": "ETHUSDC"}),
    ("symbol", {"symbol": "ETH/USDC/X"}),
    ("quote_decimals", {"quote_decimals": -1}),
    ("quote_decimals", {"quote_decimals": 37}),
    ("quote_decimals", {"quote_decimals": True}),
    ("leg_cost", {"leg_cost": Decimal("-1")}),
    ("leg_cost", {"leg_cost": 4.0}),
    ("leg_cost", {"leg_cost": Decimal("0.0000001")}),  # finer than the quote's 6 decimals
]
POOL_BAD = [("base_decimals", {"base_decimals": 6.0}), ("base_decimals", {"base_decimals": 40})]
BOOK_BAD = [
    ("taker_fee_pips", {"taker_fee_pips": -1}),
    ("taker_fee_pips", {"taker_fee_pips": 1_000_000}),
    ("min_notional", {"min_notional": Decimal("-5")}),
    ("owner", {"owner": ""}),
]


def _build_amm(template: AmmAdapter, **overrides):
    kwargs = dict(
        name="amm", symbol="ETH/USDC", base_decimals=ETH, quote_decimals=USDC, leg_cost=Decimal(4)
    )
    kwargs.update(overrides)
    name, symbol = kwargs.pop("name"), kwargs.pop("symbol")
    return AmmAdapter(name, symbol, template.pool, **kwargs)


def _build_clmm(template: ClmmAdapter, **overrides):
    kwargs = dict(
        name="clmm",
        symbol="ETH/USDC",
        base_decimals=ETH,
        quote_decimals=USDC,
        fee_pips=500,
        leg_cost=Decimal(2),
    )
    kwargs.update(overrides)
    name, symbol = kwargs.pop("name"), kwargs.pop("symbol")
    return ClmmAdapter(name, symbol, template.pool, **kwargs)


def _build_book(template: OrderBookAdapter, **overrides):
    kwargs = dict(name="book", symbol="ETH/USDC", quote_decimals=USDC, taker_fee_pips=1000)
    kwargs.update(overrides)
    name, symbol = kwargs.pop("name"), kwargs.pop("symbol")
    return OrderBookAdapter(name, symbol, template.book, **kwargs)


CASES = (
    [("amm", make_amm, _build_amm, f, o) for f, o in COMMON_BAD + POOL_BAD]
    + [("clmm", make_clmm, _build_clmm, f, o) for f, o in COMMON_BAD + POOL_BAD]
    + [("book", make_book, _build_book, f, o) for f, o in COMMON_BAD + BOOK_BAD]
)


@pytest.mark.parametrize(
    "kind, make, build, field, overrides",
    CASES,
    ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(CASES)],
)
def test_bad_constructor_argument_names_the_field_and_changes_nothing(
    kind, make, build, field, overrides
) -> None:
    template = make()
    before = snapshot(template)
    build(template)  # the valid baseline builds: the row's one bad field is what fails below
    with pytest.raises(RouteError) as info:
        build(template, **overrides)
    assert info.value.details["field"] == field
    assert info.value.details["value"] == next(iter(overrides.values()))
    assert snapshot(template) == before
