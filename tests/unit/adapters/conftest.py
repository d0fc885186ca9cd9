"""Builders of small adapters over real venues, and a snapshot of any venue's state.

Plain functions rather than fixtures, so hypothesis tests can build a fresh venue per example.
"""

from __future__ import annotations

from decimal import Decimal

from adapters.amm import AmmAdapter
from adapters.clmm import ClmmAdapter, sqrt_price_x96_from_price, tick_at_price
from adapters.orderbook import OrderBookAdapter
from venues.amm import ConstantProductPool
from venues.clmm import ConcentratedLiquidityPool
from venues.orderbook import OrderBook

ETH, USDC = 18, 6


def make_amm(leg_cost: str = "4") -> AmmAdapter:
    pool = ConstantProductPool(100 * 10**ETH, 300_000 * 10**USDC, 3000)
    return AmmAdapter(
        "amm", "ETH/USDC", pool, base_decimals=ETH, quote_decimals=USDC, leg_cost=Decimal(leg_cost)
    )


# (lower, upper, L): overlapping ranges, deepest around 3000, one gap-free ladder
CLMM_POSITIONS = (
    ("2900", "3100", 10**17),
    ("2950", "3030", 2 * 10**17),
    ("2500", "3600", 3 * 10**16),
)


def make_clmm(leg_cost: str = "2", positions=CLMM_POSITIONS, price: str = "3000") -> ClmmAdapter:
    pool = ConcentratedLiquidityPool(500, 10, sqrt_price_x96_from_price(Decimal(price), ETH, USDC))
    for lower, upper, liquidity in positions:
        pool.mint(
            "lp",
            tick_at_price(Decimal(lower), ETH, USDC, 10),
            tick_at_price(Decimal(upper), ETH, USDC, 10),
            liquidity,
        )
    return ClmmAdapter(
        "clmm",
        "ETH/USDC",
        pool,
        base_decimals=ETH,
        quote_decimals=USDC,
        fee_pips=500,
        leg_cost=Decimal(leg_cost),
    )


BIDS = (("2999.50", "2.5"), ("2999.00", "4"), ("2998.00", "6"), ("2990.00", "10"))
ASKS = (("3000.50", "2"), ("3001.00", "5"), ("3002.50", "8"), ("3010.00", "10"))


def make_book(
    leg_cost: str = "0", min_notional: str = "0", taker_fee_pips: int = 1000
) -> OrderBookAdapter:
    book = OrderBook(
        "ETH/USDC",
        tick_size="0.01",
        lot_size="0.0001",
        min_notional=min_notional,
        taker_fee_pips=taker_fee_pips,
    )
    for side, levels in (("buy", BIDS), ("sell", ASKS)):
        for index, (price, size) in enumerate(levels):
            # two makers per level so a sweep makes several fills (fee rounding per fill)
            lots = book.qty_to_lots(size)
            book.place_limit(
                f"{side}-{index}-a", "mm1", side, book.price_to_ticks(price), lots // 2
            )
            book.place_limit(
                f"{side}-{index}-b", "mm2", side, book.price_to_ticks(price), lots - lots // 2
            )
    return OrderBookAdapter(
        "book",
        "ETH/USDC",
        book,
        quote_decimals=USDC,
        taker_fee_pips=taker_fee_pips,
        min_notional=Decimal(min_notional),
        leg_cost=Decimal(leg_cost),
    )


MAKERS = {"amm": make_amm, "clmm": make_clmm, "book": make_book}


def snapshot(adapter) -> tuple:
    """Everything observable about the adapter's venue, to assert that a call changed nothing."""
    if isinstance(adapter, AmmAdapter):
        return (adapter.pool.reserve0, adapter.pool.reserve1, adapter.pool.total_supply)
    if isinstance(adapter, ClmmAdapter):
        pool = adapter.pool
        return (
            pool.sqrt_price_x96,
            pool.tick,
            pool.liquidity,
            pool.balance0,
            pool.balance1,
            pool.fee_growth_global0_x128,
            pool.fee_growth_global1_x128,
            tuple(pool.initialized_ticks()),
        )
    book = adapter.book
    return (tuple(book.depth("bids")), tuple(book.depth("asks")), tuple(book.open_orders()))
