"""aiohttp application: a Binance-compatible REST subset (and a depth websocket) over an Engine.

Routes (spot under /api/v3, perpetuals under /fapi): exchangeInfo, depth, ticker/24hr, time,
ping; signed account, order (POST/GET/DELETE), openOrders, myTrades; /fapi/v1 exchangeInfo,
depth, order, openOrders, userTrades, leverageBracket, /fapi/v2|v3 account, balance and
positionRisk; websocket ``/ws/<symbol>@depth`` (spot) and ``/fapi/ws/<symbol>@depth``.

Every refusal is Binance-shaped (HTTP 4xx, ``{"code", "msg"}``) and changes nothing: parameters
are parsed and checked, the key, signature, timestamp and rate limits verified, and only then is
one synchronous Engine call made. The event loop runs one handler at a time between awaits and
the Engine call has no await inside, so each order is atomic.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from aiohttp import web

from router.server import params as P
from router.server import tape as T
from router.server.accounts import AccountSpec, Ledger, decimal_of
from router.server.auth import ApiCredential, Authenticator
from router.server.engine import PIPS, Engine, OrderRecord, TradeRecord, position_key
from router.server.errors import (
    ILLEGAL_CHARS,
    INVALID_ORDER_TYPE,
    INVALID_SIDE,
    INVALID_TIF,
    MANDATORY_PARAM_EMPTY_OR_MALFORMED,
    TOO_MANY_PARAMETERS,
    UNKNOWN,
    UNSUPPORTED_OPERATION,
    BinanceError,
    CancelReplaceError,
    illegal,
    missing,
)
from router.server.markets import BookMarket, PoolMarket, filters, precision_digits
from router.server.ratelimit import RateLimiter
from router.server.streams import STREAM_PATHS, StreamHub
from venues.errors import InvalidArgument, require_int
from venues.values import ValueInputError, parse_int

log = logging.getLogger("crossroute.venue_server")

DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000, 5000)
FUNDING_INTERVAL_MS = 8 * 3_600_000
# Binance order types crossroute's venues do not model: answered -1020, not "invalid type".
UNMODELLED_ORDER_TYPES = frozenset(
    {
        "STOP",
        "STOP_MARKET",
        "STOP_LOSS",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT",
        "TAKE_PROFIT_MARKET",
        "TAKE_PROFIT_LIMIT",
        "TRAILING_STOP_MARKET",
    }
)


def _const(weight: int) -> Callable[[dict[str, str]], int]:
    return lambda params: weight


def _by_symbol(one: int, every: int) -> Callable[[dict[str, str]], int]:
    """Binance's weight rule for list endpoints: cheap with ``symbol``, dear without."""
    return lambda params: one if params.get("symbol") else every


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Request-size and rate limits. Weights per minute and orders per 10 s are per API key (or IP)."""

    weight_per_minute: int = 6000
    orders_per_10s: int = 100
    max_body_bytes: int = 8192
    max_query_bytes: int = 4096
    max_params: int = 40

    def __post_init__(self) -> None:
        for name in (
            "weight_per_minute",
            "orders_per_10s",
            "max_body_bytes",
            "max_query_bytes",
            "max_params",
        ):
            require_int(name, getattr(self, name), minimum=1)


def _uid(account: str) -> int:
    """A stable 9-digit user id per account; hash() is salted per process, so ids would move."""
    return int.from_bytes(hashlib.sha256(account.encode()).digest()[:8], "big") % 10**9


def _ms() -> int:
    return time.time_ns() // 1_000_000


def _plain(value: Decimal) -> str:
    return format(value, "f")


# ---- the application ---------------------------------------------------------------------------
class VenueServer:
    """Holds the Engine, the authenticator and the limiters; builds the aiohttp Application."""

    def __init__(
        self,
        markets: Iterable[BookMarket | PoolMarket],
        accounts: Iterable[AccountSpec],
        asset_decimals: dict[str, int],
        *,
        clock_ms: Callable[[], int] = _ms,
        market_clock_ms: Callable[[], int] | None = None,
        limits: ServerLimits = ServerLimits(),
        ws_interval_s: float = 0.1,
    ) -> None:
        accounts = list(accounts)
        # Two clocks, because a simulated market runs on its own time while its clients sign with
        # theirs: ``clock_ms`` (request timestamps, recvWindow, rate limits, serverTime) and
        # ``market_clock_ms`` (order and trade times, the ticker's 24 h window, updateTime, event
        # times). By default both are the wall clock; the paper service passes its simulated time.
        self.clock_ms = clock_ms
        self.market_clock_ms = (
            market_clock_ms if market_clock_ms is not None else (lambda: self.clock_ms())
        )
        self.limits = limits
        self.ledger = Ledger(asset_decimals, accounts)
        self.engine = Engine(markets, self.ledger, clock_ms=lambda: self.market_clock_ms())
        self.auth = Authenticator(
            [
                ApiCredential(a.api_key, a.api_secret, a.name)
                for a in accounts
                if a.api_key and a.api_secret
            ],
            clock_ms=lambda: self.clock_ms(),
        )
        self.weights = RateLimiter(
            limits.weight_per_minute, 60_000, clock_ms=lambda: self.clock_ms()
        )
        self.order_limits = RateLimiter(
            limits.orders_per_10s,
            10_000,
            clock_ms=lambda: self.clock_ms(),
            code=-1015,
            label="new orders",
        )
        self.ws_interval_s = ws_interval_s
        self.streams = StreamHub(self, interval_s=ws_interval_s)
        self.app = self._build()

    def _routes(
        self,
    ) -> list[tuple[str, str, Callable[..., Any], Callable[[dict[str, str]], int], str]]:
        """(method, Binance path, handler, weight, security): security is "none" (public, weight
        on the client address), "key" (an API key, no signature: listenKey) or "signed"."""
        one = _const(1)
        spot_many = _by_symbol(2, 80)
        return [
            # spot: market data
            ("GET", "/api/v3/ping", self._ping, one, "none"),
            ("GET", "/api/v3/time", self._time, one, "none"),
            ("GET", "/api/v3/exchangeInfo", self._exchange_info_spot, _const(20), "none"),
            ("GET", "/api/v3/depth", self._depth_spot, _depth_weight, "none"),
            ("GET", "/api/v3/trades", self._trades_spot, _const(25), "none"),
            ("GET", "/api/v3/historicalTrades", self._trades_spot, _const(25), "none"),
            ("GET", "/api/v3/aggTrades", self._agg_trades_spot, _const(4), "none"),
            ("GET", "/api/v3/klines", self._klines_spot, _const(2), "none"),
            ("GET", "/api/v3/uiKlines", self._klines_spot, _const(2), "none"),
            ("GET", "/api/v3/avgPrice", self._avg_price, _const(2), "none"),
            ("GET", "/api/v3/ticker/24hr", self._ticker_spot, spot_many, "none"),
            ("GET", "/api/v3/ticker", self._ticker_spot, spot_many, "none"),
            ("GET", "/api/v3/ticker/price", self._price_spot, _by_symbol(2, 4), "none"),
            ("GET", "/api/v3/ticker/bookTicker", self._book_ticker_spot, _by_symbol(2, 4), "none"),
            # spot: account and trading
            ("GET", "/api/v3/account", self._account_spot, _const(20), "signed"),
            ("POST", "/api/v3/order", self._order_post_spot, one, "signed"),
            ("POST", "/api/v3/order/test", self._order_test_spot, one, "signed"),
            ("GET", "/api/v3/order", self._order_get_spot, _const(4), "signed"),
            ("DELETE", "/api/v3/order", self._order_delete_spot, one, "signed"),
            ("POST", "/api/v3/order/cancelReplace", self._cancel_replace_spot, one, "signed"),
            ("GET", "/api/v3/openOrders", self._open_orders_spot, _by_symbol(6, 80), "signed"),
            ("DELETE", "/api/v3/openOrders", self._cancel_all_spot, one, "signed"),
            ("GET", "/api/v3/allOrders", self._all_orders_spot, _const(20), "signed"),
            ("GET", "/api/v3/myTrades", self._my_trades_spot, _const(20), "signed"),
            ("GET", "/api/v3/account/commission", self._commission_spot, _const(20), "signed"),
            ("POST", "/api/v3/userDataStream", self._listen_key_new, _const(2), "key"),
            ("PUT", "/api/v3/userDataStream", self._listen_key_keep, _const(2), "key"),
            ("DELETE", "/api/v3/userDataStream", self._listen_key_close, _const(2), "key"),
            # sapi: what ccxt's load_markets reads
            ("GET", "/sapi/v1/capital/config/getall", self._currencies, _const(10), "signed"),
            ("GET", "/sapi/v1/margin/allPairs", self._no_rows, one, "signed"),
            ("GET", "/sapi/v1/margin/isolated/allPairs", self._no_rows, _const(10), "signed"),
            ("GET", "/sapi/v1/system/status", self._system_status, one, "none"),
            ("GET", "/sapi/v1/asset/tradeFee", self._trade_fees, one, "signed"),
            # coin-margined and options: this server lists none
            ("GET", "/dapi/v1/exchangeInfo", self._exchange_info_none, one, "none"),
            ("GET", "/dapi/v1/ping", self._ping, one, "none"),
            ("GET", "/eapi/v1/exchangeInfo", self._exchange_info_none, one, "none"),
            # USD-M: market data
            ("GET", "/fapi/v1/ping", self._ping, one, "none"),
            ("GET", "/fapi/v1/time", self._time, one, "none"),
            ("GET", "/fapi/v1/exchangeInfo", self._exchange_info_perp, one, "none"),
            ("GET", "/fapi/v1/depth", self._depth_perp, _depth_weight, "none"),
            ("GET", "/fapi/v1/trades", self._trades_perp, _const(5), "none"),
            ("GET", "/fapi/v1/aggTrades", self._agg_trades_perp, _const(20), "none"),
            ("GET", "/fapi/v1/klines", self._klines_perp, _const(5), "none"),
            ("GET", "/fapi/v1/markPriceKlines", self._klines_perp, _const(5), "none"),
            ("GET", "/fapi/v1/indexPriceKlines", self._klines_perp, _const(5), "none"),
            ("GET", "/fapi/v1/ticker/24hr", self._ticker_perp, _by_symbol(1, 40), "none"),
            ("GET", "/fapi/v1/ticker/price", self._price_perp, _by_symbol(1, 2), "none"),
            ("GET", "/fapi/v2/ticker/price", self._price_perp, _by_symbol(1, 2), "none"),
            ("GET", "/fapi/v1/ticker/bookTicker", self._book_ticker_perp, _by_symbol(2, 5), "none"),
            ("GET", "/fapi/v1/premiumIndex", self._premium_index, one, "none"),
            ("GET", "/fapi/v1/fundingRate", self._funding_history, one, "none"),
            ("GET", "/fapi/v1/fundingInfo", self._no_rows, one, "none"),
            ("GET", "/fapi/v1/openInterest", self._open_interest, one, "none"),
            # USD-M: account and trading
            ("POST", "/fapi/v1/order", self._order_post_perp, one, "signed"),
            ("GET", "/fapi/v1/order", self._order_get_perp, one, "signed"),
            ("DELETE", "/fapi/v1/order", self._order_delete_perp, one, "signed"),
            ("GET", "/fapi/v1/openOrders", self._open_orders_perp, _by_symbol(1, 40), "signed"),
            ("GET", "/fapi/v1/openOrder", self._order_get_perp, one, "signed"),
            ("DELETE", "/fapi/v1/allOpenOrders", self._cancel_all_perp, one, "signed"),
            ("GET", "/fapi/v1/allOrders", self._all_orders_perp, _const(5), "signed"),
            ("GET", "/fapi/v1/userTrades", self._user_trades_perp, _const(5), "signed"),
            ("GET", "/fapi/v1/leverageBracket", self._leverage_bracket, one, "signed"),
            ("POST", "/fapi/v1/leverage", self._set_leverage, one, "signed"),
            ("POST", "/fapi/v1/marginType", self._set_margin_type, one, "signed"),
            ("GET", "/fapi/v1/positionSide/dual", self._get_dual, _const(30), "signed"),
            ("POST", "/fapi/v1/positionSide/dual", self._set_dual, one, "signed"),
            ("GET", "/fapi/v1/symbolConfig", self._symbol_config, _const(5), "signed"),
            ("GET", "/fapi/v1/multiAssetsMargin", self._multi_assets, _const(30), "signed"),
            ("GET", "/fapi/v1/commissionRate", self._commission_perp, _const(20), "signed"),
            ("GET", "/fapi/v1/income", self._income, _const(30), "signed"),
            ("GET", "/fapi/v2/account", self._account_perp, _const(5), "signed"),
            ("GET", "/fapi/v3/account", self._account_perp, _const(5), "signed"),
            ("GET", "/fapi/v2/balance", self._balance_perp, _const(5), "signed"),
            ("GET", "/fapi/v3/balance", self._balance_perp, _const(5), "signed"),
            ("GET", "/fapi/v2/positionRisk", self._position_risk, _const(5), "signed"),
            ("GET", "/fapi/v3/positionRisk", self._position_risk, _const(5), "signed"),
            ("POST", "/fapi/v1/listenKey", self._listen_key_new, one, "key"),
            ("PUT", "/fapi/v1/listenKey", self._listen_key_keep, one, "key"),
            ("DELETE", "/fapi/v1/listenKey", self._listen_key_close, one, "key"),
        ]

    def _build(self) -> web.Application:
        app = web.Application(
            client_max_size=self.limits.max_body_bytes, middlewares=[self._errors_middleware]
        )
        r = app.router
        # /v/<venue>/... serves one venue alone, as its own Binance; the root paths serve the
        # first venue of each kind and symbol (one address for a whole small market).
        for prefix in ("", "/v/{venue}"):
            for method, path, handler, weight, security in self._routes():
                r.add_route(method, prefix + path, self._endpoint(handler, weight, security))
            for path in STREAM_PATHS:
                r.add_get(prefix + path, self.streams.websocket)
            r.add_route("*", prefix + "/{tail:.*}", self._unsupported)
        app.on_shutdown.append(self.streams.close_all)
        return app

    async def _unsupported(self, request: web.Request) -> web.Response:
        """Every path Binance has that this server does not model (stop orders, options, margin
        trading, wallets...) and every unknown path: Binance's -1020, never a 404."""
        raise BinanceError(
            UNSUPPORTED_OPERATION,
            f"This operation is not supported: {request.method} {request.path[:100]}.",
        )

    # ---- plumbing ---------------------------------------------------------------------------
    @web.middleware
    async def _errors_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except BinanceError as exc:
            return _error_response(exc)
        except InvalidArgument as exc:  # a value the engine refuses that the parsers let through
            return _error_response(
                BinanceError(ILLEGAL_CHARS, str(exc)[:200], field=getattr(exc, "field", ""))
            )
        except web.HTTPRequestEntityTooLarge:
            return _error_response(
                BinanceError(
                    TOO_MANY_PARAMETERS,
                    f"Request body too large; at most {self.limits.max_body_bytes} bytes.",
                    http_status=413,
                )
            )
        except web.HTTPMethodNotAllowed:
            return _error_response(
                BinanceError(
                    UNSUPPORTED_OPERATION, f"Method {request.method} is not supported here."
                )
            )
        except web.HTTPException as exc:
            return _error_response(
                BinanceError(
                    UNKNOWN,
                    exc.reason or "Bad request.",
                    http_status=exc.status if 400 <= exc.status < 500 else 400,
                )
            )
        except Exception as exc:  # a bug: one log line, never a traceback to the client or a 500
            log.error(
                "internal error on %s %s: %s: %s",
                request.method,
                request.path[:100],
                type(exc).__name__,
                str(exc)[:200],
            )
            return _error_response(
                BinanceError(UNKNOWN, "An unknown error occurred while processing the request.")
            )

    def _endpoint(
        self, handler: Callable[..., Any], weight: Callable[[dict[str, str]], int], security: str
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            query_raw = request.rel_url.raw_query_string
            if len(query_raw) > self.limits.max_query_bytes:
                raise BinanceError(TOO_MANY_PARAMETERS, "Query string too long.", http_status=414)
            if (
                request.content_length is not None
                and request.content_length > self.limits.max_body_bytes
            ):
                raise web.HTTPRequestEntityTooLarge(
                    max_size=self.limits.max_body_bytes, actual_size=request.content_length
                )
            body_bytes = await request.read() if request.can_read_body else b""
            try:
                body_raw = body_bytes.decode("ascii")
            except UnicodeDecodeError:
                raise BinanceError(
                    ILLEGAL_CHARS, "Illegal characters found in the request body."
                ) from None
            params = P.parse_params(query_raw, self.limits.max_params)
            body_params = P.parse_params(body_raw, self.limits.max_params)
            for name, value in body_params.items():
                if name in params:
                    raise BinanceError(
                        TOO_MANY_PARAMETERS,
                        "Duplicate values for a parameter detected.",
                        field=name[:64],
                    )
                params[name] = value
            view = request.match_info.get("venue", "")
            if view not in self.engine.views:
                raise BinanceError(
                    UNSUPPORTED_OPERATION, f"Unknown venue {view[:64]!r}.", field="venue"
                )
            address = f"ip:{request.remote}"
            api_key = request.headers.get("X-MBX-APIKEY")
            account = None
            # Weight goes to the client address until the key is proven: a request that fails
            # its signature (or names someone else's key) spends the sender's allowance, never
            # the key owner's.
            if security == "none":
                used = self.weights.charge(address, weight(params))
            else:
                try:
                    if security == "signed":
                        account = self.auth.verify(
                            api_key=api_key,
                            method=request.method,
                            query_raw=query_raw,
                            body_raw=body_raw,
                            params=params,
                        )
                    else:
                        account = self.auth.account_for_key(api_key)
                except BinanceError:
                    self.weights.charge(address, weight(params))
                    raise
                used = self.weights.charge(f"key:{api_key}", weight(params))
                if request.method == "POST" and request.path.endswith(("/order", "/cancelReplace")):
                    self.order_limits.charge(f"key:{api_key}", 1)
            result = handler(params, account, view) if account else handler(params, view)
            if request.method != "GET":
                self.streams.publish()  # book, trade and order events go out before the answer
            response = web.json_response(result, dumps=_dumps)
            response.headers["X-MBX-USED-WEIGHT-1M"] = str(used)
            return response

        return endpoint

    # ---- public ----------------------------------------------------------------------------
    def _ping(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        return {}

    def _time(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        return {"serverTime": self.clock_ms()}

    def _rate_limits(self) -> list[dict[str, Any]]:
        return [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": self.limits.weight_per_minute,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": self.limits.orders_per_10s,
            },
        ]

    def _selected(self, params: dict[str, str], kind: str, view: str = "") -> list[Any]:
        symbol = P.symbol(params, required=False)
        raw_symbols = params.get("symbols")
        if symbol is not None:
            return [self.engine.market(symbol, kind, view)]
        if raw_symbols:
            try:
                names = json.loads(raw_symbols)
            except ValueError:
                raise illegal("symbols", raw_symbols, 'a JSON list such as ["ETHUSDC"]') from None
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise illegal("symbols", raw_symbols, 'a JSON list such as ["ETHUSDC"]')
            return [self.engine.market(n, kind, view) for n in names]
        return self.engine.markets(kind, view)

    def _exchange_info_spot(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        symbols = []
        for m in self._selected(params, "spot", view):
            u = m.units
            symbols.append(
                {
                    "symbol": u.symbol_id,
                    "status": "TRADING",
                    "baseAsset": u.base,
                    "baseAssetPrecision": u.base_decimals,
                    "quoteAsset": u.quote,
                    "quotePrecision": u.quote_decimals,
                    "quoteAssetPrecision": u.quote_decimals,
                    "baseCommissionPrecision": u.base_decimals,
                    "quoteCommissionPrecision": u.quote_decimals,
                    "orderTypes": list(m.order_types)
                    + (["LIMIT_MAKER"] if "LIMIT" in m.order_types else []),
                    "icebergAllowed": False,
                    "ocoAllowed": False,
                    "otoAllowed": False,
                    "quoteOrderQtyMarketAllowed": True,
                    "allowTrailingStop": False,
                    "cancelReplaceAllowed": True,
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "filters": filters(m),
                    "permissions": [],
                    "permissionSets": [["SPOT"]],
                    "defaultSelfTradePreventionMode": "EXPIRE_TAKER",
                    "allowedSelfTradePreventionModes": ["EXPIRE_TAKER"],
                    "venue": m.name,
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": self.clock_ms(),
            "rateLimits": self._rate_limits(),
            "exchangeFilters": [],
            "symbols": symbols,
        }

    def _exchange_info_perp(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        symbols = []
        for m in self._selected(params, "perp", view):
            u = m.units
            spot_filters = filters(m)
            perp_filters = spot_filters[:3] + [
                {"filterType": "MIN_NOTIONAL", "notional": _plain(m.min_notional)}
            ]
            symbols.append(
                {
                    "symbol": u.symbol_id,
                    "pair": u.symbol_id,
                    "contractType": "PERPETUAL",
                    "deliveryDate": 4133404800000,
                    "onboardDate": 1569398400000,
                    "status": "TRADING",
                    "baseAsset": u.base,
                    "quoteAsset": u.quote,
                    "marginAsset": u.quote,
                    "pricePrecision": precision_digits(m.tick_size),
                    "quantityPrecision": precision_digits(m.step_size),
                    "baseAssetPrecision": u.base_decimals,
                    "quotePrecision": u.quote_decimals,
                    "underlyingType": "COIN",
                    "underlyingSubType": [],
                    "settlePlan": 0,
                    "triggerProtect": "0.0500",
                    "liquidationFee": "0",
                    "marketTakeBound": "0.05",
                    "filters": perp_filters,
                    "orderTypes": list(m.order_types),
                    "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
                    "venue": m.name,
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": self.clock_ms(),
            "rateLimits": self._rate_limits(),
            "exchangeFilters": [],
            "assets": [],
            "symbols": symbols,
        }

    def _depth(self, params: dict[str, str], kind: str, view: str = "") -> dict[str, Any]:
        symbol = P.symbol(params)
        limit = P.integer(params, "limit", default=100, minimum=1, maximum=5000)
        market = self.engine.market(symbol, kind, view)  # type: ignore[arg-type]
        update_id = self.streams.update_id(market)  # publishes first: the id matches these levels
        body = {"lastUpdateId": update_id, **_levels_json(*market.depth(limit))}
        # Binance's spot depth has no times; ccxt then leaves the book's timestamp empty, which
        # its own validator rejects. The market-clock time of the snapshot is true, so say it.
        now = self.market_clock_ms()
        body.update({"E": now, "T": now})
        return body

    def _depth_spot(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        return self._depth(params, "spot", view)

    def _depth_perp(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        return self._depth(params, "perp", view)

    def _ticker(self, market: Any, kind: str) -> dict[str, Any]:
        now = self.market_clock_ms()
        tape = [t for t in self.engine.tape.get(market.name, []) if t[0] >= now - 86_400_000]
        bids, asks = market.depth(1)
        bid_p, bid_q = bids[0] if bids else (Decimal(0), Decimal(0))
        ask_p, ask_q = asks[0] if asks else (Decimal(0), Decimal(0))
        volume = sum((t[2] for t in tape), Decimal(0))
        quote_volume = sum((t[3] for t in tape), Decimal(0))
        last_p = tape[-1][1] if tape else (bid_p + ask_p) / 2 if bids and asks else Decimal(0)
        open_p = tape[0][1] if tape else last_p
        body = {
            "symbol": market.units.symbol_id,
            "priceChange": _plain(last_p - open_p),
            "priceChangePercent": _plain(
                ((last_p - open_p) * 100 / open_p).quantize(Decimal("0.001"))
            )
            if open_p
            else "0",
            "weightedAvgPrice": _plain(quote_volume / volume) if volume else _plain(last_p),
            "lastPrice": _plain(last_p),
            "lastQty": _plain(tape[-1][2]) if tape else "0",
            "openPrice": _plain(open_p),
            "highPrice": _plain(max((t[1] for t in tape), default=last_p)),
            "lowPrice": _plain(min((t[1] for t in tape), default=last_p)),
            "volume": _plain(volume),
            "quoteVolume": _plain(quote_volume),
            "openTime": now - 86_400_000,
            "closeTime": now,
            "firstId": -1,
            "lastId": -1,
            "count": len(tape),
        }
        if kind == "spot":
            body.update(
                {
                    "prevClosePrice": _plain(open_p),
                    "bidPrice": _plain(bid_p),
                    "bidQty": _plain(bid_q),
                    "askPrice": _plain(ask_p),
                    "askQty": _plain(ask_q),
                }
            )
        return body

    def _ticker_spot(self, params: dict[str, str], view: str = "") -> Any:
        bodies = [self._ticker(m, "spot") for m in self._selected(params, "spot", view)]
        return bodies[0] if params.get("symbol") else bodies

    def _ticker_perp(self, params: dict[str, str], view: str = "") -> Any:
        bodies = [self._ticker(m, "perp") for m in self._selected(params, "perp", view)]
        return bodies[0] if params.get("symbol") else bodies

    # ---- signed: spot ----------------------------------------------------------------------
    def _account_spot(self, params: dict[str, str], account: str, view: str = "") -> dict[str, Any]:
        balances = [
            {
                "asset": asset,
                "free": _plain(
                    decimal_of(self.ledger.free(account, asset), self.ledger.decimals(asset))
                ),
                "locked": _plain(
                    decimal_of(self.ledger.locked(account, asset), self.ledger.decimals(asset))
                ),
            }
            for asset in self.ledger.assets
        ]
        return {
            "makerCommission": 0,
            "takerCommission": 0,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "canTrade": True,
            "canWithdraw": False,
            "canDeposit": False,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.market_clock_ms(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": _uid(account),
        }

    def _order_request(self, params: dict[str, str], kind: str) -> dict[str, Any]:
        """The parsed order of a POST order request; refuses (changing nothing) what Binance does."""
        symbol = P.symbol(params)
        side = P.required(params, "side")
        if side not in ("BUY", "SELL"):
            raise BinanceError(INVALID_SIDE, "Invalid side.", field="side", value=side[:16])
        order_type = P.required(params, "type")
        modelled = ("LIMIT", "MARKET", "LIMIT_MAKER") if kind == "spot" else ("LIMIT", "MARKET")
        if order_type in UNMODELLED_ORDER_TYPES:
            raise BinanceError(
                UNSUPPORTED_OPERATION,
                f"Order type {order_type} is not supported by this venue.",
                field="type",
            )
        if order_type not in modelled:
            raise BinanceError(
                INVALID_ORDER_TYPE, "Invalid orderType.", field="type", value=order_type[:16]
            )
        qty = P.decimal(params, "quantity", required=False)
        quote_qty = P.decimal(params, "quoteOrderQty", required=False)
        if order_type == "MARKET" and kind == "spot":
            if (qty is None) == (quote_qty is None):
                raise BinanceError(
                    MANDATORY_PARAM_EMPTY_OR_MALFORMED,
                    "Param 'quantity' or 'quoteOrderQty' must be sent, but not both.",
                    field="quantity",
                )
        else:
            if quote_qty is not None:
                raise BinanceError(
                    -1106,
                    "Parameter 'quoteOrderQty' sent when not required.",
                    field="quoteOrderQty",
                )
            reduce_or_close = kind == "perp" and P.boolean(params, "closePosition")
            if qty is None and not reduce_or_close:
                raise missing("quantity")
        price = None
        tif = "GTC"
        if order_type in ("LIMIT", "LIMIT_MAKER"):
            price = P.decimal(params, "price")
            if order_type == "LIMIT_MAKER":
                if params.get("timeInForce"):
                    raise BinanceError(
                        -1106,
                        "Parameter 'timeInForce' sent when not required.",
                        field="timeInForce",
                    )
                tif = "POST_ONLY"
            else:
                tif = P.required(params, "timeInForce")
                allowed = ("GTC", "IOC", "FOK", "GTX")
                if tif not in allowed:
                    raise BinanceError(
                        INVALID_TIF, "Invalid timeInForce.", field="timeInForce", value=tif[:16]
                    )
                tif = "POST_ONLY" if tif == "GTX" else tif
        elif params.get("price"):
            raise BinanceError(-1106, "Parameter 'price' sent when not required.", field="price")
        client_id = P.client_id(params, "newClientOrderId")
        response_type = P.choice(
            params,
            "newOrderRespType",
            ("ACK", "RESULT", "FULL"),
            "FULL" if kind == "spot" else "RESULT",
        )
        reduce_only = close_position = False
        position_side = "BOTH"
        if kind == "perp":
            reduce_only = P.boolean(params, "reduceOnly")
            close_position = P.boolean(params, "closePosition")
            position_side = P.choice(params, "positionSide", ("BOTH", "LONG", "SHORT"), "BOTH")
        return {
            "symbol": symbol,
            "side": side,
            "order_type": "LIMIT" if order_type == "LIMIT_MAKER" else order_type,
            "shown_type": order_type,
            "qty": qty,
            "quote_qty": quote_qty,
            "price": price,
            "tif": tif,
            "client_order_id": client_id,
            "response_type": response_type,
            "reduce_only": reduce_only,
            "close_position": close_position,
            "position_side": position_side,
        }

    def _place(self, req: dict[str, Any], account: str, kind: str, view: str) -> OrderRecord:
        """One engine call for a parsed order request."""
        extra: dict[str, Any] = {}
        if req["quote_qty"] is not None:
            extra["quote_qty"] = req["quote_qty"]
        if kind == "perp":
            if req["close_position"]:
                # closePosition: a MARKET order for the whole position, reduce-only (Binance
                # takes it on stop orders, which this venue does not model; a plain MARKET
                # close is what a bot means by it here)
                if req["order_type"] != "MARKET" or req["qty"] is not None:
                    raise BinanceError(
                        -4136,
                        "Target strategy invalid for orderType MARKET,closePosition true"
                        if req["order_type"] != "MARKET"
                        else "Parameter 'quantity' sent with closePosition.",
                    )
                market = self.engine.market(req["symbol"], "perp", view)
                key = position_key(market.name, req["position_side"])
                size = self.ledger.position(account, key).size_lots
                if size == 0:
                    raise BinanceError(-2022, "ReduceOnly Order is rejected.")
                req = {**req, "qty": abs(size) * market.step_size}
                extra["reduce_only"] = req["position_side"] == "BOTH"
            elif req["reduce_only"]:
                extra["reduce_only"] = True
            if req["position_side"] != "BOTH":
                extra["position_side"] = req["position_side"]
        return self.engine.place(
            account,
            kind,
            req["symbol"],
            req["side"],
            req["order_type"],
            qty=req["qty"],
            price=req["price"],
            tif=req["tif"],
            client_order_id=req["client_order_id"],
            view=view,
            **extra,
        )

    def _order_post(
        self, params: dict[str, str], account: str, kind: str, view: str = ""
    ) -> dict[str, Any]:
        req = self._order_request(params, kind)
        record = self._place(req, account, kind, view)
        self.streams.order_placed(record)
        if kind == "perp":
            return self._perp_order_json(record)
        return self._spot_order_json(record, response_type=req["response_type"])

    def _order_test_spot(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        """POST /api/v3/order/test: validates the request only (parameters and symbol)."""
        req = self._order_request(params, "spot")
        self.engine.market(req["symbol"], "spot", view)
        return {}

    def _order_post_spot(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        return self._order_post(params, account, "spot", view)

    def _order_post_perp(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        return self._order_post(params, account, "perp", view)

    def _order_ref(
        self, params: dict[str, str], view: str = ""
    ) -> tuple[str, int | None, str | None]:
        symbol = P.symbol(params)
        order_id = P.integer(params, "orderId", minimum=1)
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise BinanceError(
                MANDATORY_PARAM_EMPTY_OR_MALFORMED,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
                field="orderId",
            )
        return symbol, order_id, client_id  # type: ignore[return-value]

    def _order_get_spot(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        symbol, order_id, client_id = self._order_ref(params)
        return self._spot_order_json(
            self.engine.find_order(account, symbol, "spot", order_id, client_id, view)
        )

    def _order_delete_spot(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        symbol, order_id, client_id = self._order_ref(params)
        record = self.engine.cancel(account, "spot", symbol, order_id, client_id, view)
        body = self._spot_order_json(record)
        body["origClientOrderId"] = record.client_order_id
        return body

    def _open_orders_spot(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> list[dict[str, Any]]:
        symbol = P.symbol(params, required=False)
        return [
            self._spot_order_json(r) for r in self.engine.open_orders(account, "spot", symbol, view)
        ]

    def _trades(
        self, params: dict[str, str], account: str, kind: str, view: str = ""
    ) -> list[TradeRecord]:
        symbol = P.symbol(params)
        market = self.engine.market(symbol, kind, view)  # type: ignore[arg-type]
        order_id = P.integer(params, "orderId", minimum=1)
        from_id = P.integer(params, "fromId", minimum=0)
        start = P.integer(params, "startTime", minimum=0)
        end = P.integer(params, "endTime", minimum=0)
        limit = P.integer(params, "limit", default=500, minimum=1, maximum=1000)
        rows = [
            t
            for t in self.engine.trades[account]
            if self.engine.orders[t.order_id].venue == market.name
            and (order_id is None or t.order_id == order_id)
            and (from_id is None or t.trade_id >= from_id)
            and (start is None or t.time_ms >= start)
            and (end is None or t.time_ms <= end)
        ]
        return rows[-limit:] if from_id is None else rows[:limit]  # type: ignore[index]

    def _my_trades_spot(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> list[dict[str, Any]]:
        return [
            {
                "symbol": t.symbol,
                "id": t.trade_id,
                "orderId": t.order_id,
                "orderListId": -1,
                "price": _plain(t.price),
                "qty": _plain(t.qty),
                "quoteQty": _plain(t.quote_qty),
                "commission": _plain(t.commission),
                "commissionAsset": t.commission_asset,
                "time": t.time_ms,
                "isBuyer": t.is_buyer,
                "isMaker": t.is_maker,
                "isBestMatch": True,
            }
            for t in self._trades(params, account, "spot", view)
        ]

    def _spot_order_json(self, r: OrderRecord, response_type: str = "RESULT") -> dict[str, Any]:
        u = self.engine.by_name[r.venue].units
        body: dict[str, Any] = {
            "symbol": r.symbol,
            "orderId": r.order_id,
            "orderListId": -1,
            "clientOrderId": r.client_order_id,
            "price": _plain(r.price),
            "origQty": _plain(r.orig_qty),
            "executedQty": _plain(decimal_of(r.executed_base_units, u.base_decimals)),
            "cummulativeQuoteQty": _plain(decimal_of(r.cum_quote_units, u.quote_decimals)),
            "status": r.status,
            "timeInForce": "GTC" if r.tif == "POST_ONLY" else r.tif,
            "type": "LIMIT_MAKER" if r.tif == "POST_ONLY" else r.type,
            "side": r.side,
            "stopPrice": "0",
            "icebergQty": "0",
            "time": r.time_ms,
            "updateTime": r.update_time_ms,
            "transactTime": r.update_time_ms,
            "isWorking": r.is_open,
            "workingTime": r.time_ms,
            "origQuoteOrderQty": _plain(r.orig_quote_qty),
            "selfTradePreventionMode": "EXPIRE_TAKER",
        }
        if response_type == "FULL":
            body["fills"] = [
                {
                    "price": _plain(t.price),
                    "qty": _plain(t.qty),
                    "commission": _plain(t.commission),
                    "commissionAsset": t.commission_asset,
                    "tradeId": t.trade_id,
                }
                for t in r.fills
                if not t.is_maker
            ]
        return body

    # ---- signed: perpetual -----------------------------------------------------------------
    def _perp_order_json(self, r: OrderRecord) -> dict[str, Any]:
        u = self.engine.by_name[r.venue].units
        executed = decimal_of(r.executed_base_units, u.base_decimals)
        cum_quote = decimal_of(r.cum_quote_units, u.quote_decimals)
        return {
            "orderId": r.order_id,
            "symbol": r.symbol,
            "status": r.status,
            "clientOrderId": r.client_order_id,
            "price": _plain(r.price),
            "avgPrice": _plain(cum_quote / executed) if executed else "0",
            "origQty": _plain(r.orig_qty),
            "executedQty": _plain(executed),
            "cumQty": _plain(executed),
            "cumQuote": _plain(cum_quote),
            "timeInForce": "GTX" if r.tif == "POST_ONLY" else r.tif,
            "type": r.type,
            "reduceOnly": r.reduce_only,
            "closePosition": False,
            "side": r.side,
            "positionSide": r.position_side,
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": r.type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_TAKER",
            "goodTillDate": 0,
            "time": r.time_ms,
            "updateTime": r.update_time_ms,
        }

    def _order_get_perp(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        symbol, order_id, client_id = self._order_ref(params)
        return self._perp_order_json(
            self.engine.find_order(account, symbol, "perp", order_id, client_id, view)
        )

    def _order_delete_perp(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        symbol, order_id, client_id = self._order_ref(params)
        return self._perp_order_json(
            self.engine.cancel(account, "perp", symbol, order_id, client_id, view)
        )

    def _open_orders_perp(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> list[dict[str, Any]]:
        symbol = P.symbol(params, required=False)
        return [
            self._perp_order_json(r) for r in self.engine.open_orders(account, "perp", symbol, view)
        ]

    def _user_trades_perp(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> list[dict[str, Any]]:
        return [
            {
                "symbol": t.symbol,
                "id": t.trade_id,
                "orderId": t.order_id,
                "side": t.side,
                "price": _plain(t.price),
                "qty": _plain(t.qty),
                "quoteQty": _plain(t.quote_qty),
                "realizedPnl": _plain(t.realized_pnl),
                "commission": _plain(t.commission),
                "commissionAsset": t.commission_asset,
                "time": t.time_ms,
                "buyer": t.is_buyer,
                "maker": t.is_maker,
                "positionSide": "BOTH",
            }
            for t in self._trades(params, account, "perp", view)
        ]

    def _leverage_bracket(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> list[dict[str, Any]]:
        out = []
        for m in self._selected(params, "perp", view):
            out.append(
                {
                    "symbol": m.units.symbol_id,
                    "notionalCoef": 1.0,
                    "brackets": [
                        {
                            "bracket": 1,
                            "initialLeverage": m.leverage,
                            "notionalCap": 9_000_000_000_000,
                            "notionalFloor": 0,
                            "maintMarginRatio": _plain(Decimal(1) / (2 * m.leverage)),
                            "cum": 0.0,
                        }
                    ],
                }
            )
        return out

    def _mark(self, market: BookMarket) -> Decimal:
        return self._mid(market)

    def _position_rows(self, account: str, view: str) -> list[tuple[Any, str, Any]]:
        """(market, positionSide, position) of every perp position row the account shows: one
        BOTH row per symbol in one-way mode, a LONG and a SHORT row in hedge mode."""
        sides = ("LONG", "SHORT") if account in self.engine.hedge_mode else ("BOTH",)
        return [
            (m, side, self.ledger.position(account, position_key(m.name, side)))
            for m in self.engine.markets("perp", view)
            for side in sides
        ]

    def _liquidation_price(
        self, account: str, market: Any, position: Any, rows: list[dict[str, Any]]
    ) -> Decimal:
        """The mark at which the account's cross margin balance in the margin asset falls to its
        maintenance margin, the other positions held at their marks (Binance's cross formula):
        p = (q*E - C) / (q - mmr*|q|), C = wallet + the others' (unrealised PnL - maintenance).
        0 when no positive price liquidates. Rounded against the holder (a long's up, a short's
        down) to 8 decimals."""
        if not position.size_lots:
            return Decimal(0)
        asset = market.units.quote
        wallet = decimal_of(self.ledger.free(account, asset), self.ledger.decimals(asset))
        q = position.size_lots * market.step_size
        entry = decimal_of(
            position.entry_quanta * market.quantum_units, market.units.quote_decimals
        )
        mmr = Decimal(1) / (2 * market.leverage)
        others = wallet
        for row in rows:
            if row["marginAsset"] != asset or row["_position"] is position:
                continue
            others += Decimal(row["unRealizedProfit"]) - Decimal(row["maintMargin"])
        # entry is the signed cost (negative for a short), so q*E_price = entry
        price = (entry - others) / (q - mmr * abs(q))
        if price <= 0:
            return Decimal(0)
        rounding = ROUND_CEILING if q > 0 else ROUND_FLOOR
        return price.quantize(Decimal("1e-8"), rounding=rounding)

    def _positions(
        self, account: str, symbol: str | None = None, view: str = ""
    ) -> list[dict[str, Any]]:
        rows = []
        for m, side, pos in self._position_rows(account, view):
            sym = m.units.symbol_id
            u = m.units
            size = pos.size_lots * m.step_size
            entry_notional = decimal_of(pos.entry_quanta * m.quantum_units, u.quote_decimals)
            entry_price = entry_notional / size if size else Decimal(0)
            mark = self._mark(m)
            unrealised = (mark - entry_price) * size if size else Decimal(0)
            leverage = self.engine.leverage_of(account, m)
            im = decimal_of(
                -(-abs(pos.entry_quanta) * m.quantum_units // leverage), u.quote_decimals
            )
            mm = abs(size) * mark / (2 * m.leverage)
            rows.append(
                {
                    "symbol": sym,
                    "positionSide": side,
                    "positionAmt": _plain(size),
                    "entryPrice": _plain(entry_price),
                    "breakEvenPrice": _plain(entry_price),
                    "markPrice": _plain(mark),
                    "unRealizedProfit": _plain(unrealised),
                    "liquidationPrice": "0",
                    "isolatedMargin": "0",
                    "notional": _plain(mark * size),
                    "marginAsset": u.quote,
                    "isolatedWallet": "0",
                    "initialMargin": _plain(im),
                    "maintMargin": _plain(mm),
                    "positionInitialMargin": _plain(im),
                    "openOrderInitialMargin": "0",
                    "adl": 0,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "leverage": str(leverage),
                    "marginType": "cross",
                    "updateTime": self.market_clock_ms(),
                    "_position": pos,
                    "_market": m,
                }
            )
        for row in rows:
            liq = self._liquidation_price(account, row["_market"], row["_position"], rows)
            row["liquidationPrice"] = _plain(liq)
        for row in rows:
            del row["_position"], row["_market"]
        return [r for r in rows if symbol is None or r["symbol"] == symbol]

    def _position_risk(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> list[dict[str, Any]]:
        symbol = P.symbol(params, required=False)
        if symbol is not None:
            self.engine.market(symbol, "perp", view)
        return self._positions(account, symbol, view)

    def _perp_assets(
        self, account: str, positions: list[dict[str, Any]], view: str = ""
    ) -> list[dict[str, Any]]:
        """Per margin asset rows; ``positions`` are :meth:`_positions` of the account (built once
        by the caller, since each row needs them and they cost a depth read per market)."""
        assets = self.ledger.assets  # every asset: Binance lists the whole futures wallet
        rows = []
        for asset in assets:
            digits = self.ledger.decimals(asset)
            wallet = self.ledger.free(account, asset)
            used = self.engine.perp_margin_used(account, asset)
            unrealised = sum(
                (Decimal(p["unRealizedProfit"]) for p in positions if p["marginAsset"] == asset),
                Decimal(0),
            )
            maintenance = sum(
                (Decimal(p["maintMargin"]) for p in positions if p["marginAsset"] == asset),
                Decimal(0),
            )
            margin_balance = decimal_of(wallet, digits) + unrealised
            # Binance's cross available balance: margin balance less the initial margin in use,
            # so available + initial margin = margin balance (ccxt's free + used = total)
            available = margin_balance - decimal_of(used, digits)
            rows.append(
                {
                    "asset": asset,
                    "walletBalance": _plain(decimal_of(wallet, digits)),
                    "unrealizedProfit": _plain(unrealised),
                    "marginBalance": _plain(margin_balance),
                    "initialMargin": _plain(decimal_of(used, digits)),
                    "maintMargin": _plain(maintenance),
                    "positionInitialMargin": "0",
                    "openOrderInitialMargin": "0",
                    "crossWalletBalance": _plain(decimal_of(wallet, digits)),
                    "crossUnPnl": _plain(unrealised),
                    "availableBalance": _plain(available),
                    "maxWithdrawAmount": _plain(
                        max(min(available, decimal_of(wallet - used, digits)), Decimal(0))
                    ),
                    "updateTime": self.market_clock_ms(),
                }
            )
        return rows

    def _account_perp(self, params: dict[str, str], account: str, view: str = "") -> dict[str, Any]:
        positions = self._positions(account, None, view)
        assets = self._perp_assets(account, positions, view)
        return {
            "totalWalletBalance": assets[0]["walletBalance"] if assets else "0",
            "availableBalance": assets[0]["availableBalance"] if assets else "0",
            "assets": assets,
            "positions": positions,
        }

    def _balance_perp(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> list[dict[str, Any]]:
        return [
            {
                "accountAlias": account,
                "asset": a["asset"],
                "balance": a["walletBalance"],
                "crossWalletBalance": a["crossWalletBalance"],
                "crossUnPnl": a["crossUnPnl"],
                "availableBalance": a["availableBalance"],
                "maxWithdrawAmount": a["maxWithdrawAmount"],
                "updateTime": a["updateTime"],
            }
            for a in self._perp_assets(account, self._positions(account, None, view), view)
        ]

    # ---- public market data from the tape ---------------------------------------------------
    def _tape_rows(self, params: dict[str, str], kind: str, view: str) -> tuple[Any, list[Any]]:
        market = self.engine.market(P.symbol(params), kind, view)  # type: ignore[arg-type]
        limit = P.integer(params, "limit", default=500, minimum=1, maximum=1000)
        rows = T.select(
            self.engine.tape.get(market.name, []),
            from_id=P.integer(params, "fromId", minimum=0),
            start_ms=P.integer(params, "startTime", minimum=0),
            end_ms=P.integer(params, "endTime", minimum=0),
            limit=limit,  # type: ignore[arg-type]
        )
        return market, rows

    def _trades_spot(self, params: dict[str, str], view: str = "") -> list[dict[str, Any]]:
        return [T.trade_json(i, t) for i, t in self._tape_rows(params, "spot", view)[1]]

    def _trades_perp(self, params: dict[str, str], view: str = "") -> list[dict[str, Any]]:
        return [T.trade_json(i, t) for i, t in self._tape_rows(params, "perp", view)[1]]

    def _agg_trades_spot(self, params: dict[str, str], view: str = "") -> list[dict[str, Any]]:
        return [T.agg_trade_json(i, t) for i, t in self._tape_rows(params, "spot", view)[1]]

    def _agg_trades_perp(self, params: dict[str, str], view: str = "") -> list[dict[str, Any]]:
        return [T.agg_trade_json(i, t) for i, t in self._tape_rows(params, "perp", view)[1]]

    def _klines(self, params: dict[str, str], kind: str, view: str) -> list[list[Any]]:
        market = self.engine.market(P.symbol(params), kind, view)  # type: ignore[arg-type]
        length_ms = T.interval_ms(params.get("interval"))
        limit = P.integer(params, "limit", default=500, minimum=1, maximum=1500)
        bars = T.klines(
            self.engine.tape.get(market.name, []),
            length_ms,
            start_ms=P.integer(params, "startTime", minimum=0),
            end_ms=P.integer(params, "endTime", minimum=0),
            limit=limit,  # type: ignore[arg-type]
        )
        return [T.kline_row(bar) for bar in bars]

    def _klines_spot(self, params: dict[str, str], view: str = "") -> list[list[Any]]:
        return self._klines(params, "spot", view)

    def _klines_perp(self, params: dict[str, str], view: str = "") -> list[list[Any]]:
        return self._klines(params, "perp", view)

    def _avg_price(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        market = self.engine.market(P.symbol(params), "spot", view)  # type: ignore[arg-type]
        now = self.market_clock_ms()
        recent = [t for t in self.engine.tape.get(market.name, []) if t.time_ms >= now - 300_000]
        qty = sum((t.qty for t in recent), Decimal(0))
        quote = sum((t.quote_qty for t in recent), Decimal(0))
        price = quote / qty if qty else self._mid(market)
        return {"mins": 5, "price": _plain(price), "closeTime": now}

    def _mid(self, market: Any) -> Decimal:
        bids, asks = market.depth(1)
        if bids and asks:
            return (bids[0][0] + asks[0][0]) / 2
        tape = self.engine.tape.get(market.name)
        return tape[-1].price if tape else Decimal(0)

    def _price(self, params: dict[str, str], kind: str, view: str) -> Any:
        rows = []
        for m in self._selected(params, kind, view):
            tape = self.engine.tape.get(m.name)
            row = {
                "symbol": m.units.symbol_id,
                "price": _plain(tape[-1].price if tape else self._mid(m)),
            }
            if kind == "perp":
                row["time"] = self.market_clock_ms()
            rows.append(row)
        return rows[0] if params.get("symbol") else rows

    def _price_spot(self, params: dict[str, str], view: str = "") -> Any:
        return self._price(params, "spot", view)

    def _price_perp(self, params: dict[str, str], view: str = "") -> Any:
        return self._price(params, "perp", view)

    def _book_ticker(self, params: dict[str, str], kind: str, view: str) -> Any:
        rows = []
        for m in self._selected(params, kind, view):
            bids, asks = m.depth(1)
            row = {
                "symbol": m.units.symbol_id,
                "bidPrice": _plain(bids[0][0]) if bids else "0",
                "bidQty": _plain(bids[0][1]) if bids else "0",
                "askPrice": _plain(asks[0][0]) if asks else "0",
                "askQty": _plain(asks[0][1]) if asks else "0",
            }
            if kind == "perp":
                now = self.market_clock_ms()
                row.update({"time": now, "lastUpdateId": self.streams.update_id(m)})
            rows.append(row)
        return rows[0] if params.get("symbol") else rows

    def _book_ticker_spot(self, params: dict[str, str], view: str = "") -> Any:
        return self._book_ticker(params, "spot", view)

    def _book_ticker_perp(self, params: dict[str, str], view: str = "") -> Any:
        return self._book_ticker(params, "perp", view)

    def _exchange_info_none(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        """Coin-margined futures and options: this server lists no such market."""
        return {
            "timezone": "UTC",
            "serverTime": self.clock_ms(),
            "rateLimits": self._rate_limits(),
            "exchangeFilters": [],
            "symbols": [],
            "optionSymbols": [],
            "optionContracts": [],
            "optionAssets": [],
        }

    def _system_status(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        return {"status": 0, "msg": "normal"}

    def _no_rows(self, params: dict[str, str], account: str = "", view: str = "") -> list[Any]:
        """Margin pairs, funding info: nothing of the kind is served here."""
        return []

    # ---- funding and mark (USD-M) ------------------------------------------------------------
    def _premium_index(self, params: dict[str, str], view: str = "") -> Any:
        """Mark = index = the book's mid (the server has no external index), so the premium and
        the funding rate are zero; the next funding time is the next 8-hour boundary."""
        now = self.market_clock_ms()
        rows = [
            {
                "symbol": m.units.symbol_id,
                "markPrice": _plain(self._mark(m)),
                "indexPrice": _plain(self._mark(m)),
                "estimatedSettlePrice": _plain(self._mark(m)),
                "lastFundingRate": "0",
                "interestRate": "0",
                "nextFundingTime": now - now % FUNDING_INTERVAL_MS + FUNDING_INTERVAL_MS,
                "time": now,
            }
            for m in self._selected(params, "perp", view)
        ]
        return rows[0] if params.get("symbol") else rows

    def _funding_history(self, params: dict[str, str], view: str = "") -> list[Any]:
        """No funding is exchanged on this server (mark equals index), so the history is empty."""
        if params.get("symbol"):
            self.engine.market(P.symbol(params), "perp", view)  # type: ignore[arg-type]
        P.integer(params, "limit", default=100, minimum=1, maximum=1000)
        return []

    def _open_interest(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        market = self.engine.market(P.symbol(params), "perp", view)  # type: ignore[arg-type]
        longs = sum(
            (
                p.size_lots
                for (_, name), p in self.ledger.positions.items()
                if name.split("@")[0] == market.name and p.size_lots > 0
            ),
            0,
        )
        return {
            "symbol": market.units.symbol_id,
            "openInterest": _plain(longs * market.step_size),
            "time": self.market_clock_ms(),
        }

    # ---- USD-M account settings ---------------------------------------------------------------
    def _set_leverage(self, params: dict[str, str], account: str, view: str = "") -> Any:
        symbol = P.symbol(params)
        leverage = P.integer(params, "leverage", minimum=1, maximum=125)
        if leverage is None:
            raise missing("leverage")
        market = self.engine.market(symbol, "perp", view)  # type: ignore[arg-type]
        self.engine.set_leverage(account, symbol, leverage, view)  # type: ignore[arg-type]
        return {
            "leverage": leverage,
            "maxNotionalValue": "9000000000000",
            "symbol": market.units.symbol_id,
        }

    def _set_margin_type(self, params: dict[str, str], account: str, view: str = "") -> Any:
        """Cross margin only: the venue server has no isolated wallets, so ISOLATED is refused
        with Binance's unsupported-operation code rather than accepted and ignored."""
        self.engine.market(P.symbol(params), "perp", view)  # type: ignore[arg-type]
        margin_type = P.required(params, "marginType")
        if margin_type.upper() == "CROSSED":
            raise BinanceError(-4046, "No need to change margin type.")
        if margin_type.upper() == "ISOLATED":
            raise BinanceError(
                UNSUPPORTED_OPERATION, "Isolated margin is not supported by this venue."
            )
        raise illegal("marginType", margin_type, "ISOLATED | CROSSED")

    def _get_dual(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return {"dualSidePosition": account in self.engine.hedge_mode}

    def _set_dual(self, params: dict[str, str], account: str, view: str = "") -> Any:
        raw = P.required(params, "dualSidePosition")
        if raw.lower() not in ("true", "false"):
            raise illegal("dualSidePosition", raw, "true or false")
        self.engine.set_hedge_mode(account, raw.lower() == "true")
        return {"code": 200, "msg": "success"}

    def _symbol_config(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return [
            {
                "symbol": m.units.symbol_id,
                "marginType": "CROSSED",
                "isAutoAddMargin": "false",
                "leverage": self.engine.leverage_of(account, m),
                "maxNotionalValue": "9000000000000",
            }
            for m in self._selected(params, "perp", view)
        ]

    def _multi_assets(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return {"multiAssetsMargin": False}

    def _commission(self, params: dict[str, str], kind: str, view: str) -> Any:
        market = self.engine.market(P.symbol(params), kind, view)  # type: ignore[arg-type]
        maker, taker = self._fee_rates(market)
        if kind == "perp":
            return {
                "symbol": market.units.symbol_id,
                "makerCommissionRate": _plain(maker),
                "takerCommissionRate": _plain(taker),
            }
        rates = {"maker": _plain(maker), "taker": _plain(taker), "buyer": "0", "seller": "0"}
        return {
            "symbol": market.units.symbol_id,
            "standardCommission": rates,
            "specialCommission": {"maker": "0", "taker": "0", "buyer": "0", "seller": "0"},
            "taxCommission": {"maker": "0", "taker": "0", "buyer": "0", "seller": "0"},
            "discount": {
                "enabledForAccount": False,
                "enabledForSymbol": False,
                "discountAsset": "BNB",
                "discount": "0",
            },
        }

    def _fee_rates(self, market: Any) -> tuple[Decimal, Decimal]:
        """(maker, taker) fee rates: the book's pips; a pool's fee is inside its price."""
        if isinstance(market, PoolMarket):
            return Decimal(0), Decimal(0)
        book = market.book
        return Decimal(book.maker_fee_pips) / PIPS, Decimal(book.taker_fee_pips) / PIPS

    def _trade_fees(self, params: dict[str, str], account: str, view: str = "") -> list[Any]:
        """GET /sapi/v1/asset/tradeFee: maker and taker rates per spot symbol."""
        rows = []
        for m in self._selected(params, "spot", view):
            maker, taker = self._fee_rates(m)
            rows.append(
                {
                    "symbol": m.units.symbol_id,
                    "makerCommission": _plain(maker),
                    "takerCommission": _plain(taker),
                }
            )
        return rows

    def _commission_spot(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return self._commission(params, "spot", view)

    def _commission_perp(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return self._commission(params, "perp", view)

    def _income(self, params: dict[str, str], account: str, view: str = "") -> list[Any]:
        """Realised PnL and commissions of the account's perpetual fills (no funding here)."""
        symbol = P.symbol(params, required=False)
        income_type = P.choice(
            params, "incomeType", ("", "REALIZED_PNL", "COMMISSION", "FUNDING_FEE"), ""
        )
        start = P.integer(params, "startTime", minimum=0)
        end = P.integer(params, "endTime", minimum=0)
        limit = P.integer(params, "limit", default=100, minimum=1, maximum=1000)
        names = {m.name for m in self.engine.markets("perp", view)}
        rows: list[dict[str, Any]] = []
        for t in self.engine.trades[account]:
            record = self.engine.orders[t.order_id]
            if record.venue not in names or (symbol is not None and t.symbol != symbol):
                continue
            if (start is not None and t.time_ms < start) or (end is not None and t.time_ms > end):
                continue
            for kind, amount in (("REALIZED_PNL", t.realized_pnl), ("COMMISSION", -t.commission)):
                if (income_type and kind != income_type) or (kind == "REALIZED_PNL" and not amount):
                    continue
                rows.append(
                    {
                        "symbol": t.symbol,
                        "incomeType": kind,
                        "income": _plain(amount),
                        "asset": t.commission_asset,
                        "info": kind,
                        "time": t.time_ms,
                        "tranId": t.trade_id * 2 + (kind == "COMMISSION"),
                        "tradeId": str(t.trade_id),
                    }
                )
        return rows[:limit] if start is not None else rows[-limit:]  # type: ignore[index]

    # ---- order lists and cancels ---------------------------------------------------------------
    def _all_orders(self, params: dict[str, str], account: str, kind: str, view: str) -> list[Any]:
        market = self.engine.market(P.symbol(params), kind, view)  # type: ignore[arg-type]
        order_id = P.integer(params, "orderId", minimum=0)
        start = P.integer(params, "startTime", minimum=0)
        end = P.integer(params, "endTime", minimum=0)
        limit = P.integer(params, "limit", default=500, minimum=1, maximum=1000)
        rows = [
            r
            for r in self.engine.orders.values()
            if r.account == account
            and r.venue == market.name
            and (order_id is None or r.order_id >= order_id)
            and (start is None or r.time_ms >= start)
            and (end is None or r.time_ms <= end)
        ]
        rows = rows[:limit] if order_id is not None or start is not None else rows[-limit:]  # type: ignore[index]
        as_json = self._perp_order_json if kind == "perp" else self._spot_order_json
        return [as_json(r) for r in rows]

    def _all_orders_spot(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return self._all_orders(params, account, "spot", view)

    def _all_orders_perp(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return self._all_orders(params, account, "perp", view)

    def _cancel_all(self, params: dict[str, str], account: str, kind: str, view: str) -> list[Any]:
        symbol = P.symbol(params)
        records = self.engine.open_orders(account, kind, symbol, view)
        cancelled = [
            self.engine.cancel(account, kind, symbol, r.order_id, None, view)  # type: ignore[arg-type]
            for r in records
        ]
        for record in cancelled:
            self.streams.order_cancelled(record)
        return cancelled

    def _cancel_all_spot(self, params: dict[str, str], account: str, view: str = "") -> Any:
        rows = []
        for record in self._cancel_all(params, account, "spot", view):
            body = self._spot_order_json(record)
            body["origClientOrderId"] = record.client_order_id
            rows.append(body)
        return rows

    def _cancel_all_perp(self, params: dict[str, str], account: str, view: str = "") -> Any:
        self._cancel_all(params, account, "perp", view)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def _cancel_replace_spot(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        """POST /api/v3/order/cancelReplace with cancelReplaceMode STOP_ON_FAILURE or
        ALLOW_FAILURE: cancel the named order, then place the new one."""
        mode = P.required(params, "cancelReplaceMode")
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise illegal("cancelReplaceMode", mode, "STOP_ON_FAILURE | ALLOW_FAILURE")
        symbol = P.symbol(params)
        order_id = P.integer(params, "cancelOrderId", minimum=1)
        client_id = P.client_id(params, "cancelOrigClientOrderId")
        if order_id is None and client_id is None:
            raise BinanceError(
                MANDATORY_PARAM_EMPTY_OR_MALFORMED,
                "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, but both "
                "were empty/null!",
            )
        req = self._order_request(params, "spot")  # validated before anything is cancelled
        cancel_error = new_error = None
        cancel_body: dict[str, Any] | None = None
        try:
            cancelled = self.engine.cancel(account, "spot", symbol, order_id, client_id, view)  # type: ignore[arg-type]
            self.streams.order_cancelled(cancelled)
            cancel_body = self._spot_order_json(cancelled)
        except BinanceError as exc:
            cancel_error = exc
        new_body: dict[str, Any] | None = None
        if cancel_error is None or mode == "ALLOW_FAILURE":
            try:
                record = self._place(req, account, "spot", view)
                self.streams.order_placed(record)
                new_body = self._spot_order_json(record, req["response_type"])
            except BinanceError as exc:
                new_error = exc
        if cancel_error is None and new_error is None:
            return {
                "cancelResult": "SUCCESS",
                "newOrderResult": "SUCCESS",
                "cancelResponse": cancel_body,
                "newOrderResponse": new_body,
            }
        data = {
            "cancelResult": "FAILURE" if cancel_error else "SUCCESS",
            "newOrderResult": "FAILURE"
            if new_error
            else "SUCCESS"
            if new_body
            else "NOT_ATTEMPTED",
            "cancelResponse": cancel_error.body() if cancel_error else cancel_body,
            "newOrderResponse": new_error.body() if new_error else new_body,
        }
        partial = (cancel_error is None) or (new_body is not None)  # exactly one succeeded
        code, msg = (
            (-2021, "Order cancel-replace partially failed.")
            if partial
            else (-2022, "Order cancel-replace failed.")
        )
        raise CancelReplaceError(code, msg, data)

    # ---- currencies (sapi) ---------------------------------------------------------------------
    def _currencies(self, params: dict[str, str], account: str, view: str = "") -> list[Any]:
        """GET /sapi/v1/capital/config/getall: every asset of the server, with the account's
        balances; deposits and withdrawals are closed (this venue moves no funds in or out)."""
        rows = []
        for asset in self.ledger.assets:
            digits = self.ledger.decimals(asset)
            rows.append(
                {
                    "coin": asset,
                    "name": asset,
                    "depositAllEnable": False,
                    "withdrawAllEnable": False,
                    "free": _plain(decimal_of(self.ledger.free(account, asset), digits)),
                    "locked": _plain(decimal_of(self.ledger.locked(account, asset), digits)),
                    "freeze": "0",
                    "withdrawing": "0",
                    "ipoing": "0",
                    "ipoable": "0",
                    "storage": "0",
                    "isLegalMoney": False,
                    "trading": True,
                    "networkList": [
                        {
                            "network": "CROSSROUTE",
                            "coin": asset,
                            "name": "crossroute simulated venue",
                            "isDefault": True,
                            "depositEnable": False,
                            "withdrawEnable": False,
                            "depositDesc": "simulated venue: no deposits",
                            "withdrawDesc": "simulated venue: no withdrawals",
                            "withdrawFee": "0",
                            "withdrawMin": "0",
                            "withdrawMax": "0",
                            "withdrawIntegerMultiple": _plain(Decimal(1).scaleb(-digits)),
                            "depositDust": "0",
                            "minConfirm": 0,
                            "unLockConfirm": 0,
                            "sameAddress": False,
                            "busy": False,
                        }
                    ],
                }
            )
        return rows

    # ---- user-data stream keys ------------------------------------------------------------------
    def _listen_key_new(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return {"listenKey": self.streams.listen_keys.create(account)}

    def _listen_key_keep(self, params: dict[str, str], account: str, view: str = "") -> Any:
        key = params.get("listenKey") or self.streams.listen_keys.key_of(account)
        self.streams.listen_keys.keep_alive(account, key)
        return {}

    def _listen_key_close(self, params: dict[str, str], account: str, view: str = "") -> Any:
        key = params.get("listenKey") or self.streams.listen_keys.key_of(account)
        self.streams.listen_keys.close(account, key)
        self.streams.close_user(key)
        return {}


def _depth_weight(params: dict[str, str]) -> int:
    raw = params.get("limit", "100")
    try:  # a malformed limit is refused by the handler; weigh it as the default meanwhile
        limit = parse_int("limit", raw, minimum=1)
    except ValueInputError:
        limit = 100
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def _levels_json(
    bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]
) -> dict[str, list[list[str]]]:
    """Depth levels as Binance sends them: [[price, qty], ...] of plain decimal strings."""
    return {
        "bids": [[_plain(p), _plain(q)] for p, q in bids],
        "asks": [[_plain(p), _plain(q)] for p, q in asks],
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _error_response(exc: BinanceError) -> web.Response:
    response = web.json_response(exc.body(), status=exc.http_status, dumps=_dumps)
    if exc.retry_after_s is not None:
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


SERVER_KEY: web.AppKey[VenueServer] = web.AppKey("server", VenueServer)


def create_app(
    markets: Iterable[BookMarket | PoolMarket],
    accounts: Iterable[AccountSpec],
    asset_decimals: dict[str, int],
    **options: Any,
) -> web.Application:
    """The aiohttp Application serving ``markets`` for ``accounts``; ``app[SERVER_KEY]`` is the VenueServer."""
    server = VenueServer(markets, accounts, asset_decimals, **options)
    server.app[SERVER_KEY] = server
    return server.app
