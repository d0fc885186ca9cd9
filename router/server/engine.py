"""The exchange behind the HTTP layer: orders, fills, trades and balances over the served markets.

Pure and synchronous: the aiohttp handlers parse and authenticate, then call one method here,
which either raises a :class:`~router.server.errors.BinanceError` having changed nothing, or
applies the whole operation. Every fill moves exactly its notional and its fee between ledger
balances (integers in each asset's base units).

Spot reservations: a buy locks quote (the taker part at its exact re-quote, the resting part at
its limit price plus the maker fee bound), a sell locks base; what an order did not use is
unlocked when it ends. Perpetuals: the margin asset is the quote; an order is accepted when the
wallet covers every position's and open order's initial margin (entry notional / leverage,
rounded up) plus the fees; fills settle fees and realised PnL in the wallet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import Any, NamedTuple

from router.server.accounts import Ledger, Position, decimal_of
from router.server.errors import (
    BAD_PRECISION,
    BAD_SYMBOL,
    INVALID_ORDER_TYPE,
    MIN_NOTIONAL_PERP,
    BinanceError,
    filter_failure,
    insufficient_balance,
    no_such_order,
    rejected,
    unknown_order_cancel,
)
from router.server.markets import BookMarket, PoolMarket
from venues.errors import InvalidArgument, VenueError

PIPS = 1_000_000
_EXACT = Context(prec=120)  # request amounts scale to integer units exactly
_STATUS = {
    "filled": "FILLED",
    "partially_filled": "PARTIALLY_FILLED",
    "resting": "NEW",
    "expired": "EXPIRED",
    "cancelled": "EXPIRED",
}


@dataclass(slots=True)
class OrderRecord:
    """An order as the server reports it; integers in ledger units, Decimal only when printed."""

    order_id: int
    client_order_id: str
    account: str
    symbol: str
    venue: str  # name of the served market
    side: str  # "BUY" | "SELL"
    type: str  # "LIMIT" | "MARKET"
    tif: str
    price: Decimal  # 0 for MARKET
    orig_qty: Decimal
    time_ms: int
    status: str = "NEW"
    executed_base_units: int = 0
    cum_quote_units: int = 0  # notional only, fees excluded (Binance cummulativeQuoteQty)
    update_time_ms: int = 0
    reserved_asset: str = ""
    reserved_units: int = 0  # spot: still locked for this order; perp: 0 (computed on demand)
    book_order_id: str = ""
    orig_quote_qty: Decimal = Decimal(0)  # a MARKET order sized by quoteOrderQty, else 0
    reduce_only: bool = False
    position_side: str = "BOTH"  # perp: "BOTH" in one-way mode, "LONG" | "SHORT" in hedge mode
    fills: list[TradeRecord] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


class TapeTrade(NamedTuple):
    """One public trade of a served market: what /trades, klines and the trade streams show."""

    time_ms: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    buyer_is_maker: bool  # Binance's "m": the taker sold


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One fill as seen by one account (Binance myTrades / userTrades)."""

    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_buyer: bool
    is_maker: bool
    realized_pnl: Decimal = Decimal(0)


class Engine:
    """Orders and balances across markets. ``clock_ms`` gives integer milliseconds.

    Complexity per order: the venue's own cost plus O(fills); open-order lookups O(open orders of
    the account in that symbol).
    """

    def __init__(
        self,
        markets: Iterable[BookMarket | PoolMarket],
        ledger: Ledger,
        *,
        clock_ms: Callable[[], int],
    ) -> None:
        # Views: "" is the root (the first venue of each kind and symbol, in the given order);
        # each venue name is a view holding that venue alone, so venues that share a symbol are
        # each reachable as their own Binance-like exchange.
        self.by_name: dict[str, BookMarket | PoolMarket] = {}
        self.views: dict[str, dict[tuple[str, str], BookMarket | PoolMarket]] = {"": {}}
        for market in markets:
            if not isinstance(market, (BookMarket, PoolMarket)):
                raise InvalidArgument("markets", market, "BookMarket or PoolMarket instances")
            if market.name in self.by_name or market.name == "":
                raise InvalidArgument("markets.name", market.name, "unique non-empty venue names")
            for asset in (market.units.base, market.units.quote):
                ledger.decimals(asset)
            key = (market.kind, market.units.symbol_id)
            self.by_name[market.name] = market
            self.views[""].setdefault(key, market)
            self.views[market.name] = {key: market}
        self.ledger = ledger
        self.clock_ms = clock_ms
        self.orders: dict[int, OrderRecord] = {}
        self._by_book_id: dict[tuple[str, str, str], OrderRecord] = {}
        self._client_ids: dict[tuple[str, str, str], OrderRecord] = {}
        self.trades: dict[str, list[TradeRecord]] = {name: [] for name in ledger.accounts}
        # one entry per fill per served market (by venue name); its public trade id is its
        # position in the list plus one (trades, aggTrades, klines and the trade streams read it)
        self.tape: dict[str, list[TapeTrade]] = {}
        self._next_order_id = 1
        self._next_trade_id = 1
        # Per-account perpetual settings, Binance's defaults until changed: the bracket's maximum
        # leverage per symbol (by venue name) and one-way position mode.
        self.leverage: dict[tuple[str, str], int] = {}
        self.hedge_mode: set[str] = set()

    # ---- lookups -------------------------------------------------------------------------------
    def markets(self, kind: str, view: str = "") -> list[BookMarket | PoolMarket]:
        """Markets of ``kind`` in ``view``, in config order."""
        return [m for (k, _), m in self.views.get(view, {}).items() if k == kind]

    def market(self, symbol: str, kind: str, view: str = "") -> BookMarket | PoolMarket:
        """The market ``symbol`` of ``kind`` ("spot"|"perp") in ``view``; -1121 when not served."""
        market = self.views.get(view, {}).get((kind, symbol))
        if market is None:
            raise BinanceError(BAD_SYMBOL, "Invalid symbol.", field="symbol", value=symbol[:64])
        return market

    def find_order(
        self,
        account: str,
        symbol: str,
        kind: str,
        order_id: int | None,
        client_order_id: str | None,
        view: str = "",
    ) -> OrderRecord:
        """The caller's own order by id or client id; -2013 otherwise (others' orders are invisible)."""
        market = self.market(symbol, kind, view)
        record = None
        if order_id is not None:
            record = self.orders.get(order_id)
        elif client_order_id is not None:
            record = self._client_ids.get((account, market.name, client_order_id))
        if record is None or record.account != account or record.venue != market.name:
            raise no_such_order()
        return record

    def open_orders(
        self, account: str, kind: str, symbol: str | None = None, view: str = ""
    ) -> list[OrderRecord]:
        """The caller's open orders of ``kind`` in ``view`` (one symbol, or all)."""
        names = (
            {self.market(symbol, kind, view).name}
            if symbol is not None
            else {m.name for m in self.markets(kind, view)}
        )
        return [
            r
            for r in self.orders.values()
            if r.account == account and r.is_open and r.venue in names
        ]

    def _kind_of(self, record: OrderRecord) -> str:
        return _kind_of_book_id(record.book_order_id)

    # ---- placing -------------------------------------------------------------------------------
    def place(
        self,
        account: str,
        kind: str,
        symbol: str,
        side: str,
        order_type: str,
        *,
        qty: Decimal | None,
        price: Decimal | None,
        tif: str,
        client_order_id: str | None,
        view: str = "",
        quote_qty: Decimal | None = None,
        reduce_only: bool = False,
        position_side: str = "BOTH",
    ) -> OrderRecord:
        """Place one order for ``account``; returns its record (fills inside). All or nothing.

        ``quote_qty`` (MARKET only, instead of ``qty``) spends at most that much quote notional;
        ``reduce_only`` and ``position_side`` are the perpetual's, checked against the account's
        position mode with Binance's codes (-2022, -4061, -1106).
        """
        if not self.ledger.has_account(account):
            raise InvalidArgument("account", account, "an account of this server")
        market = self.market(symbol, kind, view)
        if order_type not in market.order_types:
            raise BinanceError(
                INVALID_ORDER_TYPE,
                "Invalid orderType.",
                field="type",
                value=order_type,
                allowed=list(market.order_types),
            )
        if (
            client_order_id is not None
            and (account, market.name, client_order_id) in self._client_ids
            and self._client_ids[(account, market.name, client_order_id)].is_open
        ):
            raise rejected("Duplicate order sent.", client_order_id=client_order_id)
        if kind == "perp":
            self._check_position_side(account, side, reduce_only, position_side)
        if quote_qty is not None:
            qty = self._qty_for_quote(market, side, quote_qty, account)
        if qty is None:  # the HTTP layer asks for one of the two; a direct caller may not
            raise InvalidArgument("qty", qty, "a quantity or a quote quantity")
        now = self.clock_ms()
        record = OrderRecord(
            order_id=self._next_order_id,
            client_order_id=client_order_id or f"crossroute-{self._next_order_id}",
            account=account,
            symbol=symbol,
            venue=market.name,
            side=side,
            type=order_type,
            tif=tif if order_type == "LIMIT" else "GTC",
            price=price if price is not None else Decimal(0),
            orig_qty=qty,
            time_ms=now,
            update_time_ms=now,
            book_order_id=f"{kind}:{self._next_order_id}",
            orig_quote_qty=quote_qty if quote_qty is not None else Decimal(0),
            reduce_only=reduce_only,
            position_side=position_side,
        )
        if isinstance(market, PoolMarket):
            self._place_pool(market, record)
        elif kind == "perp":
            self._place_perp(market, record)
        else:
            self._place_spot_book(market, record)
        self._next_order_id += 1
        self.orders[record.order_id] = record
        self._client_ids[(account, market.name, record.client_order_id)] = record
        return record

    # ---- quote-sized orders and perpetual settings ----------------------------------------------
    def _qty_for_quote(
        self, market: BookMarket | PoolMarket, side: str, quote_qty: Decimal, account: str
    ) -> Decimal:
        """The largest quantity whose notional is at most ``quote_qty`` (Binance quoteOrderQty),
        by the venue's own read-only quote; -1111 off the quote grid, -1013 when it buys nothing.
        O(log(qty) quotes)."""
        units = market.units
        if quote_qty <= 0:
            raise filter_failure("NOTIONAL", quote_order_qty=str(quote_qty))
        if isinstance(market, PoolMarket):
            step = market.step_size
            budget = _grid_units(quote_qty, units.quote_decimals)
            quote = market.quoter.quote_buy if side == "BUY" else market.quoter.quote_sell

            def fits(n: int) -> bool:
                try:
                    return quote(n) <= budget
                except VenueError:
                    return False

        else:
            step = market.step_size
            # in quote units first (-1111 past the asset's decimals), then whole quanta (floor)
            budget = _grid_units(quote_qty, units.quote_decimals) // market.quantum_units
            book_side = "buy" if side == "BUY" else "sell"

            def fits(n: int) -> bool:
                q = market.book.quote(book_side, n, owner=account)
                return q.filled_lots == n and q.notional_quanta <= budget

        low, high = 0, 1
        while fits(high):  # exponential search for an upper bound, then bisection
            low, high = high, high * 2
            if high > 10**40:
                break
        while high - low > 1:
            middle = (low + high) // 2
            if fits(middle):
                low = middle
            else:
                high = middle
        if low == 0:
            raise filter_failure("NOTIONAL", quote_order_qty=str(quote_qty))
        return low * step

    def leverage_of(self, account: str, market: BookMarket) -> int:
        """The account's leverage on ``market``: its own setting, else the bracket's maximum."""
        return self.leverage.get((account, market.name), market.leverage)

    def set_leverage(self, account: str, symbol: str, leverage: int, view: str = "") -> int:
        """Binance POST /fapi/v1/leverage: -4028 outside [1, bracket max]; -2019 when the open
        positions and orders would then need more margin than the wallet. Returns the leverage."""
        market = self.market(symbol, "perp", view)
        if not 1 <= leverage <= market.leverage:  # type: ignore[union-attr]
            raise BinanceError(-4028, f"Leverage {leverage} is not valid", leverage=leverage)
        key = (account, market.name)
        before = self.leverage.get(key)
        self.leverage[key] = leverage
        asset = market.units.quote
        if self.perp_margin_used(account, asset) > self.ledger.free(account, asset):
            if before is None:
                del self.leverage[key]
            else:
                self.leverage[key] = before
            raise BinanceError(-2019, "Margin is insufficient.")
        return leverage

    def set_hedge_mode(self, account: str, hedge: bool) -> None:
        """Binance POST /fapi/v1/positionSide/dual: -4059 no change needed; -4068 with a position,
        -4067 with an open order (Binance refuses to switch then)."""
        if (account in self.hedge_mode) == hedge:
            raise BinanceError(-4059, "No need to change position side.")
        if any(k[0] == account and p.size_lots for k, p in self.ledger.positions.items()):
            raise BinanceError(-4068, "Position side cannot be changed if there exists position.")
        if any(
            r.account == account and r.is_open and self._kind_of(r) == "perp"
            for r in self.orders.values()
        ):
            raise BinanceError(
                -4067, "Position side cannot be changed if there exists open orders."
            )
        if hedge:
            self.hedge_mode.add(account)
        else:
            self.hedge_mode.discard(account)

    def _check_position_side(
        self, account: str, side: str, reduce_only: bool, position_side: str
    ) -> None:
        hedge = account in self.hedge_mode
        if position_side not in ("BOTH", "LONG", "SHORT"):
            raise BinanceError(-4006, "Invalid position side.", field="positionSide")
        if hedge != (position_side != "BOTH"):
            raise BinanceError(-4061, "Order's position side does not match user's setting.")
        if hedge and reduce_only:
            raise BinanceError(-1106, "Parameter 'reduceonly' sent when not required.")

    def _place_pool(self, market: PoolMarket, record: OrderRecord) -> None:
        units = market.units
        qty_units = market.qty_units(record.orig_qty)
        buy = record.side == "BUY"
        try:
            quote_units = (
                market.quoter.quote_buy(qty_units) if buy else market.quoter.quote_sell(qty_units)
            )
        except VenueError as exc:
            raise rejected(
                f"Pool cannot fill this order: {exc.code}", venue_code=exc.code
            ) from None
        quote_qty = decimal_of(quote_units, units.quote_decimals)
        if quote_units <= 0 or quote_qty < market.min_notional:
            raise filter_failure(
                "NOTIONAL", notional=str(quote_qty), min_notional=str(market.min_notional)
            )
        pay_asset, pay_units = (units.quote, quote_units) if buy else (units.base, qty_units)
        self.ledger.require_free(record.account, pay_asset, pay_units)
        try:
            done = market.quoter.buy(qty_units) if buy else market.quoter.sell(qty_units)
        except VenueError as exc:  # the quote passed, so the pool refuses only what it quoted
            raise rejected(
                f"Pool cannot fill this order: {exc.code}", venue_code=exc.code
            ) from None
        if done != quote_units:  # the quote and the swap use the same math; refuse to drift
            raise AssertionError(f"pool swap {done} != quote {quote_units}")
        if buy:
            deltas = {(units.quote, "free"): -quote_units, (units.base, "free"): qty_units}
        else:
            deltas = {(units.base, "free"): -qty_units, (units.quote, "free"): quote_units}
        self.ledger.apply(record.account, deltas)
        record.executed_base_units = qty_units
        record.cum_quote_units = quote_units
        record.status = "FILLED"
        avg_price = quote_qty / record.orig_qty  # orig_qty > 0: qty_units refused anything else
        self.tape.setdefault(market.name, []).append(
            TapeTrade(self.clock_ms(), avg_price, record.orig_qty, quote_qty, not buy)
        )
        self._trade(
            record,
            price=avg_price,
            qty=record.orig_qty,
            quote_qty=quote_qty,
            commission=Decimal(0),
            asset=units.quote,
            is_maker=False,
            account=record.account,
            order_id=record.order_id,
            side=record.side,
            symbol=record.symbol,
        )

    # Spot order book ------------------------------------------------------------------------------
    def _rest_reserve_quanta(self, market: BookMarket, price_ticks: int, lots: int) -> int:
        """Quanta a resting buy of ``lots`` may spend: notional + maker fees (each fill rounds up)."""
        notional = price_ticks * lots
        fee_pips = max(market.book.maker_fee_pips, 0)
        fee_bound = -(-notional * fee_pips // PIPS) + lots if fee_pips and lots else 0
        return notional + fee_bound

    def _book_request(
        self, market: BookMarket, record: OrderRecord
    ) -> tuple[str, int, int | None, Any]:
        """(book side, qty_lots, price_ticks or None for MARKET, the book's read-only quote) of an
        order; -1013 when the quantity or price is off the grid. Changes nothing."""
        side = "buy" if record.side == "BUY" else "sell"
        qty_lots = market.qty_lots(
            record.orig_qty, "LOT_SIZE" if record.type == "LIMIT" else "MARKET_LOT_SIZE"
        )
        price_ticks = market.price_ticks(record.price) if record.type == "LIMIT" else None
        return (
            side,
            qty_lots,
            price_ticks,
            market.book.quote(side, qty_lots, price_ticks, owner=record.account),
        )

    def _submit(
        self,
        market: BookMarket,
        record: OrderRecord,
        side: str,
        qty_lots: int,
        price_ticks: int | None,
    ) -> Any:
        """Send the order to the book; the book raises VenueError having changed nothing."""
        if record.type == "LIMIT":
            return market.book.place_limit(
                record.book_order_id, record.account, side, price_ticks, qty_lots, tif=record.tif
            )
        return market.book.place_market(record.book_order_id, record.account, side, qty_lots)

    def _settle_result(
        self, market: BookMarket, record: OrderRecord, result: Any, kind: str
    ) -> None:
        """Settle the taker's fills, expire self-trade-prevented makers, set the order's status."""
        self.settle_book_fills(market, record, result.fills, kind)
        self._cancel_stp(market, result.stp_cancelled)
        record.status = _STATUS[result.status]
        if record.executed_base_units and record.status == "NEW":
            record.status = "PARTIALLY_FILLED"

    def _place_spot_book(self, market: BookMarket, record: OrderRecord) -> None:
        book, units = market.book, market.units
        buy = record.side == "BUY"
        account = record.account
        side, qty_lots, price_ticks, quote = self._book_request(market, record)
        if record.type == "LIMIT":
            if price_ticks * qty_lots < book.min_notional_quanta:
                raise filter_failure("NOTIONAL", min_notional=str(market.min_notional))
        elif quote.filled_lots and quote.notional_quanta < book.min_notional_quanta:
            raise filter_failure("NOTIONAL", min_notional=str(market.min_notional))
        if record.type == "LIMIT" and record.tif == "FOK" and quote.filled_lots < qty_lots:
            taker_lots, rest_lots = 0, 0
        else:
            taker_lots = quote.filled_lots
            rest_lots = (
                qty_lots - taker_lots
                if record.type == "LIMIT" and record.tif in ("GTC", "POST_ONLY")
                else 0
            )
        if buy:
            need_quanta = quote.notional_quanta + quote.taker_fee_quanta if taker_lots else 0
            if rest_lots:
                need_quanta += self._rest_reserve_quanta(market, price_ticks, rest_lots)  # type: ignore[arg-type]
            asset, need_units = units.quote, need_quanta * market.quantum_units
        else:
            asset, need_units = units.base, (taker_lots + rest_lots) * market.lot_units
        self.ledger.lock(account, asset, need_units)
        try:
            result = self._submit(market, record, side, qty_lots, price_ticks)
        except VenueError as exc:
            self.ledger.unlock(account, asset, need_units)
            if exc.code == "POST_ONLY_WOULD_CROSS":
                raise rejected("Order would immediately match and take.") from None
            if exc.code == "MIN_NOTIONAL":
                raise filter_failure("NOTIONAL") from None
            raise rejected(
                f"Order rejected by the venue: {exc.code}", venue_code=exc.code
            ) from None
        record.reserved_asset, record.reserved_units = asset, need_units
        self._settle_result(market, record, result, "spot")
        if result.resting_lots:
            # Keep exactly the resting part's reservation; give back the rest (price improvement).
            keep = (
                self._rest_reserve_quanta(market, price_ticks, result.resting_lots)
                * market.quantum_units  # type: ignore[arg-type]
                if buy
                else result.resting_lots * market.lot_units
            )
            self._release(record, record.reserved_units - keep)
            self._by_book_id[("spot", market.name, record.book_order_id)] = record
        else:
            self._release(record, record.reserved_units)

    def _release(self, record: OrderRecord, units: int) -> None:
        if units:
            self.ledger.unlock(record.account, record.reserved_asset, units)
            record.reserved_units -= units

    def settle_book_fills(
        self, market: BookMarket, taker: OrderRecord | None, fills: Iterable[Any], kind: str
    ) -> None:
        """Settle book fills into the accounts of this server: the taker's (None when the taker
        trades elsewhere, e.g. the paper service's router) and each maker order placed here.
        Exact: quote moves by notional and fee quanta, base by lots. O(fills)."""
        units = market.units
        touched: set[tuple[str, str]] = set()
        for fill in fills:
            maker = self._by_book_id.get((kind, market.name, fill.maker_order_id))
            if maker is not None and kind == "perp":
                touched.add((maker.account, maker.position_side))
            self.tape.setdefault(market.name, []).append(
                TapeTrade(
                    self.clock_ms(),
                    fill.price_ticks * market.tick_size,
                    fill.qty_lots * market.step_size,
                    decimal_of(fill.notional_quanta * market.quantum_units, units.quote_decimals),
                    fill.taker_side == "sell",
                )
            )
            for record, fee_quanta, is_maker in (
                (taker, fill.taker_fee_quanta, False),
                (maker, fill.maker_fee_quanta, True),
            ):
                if record is None:
                    continue  # liquidity seeded from the config has no account here
                base_units = fill.qty_lots * market.lot_units
                notional_units = fill.notional_quanta * market.quantum_units
                fee_units = fee_quanta * market.quantum_units
                buy = record.side == "BUY"
                pnl_units = 0
                if kind == "spot":
                    if buy:
                        spent = notional_units + fee_units
                        deltas = {(units.quote, "locked"): -spent, (units.base, "free"): base_units}
                        record.reserved_units -= spent
                    else:
                        deltas = {
                            (units.base, "locked"): -base_units,
                            (units.quote, "free"): notional_units - fee_units,
                        }
                        record.reserved_units -= base_units
                    self.ledger.apply(record.account, deltas)
                else:
                    pnl_units = self._perp_fill(
                        market,
                        record,
                        fill.qty_lots if buy else -fill.qty_lots,
                        fill.notional_quanta,
                        fee_units,
                    )
                record.executed_base_units += base_units
                record.cum_quote_units += notional_units
                record.update_time_ms = self.clock_ms()
                if is_maker:
                    record.status = (
                        "FILLED"
                        if record.executed_base_units
                        == market.qty_lots(record.orig_qty) * market.lot_units
                        else "PARTIALLY_FILLED"
                    )
                    if record.status == "FILLED":
                        self._release(record, record.reserved_units)
                        self._by_book_id.pop((kind, market.name, record.book_order_id), None)
                self._trade(
                    record,
                    price=fill.price_ticks * market.tick_size,
                    qty=fill.qty_lots * market.step_size,
                    quote_qty=decimal_of(notional_units, units.quote_decimals),
                    commission=decimal_of(fee_units, units.quote_decimals),
                    asset=units.quote,
                    is_maker=is_maker,
                    account=record.account,
                    order_id=record.order_id,
                    side=record.side,
                    symbol=record.symbol,
                    realized_pnl=decimal_of(pnl_units, units.quote_decimals),
                )
        # a maker's position changed: its resting closing orders may now cover too much
        for account, position_side in sorted(touched):
            self._trim_closing_orders(account, market, position_side)

    def _cancel_stp(self, market: BookMarket, book_ids: Iterable[str]) -> None:
        for book_id in book_ids:
            record = self._by_book_id.pop((_kind_of_book_id(book_id), market.name, book_id), None)
            if record is not None:
                record.status = "EXPIRED"
                self._release(record, record.reserved_units)

    def _trade(
        self,
        record: OrderRecord,
        *,
        price: Decimal,
        qty: Decimal,
        quote_qty: Decimal,
        commission: Decimal,
        asset: str,
        is_maker: bool,
        account: str,
        order_id: int,
        side: str,
        symbol: str,
        realized_pnl: Decimal = Decimal(0),
    ) -> None:
        trade = TradeRecord(
            self._next_trade_id,
            order_id,
            symbol,
            side,
            price,
            qty,
            quote_qty,
            commission,
            asset,
            self.clock_ms(),
            side == "BUY",
            is_maker,
            realized_pnl,
        )
        self._next_trade_id += 1
        record.fills.append(trade)
        self.trades[account].append(trade)

    # Perpetual order book ---------------------------------------------------------------------------
    def _im_units(self, market: BookMarket, notional_quanta: int, account: str) -> int:
        leverage = self.leverage_of(account, market)
        return -(-abs(notional_quanta) * market.quantum_units // leverage)

    def perp_margin_used(self, account: str, asset: str, extra_units: int = 0) -> int:
        """Initial margin in ``asset`` units of every position and open order of ``account``."""
        used = extra_units
        for market in self.by_name.values():
            if market.kind != "perp" or market.units.quote != asset:
                continue
            for side in ("BOTH", "LONG", "SHORT"):
                position = self.ledger.position(account, position_key(market.name, side))
                used += self._im_units(market, position.entry_quanta, account)
        for record in self.orders.values():
            if record.account == account and record.is_open and self._kind_of(record) == "perp":
                market = self.by_name[record.venue]
                if market.units.quote != asset:
                    continue
                open_lots = (
                    market.qty_lots(record.orig_qty)
                    - record.executed_base_units // market.lot_units
                )
                notional = market.price_ticks(record.price) * open_lots
                used += self._im_units(market, notional, account) + self._fee_bound_units(
                    market, notional, open_lots
                )
        return used

    def _fee_bound_units(self, market: BookMarket, notional_quanta: int, lots: int) -> int:
        fee_pips = max(market.book.taker_fee_pips, market.book.maker_fee_pips, 0)
        if not fee_pips or not lots:
            return 0
        return (-(-notional_quanta * fee_pips // PIPS) + lots) * market.quantum_units

    def _place_perp(self, market: BookMarket, record: OrderRecord) -> None:
        book, units = market.book, market.units
        account = record.account
        size = self.ledger.position(
            account, position_key(market.name, record.position_side)
        ).size_lots
        buy = record.side == "BUY"
        # Closing orders: reduce-only ones, and in hedge mode a SELL of LONG or a BUY of SHORT.
        # They may only shrink the position: refused (-2022) when there is nothing to reduce, cut
        # to what the position less the account's other open closing orders leaves, as Binance
        # does; resting ones are trimmed as the position shrinks (_trim_closing_orders).
        closing = _is_closing(record)
        if closing:
            reducible = (-size if buy else size) - sum(
                self._open_lots(market, r)
                for r in self._closing_orders(account, market, record.position_side, record.side)
            )
            if reducible <= 0:
                raise BinanceError(-2022, "ReduceOnly Order is rejected.")
            lots = market.qty_lots(
                record.orig_qty, "LOT_SIZE" if record.type == "LIMIT" else "MARKET_LOT_SIZE"
            )
            if lots > reducible:
                record.orig_qty = reducible * market.step_size
        side, qty_lots, price_ticks, quote = self._book_request(market, record)
        if record.type == "LIMIT":
            notional = price_ticks * qty_lots  # type: ignore[operator]
        else:
            notional = quote.notional_quanta
        if (
            not closing
            and (record.type == "LIMIT" or quote.filled_lots)
            and notional < book.min_notional_quanta
        ):
            raise BinanceError(
                MIN_NOTIONAL_PERP,
                f"Order's notional must be no smaller than {market.min_notional} "
                "(unless you choose reduce only).",
                min_notional=str(market.min_notional),
            )
        worst_notional = max(notional, quote.notional_quanta)
        # Only the part of the order that grows the position needs initial margin; the part that
        # reduces it frees margin (other open orders are counted in full, conservatively).
        signed = qty_lots if side == "buy" else -qty_lots
        growing_lots = max(0, abs(size + signed) - abs(size))
        im_notional = -(-worst_notional * growing_lots // qty_lots)
        need = self._im_units(market, im_notional, account) + self._fee_bound_units(
            market, worst_notional, qty_lots
        )
        used = self.perp_margin_used(account, units.quote, need)
        wallet = self.ledger.free(account, units.quote)
        if used > wallet:
            raise insufficient_balance(
                units.quote,
                decimal_of(used, units.quote_decimals),
                decimal_of(wallet, units.quote_decimals),
            )
        try:
            result = self._submit(market, record, side, qty_lots, price_ticks)
        except VenueError as exc:
            if exc.code == "POST_ONLY_WOULD_CROSS":
                raise BinanceError(
                    -5022,
                    "Due to the order could not be executed as maker, the Post "
                    "Only order will be rejected.",
                ) from None
            raise rejected(
                f"Order rejected by the venue: {exc.code}", venue_code=exc.code
            ) from None
        self._settle_result(market, record, result, "perp")
        if result.resting_lots:
            self._by_book_id[("perp", market.name, record.book_order_id)] = record
        self._trim_closing_orders(account, market, record.position_side)

    def _open_lots(self, market: BookMarket, record: OrderRecord) -> int:
        return market.qty_lots(record.orig_qty) - record.executed_base_units // market.lot_units

    def _closing_orders(
        self, account: str, market: BookMarket, position_side: str, side: str
    ) -> list[OrderRecord]:
        """The account's open closing orders of ``side`` on one position, oldest first."""
        return [
            r
            for r in self.orders.values()
            if r.account == account
            and r.venue == market.name
            and r.is_open
            and r.position_side == position_side
            and r.side == side
            and _is_closing(r)
        ]

    def _trim_closing_orders(self, account: str, market: BookMarket, position_side: str) -> None:
        """Expire the resting closing orders a position no longer covers, oldest kept first: a
        reduce-only order must never open or grow a position (Binance cancels them too)."""
        size = self.ledger.position(account, position_key(market.name, position_side)).size_lots
        for side in ("BUY", "SELL"):
            left = -size if side == "BUY" else size
            for record in self._closing_orders(account, market, position_side, side):
                lots = self._open_lots(market, record)
                if lots <= left:
                    left -= lots
                    continue
                market.book.cancel(record.book_order_id)
                self._by_book_id.pop(("perp", market.name, record.book_order_id), None)
                record.status = "EXPIRED"
                record.update_time_ms = self.clock_ms()

    def _perp_fill(
        self,
        market: BookMarket,
        record: OrderRecord,
        signed_lots: int,
        notional_quanta: int,
        fee_units: int,
    ) -> int:
        """Apply one perp fill to the position and wallet; returns realised PnL in quote units.

        Closing part realises (exit - entry) on the entry cost share, rounded against the account
        (a long's share of entry cost up, a short's down); the remainder stays in the basis so a
        full close realises exactly the sum of price differences.
        """
        key = (record.account, position_key(record.venue, record.position_side))
        position = self.ledger.positions.setdefault(key, Position())
        size, entry = position.size_lots, position.entry_quanta
        price_notional = notional_quanta  # per |signed_lots|
        pnl_quanta = 0
        if size == 0 or (size > 0) == (signed_lots > 0):
            size += signed_lots
            entry += price_notional if signed_lots > 0 else -price_notional
        else:
            closing = min(abs(size), abs(signed_lots))
            closing_notional = price_notional * closing // abs(signed_lots)  # exact: same price
            share = entry * closing
            share = -(-share // abs(size)) if size > 0 else share // abs(size)
            # long: entry > 0, pnl = exit - cost; short: entry < 0, pnl = |cost| - exit
            pnl_quanta = closing_notional - share if size > 0 else -share - closing_notional
            entry -= share
            size += signed_lots
            opened = abs(signed_lots) - closing
            if opened:
                open_notional = price_notional - closing_notional
                entry = open_notional if signed_lots > 0 else -open_notional
        position.size_lots, position.entry_quanta = size, entry
        position.realised_pnl_quanta += pnl_quanta
        delta = pnl_quanta * market.quantum_units - fee_units
        self.ledger.adjust_wallet(record.account, market.units.quote, delta)
        return pnl_quanta * market.quantum_units

    # ---- cancelling ----------------------------------------------------------------------------
    def cancel(
        self,
        account: str,
        kind: str,
        symbol: str,
        order_id: int | None,
        client_order_id: str | None,
        view: str = "",
    ) -> OrderRecord:
        """Cancel the caller's open order; -2011 when it is unknown, not open or not the caller's."""
        try:
            record = self.find_order(account, symbol, kind, order_id, client_order_id, view)
        except BinanceError as exc:
            if exc.binance_code == BAD_SYMBOL:
                raise
            raise unknown_order_cancel() from None
        if not record.is_open:
            raise unknown_order_cancel()
        market = self.by_name[record.venue]
        market.book.cancel(record.book_order_id)  # type: ignore[union-attr]
        self._by_book_id.pop((kind, market.name, record.book_order_id), None)
        record.status = "CANCELED"
        record.update_time_ms = self.clock_ms()
        self._release(record, record.reserved_units)
        return record

    def _check(self) -> None:
        """Invariants: ledger sound; each open spot order's reservation covers what it may spend."""
        self.ledger._check()
        locked: dict[tuple[str, str], int] = {}
        for record in self.orders.values():
            assert record.reserved_units >= 0, record
            if not record.is_open:
                assert record.reserved_units == 0, record
            elif record.reserved_asset:
                key = (record.account, record.reserved_asset)
                locked[key] = locked.get(key, 0) + record.reserved_units
        for account in self.ledger.accounts:
            for asset in self.ledger.assets:
                assert self.ledger.locked(account, asset) == locked.get((account, asset), 0), (
                    account,
                    asset,
                )


def _is_closing(record: OrderRecord) -> bool:
    """A perp order that may only shrink its position: reduce-only, or closing in hedge mode."""
    return record.reduce_only or record.position_side == (
        "SHORT" if record.side == "BUY" else "LONG"
    )


def position_key(venue: str, position_side: str) -> str:
    """The ledger's position name: the venue in one-way mode, ``venue@LONG|SHORT`` in hedge mode."""
    return venue if position_side == "BOTH" else f"{venue}@{position_side}"


def _grid_units(amount: Decimal, decimals: int) -> int:
    """``amount`` in integer base units; -1111 when it has more than ``decimals`` decimals."""
    scaled = amount.scaleb(decimals, _EXACT)
    if scaled != scaled.to_integral_value(context=_EXACT):
        raise BinanceError(BAD_PRECISION, "Parameter 'quoteOrderQty' has too much precision.")
    return int(scaled)


def _kind_of_book_id(book_order_id: str) -> str:
    """ "spot" or "perp": place() names each book order "<kind>:<order_id>"."""
    return "perp" if book_order_id.startswith("perp:") else "spot"
