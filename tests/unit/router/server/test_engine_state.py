"""Engine (venue server core) driven by a hypothesis state machine: every operation either
applies fully or raises a BinanceError leaving the state exactly as it was; balances stay exact
and conserved against the venues' own records."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from router.server.accounts import AccountSpec, Ledger
from router.server.engine import Engine
from router.server.errors import BinanceError
from router.server.markets import BookMarket, MarketUnits, PoolMarket, V2Quoter
from venues.amm import ConstantProductPool
from venues.orderbook import OrderBook

DECIMALS = {"ETH": 18, "USDC": 6, "DAI": 18, "BTC": 8, "USDT": 6}
START = {
    "ETH": Decimal("5"),
    "USDC": Decimal("20000"),
    "DAI": Decimal("20000"),
    "USDT": Decimal("5000"),
}
ACCOUNTS = ("a", "b")


def build() -> tuple[Engine, dict]:
    book = OrderBook(
        "ETH/USDC",
        tick_size="0.5",
        lot_size="0.01",
        min_notional="5",
        maker_fee_pips=100,
        taker_fee_pips=700,
    )
    book.place_limit("s-b", "seed", "buy", 5990, 300)  # 2995 x 3
    book.place_limit("s-a", "seed", "sell", 6010, 300)  # 3005 x 3
    perp = OrderBook(
        "BTC/USDT",
        tick_size="1",
        lot_size="0.001",
        min_notional="5",
        maker_fee_pips=200,
        taker_fee_pips=500,
        kind="perp",
    )
    perp.place_limit("s-b", "seed", "buy", 59_990, 2000)
    perp.place_limit("s-a", "seed", "sell", 60_010, 2000)
    pool = ConstantProductPool(100 * 10**18, 300_000 * 10**18, 3000)
    markets = [
        BookMarket("book", book, MarketUnits("ETH", "USDC", 18, 6)),
        BookMarket("perp", perp, MarketUnits("BTC", "USDT", 8, 6), leverage=10),
        PoolMarket("pool", V2Quoter(pool), MarketUnits("ETH", "DAI", 18, 18)),
    ]
    ledger = Ledger(DECIMALS, [AccountSpec(name, START) for name in ACCOUNTS])
    clock = iter(range(1_000, 10**9))
    return Engine(markets, ledger, clock_ms=lambda: next(clock)), {
        "book": book,
        "perp": perp,
        "pool": pool,
    }


def snapshot(engine: Engine, venues: dict) -> tuple:
    return (
        engine.ledger.snapshot(),
        {k: (r.status, r.executed_base_units, r.reserved_units) for k, r in engine.orders.items()},
        venues["book"]._snapshot(),
        venues["perp"]._snapshot(),
        venues["pool"].reserves,
        {k: len(v) for k, v in engine.trades.items()},
    )


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine, self.venues = build()
        self.start_units = {
            (a, asset): self.engine.ledger.free(a, asset) for a in ACCOUNTS for asset in DECIMALS
        }
        self.pool_start = self.venues["pool"].reserves

    def _attempt(self, action) -> None:
        before = snapshot(self.engine, self.venues)
        try:
            action()
        except BinanceError:
            assert snapshot(self.engine, self.venues) == before

    @rule(
        account=st.sampled_from(ACCOUNTS),
        side=st.sampled_from(("BUY", "SELL")),
        price_ticks=st.integers(5970, 6030),
        qty_lots=st.integers(0, 400),
        tif=st.sampled_from(("GTC", "IOC", "FOK")),
        market_order=st.booleans(),
    )
    def book_order(self, account, side, price_ticks, qty_lots, tif, market_order) -> None:
        qty = Decimal(qty_lots) / 100
        price = None if market_order else Decimal(price_ticks) / 2
        self._attempt(
            lambda: self.engine.place(
                account,
                "spot",
                "ETHUSDC",
                side,
                "MARKET" if market_order else "LIMIT",
                qty=qty,
                price=price,
                tif=tif,
                client_order_id=None,
            )
        )

    @rule(
        account=st.sampled_from(ACCOUNTS),
        side=st.sampled_from(("BUY", "SELL")),
        price=st.integers(59_900, 60_100),
        qty_lots=st.integers(0, 3000),
        market_order=st.booleans(),
    )
    def perp_order(self, account, side, price, qty_lots, market_order) -> None:
        qty = Decimal(qty_lots) / 1000
        self._attempt(
            lambda: self.engine.place(
                account,
                "perp",
                "BTCUSDT",
                side,
                "MARKET" if market_order else "LIMIT",
                qty=qty,
                price=None if market_order else Decimal(price),
                tif="GTC",
                client_order_id=None,
            )
        )

    @rule(
        account=st.sampled_from(ACCOUNTS),
        side=st.sampled_from(("BUY", "SELL")),
        milli_eth=st.integers(0, 3000),
    )
    def pool_order(self, account, side, milli_eth) -> None:
        self._attempt(
            lambda: self.engine.place(
                account,
                "spot",
                "ETHDAI",
                side,
                "MARKET",
                qty=Decimal(milli_eth) / 1000,
                price=None,
                tif="GTC",
                client_order_id=None,
            )
        )

    @rule(
        account=st.sampled_from(ACCOUNTS),
        side=st.sampled_from(("BUY", "SELL")),
        cents=st.integers(0, 2_000_000),
        pool=st.booleans(),
    )
    def quote_sized_order(self, account, side, cents, pool) -> None:
        """quoteOrderQty: the notional spent is at most the budget, and one more step would
        pass it (the largest quantity that fits)."""
        budget = Decimal(cents) / 100
        symbol = "ETHDAI" if pool else "ETHUSDC"
        results = []

        def place() -> None:
            results.append(
                self.engine.place(
                    account,
                    "spot",
                    symbol,
                    side,
                    "MARKET",
                    qty=None,
                    price=None,
                    tif="GTC",
                    client_order_id=None,
                    quote_qty=budget,
                )
            )

        self._attempt(place)
        if results:
            record = results[0]
            market = self.engine.by_name[record.venue]
            spent = Decimal(record.cum_quote_units).scaleb(-market.units.quote_decimals)
            assert 0 < spent <= budget
            assert record.orig_qty == Decimal(record.executed_base_units).scaleb(
                -market.units.base_decimals
            )

    @rule(
        account=st.sampled_from(ACCOUNTS),
        side=st.sampled_from(("BUY", "SELL")),
        price_ticks=st.integers(5970, 6030),
        qty_lots=st.integers(1, 400),
    )
    def post_only(self, account, side, price_ticks, qty_lots) -> None:
        results = []
        self._attempt(
            lambda: results.append(
                self.engine.place(
                    account,
                    "spot",
                    "ETHUSDC",
                    side,
                    "LIMIT",
                    qty=Decimal(qty_lots) / 100,
                    price=Decimal(price_ticks) / 2,
                    tif="POST_ONLY",
                    client_order_id=None,
                )
            )
        )
        if results:
            assert results[0].executed_base_units == 0 and results[0].status == "NEW"

    @rule(
        account=st.sampled_from(ACCOUNTS),
        side=st.sampled_from(("BUY", "SELL")),
        qty_lots=st.integers(1, 3000),
        position_side=st.sampled_from(("BOTH", "LONG", "SHORT")),
        reduce_only=st.booleans(),
    )
    def perp_position_order(self, account, side, qty_lots, position_side, reduce_only) -> None:
        """Reduce-only and hedge-mode closing orders never grow nor flip a position."""
        key = "perp" if position_side == "BOTH" else f"perp@{position_side}"
        before = self.engine.ledger.position(account, key).size_lots
        self._attempt(
            lambda: self.engine.place(
                account,
                "perp",
                "BTCUSDT",
                side,
                "MARKET",
                qty=Decimal(qty_lots) / 1000,
                price=None,
                tif="GTC",
                client_order_id=None,
                reduce_only=reduce_only,
                position_side=position_side,
            )
        )
        after = self.engine.ledger.position(account, key).size_lots
        closing = reduce_only or position_side == ("SHORT" if side == "BUY" else "LONG")
        if closing:
            assert abs(after) <= abs(before) and after * before >= 0

    @rule(
        account=st.sampled_from(ACCOUNTS),
        side=st.sampled_from(("BUY", "SELL")),
        price=st.integers(59_950, 60_050),
        qty_lots=st.integers(1, 2000),
        position_side=st.sampled_from(("BOTH", "LONG", "SHORT")),
    )
    def resting_closing_order(self, account, side, price, qty_lots, position_side) -> None:
        self._attempt(
            lambda: self.engine.place(
                account,
                "perp",
                "BTCUSDT",
                side,
                "LIMIT",
                qty=Decimal(qty_lots) / 1000,
                price=Decimal(price),
                tif="GTC",
                client_order_id=None,
                reduce_only=position_side == "BOTH",
                position_side=position_side,
            )
        )

    @invariant()
    def closing_orders_fit_their_positions(self) -> None:
        market = self.engine.by_name["perp"]
        for account in ACCOUNTS:
            for position_side in ("BOTH", "LONG", "SHORT"):
                key = "perp" if position_side == "BOTH" else f"perp@{position_side}"
                size = self.engine.ledger.position(account, key).size_lots
                for side in ("BUY", "SELL"):
                    reducible = -size if side == "BUY" else size
                    open_lots = sum(
                        self.engine._open_lots(market, r)
                        for r in self.engine._closing_orders(account, market, position_side, side)
                    )
                    assert open_lots <= max(reducible, 0), (account, position_side, side)

    @rule(account=st.sampled_from(ACCOUNTS), hedge=st.booleans())
    def position_mode(self, account, hedge) -> None:
        self._attempt(lambda: self.engine.set_hedge_mode(account, hedge))

    @rule(account=st.sampled_from(ACCOUNTS), leverage=st.integers(0, 30))
    def leverage(self, account, leverage) -> None:
        self._attempt(lambda: self.engine.set_leverage(account, "BTCUSDT", leverage))

    @invariant()
    def positions_match_modes(self) -> None:
        for (account, name), position in self.engine.ledger.positions.items():
            if name.endswith("@LONG"):
                assert position.size_lots >= 0
            elif name.endswith("@SHORT"):
                assert position.size_lots <= 0
            if account in self.engine.hedge_mode:
                assert "@" in name or position.size_lots == 0
            else:
                assert "@" not in name or position.size_lots == 0

    @rule(account=st.sampled_from(ACCOUNTS), pick=st.integers(0, 50))
    def cancel(self, account, pick) -> None:
        ids = sorted(self.engine.orders)
        order_id = ids[pick % len(ids)] if ids and pick < 45 else 10**6
        record = self.engine.orders.get(order_id)
        kind = "perp" if record is not None and record.venue == "perp" else "spot"
        symbol = record.symbol if record is not None else "ETHUSDC"
        self._attempt(lambda: self.engine.cancel(account, kind, symbol, order_id, None))

    @invariant()
    def checked(self) -> None:
        self.engine._check()
        for venue in self.venues.values():
            venue._check()

    @invariant()
    def conserved(self) -> None:
        ledger, book, pool = self.engine.ledger, self.venues["book"], self.venues["pool"]
        market = self.engine.by_name["book"]

        def delta(asset: str) -> int:
            return sum(
                ledger.free(a, asset) + ledger.locked(a, asset) - self.start_units[(a, asset)]
                for a in ACCOUNTS
            )

        # what the accounts gained, the seed maker, the venue's fees and the pool lost, exactly
        seed_eth = book.position_lots("seed") * market.lot_units
        pool_eth = pool.reserves[0] - self.pool_start[0]
        assert delta("ETH") == -seed_eth - pool_eth
        assert (
            delta("USDC") == -(book.cash_quanta("seed") + book.fees_quanta) * market.quantum_units
        )
        assert delta("DAI") == -(pool.reserves[1] - self.pool_start[1])
        assert delta("BTC") == 0  # perpetuals never move the base asset
        fees = sum(
            t.commission
            for a in ACCOUNTS
            for t in self.engine.trades[a]
            if self.engine.orders[t.order_id].venue == "perp"
        )
        pnl = sum(t.realized_pnl for a in ACCOUNTS for t in self.engine.trades[a])
        assert Decimal(delta("USDT")).scaleb(-6) == pnl - fees


EngineMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestEngineMachine = EngineMachine.TestCase


def test_resting_reduce_only_orders_never_cover_more_than_the_position() -> None:
    """Two resting reduce-only sells cannot together exceed the long; when another fill shrinks
    the long, the newest one that no longer fits expires instead of opening a short."""
    engine, _venues = build()

    def place(side: str, qty: str, price: str | None, reduce_only: bool = False):
        return engine.place(
            "a",
            "perp",
            "BTCUSDT",
            side,
            "LIMIT" if price else "MARKET",
            qty=Decimal(qty),
            price=Decimal(price) if price else None,
            tif="GTC",
            client_order_id=None,
            reduce_only=reduce_only,
        )

    place("BUY", "0.05", None)  # long 0.05 at the seed ask
    first = place("SELL", "0.03", "60100", reduce_only=True)
    second = place("SELL", "0.03", "60200", reduce_only=True)  # cut to the 0.02 left uncovered
    assert first.orig_qty == Decimal("0.03") and second.orig_qty == Decimal("0.02")
    place("SELL", "0.02", None)  # a plain sell at the seed bid: the long is now 0.03
    assert engine.ledger.position("a", "perp").size_lots == 30
    assert first.status == "NEW" and second.status == "EXPIRED"  # oldest kept while it fits
    assert [r.order_id for r in engine.open_orders("a", "perp")] == [first.order_id]
    engine._check()
