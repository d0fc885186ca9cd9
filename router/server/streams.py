"""Binance websocket streams over the served markets, and the user-data streams.

Paths (under each venue prefix, as on Binance's stream hosts): ``/ws/<stream>`` (one raw stream),
``/ws`` and ``/ws/<anything>`` with ``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS``
messages, combined ``/stream?streams=a/b`` (payloads wrapped as ``{"stream", "data"}``), the USD-M
``/public/ws``, ``/market/ws``, ``/private/ws?listenKey=`` paths ccxt.pro uses, ``/ws/<listenKey>``
and the spot WebSocket API's ``userDataStream.subscribe.signature`` on ``/ws-api/v3``.

Market streams: ``<symbol>@depth[@100ms|@0ms|@500ms|@1000ms]`` (diff depth), ``@depth5|10|20``
(partial), ``@trade``, ``@aggTrade``, ``@bookTicker``, ``@ticker``, ``@kline_<interval>`` and
``@markPrice[@1s]`` (USD-M).

Diff depth: each market has a :class:`DepthFeed` holding the levels last published and an update
id. :meth:`StreamHub.publish` compares the venue's current levels with them and, when they
differ, sends one ``depthUpdate`` with ``U`` = previous id + 1, ``u`` = the new id and ``pu`` = the
previous id, holding every level whose quantity changed (0 = removed). ``GET /depth`` publishes
first and answers with the feed's id, so a snapshot's ``lastUpdateId`` is always some event's
``u`` and a client following Binance's local-book procedure stays exact. An order book's feed
holds its whole book (up to 5000 levels a side); a pool's holds its first 20 synthetic levels.

Publishing runs after every state-changing request (before its answer is written) and every
``interval_s`` while anyone listens (changes made outside the server, e.g. by the paper service's
market, are seen then). Each connection has a bounded queue; a client that falls behind by more
than ``QUEUE_LIMIT`` messages is disconnected, as Binance drops slow consumers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from router.server import tape as T
from router.server.accounts import decimal_of
from router.server.common import plain
from router.server.engine import OrderRecord, TradeRecord
from router.server.errors import BinanceError

STREAM_PATHS = (
    "/ws",
    "/ws/{tail}",
    "/stream",
    "/public/ws",
    "/public/ws/{tail}",
    "/market/ws",
    "/market/ws/{tail}",
    "/private/ws",
    "/private/ws/{tail}",
    "/public/stream",
    "/market/stream",
    "/private/stream",
    "/ws-api/v3",
)
BOOK_LEVELS = 5000
POOL_LEVELS = 20
QUEUE_LIMIT = 10_000
MAX_STREAMS_PER_CONNECTION = 1024
LISTEN_KEY_TTL_MS = 60 * 60_000
_STREAM = re.compile(
    r"(?P<symbol>[a-z0-9]{2,32})@(?P<channel>depth(?P<levels>5|10|20)?(?:@(?:0|100|250|500|1000)ms)?"
    r"|trade|aggTrade|bookTicker|ticker|miniTicker|markPrice(?:@1s)?|kline_(?P<interval>[0-9]+[smhdw]))"
)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass(slots=True)
class DepthFeed:
    """The levels last published for one market and their update id."""

    bids: dict[Any, Any]  # see StreamHub._levels
    asks: dict[Any, Any]  # see StreamHub._levels
    update_id: int = 1
    top: tuple[Any, ...] = ()


@dataclass(eq=False, slots=True)
class Subscriber:
    """One websocket connection: its raw or combined framing, streams and user-data accounts."""

    ws: web.WebSocketResponse
    kind: str  # "spot" | "perp": the venue's market kind the path stands for
    view: str
    combined: bool
    streams: set[str] = field(default_factory=set)
    user_keys: set[str] = field(default_factory=set)  # listenKeys whose events this receives
    ws_api_accounts: dict[str, int] = field(default_factory=dict)  # account -> subscriptionId
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))


class ListenKeys:
    """listenKeys per account (one at a time, as Binance), valid 60 minutes after the last
    create or keep-alive on the server clock. Keys are random: knowing one reads an account's
    orders, so they must not be guessable."""

    def __init__(self, clock_ms: Any) -> None:
        self._clock_ms = clock_ms
        self._by_account: dict[str, str] = {}
        self._expiry_ms: dict[str, int] = {}
        self._account: dict[str, str] = {}

    def create(self, account: str) -> str:
        key = self._by_account.get(account)
        if key is None or self.account_of(key) is None:
            key = secrets.token_hex(32)
            self._by_account[account] = key
            self._account[key] = account
        self._expiry_ms[key] = self._clock_ms() + LISTEN_KEY_TTL_MS
        return key

    def key_of(self, account: str) -> str:
        key = self._by_account.get(account)
        if key is None:
            raise BinanceError(-1125, "This listenKey does not exist.")
        return key

    def keep_alive(self, account: str, key: str) -> None:
        if self.account_of(key) != account:
            raise BinanceError(-1125, "This listenKey does not exist.")
        self._expiry_ms[key] = self._clock_ms() + LISTEN_KEY_TTL_MS

    def close(self, account: str, key: str) -> None:
        if self._account.get(key) != account:
            raise BinanceError(-1125, "This listenKey does not exist.")
        del self._account[key], self._expiry_ms[key]
        self._by_account.pop(account, None)

    def account_of(self, key: str) -> str | None:
        account = self._account.get(key)
        if account is None or self._expiry_ms[key] < self._clock_ms():
            return None
        return account


class StreamHub:
    """Market and user-data streams of one VenueServer."""

    def __init__(self, server: Any, *, interval_s: float) -> None:
        # ``server`` is the VenueServer (app.py imports this module, so no import back)
        self.server = server
        self.interval_s = interval_s
        self.listen_keys = ListenKeys(lambda: server.clock_ms())
        self.subscribers: list[Subscriber] = []
        self.feeds: dict[str, DepthFeed] = {}
        self._tape_seen: dict[str, int] = {}
        self._trades_seen: dict[str, int] = {}
        self._marks: dict[str, Decimal] = {}
        self._ticker_task: asyncio.Task[None] | None = None
        self._ws_api_ids = 0
        # resting orders announced as open on a user-data stream: the engine may end them itself
        # (self-trade prevention, a reduce-only order its position no longer covers)
        self._resting: dict[int, OrderRecord] = {}

    # ---- depth feeds -----------------------------------------------------------------------
    def _levels(self, market: Any) -> tuple[dict[Any, Any], dict[Any, Any]]:
        """Both sides as {price: qty}: integer ticks and lots for a book (cheap to compare; only
        changed levels are turned into decimals), whole-unit Decimals for a pool's ladder."""
        book = getattr(market, "book", None)
        if book is None:
            bids, asks = market.depth(POOL_LEVELS)
            return dict(bids), dict(asks)
        return dict(book.depth("bids", BOOK_LEVELS)), dict(book.depth("asks", BOOK_LEVELS))

    def _feed(self, market: Any) -> DepthFeed:
        feed = self.feeds.get(market.name)
        if feed is None:
            bids, asks = self._levels(market)
            feed = self.feeds[market.name] = DepthFeed(bids, asks, top=_top(market, bids, asks))
            self._tape_seen.setdefault(
                market.name, len(self.server.engine.tape.get(market.name, []))
            )
        return feed

    def update_id(self, market: Any) -> int:
        """Publish ``market``'s pending book changes; its current update id (GET /depth's
        lastUpdateId, which then matches the book the caller reads next, with no await between)."""
        self._sync_depth(market)
        return self._feed(market).update_id

    def _sync_depth(self, market: Any) -> None:
        feed = self._feed(market)
        bids, asks = self._levels(market)
        if bids == feed.bids and asks == feed.asks:
            return
        bid_changes = _changes(feed.bids, bids, market)
        ask_changes = _changes(feed.asks, asks, market)
        if not bid_changes and not ask_changes:
            return
        previous = feed.update_id
        feed.update_id += 1
        feed.bids, feed.asks = bids, asks
        symbol = market.units.symbol_id
        now = self.server.market_clock_ms()
        diff: dict[str, Any] = {"e": "depthUpdate", "E": now}
        if market.kind == "perp":
            diff["T"] = now
        diff.update({"s": symbol, "U": previous + 1, "u": feed.update_id})
        if market.kind == "perp":
            diff["pu"] = previous
        diff.update({"b": bid_changes, "a": ask_changes})
        lower = symbol.lower()
        self._send_market(
            market,
            ("depth", "depth@100ms", "depth@0ms", "depth@250ms", "depth@500ms", "depth@1000ms"),
            lower,
            diff,
        )
        for levels in (5, 10, 20):
            names = tuple(
                f"depth{levels}{suffix}"
                for suffix in ("", "@100ms", "@250ms", "@500ms", "@1000ms", "@0ms")
            )
            if self._listened(market, names, lower):
                self._send_market(market, names, lower, self._partial(market, levels, feed, now))
        top = _top(market, bids, asks)
        if top != feed.top:
            feed.top = top
            self._send_market(market, ("bookTicker",), lower, self._book_ticker(market, feed, now))

    def _partial(self, market: Any, levels: int, feed: DepthFeed, now: int) -> dict[str, Any]:
        bids = sorted(feed.bids.items(), reverse=True)[:levels]
        asks = sorted(feed.asks.items())[:levels]
        b = [[plain(v) for v in _level(market, p, q)] for p, q in bids]
        a = [[plain(v) for v in _level(market, p, q)] for p, q in asks]
        if market.kind == "perp":
            symbol = market.units.symbol_id
            u = feed.update_id
            return {
                "e": "depthUpdate",
                "E": now,
                "T": now,
                "s": symbol,
                "U": u,
                "u": u,
                "pu": u - 1,
                "b": b,
                "a": a,
            }
        return {"lastUpdateId": feed.update_id, "bids": b, "asks": a}

    def _book_ticker(self, market: Any, feed: DepthFeed, now: int) -> dict[str, Any]:
        bid_p, bid_q, ask_p, ask_q = feed.top or (None, None, None, None)
        body: dict[str, Any] = {}
        if market.kind == "perp":
            body.update({"e": "bookTicker", "u": feed.update_id, "E": now, "T": now})
        else:
            body["u"] = feed.update_id
        body.update(
            {
                "s": market.units.symbol_id,
                "b": plain(bid_p) if bid_p is not None else "0",
                "B": plain(bid_q) if bid_q is not None else "0",
                "a": plain(ask_p) if ask_p is not None else "0",
                "A": plain(ask_q) if ask_q is not None else "0",
            }
        )
        return body

    # ---- trades, klines, tickers, mark prices ------------------------------------------------
    def _sync_tape(self, market: Any) -> None:
        tape = self.server.engine.tape.get(market.name, [])
        seen = self._tape_seen.get(market.name, 0)
        if seen >= len(tape):
            return
        self._tape_seen[market.name] = len(tape)
        symbol = market.units.symbol_id
        lower = symbol.lower()
        now = self.server.market_clock_ms()
        for index in range(seen, len(tape)):
            t = tape[index]
            trade_id = index + 1
            if self._listened(market, ("trade",), lower):
                self._send_market(
                    market,
                    ("trade",),
                    lower,
                    {
                        "e": "trade",
                        "E": now,
                        "s": symbol,
                        "t": trade_id,
                        "p": plain(t.price),
                        "q": plain(t.qty),
                        "T": t.time_ms,
                        "m": t.buyer_is_maker,
                        "M": True,
                    },
                )
            if self._listened(market, ("aggTrade",), lower):
                body = {"e": "aggTrade", "E": now, "s": symbol, **T.agg_trade_json(trade_id, t)}
                self._send_market(market, ("aggTrade",), lower, body)
        for interval in T.INTERVALS_MS:
            name = f"kline_{interval}"
            if self._listened(market, (name,), lower):
                length = T.INTERVALS_MS[interval]
                bar = _current_bar(tape, length)
                k = T.kline_event_body(bar, symbol, interval, bar["T"] < now)
                self._send_market(
                    market, (name,), lower, {"e": "kline", "E": now, "s": symbol, "k": k}
                )
        if self._listened(market, ("ticker",), lower):
            self._send_market(market, ("ticker",), lower, self._ticker_event(market, now))
        if self._listened(market, ("miniTicker",), lower):
            full = self._ticker_event(market, now)
            mini = {k: full[k] for k in ("E", "s", "c", "o", "h", "l", "v", "q")}
            self._send_market(market, ("miniTicker",), lower, {"e": "24hrMiniTicker", **mini})

    def _ticker_event(self, market: Any, now: int) -> dict[str, Any]:
        t = self.server._ticker(market, market.kind)
        return {
            "e": "24hrTicker",
            "E": now,
            "s": t["symbol"],
            "p": t["priceChange"],
            "P": t["priceChangePercent"],
            "w": t["weightedAvgPrice"],
            "c": t["lastPrice"],
            "Q": t["lastQty"],
            "b": t.get("bidPrice", "0"),
            "B": t.get("bidQty", "0"),
            "a": t.get("askPrice", "0"),
            "A": t.get("askQty", "0"),
            "o": t["openPrice"],
            "h": t["highPrice"],
            "l": t["lowPrice"],
            "v": t["volume"],
            "q": t["quoteVolume"],
            "O": t["openTime"],
            "C": t["closeTime"],
            "F": t["firstId"],
            "L": t["lastId"],
            "n": t["count"],
        }

    def _mark_event(self, market: Any, now: int) -> dict[str, Any]:
        mark = plain(self.server._mark(market))
        interval = 8 * 3_600_000
        return {
            "e": "markPriceUpdate",
            "E": now,
            "s": market.units.symbol_id,
            "p": mark,
            "ap": mark,
            "P": mark,
            "i": mark,
            "r": "0",
            "T": now - now % interval + interval,
        }

    def _sync_marks(self, market: Any) -> None:
        lower = market.units.symbol_id.lower()
        names = ("markPrice", "markPrice@1s")
        if market.kind != "perp" or not self._listened(market, names, lower):
            return
        mark = self.server._mark(market)
        if self._marks.get(market.name) != mark:
            self._marks[market.name] = mark
            self._send_market(
                market, names, lower, self._mark_event(market, self.server.market_clock_ms())
            )

    # ---- user data -------------------------------------------------------------------------
    def order_placed(self, record: OrderRecord) -> None:
        """NEW for a new order, then its fills (and every maker's), then EXPIRED if it ended so;
        a spot order that rests also changed what is locked: the balances follow."""
        self._user_order(record, "NEW", None, status="NEW")
        fills_before = self._trades_seen.get(record.account, 0)
        self._sync_user_trades()
        if record.status == "EXPIRED":
            self._user_order(record, "EXPIRED", None)
        filled = self._trades_seen.get(record.account, 0) != fills_before
        if record.is_open and self._has_user(record.account):
            self._resting[record.order_id] = record
            if not filled:
                self._send_user(
                    record.account, self._balance_event(record.account, _is_perp(record))
                )
        self._sync_expired()

    def order_cancelled(self, record: OrderRecord) -> None:
        self._resting.pop(record.order_id, None)
        self._user_order(record, "CANCELED", None)
        if self._has_user(record.account):
            self._send_user(record.account, self._balance_event(record.account, _is_perp(record)))

    def _sync_user_trades(self) -> None:
        engine = self.server.engine
        for account, trades in engine.trades.items():
            seen = self._trades_seen.get(account, 0)
            if seen >= len(trades):
                continue
            self._trades_seen[account] = len(trades)
            if not self._has_user(account):
                continue
            touched_perp = False
            for trade in trades[seen:]:
                record = engine.orders.get(trade.order_id)
                if record is None:
                    continue
                self._user_order(record, "TRADE", trade)
                touched_perp = touched_perp or record.book_order_id.startswith("perp:")
            if self._has_user(account):
                self._send_user(account, self._balance_event(account, touched_perp))

    def _start_user(self, account: str) -> None:
        """A first listener of ``account`` hears fills from now on, not the account's history."""
        if not self._has_user(account):
            self._trades_seen[account] = len(self.server.engine.trades[account])

    def _has_user(self, account: str) -> bool:
        return any(self._receives(s, account) for s in self.subscribers)

    def _receives(self, sub: Subscriber, account: str) -> bool:
        if account in sub.ws_api_accounts:
            return True
        return any(self.listen_keys.account_of(k) == account for k in sub.user_keys)

    def _user_order(
        self,
        record: OrderRecord,
        execution: str,
        trade: TradeRecord | None,
        status: str | None = None,
    ) -> None:
        if not self._has_user(record.account):
            return
        perp = record.book_order_id.startswith("perp:")
        body = (
            self._order_trade_update(record, execution, trade, status)
            if perp
            else self._execution_report(record, execution, trade, status)
        )
        self._send_user(record.account, body)

    def _cumulative(
        self, record: OrderRecord, trade: TradeRecord | None
    ) -> tuple[Decimal, Decimal]:
        """(executed qty, quote qty) of ``record`` up to and including ``trade`` (all when None)."""
        qty = quote = Decimal(0)
        for fill in record.fills:
            qty += fill.qty
            quote += fill.quote_qty
            if trade is not None and fill.trade_id == trade.trade_id:
                break
        return qty, quote

    def _execution_report(
        self, r: OrderRecord, execution: str, trade: TradeRecord | None, status: str | None
    ) -> dict[str, Any]:
        now = self.server.market_clock_ms()
        qty, quote = self._cumulative(r, trade) if status != "NEW" else (Decimal(0), Decimal(0))
        shown_status = status or ("CANCELED" if execution == "CANCELED" else r.status)
        if trade is not None:
            shown_status = "FILLED" if qty == r.orig_qty else "PARTIALLY_FILLED"
        return {
            "e": "executionReport",
            "E": now,
            "s": r.symbol,
            "c": r.client_order_id,
            "S": r.side,
            "o": "LIMIT_MAKER" if r.tif == "POST_ONLY" else r.type,
            "f": "GTC" if r.tif == "POST_ONLY" else r.tif,
            "q": plain(r.orig_qty),
            "p": plain(r.price),
            "P": "0",
            "F": "0",
            "g": -1,
            "C": r.client_order_id if execution == "CANCELED" else "",
            "x": execution,
            "X": shown_status,
            "r": "NONE",
            "i": r.order_id,
            "l": plain(trade.qty) if trade else "0",
            "z": plain(qty),
            "L": plain(trade.price) if trade else "0",
            "n": plain(trade.commission) if trade else "0",
            "N": trade.commission_asset if trade else None,
            "T": trade.time_ms if trade else r.update_time_ms,
            "t": trade.trade_id if trade else -1,
            "I": r.order_id * 4 + (trade.trade_id if trade else 0),
            "w": r.is_open,
            "m": trade.is_maker if trade else False,
            "M": trade is not None,
            "O": r.time_ms,
            "Z": plain(quote),
            "Y": plain(trade.quote_qty) if trade else "0",
            "Q": plain(r.orig_quote_qty),
            "W": r.time_ms,
            "V": "EXPIRE_TAKER",
        }

    def _order_trade_update(
        self, r: OrderRecord, execution: str, trade: TradeRecord | None, status: str | None
    ) -> dict[str, Any]:
        now = self.server.market_clock_ms()
        qty, quote = self._cumulative(r, trade) if status != "NEW" else (Decimal(0), Decimal(0))
        shown_status = status or ("CANCELED" if execution == "CANCELED" else r.status)
        if trade is not None:
            shown_status = "FILLED" if qty == r.orig_qty else "PARTIALLY_FILLED"
        return {
            "e": "ORDER_TRADE_UPDATE",
            "E": now,
            "T": now,
            "o": {
                "s": r.symbol,
                "c": r.client_order_id,
                "S": r.side,
                "o": r.type,
                "f": "GTX" if r.tif == "POST_ONLY" else r.tif,
                "q": plain(r.orig_qty),
                "p": plain(r.price),
                "ap": plain(quote / qty) if qty else "0",
                "sp": "0",
                "x": execution,
                "X": shown_status,
                "i": r.order_id,
                "l": plain(trade.qty) if trade else "0",
                "z": plain(qty),
                "L": plain(trade.price) if trade else "0",
                "N": trade.commission_asset if trade else None,
                "n": plain(trade.commission) if trade else "0",
                "T": trade.time_ms if trade else r.update_time_ms,
                "t": trade.trade_id if trade else 0,
                "b": "0",
                "a": "0",
                "m": trade.is_maker if trade else False,
                "R": r.reduce_only,
                "wt": "CONTRACT_PRICE",
                "ot": r.type,
                "ps": r.position_side,
                "cp": False,
                "rp": plain(trade.realized_pnl) if trade else "0",
                "pP": False,
                "si": 0,
                "ss": 0,
                "V": "EXPIRE_TAKER",
                "pm": "NONE",
                "gtd": 0,
            },
        }

    def _balance_event(self, account: str, perp: bool) -> dict[str, Any]:
        ledger = self.server.ledger
        now = self.server.market_clock_ms()
        if not perp:
            return {
                "e": "outboundAccountPosition",
                "E": now,
                "u": now,
                "B": [
                    {
                        "a": asset,
                        "f": plain(decimal_of(ledger.free(account, asset), ledger.decimals(asset))),
                        "l": plain(
                            decimal_of(ledger.locked(account, asset), ledger.decimals(asset))
                        ),
                    }
                    for asset in ledger.assets
                ],
            }
        positions = []
        for row in self.server._positions(account):
            positions.append(
                {
                    "s": row["symbol"],
                    "pa": row["positionAmt"],
                    "ep": row["entryPrice"],
                    "bep": row["breakEvenPrice"],
                    "cr": "0",
                    "up": row["unRealizedProfit"],
                    "mt": "cross",
                    "iw": "0",
                    "ps": row["positionSide"],
                }
            )
        balances = [
            {
                "a": asset,
                "wb": plain(decimal_of(ledger.free(account, asset), ledger.decimals(asset))),
                "cw": plain(decimal_of(ledger.free(account, asset), ledger.decimals(asset))),
                "bc": "0",
            }
            for asset in ledger.assets
        ]
        return {
            "e": "ACCOUNT_UPDATE",
            "E": now,
            "T": now,
            "a": {"m": "ORDER", "B": balances, "P": positions},
        }

    def _send_user(self, account: str, body: dict[str, Any]) -> None:
        for sub in list(self.subscribers):
            if account in sub.ws_api_accounts:
                self._put(
                    sub, _dumps({"subscriptionId": sub.ws_api_accounts[account], "event": body})
                )
            for key in sub.user_keys:
                if self.listen_keys.account_of(key) == account:
                    self._put(
                        sub, _dumps({"stream": key, "data": body}) if sub.combined else _dumps(body)
                    )

    # ---- fan-out -----------------------------------------------------------------------------
    def _listened(self, market: Any, channels: tuple[str, ...], lower: str) -> bool:
        names = {f"{lower}@{c}" for c in channels}
        return any(
            self._sees(sub, market) and not names.isdisjoint(sub.streams)
            for sub in self.subscribers
        )

    def _sees(self, sub: Subscriber, market: Any) -> bool:
        return (
            sub.kind == market.kind
            and self.server.engine.views.get(sub.view, {}).get(
                (market.kind, market.units.symbol_id)
            )
            is market
        )

    def _send_market(
        self, market: Any, channels: tuple[str, ...], lower: str, body: dict[str, Any]
    ) -> None:
        # one JSON text per framing and stream name, however many subscribers share it
        raw = _dumps(body)
        wrapped: dict[str, str] = {}
        names = [f"{lower}@{channel}" for channel in channels]
        for sub in list(self.subscribers):
            if not self._sees(sub, market):
                continue
            for name in names:
                if name in sub.streams:
                    if sub.combined:
                        if name not in wrapped:
                            wrapped[name] = f'{{"stream":{_dumps(name)},"data":{raw}}}'
                        self._put(sub, wrapped[name])
                    else:
                        self._put(sub, raw)

    def _put(self, sub: Subscriber, text: str) -> None:
        try:
            sub.queue.put_nowait(text)
        except asyncio.QueueFull:  # a client this far behind cannot keep a book; drop it
            self._drop(sub)

    def _drop(self, sub: Subscriber) -> None:
        if sub in self.subscribers:
            self.subscribers.remove(sub)
        with contextlib.suppress(asyncio.QueueFull):
            sub.queue.put_nowait("")  # wakes its sender, which then closes

    def publish(self) -> None:
        """Send every pending change: depth diffs, trades, klines, tickers, marks, user fills.
        O(markets x levels) when someone listens; a no-op for a market nobody reads."""
        for market in self.server.engine.by_name.values():
            if any(self._sees(s, market) for s in self.subscribers):
                self._sync_depth(market)
                self._sync_tape(market)
                self._sync_marks(market)
            else:  # nobody listens: /depth publishes its own diff when read; old trades are
                # not news to a later subscriber
                self._tape_seen[market.name] = len(self.server.engine.tape.get(market.name, []))
        if self.subscribers:
            self._sync_user_trades()
            self._sync_expired()

    def _sync_expired(self) -> None:
        """Announce EXPIRED for announced resting orders the engine ended by itself; forget the
        ones that filled (their TRADE events said so). O(announced resting orders)."""
        for order_id, record in list(self._resting.items()):
            if record.is_open:
                continue
            del self._resting[order_id]
            if record.status == "EXPIRED":
                self._user_order(record, "EXPIRED", None)

    async def _ticker(self) -> None:
        while self.subscribers:
            await asyncio.sleep(self.interval_s)
            self.publish()
        self._ticker_task = None

    # ---- connections -------------------------------------------------------------------------
    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """Serve one websocket connection on any of STREAM_PATHS."""
        server = self.server
        view = request.match_info.get("venue", "")
        if view not in server.engine.views:
            raise BinanceError(-1020, f"Unknown venue {view[:64]!r}.")
        server.weights.charge(f"ip:{request.remote}", 2)
        path = (
            request.match_info.route.resource.canonical
            if request.match_info.route.resource
            else request.path
        )
        kinds = {m.kind for m in server.engine.views[view].values()}
        usdm_path = any(p in path for p in ("/public/", "/market/", "/private/"))
        kind = "perp" if usdm_path or kinds == {"perp"} else "spot"
        combined = path.endswith("stream")
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=65536)
        sub = Subscriber(ws, kind, view, combined)
        # what the URL asks for, before the upgrade: a bad stream name is an HTTP 400
        wanted: list[str] = []
        if combined:
            raw = request.query.get("streams", "")
            wanted = [s for s in raw.split("/") if s]
        tail = request.match_info.get("tail")
        if tail:
            wanted.append(tail)
        if request.query.get("listenKey"):
            wanted.append(request.query["listenKey"])
        for name in wanted:
            if "@" in name:  # a stream name in the URL must be one this venue serves
                self._add(sub, name, strict=True)
                self._require_symbol(sub, name)
            else:  # a listenKey, or ccxt.pro's connection index ("/ws/0")
                self._add(sub, name, strict=False)
        await ws.prepare(request)
        self.subscribers.append(sub)
        sender = asyncio.ensure_future(self._sender(sub))
        if self._ticker_task is None:
            self._ticker_task = asyncio.ensure_future(self._ticker())
        self._initial(sub, sub.streams)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                reply = self._control(sub, msg.data, ws_api=path.endswith("/ws-api/v3"))
                if reply is not None:
                    self._put(sub, _dumps(reply))
        finally:
            self._drop(sub)
            with contextlib.suppress(Exception):
                await sender
            await ws.close()
        return ws

    async def _sender(self, sub: Subscriber) -> None:
        while True:
            text = await sub.queue.get()
            if not text or sub.ws.closed:
                await sub.ws.close()
                return
            try:
                await sub.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self._drop(sub)
                return

    def _add(self, sub: Subscriber, name: str, *, strict: bool) -> bool:
        """Add a stream (or a listenKey) to ``sub``; False (or -1100 when ``strict``) if unknown."""
        account = self.listen_keys.account_of(name)
        if account is not None:
            self._start_user(account)
            sub.user_keys.add(name)
            return True
        match = _STREAM.fullmatch(name)
        valid = match is not None and (
            match.group("interval") is None or match.group("interval") in T.INTERVALS_MS
        )
        if valid and len(sub.streams) < MAX_STREAMS_PER_CONNECTION:
            sub.streams.add(name)
            return True
        if strict:
            raise BinanceError(-1100, f"Invalid stream name {name[:64]!r}.")
        return False

    def _require_symbol(self, sub: Subscriber, name: str) -> None:
        """-1121 unless the stream's symbol is served in the connection's venue and kind."""
        symbol = name.split("@", 1)[0].upper()
        self.server.engine.market(symbol, sub.kind, sub.view)

    def _initial(self, sub: Subscriber, names: set[str]) -> None:
        """What a new subscriber gets at once: partial depth, book ticker and mark price."""
        now = self.server.market_clock_ms()
        for market in self.server.engine.by_name.values():
            if not self._sees(sub, market):
                continue
            lower = market.units.symbol_id.lower()
            self._sync_depth(market)
            feed = self._feed(market)
            for name in names:
                if not name.startswith(lower + "@"):
                    continue
                channel = name[len(lower) + 1 :]
                body = None
                match = re.fullmatch(r"depth(5|10|20)(@\d+ms)?", channel)
                if match:
                    body = self._partial(market, int(match.group(1)), feed, now)
                elif channel == "bookTicker" and feed.top:
                    body = self._book_ticker(market, feed, now)
                elif channel.startswith("markPrice") and market.kind == "perp":
                    body = self._mark_event(market, now)
                if body is not None:
                    self._put(
                        sub,
                        _dumps({"stream": name, "data": body}) if sub.combined else _dumps(body),
                    )

    def _control(self, sub: Subscriber, text: str, *, ws_api: bool) -> dict[str, Any] | None:
        """A client message: SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS (streams) or a
        WebSocket API request (``/ws-api/v3``). Errors are answered, never raised."""
        try:
            message = json.loads(text)
        except ValueError:
            return (
                {"id": None, "error": {"code": 3, "msg": "Invalid JSON: expected a JSON object"}}
                if not ws_api
                else _ws_api_error(None, -1100, "Invalid JSON.")
            )
        if not isinstance(message, dict):
            return {"id": None, "error": {"code": 3, "msg": "Invalid request: a JSON object"}}
        request_id = message.get("id")
        if not isinstance(request_id, (int, str)) or isinstance(request_id, bool):
            request_id = None
        method = message.get("method")
        params = message.get("params")
        if ws_api:
            return self._ws_api(sub, request_id, method, params)
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                return {
                    "id": request_id,
                    "error": {
                        "code": 2,
                        "msg": "Invalid request: params must be a list of stream names",
                    },
                }
            if method == "SUBSCRIBE":
                added = set()
                for name in params:
                    if not self._add(sub, name, strict=False):
                        return {
                            "id": request_id,
                            "error": {
                                "code": 2,
                                "msg": f"Invalid request: unknown stream {name[:64]!r}",
                            },
                        }
                    added.add(name)
                self._initial(sub, added)
            else:
                for name in params:
                    sub.streams.discard(name)
                    sub.user_keys.discard(name)
            return {"result": None, "id": request_id}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(sub.streams | sub.user_keys), "id": request_id}
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return {"result": None if method == "SET_PROPERTY" else False, "id": request_id}
        return {"id": request_id, "error": {"code": 2, "msg": "Invalid request: unknown method"}}

    def _ws_api(self, sub: Subscriber, request_id: Any, method: Any, params: Any) -> dict[str, Any]:
        """The spot WebSocket API subset a bot needs for its user-data stream."""
        if method == "ping":
            return {"id": request_id, "status": 200, "result": {}}
        if method == "time":
            return {
                "id": request_id,
                "status": 200,
                "result": {"serverTime": self.server.clock_ms()},
            }
        if method == "userDataStream.subscribe.signature":
            if not isinstance(params, dict) or not all(
                isinstance(v, (str, int)) and not isinstance(v, bool) for v in params.values()
            ):
                return _ws_api_error(
                    request_id, -1102, "Mandatory parameters were not sent or malformed."
                )
            fields = {k: str(v) for k, v in params.items()}
            signature = fields.pop("signature", "")
            payload = "&".join(f"{k}={fields[k]}" for k in sorted(fields))
            try:
                account = self.server.auth.verify(
                    api_key=fields.get("apiKey"),
                    method="GET",
                    query_raw=payload + f"&signature={signature}",
                    body_raw="",
                    params=fields,
                )
            except BinanceError as exc:
                return _ws_api_error(request_id, exc.binance_code, exc.msg)
            self._ws_api_ids += 1
            self._start_user(account)
            sub.ws_api_accounts[account] = self._ws_api_ids
            return {"id": request_id, "status": 200, "result": {"subscriptionId": self._ws_api_ids}}
        if method == "userDataStream.unsubscribe":
            sub.ws_api_accounts.clear()
            return {"id": request_id, "status": 200, "result": {}}
        return _ws_api_error(request_id, -1020, "This operation is not supported.")

    def close_user(self, key: str) -> None:
        """Close the connections reading a listenKey that was just closed."""
        for sub in list(self.subscribers):
            if key in sub.user_keys:
                sub.user_keys.discard(key)
                if sub.combined is False and not sub.streams and not sub.user_keys:
                    self._drop(sub)

    async def close_all(self, app: web.Application) -> None:
        for sub in list(self.subscribers):
            self._drop(sub)
        if self._ticker_task is not None:
            self._ticker_task.cancel()


def _is_perp(record: OrderRecord) -> bool:
    return record.book_order_id.startswith("perp:")


def _ws_api_error(request_id: Any, code: int, msg: str) -> dict[str, Any]:
    return {"id": request_id, "status": 400, "error": {"code": code, "msg": msg}}


def _top(market: Any, bids: dict[Any, Any], asks: dict[Any, Any]) -> tuple[Any, ...]:
    """(best bid price, its qty, best ask price, its qty) in whole units; None for an empty side."""
    best_bid = max(bids) if bids else None
    best_ask = min(asks) if asks else None
    return (
        *(_level(market, best_bid, bids[best_bid]) if bids else (None, None)),
        *(_level(market, best_ask, asks[best_ask]) if asks else (None, None)),
    )


def _level(market: Any, price: Any, qty: Any) -> tuple[Decimal, Decimal]:
    """A feed level in whole units (a book's ticks and lots scaled; a pool's already are)."""
    if hasattr(market, "book"):
        return price * market.tick_size, qty * market.step_size
    return price, qty


def _changes(old: dict[Any, Any], new: dict[Any, Any], market: Any) -> list[list[str]]:
    """Levels whose quantity differs between two sides, quantity 0 for removed ones; by price."""
    out = []
    for price in sorted(old.keys() | new.keys()):
        qty = new.get(price, 0)
        if old.get(price, 0) != qty:
            shown_price, shown_qty = _level(market, price, qty)
            out.append([plain(shown_price), plain(shown_qty)])
    return out


def _current_bar(tape: list[Any], length_ms: int) -> dict[str, Any]:
    """The bar of the newest trade, built from the trades in its interval."""
    opened = T.bar_open(tape[-1].time_ms, length_ms)
    first = len(tape) - 1
    while first > 0 and tape[first - 1].time_ms >= opened:
        first -= 1
    bar = T.new_bar(opened, length_ms, first + 1, tape[first])
    for index in range(first + 1, len(tape)):
        T.add_to_bar(bar, index + 1, tape[index])
    return bar
