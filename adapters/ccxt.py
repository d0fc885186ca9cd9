"""Adapter for any ``ccxt.async_support`` exchange: a real one, or the venue server on loopback.

Reads are synchronous (the VenueAdapter protocol), so the adapter works from a snapshot that
:meth:`CcxtAdapter.refresh` takes: the market (precision, limits) and the order book. The book
becomes flat depth segments with the taker fee inside, like the in-process order-book adapter.
Legs become ``create_order`` market calls.

Numbers: ccxt hands out floats. Each is turned into a Decimal through its shortest repr (never
``Decimal(float)``) and snapped to the market's grid (price tick, amount step); a value off the
grid is refused. Fees per level are rounded up to the book's quantum (tick x step) in the venue's
favour; quote amounts to the quote asset's decimals against the trader. When the exchange
returns Binance's exact strings (``executedQty``, ``cummulativeQuoteQty``, fills' commissions)
they are used instead of the floats.

Errors: no ccxt exception leaves this module. ``ccxt.NetworkError`` (timeouts, unavailability,
rate limits, a stale nonce) becomes ``AdapterError(retryable=True)``; an exchange refusing a leg
(``InsufficientFunds``, ``InvalidOrder``, ``BadRequest``...) becomes a rejected ``LegFill``;
other exchange errors (bad credentials, unknown symbol) become ``AdapterError(retryable=False)``.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from decimal import Context, Decimal
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

import ccxt as ccxt_errors
import ccxt.async_support as ccxt_async

from adapters.units import (
    check_amount,
    check_decimals,
    check_identity,
    check_leg_order,
    check_side,
    from_units,
    invalid,
    quote_or_reject,
    rejected_fill,
    to_float,
    to_units_exact,
)
from router.model.depth import DepthCurve, FlatSegment
from router.model.errors import AdapterError, RouteError
from router.model.orders import LegFill, LegOrder, LegQuote

PIPS = 1_000_000
_CLIENT_ID = re.compile(r"[.A-Za-z0-9:/_-]{1,36}")
# ccxt errors that mean "the exchange looked at this order and said no": a rejected leg.
_LEG_REJECTIONS = (
    ccxt_errors.InsufficientFunds,
    ccxt_errors.InvalidOrder,
    ccxt_errors.BadRequest,
    ccxt_errors.OperationRejected,
)


def venue_client_id(client_order_id: str) -> str:
    """The id the exchange sees for ``client_order_id``: itself when it fits Binance's
    ``newClientOrderId`` (1-36 of ``[.A-Za-z0-9:/_-]``), else ``cr-`` and the first 33 hex digits of
    its SHA-256. Deterministic, so a status query finds the order by the same id. O(len)."""
    if _CLIENT_ID.fullmatch(client_order_id):
        return client_order_id
    return "cr-" + hashlib.sha256(client_order_id.encode("utf-8")).hexdigest()[:33]


def decimal_from_ccxt(value: Any, field: str, venue: str) -> Decimal:
    """A ccxt number (float, int or str) as an exact Decimal via its shortest repr."""
    if isinstance(value, bool) or value is None:
        raise AdapterError(venue, f"{field}={value!r} is invalid; allowed: a number", field=field)
    # repr is the shortest string that round-trips the float: 0.1 -> "0.1", not 0.1000000000000000055...
    text = repr(value) if isinstance(value, float) else str(value)
    try:
        result = Decimal(text)
    except ArithmeticError:
        raise AdapterError(
            venue, f"{field}={value!r} is invalid; allowed: a number", field=field
        ) from None
    if not result.is_finite():
        raise AdapterError(
            venue, f"{field}={value!r} is invalid; allowed: a finite number", field=field
        )
    return result


def map_ccxt_error(venue: str, exc: Exception, action: str) -> AdapterError:
    """Our error for a ccxt one: retryable for network trouble, not for an exchange refusal."""
    retryable = isinstance(exc, ccxt_errors.NetworkError)
    return AdapterError(
        venue,
        f"{action} failed: {type(exc).__name__}: {str(exc)[:300]}",
        retryable=retryable,
        ccxt_error=type(exc).__name__,
    )


def known_exchange(exchange_id: str) -> bool:
    """Whether ``exchange_id`` names an exchange ccxt's async support has ("binance")."""
    return exchange_id in ccxt_async.exchanges


def point_at(exchange: Any, base_url: str) -> Any:
    """Rewrite every https/wss API URL of ``exchange`` to ``base_url`` (same paths, that scheme
    and host): how the venue server on ``http://127.0.0.1:N/v/<venue>`` stands in for the exchange
    (docs/bots.md shows the same rewrite for bots). Returns ``exchange``. O(URLs)."""
    ws_base = "ws" + base_url[len("http") :]

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: rewrite(item) for key, item in value.items()}
        if isinstance(value, str) and value.startswith(("https://", "wss://")):
            parts = urlsplit(value)
            root = ws_base if parts.scheme == "wss" else base_url
            return root + parts.path + ("?" + parts.query if parts.query else "")
        return value

    exchange.urls["api"] = rewrite(exchange.urls["api"])
    return exchange


def exchange_factory(
    exchange_id: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    api_secret: str | None = None,
) -> Callable[[], Any]:
    """A maker of fresh ``ccxt.async_support`` exchanges of ``exchange_id`` (a known one: see
    :func:`known_exchange`) with these credentials, pointed at ``base_url`` when given. A fresh
    one per event loop: an async exchange keeps the loop that first used it."""
    klass = getattr(ccxt_async, exchange_id)
    credentials = {} if api_key is None else {"apiKey": api_key, "secret": api_secret}

    def make() -> Any:
        exchange = klass(dict(credentials))
        return exchange if base_url is None else point_at(exchange, base_url)

    return make


class CcxtAdapter:
    """One symbol of one ccxt exchange as a venue.

    ``exchange`` is a ``ccxt.async_support`` instance (the adapter does not own it unless
    ``owns_exchange``); ``symbol`` is our "BASE/QUOTE", ``market_symbol`` the ccxt symbol when it
    differs ("ETH/USDT:USDT"). ``taker_fee_pips`` overrides ccxt's static fee table (which for a
    simulated venue is not the venue's fee). ``reopen`` (with ``owns_exchange``) makes the
    exchange that replaces the closed one after :meth:`close`, so the adapter serves the next event
    loop too (the market's first snapshot and the execution run in different loops). Complexity:
    O(levels) per curve and quote.
    """

    kind = "ccxt"

    def __init__(
        self,
        name: str,
        exchange: Any,
        symbol: str,
        *,
        quote_decimals: int,
        leg_cost: Decimal = Decimal(0),
        taker_fee_pips: int | None = None,
        market_symbol: str | None = None,
        depth_limit: int = 100,
        owns_exchange: bool = False,
        max_snapshot_age_secs: Decimal | None = Decimal(5),
        clock: Callable[[], float] = time.monotonic,
        reopen: Callable[[], Any] | None = None,
    ) -> None:
        check_identity(name, symbol)
        if max_snapshot_age_secs is not None:
            check_amount("max_snapshot_age_secs", max_snapshot_age_secs, name)
        check_decimals("quote_decimals", quote_decimals, name)
        if taker_fee_pips is not None and (
            isinstance(taker_fee_pips, bool)
            or not isinstance(taker_fee_pips, int)
            or not 0 <= taker_fee_pips < PIPS
        ):
            raise invalid(
                "taker_fee_pips", taker_fee_pips, f"an integer in [0, {PIPS - 1}] or None", name
            )
        if (
            isinstance(depth_limit, bool)
            or not isinstance(depth_limit, int)
            or not 1 <= depth_limit <= 5000
        ):
            raise invalid("depth_limit", depth_limit, "an integer in [1, 5000]", name)
        check_amount("leg_cost", leg_cost, name, allow_zero=True)
        if not all(
            hasattr(exchange, attr) for attr in ("load_markets", "fetch_order_book", "create_order")
        ):
            raise invalid(
                "exchange", type(exchange).__name__, "a ccxt.async_support exchange", name
            )
        self.name = name
        self.symbol = symbol
        self.market_symbol = market_symbol or symbol
        self.exchange = exchange
        self.quote_decimals = quote_decimals
        self.leg_cost = leg_cost
        self._leg_units = to_units_exact("leg_cost", leg_cost, quote_decimals, name)
        self._fee_override = taker_fee_pips
        self.depth_limit = depth_limit
        self.owns_exchange = owns_exchange
        self._reopen = reopen
        self.tick: Decimal | None = None
        self.step: Decimal | None = None
        self.min_amount = Decimal(0)
        self.min_cost = Decimal(0)
        self.taker_fee = Fraction(taker_fee_pips or 0, PIPS)
        self.bids: list[tuple[Decimal, Decimal]] = []
        self.asks: list[tuple[Decimal, Decimal]] = []
        # A quote from an old book is a guess: reads refuse a snapshot older than this.
        self.max_snapshot_age_secs = max_snapshot_age_secs
        self._clock = clock
        self.snapshot_at: float | None = None

    # ---- snapshot ------------------------------------------------------------------------------
    async def refresh(self) -> None:
        """Load the market (once) and the order book. Raises AdapterError; the old snapshot stays."""
        try:
            if self.tick is None:
                markets = await self.exchange.load_markets()
                market = markets.get(self.market_symbol)
                if market is None:
                    raise AdapterError(
                        self.name,
                        f"market_symbol={self.market_symbol!r} is not listed",
                        retryable=False,
                    )
                tick = decimal_from_ccxt(market["precision"]["price"], "precision.price", self.name)
                step = decimal_from_ccxt(
                    market["precision"]["amount"], "precision.amount", self.name
                )
                limits = market.get("limits") or {}
                min_amount = (limits.get("amount") or {}).get("min")
                min_cost = (limits.get("cost") or {}).get("min")
                fee = (
                    Fraction(self._fee_override, PIPS)
                    if self._fee_override is not None
                    else Fraction(decimal_from_ccxt(market.get("taker") or 0, "taker", self.name))
                )
            book = await self.exchange.fetch_order_book(self.market_symbol, self.depth_limit)
        except AdapterError:
            raise
        except ccxt_errors.BaseError as exc:
            raise map_ccxt_error(self.name, exc, "refresh") from None
        if self.tick is None:
            if tick <= 0 or step <= 0:
                raise AdapterError(self.name, "market precision must be positive", retryable=False)
            self.tick, self.step, self.taker_fee = tick, step, fee
            self.min_amount = (
                decimal_from_ccxt(min_amount, "limits.amount.min", self.name)
                if min_amount
                else Decimal(0)
            )
            self.min_cost = (
                decimal_from_ccxt(min_cost, "limits.cost.min", self.name)
                if min_cost
                else Decimal(0)
            )
        self.bids = self._levels(book.get("bids") or [], "bids")
        self.asks = self._levels(book.get("asks") or [], "asks")
        self.snapshot_at = self._clock()

    def _levels(self, raw: list[Any], side: str) -> list[tuple[Decimal, Decimal]]:
        levels = []
        for entry in raw:
            price = self._on_grid(
                decimal_from_ccxt(entry[0], f"{side}.price", self.name), self.tick, "price"
            )
            qty = self._on_grid(
                decimal_from_ccxt(entry[1], f"{side}.qty", self.name), self.step, "amount"
            )
            if price > 0 and qty > 0:
                levels.append((price, qty))
        return levels

    def _on_grid(self, value: Decimal, grid: Decimal | None, what: str) -> Decimal:
        assert grid is not None
        steps = value / grid
        if steps != steps.to_integral_value():
            raise AdapterError(
                self.name, f"{what} {value} is off the market grid {grid}", retryable=False
            )
        return value

    def _require_snapshot(self) -> None:
        if self.tick is None:
            raise RouteError(
                f"{self.name}: no snapshot yet; await refresh() first", venue=self.name
            )
        if self.max_snapshot_age_secs is not None and self.snapshot_at is not None:
            age = self._clock() - self.snapshot_at
            if age > float(self.max_snapshot_age_secs):
                raise AdapterError(
                    self.name,
                    f"the order book snapshot is {age:.3f} s old, older than the allowed "
                    f"{self.max_snapshot_age_secs} s; refresh() first",
                    retryable=True,
                    not_sent=True,
                )

    async def close(self) -> None:
        """Close the exchange's HTTP session when this adapter owns it; with ``reopen``, a fresh
        exchange (no session, no loop yet) takes its place. The snapshot stays."""
        if self.owns_exchange:
            await self.exchange.close()
            if self._reopen is not None:
                self.exchange = self._reopen()

    # ---- the VenueAdapter protocol -------------------------------------------------------------
    def mid_price(self) -> Decimal | None:
        """The snapshot's (best bid + best ask) / 2, exact; None without a snapshot or a side."""
        if self.tick is None or not self.bids or not self.asks:
            return None
        return (self.bids[0][0] + self.asks[0][0]) / 2

    def base_quantum(self) -> Decimal:
        """The market's amount step."""
        self._require_snapshot()
        return self.step  # type: ignore[return-value]

    def min_qty(self) -> Decimal:
        """The minimum amount, or the steps needed to reach the minimum cost at the lower best price."""
        self._require_snapshot()
        step = self.step
        floor = max(self.min_amount, step)  # type: ignore[type-var]
        prices = [levels[0][0] for levels in (self.bids, self.asks) if levels]
        if self.min_cost and prices:
            steps = -((-Fraction(self.min_cost)) // (Fraction(min(prices)) * Fraction(step)))  # type: ignore[arg-type]
            floor = max(floor, step * int(steps))  # type: ignore[operator]
        return floor

    def depth_curve(self, side: str) -> DepthCurve:
        """One flat segment per level of the snapshot, best first, taker fee inside. O(levels)."""
        check_side(side, self.name)
        self._require_snapshot()
        factor = 1 + self.taker_fee if side == "buy" else 1 - self.taker_fee
        levels = self.asks if side == "buy" else self.bids
        segments = tuple(
            FlatSegment(qty=to_float(qty), price=to_float(Fraction(price) * factor))
            for price, qty in levels
        )
        return DepthCurve(
            venue=self.name,
            side=side,
            segments=segments,
            fixed_cost=to_float(self.leg_cost),
            lot=to_float(self.step),
            min_qty=to_float(self.min_qty()),
        )  # type: ignore[arg-type]

    def _sweep(self, side: str, qty: Decimal) -> tuple[Fraction, Fraction]:
        """(notional, fee) of taking ``qty`` from the snapshot; fee per level rounded up to a quantum."""
        levels = self.asks if side == "buy" else self.bids
        quantum = Fraction(self.tick) * Fraction(self.step)  # type: ignore[arg-type]
        left = Fraction(qty)
        notional = fee = Fraction(0)
        for price, level_qty in levels:
            if left <= 0:
                break
            take = min(left, Fraction(level_qty))
            level_notional = Fraction(price) * take
            quanta = level_notional / quantum
            fee_quanta = -((-quanta * self.taker_fee) // 1)
            notional += level_notional
            fee += fee_quanta * quantum
            left -= take
        if left > 0:
            available = sum((q for _, q in levels), Decimal(0))
            raise RouteError(
                f"{self.name}: cannot {side} {qty}: the book holds {available}",
                venue=self.name,
                qty=qty,
                available=available,
            )
        return notional, fee

    def quote(self, side: str, qty: Decimal) -> LegQuote:
        """Exact re-quote of ``qty`` (a multiple of the step) against the snapshot; read-only."""
        check_side(side, self.name)
        check_amount("qty", qty, self.name)
        self._require_snapshot()
        self._check_step("qty", qty)
        notional, fee = self._sweep(side, qty)
        if notional < Fraction(self.min_cost):
            raise RouteError(
                f"{self.name}: {side} {qty} has notional {_exact_decimal(notional)} below the "
                f"minimum {self.min_cost}",
                venue=self.name,
                qty=qty,
            )
        return self._leg_quote(side, qty, notional, fee)

    def quote_for_quote(self, side: str, quote_amount: Decimal) -> LegQuote:
        """Leg sized in quote, all-in: binary search over steps with exact sweeps."""
        check_side(side, self.name)
        check_amount("quote_amount", quote_amount, self.name)
        self._require_snapshot()
        step = self.step
        levels = self.asks if side == "buy" else self.bids
        total_steps = int(sum((q for _, q in levels), Decimal(0)) / step)  # type: ignore[operator]

        def amount(steps: int) -> Decimal:
            qty = step * steps  # type: ignore[operator]
            notional, fee = self._sweep(side, qty)
            return self._leg_quote(side, qty, notional, fee).quote_amount

        if side == "buy":
            lo, hi = 0, total_steps
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if amount(mid) <= quote_amount:
                    lo = mid
                else:
                    hi = mid - 1
            steps = lo
        else:
            if total_steps == 0 or amount(total_steps) < quote_amount:
                raise RouteError(
                    f"{self.name}: selling the whole book does not receive {quote_amount}",
                    venue=self.name,
                    quote_amount=quote_amount,
                )
            lo, hi = 1, total_steps
            while lo < hi:
                mid = (lo + hi) // 2
                if amount(mid) >= quote_amount:
                    hi = mid
                else:
                    lo = mid + 1
            steps = hi
        if steps == 0:
            raise RouteError(
                f"{self.name}: quote_amount={quote_amount} does not buy one step",
                venue=self.name,
                quote_amount=quote_amount,
            )
        return self.quote(side, step * steps)  # type: ignore[operator]

    async def execute(self, order: LegOrder) -> LegFill:
        """Send ``order`` as a limit IOC order at its protected price (:meth:`ioc_price`): the
        exchange fills only what is available at that price or better, whatever the book did since
        the snapshot, and cancels the rest. A venue refusal is a rejected LegFill; network trouble
        raises AdapterError(retryable=True) (the order may or may not have reached the venue:
        :meth:`order_status` tells)."""
        self._check_order(order)
        leg = quote_or_reject(self, order)
        if isinstance(leg, LegFill):
            return leg
        params = {
            "newClientOrderId": venue_client_id(order.client_order_id),
            "timeInForce": "IOC",
        }
        price = self.ioc_price(order, leg)
        try:
            result = await self.exchange.create_order(
                self.market_symbol,
                "limit",
                order.side,
                format(order.qty, "f"),
                format(price, "f"),
                params,
            )
        except ccxt_errors.BadSymbol as exc:  # a wrong market is our configuration, not this leg
            raise map_ccxt_error(self.name, exc, f"create_order {order.client_order_id}") from None
        except _LEG_REJECTIONS as exc:
            return rejected_fill(order, f"{type(exc).__name__}: {str(exc)[:300]}")
        except ccxt_errors.BaseError as exc:
            raise map_ccxt_error(self.name, exc, f"create_order {order.client_order_id}") from None
        filled, notional, fee = self._fill_amounts(result)
        if filled == 0:
            return rejected_fill(order, f"the venue filled nothing (status {result.get('status')})")
        done = self._leg_quote(order.side, filled, Fraction(notional), Fraction(fee))
        return LegFill(
            venue=self.name,
            side=order.side,
            client_order_id=order.client_order_id,
            requested_qty=order.qty,
            filled_qty=filled,
            quote_amount=done.quote_amount,
            fee=done.fee,
            leg_cost=done.leg_cost,
            status="filled" if filled == order.qty else "partial",
            reason="" if filled == order.qty else f"status {result.get('status')}",
        )

    def ioc_price(self, order: LegOrder, leg: LegQuote) -> Decimal:
        """The per-unit limit of the IOC order: with a child limit (an all-in average), the level
        price at which even a fill entirely there keeps the average within it, fee and leg cost
        included (buy: ((limit x qty - leg cost) / qty) / (1 + fee), rounded down to the tick;
        sell: ((limit x qty + leg cost) / qty) / (1 - fee), rounded up); without one, the worst
        level the snapshot's quote reaches. Exact fractions. O(levels)."""
        tick = Fraction(self.tick)  # type: ignore[arg-type]
        if order.limit_price is None:
            levels = self.asks if order.side == "buy" else self.bids
            left, worst = Fraction(leg.qty), Fraction(levels[0][0])
            for price, qty in levels:
                if left <= 0:
                    break
                worst, left = Fraction(price), left - Fraction(qty)
            return _exact_decimal(worst)
        qty, limit, cost = Fraction(order.qty), Fraction(order.limit_price), Fraction(self.leg_cost)
        if order.side == "buy":
            bound = (limit * qty - cost) / qty / (1 + self.taker_fee)
            steps = bound // tick
        else:
            bound = (limit * qty + cost) / qty / (1 - self.taker_fee)
            steps = -((-bound) // tick)
        return _exact_decimal(steps * tick)

    async def order_status(self, client_order_id: str) -> LegFill | None:
        """The exchange's record of ``client_order_id`` (``fetch_order`` by origClientOrderId):
        its fill, or None when the exchange has no such order. Network trouble, or an order the
        exchange still has open, raises AdapterError(retryable=True): ask again later."""
        if self.tick is None:  # the market's grid is needed to read the answer; not the book
            self._require_snapshot()
        try:
            result = await self.exchange.fetch_order(
                "", self.market_symbol, {"origClientOrderId": venue_client_id(client_order_id)}
            )
        except ccxt_errors.OrderNotFound:
            return None
        except ccxt_errors.BaseError as exc:
            raise map_ccxt_error(self.name, exc, f"fetch_order {client_order_id}") from None
        if result.get("status") == "open":
            raise AdapterError(self.name, f"order {client_order_id} is still open", retryable=True)
        side = result.get("side")
        if side not in ("buy", "sell"):
            raise AdapterError(self.name, f"order {client_order_id} has side {side!r}")
        requested = decimal_from_ccxt(result.get("amount") or 0, "amount", self.name)
        filled, notional, fee = self._fill_amounts(result)
        if filled and not (result.get("info") or {}).get("fills"):
            # An order query carries no commissions (Binance's GET order): the trades do.
            fee = await self._commissions(client_order_id, result.get("id"))
        done = self._leg_quote(side, filled, Fraction(notional), Fraction(fee))
        return LegFill(
            venue=self.name,
            side=side,
            client_order_id=client_order_id,
            requested_qty=requested,
            filled_qty=filled,
            quote_amount=done.quote_amount if filled else Decimal(0),
            fee=done.fee if filled else Decimal(0),
            leg_cost=done.leg_cost if filled else Decimal(0),
            status="rejected" if filled == 0 else "filled" if filled == requested else "partial",
            reason=f"status {result.get('status')}",
        )

    async def _commissions(self, client_order_id: str, order_id: Any) -> Decimal:
        """The quote commissions of one order's trades (``fetch_my_trades`` by orderId)."""
        try:
            trades = await self.exchange.fetch_my_trades(
                self.market_symbol, None, None, {"orderId": order_id}
            )
        except ccxt_errors.BaseError as exc:
            raise map_ccxt_error(self.name, exc, f"fetch_my_trades {client_order_id}") from None
        total = Decimal(0)
        for trade in trades:
            info = trade.get("info") or {}
            raw = info.get("commission") if isinstance(info, dict) else None
            if raw is None:
                raw = (trade.get("fee") or {}).get("cost") or 0
            total += decimal_from_ccxt(raw, "trade.commission", self.name)
        return total

    async def holdings(self) -> dict[str, Decimal]:
        """The account's base holding as the exchange reports it: the spot balance of the base
        asset (``fetch_balance``), or the signed perp position in base (``fetch_positions``)."""
        base = self.symbol.split("/", 1)[0]
        try:
            if ":" in self.market_symbol:
                positions = await self.exchange.fetch_positions([self.market_symbol])
                size = Decimal(0)
                for position in positions:
                    if position.get("symbol") != self.market_symbol:
                        continue
                    contracts = decimal_from_ccxt(
                        position.get("contracts") or 0, "contracts", self.name
                    )
                    size += -contracts if position.get("side") == "short" else contracts
                return {base: size}
            balance = await self.exchange.fetch_balance()
        except ccxt_errors.BaseError as exc:
            raise map_ccxt_error(self.name, exc, "holdings") from None
        total = (balance.get("total") or {}).get(base) or 0
        return {base: decimal_from_ccxt(total, f"total.{base}", self.name)}

    # ---- helpers -------------------------------------------------------------------------------
    def _fill_amounts(self, result: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
        """(filled base, notional quote, fee quote) of a ccxt order, exact strings preferred."""
        info = result.get("info") or {}
        if (
            isinstance(info, dict)
            and "executedQty" in info
            and ("cummulativeQuoteQty" in info or "cumQuote" in info)
        ):
            # A malformed string must surface as AdapterError, not a bare decimal.InvalidOperation.
            filled = decimal_from_ccxt(info["executedQty"], "info.executedQty", self.name)
            notional = decimal_from_ccxt(
                info.get("cummulativeQuoteQty", info.get("cumQuote")),
                "info.cummulativeQuoteQty",
                self.name,
            )
            fills = info.get("fills")
            if isinstance(fills, list) and fills:
                fee = sum(
                    (
                        decimal_from_ccxt(f.get("commission"), "info.fills.commission", self.name)
                        for f in fills
                    ),
                    Decimal(0),
                )
            else:
                fee = self._fee_from(result)
            return filled, notional, fee
        filled = decimal_from_ccxt(result.get("filled") or 0, "filled", self.name)
        notional = decimal_from_ccxt(result.get("cost") or 0, "cost", self.name)
        return filled, notional, self._fee_from(result)

    def _fee_from(self, result: dict[str, Any]) -> Decimal:
        fee = result.get("fee") or {}
        if fee.get("cost") is None:
            return Decimal(0)
        return decimal_from_ccxt(fee["cost"], "fee.cost", self.name)

    def _check_step(self, field: str, qty: Decimal) -> None:
        if (Fraction(qty) / Fraction(self.step)).denominator != 1:  # type: ignore[arg-type]
            raise invalid(field, qty, f"a multiple of the amount step {self.step}", self.name)

    def _check_order(self, order: Any) -> None:
        check_leg_order(order, self.name)
        self._require_snapshot()
        self._check_step("order.qty", order.qty)

    def _leg_quote(self, side: str, qty: Decimal, notional: Fraction, fee: Fraction) -> LegQuote:
        scale = 10**self.quote_decimals
        if side == "buy":
            pay = (notional + fee) * scale
            total = -((-pay.numerator) // pay.denominator) + self._leg_units
        else:
            receive = (notional - fee) * scale
            total = receive.numerator // receive.denominator - self._leg_units
        fee_scaled = fee * scale
        fee_units = -((-fee_scaled.numerator) // fee_scaled.denominator)
        return LegQuote(
            venue=self.name,
            side=side,
            qty=qty,
            quote_amount=from_units(total, self.quote_decimals),
            fee=from_units(fee_units, self.quote_decimals),
            leg_cost=self.leg_cost,
        )


def _exact_decimal(value: Fraction) -> Decimal:
    """A sweep's Fraction as a Decimal for messages. Exact: every denominator here divides a power
    of ten (the market's decimal tick times its step), so 120 digits always suffice."""
    return Context(prec=120).divide(Decimal(value.numerator), Decimal(value.denominator))


__all__ = [
    "CcxtAdapter",
    "decimal_from_ccxt",
    "exchange_factory",
    "known_exchange",
    "map_ccxt_error",
    "point_at",
    "venue_client_id",
]
