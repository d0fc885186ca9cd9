"""Served markets: exact unit conversions, filters, and the pools' synthetic depth ladder."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.server.errors import BinanceError
from router.server.markets import (
    BookMarket,
    MarketUnits,
    PoolMarket,
    V2Quoter,
    filters,
    precision_digits,
)
from venues.amm import ConstantProductPool
from venues.errors import InvalidArgument
from venues.orderbook import OrderBook

UNITS = MarketUnits("ETH", "USDC", 18, 6)


def test_book_market_converts_exactly_and_refuses_off_grid_values() -> None:
    book = OrderBook("ETH/USDC", tick_size="0.01", lot_size="0.0001")
    market = BookMarket("b", book, UNITS)
    assert (market.lot_units, market.quantum_units) == (10**14, 1)
    assert market.price_ticks(Decimal("3000.25")) == 300025
    assert market.qty_lots(Decimal("1.2345")) == 12345
    for bad in (Decimal("3000.255"), Decimal("0"), Decimal("-1")):
        with pytest.raises(BinanceError) as info:
            market.price_ticks(bad)
        assert info.value.binance_code == -1013 and "PRICE_FILTER" in info.value.msg
    with pytest.raises(BinanceError) as info:
        market.qty_lots(Decimal("0.00001"))
    assert "LOT_SIZE" in info.value.msg
    # a quantum finer than the quote's smallest unit could not be settled exactly
    with pytest.raises(InvalidArgument):
        BookMarket("b", OrderBook("ETH/USDC", tick_size="0.01", lot_size="0.00001"), UNITS)


def test_filters_are_binance_shaped() -> None:
    book = OrderBook("ETH/USDC", tick_size="0.01", lot_size="0.0001", min_notional="10")
    by_type = {f["filterType"]: f for f in filters(BookMarket("b", book, UNITS))}
    assert by_type["PRICE_FILTER"]["tickSize"] == "0.01"
    assert by_type["LOT_SIZE"]["stepSize"] == "0.0001"
    assert by_type["MARKET_LOT_SIZE"]["stepSize"] == "0.0001"
    assert by_type["NOTIONAL"]["minNotional"] == "10"
    assert precision_digits(Decimal("0.0001")) == 4 and precision_digits(Decimal("1")) == 0


@settings(max_examples=40)
@given(
    reserve_eth=st.integers(10, 10_000),
    price=st.integers(100, 10_000),
    fee_pips=st.sampled_from([500, 3000, 10000]),
)
def test_pool_ladder_is_ordered_uncrossed_and_priced_by_the_pool(
    reserve_eth: int, price: int, fee_pips: int
) -> None:
    pool = ConstantProductPool(reserve_eth * 10**18, reserve_eth * price * 10**6, fee_pips)
    market = PoolMarket("p", V2Quoter(pool), UNITS, depth_step=Decimal("1"))
    reserves = pool.reserves
    bids, asks = market.depth(8)
    assert pool.reserves == reserves  # reading depth never trades
    assert bids and asks and bids[0][0] < asks[0][0]
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert [p for p, _ in asks] == sorted(p for p, _ in asks)
    # the first level's price is what selling / buying exactly 1 ETH gets, rounded against the reader
    assert bids[0][0] == Decimal(pool.get_amount_out(10**18, True)).scaleb(-6)
    assert asks[0][0] == Decimal(pool.get_amount_in(10**18, False)).scaleb(-6)


def test_pool_market_refuses_bad_steps_and_quantities() -> None:
    pool = ConstantProductPool(10**21, 3 * 10**12, 3000)
    with pytest.raises(InvalidArgument):
        PoolMarket("p", V2Quoter(pool), UNITS, depth_step=Decimal("0"))
    market = PoolMarket("p", V2Quoter(pool), UNITS)
    with pytest.raises(BinanceError):
        market.qty_units(Decimal("1e-19"))
    assert market.qty_units(Decimal("0.5")) == 5 * 10**17


@settings(max_examples=60, deadline=None)
@given(ticks=st.integers(1, 10**11 - 1), extra_digits=st.integers(1, 20))
def test_grid_checks_stay_exact_beyond_28_significant_digits(ticks: int, extra_digits: int) -> None:
    # price = ticks * 0.01 plus one unit in the (2 + extra_digits)th decimal: always off the grid,
    # and with up to 33 significant digits, past what the default Decimal context holds
    book = OrderBook("ETH/USDC", tick_size="0.01", lot_size="0.0001")
    market = BookMarket("b", book, UNITS)
    on_grid = Decimal(ticks).scaleb(-2)
    assert market.price_ticks(on_grid) == ticks
    off_grid = on_grid + Decimal(1).scaleb(-2 - extra_digits)
    with pytest.raises(BinanceError, match="PRICE_FILTER"):
        market.price_ticks(off_grid)
    pool = PoolMarket("p", V2Quoter(ConstantProductPool(10**22, 3 * 10**13)), UNITS)
    with pytest.raises(BinanceError, match="MARKET_LOT_SIZE"):
        pool.qty_units(Decimal("12345678.0000000000000000000001"))
