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
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from router.server.accounts import AccountSpec, Ledger, decimal_of
from router.server.auth import ApiCredential, Authenticator
from router.server.engine import Engine, OrderRecord, TradeRecord
from router.server.errors import (
    ILLEGAL_CHARS,
    INVALID_ORDER_TYPE,
    INVALID_SIDE,
    INVALID_TIF,
    MANDATORY_PARAM_EMPTY_OR_MALFORMED,
    TOO_MANY_PARAMETERS,
    UNKNOWN,
    BinanceError,
    illegal,
    raw_param,
)
from router.server.markets import BookMarket, PoolMarket, filters, precision_digits
from router.server.ratelimit import RateLimiter
from venues.errors import require_int

log = logging.getLogger("crossroute.venue_server")

_DECIMAL = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")
_INT = re.compile(r"[0-9]{1,19}")
_CLIENT_ID = re.compile(r"[.A-Za-z0-9:/_-]{1,36}")
_SYMBOL = re.compile(r"[A-Z0-9]{2,32}")
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000, 5000)


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


# ---- parameter parsing -------------------------------------------------------------------------
def _parse_params(raw: str, max_params: int) -> dict[str, str]:
    if not raw:
        return {}
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BinanceError(
            ILLEGAL_CHARS, "Illegal characters found in the request parameters."
        ) from None
    if len(pairs) > max_params:
        raise BinanceError(TOO_MANY_PARAMETERS, f"Too many parameters; at most {max_params}.")
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise BinanceError(
                TOO_MANY_PARAMETERS, "Duplicate values for a parameter detected.", field=name[:64]
            )
        params[name] = value
    return params


def _required(params: dict[str, str], name: str) -> str:
    return raw_param(params, name, required=True)  # type: ignore[return-value]


def _decimal(params: dict[str, str], name: str, *, required: bool = True) -> Decimal | None:
    raw = raw_param(params, name, required=required)
    if raw is None:
        return None
    if not _DECIMAL.fullmatch(raw):
        raise illegal(name, raw, "a plain decimal number such as 1.25")
    return Decimal(raw)


def _int(
    params: dict[str, str],
    name: str,
    *,
    default: int | None = None,
    minimum: int = 0,
    maximum: int = 2**63 - 1,
) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not _INT.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise illegal(name, raw, f"an integer in [{minimum}, {maximum}]")
    return int(raw)


def _symbol(params: dict[str, str], *, required: bool = True) -> str | None:
    raw = raw_param(params, "symbol", required=required)
    if raw is None:
        return None
    if not _SYMBOL.fullmatch(raw):
        raise illegal("symbol", raw, "an upper-case symbol such as ETHUSDC")
    return raw


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
        self.app = self._build()

    def _build(self) -> web.Application:
        app = web.Application(
            client_max_size=self.limits.max_body_bytes, middlewares=[self._errors_middleware]
        )
        r = app.router
        public: list[tuple[str, str, Callable[..., Any], Callable[[dict[str, str]], int]]] = [
            ("GET", "/api/v3/ping", self._ping, lambda p: 1),
            ("GET", "/api/v3/time", self._time, lambda p: 1),
            ("GET", "/api/v3/exchangeInfo", self._exchange_info_spot, lambda p: 20),
            ("GET", "/api/v3/depth", self._depth_spot, _depth_weight),
            (
                "GET",
                "/api/v3/ticker/24hr",
                self._ticker_spot,
                lambda p: 2 if p.get("symbol") else 80,
            ),
            ("GET", "/fapi/v1/ping", self._ping, lambda p: 1),
            ("GET", "/fapi/v1/time", self._time, lambda p: 1),
            ("GET", "/fapi/v1/exchangeInfo", self._exchange_info_perp, lambda p: 1),
            ("GET", "/fapi/v1/depth", self._depth_perp, _depth_weight),
            (
                "GET",
                "/fapi/v1/ticker/24hr",
                self._ticker_perp,
                lambda p: 1 if p.get("symbol") else 40,
            ),
        ]
        signed = [
            ("GET", "/api/v3/account", self._account_spot, lambda p: 20),
            ("POST", "/api/v3/order", self._order_post_spot, lambda p: 1),
            ("GET", "/api/v3/order", self._order_get_spot, lambda p: 4),
            ("DELETE", "/api/v3/order", self._order_delete_spot, lambda p: 1),
            (
                "GET",
                "/api/v3/openOrders",
                self._open_orders_spot,
                lambda p: 6 if p.get("symbol") else 80,
            ),
            ("GET", "/api/v3/myTrades", self._my_trades_spot, lambda p: 20),
            ("POST", "/fapi/v1/order", self._order_post_perp, lambda p: 1),
            ("GET", "/fapi/v1/order", self._order_get_perp, lambda p: 1),
            ("DELETE", "/fapi/v1/order", self._order_delete_perp, lambda p: 1),
            (
                "GET",
                "/fapi/v1/openOrders",
                self._open_orders_perp,
                lambda p: 1 if p.get("symbol") else 40,
            ),
            ("GET", "/fapi/v1/userTrades", self._user_trades_perp, lambda p: 5),
            ("GET", "/fapi/v1/leverageBracket", self._leverage_bracket, lambda p: 1),
            ("GET", "/fapi/v2/account", self._account_perp, lambda p: 5),
            ("GET", "/fapi/v3/account", self._account_perp, lambda p: 5),
            ("GET", "/fapi/v2/balance", self._balance_perp, lambda p: 5),
            ("GET", "/fapi/v3/balance", self._balance_perp, lambda p: 5),
            ("GET", "/fapi/v2/positionRisk", self._position_risk, lambda p: 5),
            ("GET", "/fapi/v3/positionRisk", self._position_risk, lambda p: 5),
        ]
        # Root paths serve the first venue of each symbol; /v/<venue>/... serves one venue alone.
        for prefix in ("", "/v/{venue}"):
            for method, path, handler, weight in public:
                r.add_route(method, prefix + path, self._endpoint(handler, weight, signed=False))
            for method, path, handler, weight in signed:
                r.add_route(method, prefix + path, self._endpoint(handler, weight, signed=True))
            r.add_get(prefix + "/ws/{stream}", self._ws("spot"))
            r.add_get(prefix + "/fapi/ws/{stream}", self._ws("perp"))
        return app

    # ---- plumbing ---------------------------------------------------------------------------
    @web.middleware
    async def _errors_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except BinanceError as exc:
            return _error_response(exc)
        except web.HTTPRequestEntityTooLarge:
            return _error_response(
                BinanceError(
                    TOO_MANY_PARAMETERS,
                    f"Request body too large; at most {self.limits.max_body_bytes} bytes.",
                    http_status=413,
                )
            )
        except web.HTTPNotFound:
            return _error_response(
                BinanceError(UNKNOWN, f"Unknown endpoint {request.path[:100]}.", http_status=404)
            )
        except web.HTTPMethodNotAllowed:
            return _error_response(
                BinanceError(UNKNOWN, f"Method {request.method} not allowed here.", http_status=405)
            )
        except web.HTTPException as exc:
            return _error_response(
                BinanceError(
                    UNKNOWN,
                    exc.reason or "Bad request.",
                    http_status=exc.status if 400 <= exc.status < 500 else 400,
                )
            )
        except Exception:  # a bug: logged with its traceback here, never sent to the client
            log.exception("internal error on %s %s", request.method, request.path)
            return _error_response(
                BinanceError(
                    UNKNOWN,
                    "An unknown error occurred while processing the request.",
                    http_status=500,
                )
            )

    def _endpoint(
        self, handler: Callable[..., Any], weight: Callable[[dict[str, str]], int], *, signed: bool
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
            params = _parse_params(query_raw, self.limits.max_params)
            body_params = _parse_params(body_raw, self.limits.max_params)
            for name, value in body_params.items():
                if name in params:
                    raise BinanceError(
                        TOO_MANY_PARAMETERS,
                        "Duplicate values for a parameter detected.",
                        field=name[:64],
                    )
                params[name] = value
            api_key = request.headers.get("X-MBX-APIKEY")
            limiter_key = f"key:{api_key}" if self.auth.knows(api_key) else f"ip:{request.remote}"
            used = self.weights.charge(limiter_key, weight(params))
            account = None
            if signed:
                account = self.auth.verify(
                    api_key=api_key,
                    method=request.method,
                    query_raw=query_raw,
                    body_raw=body_raw,
                    params=params,
                )
                if request.method == "POST" and request.path.endswith("/order"):
                    self.order_limits.charge(limiter_key, 1)
            view = request.match_info.get("venue", "")
            if view not in self.engine.views:
                raise BinanceError(UNKNOWN, "Unknown venue.", http_status=404)
            result = handler(params, account, view) if signed else handler(params, view)
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
        symbol = _symbol(params, required=False)
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
                    "orderTypes": list(m.order_types),
                    "icebergAllowed": False,
                    "ocoAllowed": False,
                    "otoAllowed": False,
                    "quoteOrderQtyMarketAllowed": False,
                    "allowTrailingStop": False,
                    "cancelReplaceAllowed": False,
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
        symbol = _symbol(params)
        limit = _int(params, "limit", default=100, minimum=1, maximum=5000)
        market = self.engine.market(symbol, kind, view)  # type: ignore[arg-type]
        body = {"lastUpdateId": self._update_id(), **_levels_json(*market.depth(limit))}
        if kind == "perp":
            now = self.market_clock_ms()
            body.update({"E": now, "T": now})
        return body

    def _update_id(self) -> int:
        """Binance's lastUpdateId: grows with every order and trade, so a changed book has a new id."""
        return self.engine._next_trade_id + self.engine._next_order_id

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

    def _order_request(self, params: dict[str, str], kind: str, view: str = "") -> dict[str, Any]:
        symbol = _symbol(params)
        side = _required(params, "side")
        if side not in ("BUY", "SELL"):
            raise BinanceError(INVALID_SIDE, "Invalid side.", field="side", value=side[:16])
        order_type = _required(params, "type")
        if order_type not in ("LIMIT", "MARKET"):
            raise BinanceError(
                INVALID_ORDER_TYPE, "Invalid orderType.", field="type", value=order_type[:16]
            )
        qty = _decimal(params, "quantity")
        price = tif = None
        if order_type == "LIMIT":
            price = _decimal(params, "price")
            tif = _required(params, "timeInForce")
            allowed = ("GTC", "IOC", "FOK", "GTX") if kind == "perp" else ("GTC", "IOC", "FOK")
            if tif not in allowed:
                raise BinanceError(
                    INVALID_TIF, "Invalid timeInForce.", field="timeInForce", value=tif[:16]
                )
            tif = "POST_ONLY" if tif == "GTX" else tif
        elif params.get("price"):
            raise illegal("price", params["price"], "no price on a MARKET order")
        client_id = params.get("newClientOrderId")
        if client_id is not None and not _CLIENT_ID.fullmatch(client_id):
            raise illegal("newClientOrderId", client_id, "1-36 characters of [.A-Za-z0-9:/_-]")
        response_type = params.get("newOrderRespType", "FULL" if kind == "spot" else "RESULT")
        if response_type not in ("ACK", "RESULT", "FULL"):
            raise illegal("newOrderRespType", response_type, "ACK, RESULT or FULL")
        return {
            "symbol": symbol,
            "side": side,
            "order_type": order_type,
            "qty": qty,
            "price": price,
            "tif": tif or "GTC",
            "client_order_id": client_id,
            "response_type": response_type,
        }

    def _order_post(
        self, params: dict[str, str], account: str, kind: str, view: str = ""
    ) -> dict[str, Any]:
        req = self._order_request(params, kind)
        record = self.engine.place(
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
        )
        if kind == "perp":
            return self._perp_order_json(record)
        return self._spot_order_json(record, response_type=req["response_type"])

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
        symbol = _symbol(params)
        order_id = _int(params, "orderId", minimum=1)
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
        symbol = _symbol(params, required=False)
        return [
            self._spot_order_json(r) for r in self.engine.open_orders(account, "spot", symbol, view)
        ]

    def _trades(
        self, params: dict[str, str], account: str, kind: str, view: str = ""
    ) -> list[TradeRecord]:
        symbol = _symbol(params)
        market = self.engine.market(symbol, kind, view)  # type: ignore[arg-type]
        order_id = _int(params, "orderId", minimum=1)
        from_id = _int(params, "fromId", minimum=0)
        start = _int(params, "startTime", minimum=0)
        end = _int(params, "endTime", minimum=0)
        limit = _int(params, "limit", default=500, minimum=1, maximum=1000)
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
            "timeInForce": r.tif,
            "type": r.type,
            "side": r.side,
            "stopPrice": "0",
            "icebergQty": "0",
            "time": r.time_ms,
            "updateTime": r.update_time_ms,
            "transactTime": r.update_time_ms,
            "isWorking": r.is_open,
            "workingTime": r.time_ms,
            "origQuoteOrderQty": "0",
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
            "reduceOnly": False,
            "closePosition": False,
            "side": r.side,
            "positionSide": "BOTH",
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
        symbol = _symbol(params, required=False)
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
        bids, asks = market.depth(1)
        if bids and asks:
            return (bids[0][0] + asks[0][0]) / 2
        tape = self.engine.tape.get(market.name)
        return tape[-1][1] if tape else Decimal(0)

    def _positions(
        self, account: str, symbol: str | None = None, view: str = ""
    ) -> list[dict[str, Any]]:
        rows = []
        for m in self.engine.markets("perp", view):
            sym = m.units.symbol_id
            if symbol is not None and sym != symbol:
                continue
            u = m.units
            pos = self.ledger.position(account, m.name)
            size = pos.size_lots * m.step_size
            entry_notional = decimal_of(pos.entry_quanta * m.quantum_units, u.quote_decimals)
            entry_price = entry_notional / size if size else Decimal(0)
            mark = self._mark(m)
            unrealised = (mark - entry_price) * size if size else Decimal(0)
            im = decimal_of(
                -(-abs(pos.entry_quanta) * m.quantum_units // m.leverage), u.quote_decimals
            )
            rows.append(
                {
                    "symbol": sym,
                    "positionSide": "BOTH",
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
                    "maintMargin": _plain(im / 2),
                    "positionInitialMargin": _plain(im),
                    "openOrderInitialMargin": "0",
                    "adl": 0,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "leverage": str(m.leverage),
                    "marginType": "cross",
                    "updateTime": self.market_clock_ms(),
                }
            )
        return rows

    def _position_risk(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> list[dict[str, Any]]:
        symbol = _symbol(params, required=False)
        if symbol is not None:
            self.engine.market(symbol, "perp", view)
        return self._positions(account, symbol, view)

    def _perp_assets(
        self, account: str, positions: list[dict[str, Any]], view: str = ""
    ) -> list[dict[str, Any]]:
        """Per margin asset rows; ``positions`` are :meth:`_positions` of the account (built once
        by the caller, since each row needs them and they cost a depth read per market)."""
        assets = sorted({m.units.quote for m in self.engine.markets("perp", view)})
        rows = []
        for asset in assets:
            digits = self.ledger.decimals(asset)
            wallet = self.ledger.free(account, asset)
            used = self.engine.perp_margin_used(account, asset)
            unrealised = sum(
                (Decimal(p["unRealizedProfit"]) for p in positions if p["marginAsset"] == asset),
                Decimal(0),
            )
            rows.append(
                {
                    "asset": asset,
                    "walletBalance": _plain(decimal_of(wallet, digits)),
                    "unrealizedProfit": _plain(unrealised),
                    "marginBalance": _plain(decimal_of(wallet, digits) + unrealised),
                    "initialMargin": _plain(decimal_of(used, digits)),
                    "maintMargin": "0",
                    "positionInitialMargin": "0",
                    "openOrderInitialMargin": "0",
                    "crossWalletBalance": _plain(decimal_of(wallet, digits)),
                    "crossUnPnl": _plain(unrealised),
                    "availableBalance": _plain(decimal_of(wallet - used, digits)),
                    "maxWithdrawAmount": _plain(decimal_of(max(wallet - used, 0), digits)),
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

    # ---- websocket -------------------------------------------------------------------------
    def _ws(self, kind: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            stream = request.match_info["stream"]
            match = re.fullmatch(r"([a-z0-9]{2,32})@depth(5|10|20)?(@100ms|@1000ms)?", stream)
            if match is None:
                raise illegal("stream", stream, "<symbol>@depth[5|10|20][@100ms|@1000ms]")
            symbol = match.group(1).upper()
            levels = int(match.group(2) or 20)
            view = request.match_info.get("venue", "")
            if view not in self.engine.views:
                raise BinanceError(UNKNOWN, "Unknown venue.", http_status=404)
            market = self.engine.market(symbol, kind, view)
            self.weights.charge(f"ip:{request.remote}", 2)
            ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096)
            await ws.prepare(request)
            last = None
            try:
                while not ws.closed:
                    snapshot = _levels_json(*market.depth(levels))
                    if snapshot != last:
                        last = snapshot
                        await ws.send_str(
                            _dumps(
                                {
                                    "stream": stream,
                                    "lastUpdateId": self._update_id(),
                                    "E": self.market_clock_ms(),
                                    **snapshot,
                                }
                            )
                        )
                    try:
                        msg = await ws.receive(timeout=self.ws_interval_s)
                    except TimeoutError:
                        continue
                    if msg.type in (
                        WSMsgType.CLOSE,
                        WSMsgType.CLOSING,
                        WSMsgType.CLOSED,
                        WSMsgType.ERROR,
                    ):
                        break
            finally:
                await ws.close()
            return ws

        return handler


def _depth_weight(params: dict[str, str]) -> int:
    raw = params.get("limit", "100")
    limit = int(raw) if _INT.fullmatch(raw or "x") else 100
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
