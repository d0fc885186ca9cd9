"""Shared set-up for the venue-server tests: a small market served on an ephemeral loopback port."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal

import ccxt.async_support as ccxt_async
from bot_support import point_at_venue

from router.server.accounts import AccountSpec
from router.server.app import SERVER_KEY, ServerLimits, create_app
from router.server.markets import BookMarket, MarketUnits, PoolMarket, V2Quoter
from router.server.runner import start
from venues.amm import ConstantProductPool
from venues.orderbook import OrderBook

DECIMALS = {"ETH": 18, "USDC": 6, "USDT": 6}
KEY_A, SECRET_A = "key-a", "secret-a"
KEY_B, SECRET_B = "key-b", "secret-b"


class Clock:
    """A settable millisecond clock: tests move server time instead of sleeping."""

    def __init__(self, now_ms: int | None = None, offset_ms: int = 0) -> None:
        import time

        self.now_ms = now_ms
        self.offset_ms = offset_ms
        self._time = time

    def __call__(self) -> int:
        if self.now_ms is not None:
            return self.now_ms
        return self._time.time_ns() // 1_000_000 + self.offset_ms


def build_markets() -> list[BookMarket | PoolMarket]:
    book = OrderBook(
        "ETH/USDC",
        tick_size="0.01",
        lot_size="0.0001",
        min_notional="10",
        maker_fee_pips=100,
        taker_fee_pips=500,
    )
    for i, (price, qty) in enumerate([("2999.50", "12.5"), ("2999.00", "40")]):
        book.place_limit(
            f"seed-b{i}", "seed", "buy", book.price_to_ticks(price), book.qty_to_lots(qty)
        )
    for i, (price, qty) in enumerate([("3000.50", "8"), ("3001.00", "25")]):
        book.place_limit(
            f"seed-a{i}", "seed", "sell", book.price_to_ticks(price), book.qty_to_lots(qty)
        )
    perp = OrderBook(
        "ETH/USDT",
        tick_size="0.1",
        lot_size="0.001",
        min_notional="5",
        maker_fee_pips=200,
        taker_fee_pips=500,
        kind="perp",
    )
    for i, (price, qty) in enumerate([("2999.0", "30"), ("2998.0", "50")]):
        perp.place_limit(
            f"seed-b{i}", "seed", "buy", perp.price_to_ticks(price), perp.qty_to_lots(qty)
        )
    for i, (price, qty) in enumerate([("3001.0", "30"), ("3002.0", "50")]):
        perp.place_limit(
            f"seed-a{i}", "seed", "sell", perp.price_to_ticks(price), perp.qty_to_lots(qty)
        )
    pool = ConstantProductPool(1000 * 10**18, 3_000_000 * 10**6, 3000)
    return [
        BookMarket("book", book, MarketUnits("ETH", "USDC", 18, 6)),
        BookMarket("perp", perp, MarketUnits("ETH", "USDT", 18, 6), leverage=20),
        PoolMarket(
            "uni-v2", V2Quoter(pool), MarketUnits("ETH", "USDT", 18, 6), depth_step=Decimal("1")
        ),
    ]


def accounts() -> list[AccountSpec]:
    return [
        AccountSpec(
            "desk-a",
            {"ETH": Decimal("10"), "USDC": Decimal("250000"), "USDT": Decimal("100000")},
            KEY_A,
            SECRET_A,
        ),
        AccountSpec(
            "desk-b",
            {"ETH": Decimal("1"), "USDC": Decimal("1000"), "USDT": Decimal("1000")},
            KEY_B,
            SECRET_B,
        ),
    ]


@contextlib.asynccontextmanager
async def serve(
    clock: Clock | None = None, limits: ServerLimits | None = None, markets: list | None = None
) -> AsyncIterator[tuple[str, object]]:
    """Serve on 127.0.0.1 with an ephemeral port; yields (base_url, VenueServer)."""
    options = {"clock_ms": clock or Clock()}
    if limits is not None:
        options["limits"] = limits
    app = create_app(
        markets if markets is not None else build_markets(), accounts(), DECIMALS, **options
    )
    runner, port = await start(app)  # the runner that answers even malformed HTTP in JSON
    try:
        yield f"http://127.0.0.1:{port}", app[SERVER_KEY]
    finally:
        await runner.cleanup()


def ccxt_client(base: str, exchange_id: str = "binance", key: str = KEY_A, secret: str = SECRET_A):
    """The unmodified ccxt client: its keys and the docs/bots.md URL rewrite, nothing else."""
    klass = getattr(ccxt_async, exchange_id)
    return point_at_venue(klass({"apiKey": key, "secret": secret}), base)
