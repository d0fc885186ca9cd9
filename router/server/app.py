"""aiohttp application: each served venue as a Binance, REST and websocket, over one Engine.

This module holds the addressing and the plumbing: every route (``_routes``: method, Binance path,
handler, request weight, security) is served at the root and under ``/v/<venue>``; anything else
answers Binance's -1020. Each request is parsed and checked, its signature (or key) verified,
its weight charged (to the key only once the signature verifies, else to the client address),
and only then is one synchronous Engine call made, so every refusal changes nothing. The event
loop runs one handler at a time between awaits and the Engine call has no await inside, so each
order is atomic. The handlers live in their own modules (market_data, orders, spot, usdm) as
mixins of :class:`VenueServer`; the websocket streams in ``streams.py``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from router.server import params as P
from router.server.accounts import AccountSpec, Ledger
from router.server.auth import ApiCredential, Authenticator
from router.server.engine import Engine
from router.server.errors import (
    ILLEGAL_CHARS,
    TOO_MANY_PARAMETERS,
    UNKNOWN,
    UNSUPPORTED_OPERATION,
    BinanceError,
)
from router.server.market_data import MarketDataRest
from router.server.markets import BookMarket, PoolMarket
from router.server.orders import OrderRest
from router.server.ratelimit import RateLimiter
from router.server.spot import SpotRest
from router.server.streams import STREAM_PATHS, StreamHub
from router.server.usdm import UsdmRest
from venues.errors import InvalidArgument, require_int
from venues.values import ValueInputError, parse_int

log = logging.getLogger("crossroute.venue_server")

DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000, 5000)


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


def _ms() -> int:
    return time.time_ns() // 1_000_000


# ---- the application ---------------------------------------------------------------------------
class VenueServer(MarketDataRest, OrderRest, SpotRest, UsdmRest):
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
        engine_factory: Callable[..., Engine] = Engine,
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
        # ``engine_factory``: an Engine subclass (the paper service's logs every place and cancel).
        self.engine = engine_factory(markets, self.ledger, clock_ms=lambda: self.market_clock_ms())
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


def _depth_weight(params: dict[str, str]) -> int:
    raw = params.get("limit", "100")
    try:  # a malformed limit is refused by the handler; weigh it as the default meanwhile
        limit = parse_int("limit", raw, minimum=1)
    except ValueInputError:
        limit = 100
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


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
