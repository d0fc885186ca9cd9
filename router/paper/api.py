"""aiohttp application of the paper service: JSON API, websocket stream, web page, venue server.

Routes are documented in ``openapi.json`` beside this module (the tests check every response
against it). Errors are ``{"error": {status, message, field, value, allowed}}`` with a 4xx status
and change nothing. The venue server's Binance-compatible API (``router.server``) is mounted
under ``/venue`` over the *same* venue objects, so a ccxt strategy pointed at
``http://HOST:PORT/venue`` trades on the paper market; its engine calls (place, cancel) run under
the service lock and are logged as ``venue`` commands, so a restart replays them too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from router.paper.service import PaperError, PaperService

__all__ = ["OPENAPI_PATH", "SERVICE_KEY", "WEB_DIR", "attach_venue_server", "create_paper_app"]

log = logging.getLogger("crossroute.paper")
SERVICE_KEY: web.AppKey[PaperService] = web.AppKey("paper_service", PaperService)
OPENAPI_PATH = Path(__file__).with_name("openapi.json")
WEB_DIR = Path(__file__).with_name("web")
MAX_BODY_BYTES = 64 * 1024
_VENUE_MUTATIONS = ("place", "cancel")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(
        data, status=status, dumps=lambda v: json.dumps(v, separators=(",", ":"))
    )


def _error(
    status: int, field: str, value: Any, allowed: str, message: str | None = None
) -> web.Response:
    return _json(PaperError(status, field, value, allowed, message=message).to_json_dict(), status)


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except PaperError as exc:
        return _json(exc.to_json_dict(), exc.status)
    except web.HTTPNotFound:
        return _error(404, "path", request.path[:200], "a route of openapi.json")
    except web.HTTPMethodNotAllowed as exc:
        return _error(405, "method", request.method, " | ".join(sorted(exc.allowed_methods)))
    except web.HTTPRequestEntityTooLarge:
        return _error(413, "body", "(too large)", f"at most {MAX_BODY_BYTES} bytes")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(
            exc.status if exc.status < 500 else 400, "request", exc.reason, "a valid request"
        )
    except Exception:  # a bug: logged with its traceback, never sent to the client
        log.exception("internal error on %s %s", request.method, request.path)
        return _json(
            {
                "error": {
                    "status": 500,
                    "message": "internal error (logged by the service)",
                    "field": "",
                    "value": None,
                    "allowed": "",
                }
            },
            500,
        )


def _known_account(service: PaperService, account: str | None) -> None:
    """404 naming the account unless it is None (no filter) or an account of the service."""
    if account is not None and account not in service.ledger.accounts:
        raise PaperError(404, "account", account, f"one of {service.accounts()}")


def _query(request: web.Request, allowed: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in request.query.items():
        if key not in allowed:
            raise PaperError(400, key, value, f"query parameters {list(allowed)}")
        if key in params:
            raise PaperError(400, key, value, "each query parameter once")
        params[key] = value
    return params


def _int_param(params: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.lstrip("-").isdigit() or not lo <= int(raw) <= hi:
        raise PaperError(400, name, raw, f"an integer in [{lo}, {hi}]")
    return int(raw)


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise PaperError(413, "body", request.content_length, f"at most {MAX_BODY_BYTES} bytes")
    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PaperError(
            400, "body", raw[:80].decode("utf-8", "replace"), f"a JSON object ({exc})"
        ) from None
    if not isinstance(body, dict):
        raise PaperError(400, "body", type(body).__name__, "a JSON object")
    return body


def _service(request: web.Request) -> PaperService:
    return request.app[SERVICE_KEY]


# -- handlers --------------------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    _query(request, ())
    service = _service(request)
    return _json({"status": "ok", "tick": service.sim.tick, "t_ns": service.sim.t_ns})


async def status(request: web.Request) -> web.Response:
    _query(request, ())
    return _json(_service(request).status())


async def market(request: web.Request) -> web.Response:
    params = _query(request, ("points",))
    return _json(_service(request).market_view(_int_param(params, "points", 24, 2, 200)))


async def quote(request: web.Request) -> web.Response:
    return _json(
        _service(request).quote(
            _query(request, ("symbol", "side", "qty", "quote_qty", "limit", "venues"))
        )
    )


async def list_orders(request: web.Request) -> web.Response:
    params = _query(request, ("account", "status", "limit"))
    service = _service(request)
    _known_account(service, params.get("account"))
    limit = _int_param(params, "limit", 100, 1, 1000)
    # Every order is in the store (finished ones only there); an open order's doc in memory may be
    # newer (a retry that filled nothing bumps ``attempts`` without a commit), so it wins.
    docs = service.store.orders(
        account=params.get("account"), status=params.get("status"), limit=limit
    )
    return _json({"orders": [service.orders.get(d["client_id"], d) for d in docs]})  # newest first


async def get_order(request: web.Request) -> web.Response:
    _query(request, ())
    service = _service(request)
    client_id = request.match_info["client_id"]
    doc = service.order_doc(client_id)
    if doc is None:
        raise PaperError(404, "client_id", client_id, "the client id of an order")
    return _json(doc)


async def place_order(request: web.Request) -> web.Response:
    _query(request, ())
    body = await _body(request)
    return _json(await _service(request).command("order", body))


async def cancel_order(request: web.Request) -> web.Response:
    _query(request, ())
    return _json(
        await _service(request).command("cancel", {"client_id": request.match_info["client_id"]})
    )


async def list_accounts(request: web.Request) -> web.Response:
    _query(request, ())
    service = _service(request)
    return _json({"accounts": [service.account_view(a) for a in service.accounts()]})


async def get_account(request: web.Request) -> web.Response:
    _query(request, ())
    return _json(_service(request).account_view(request.match_info["account"]))


async def open_subaccount(request: web.Request) -> web.Response:
    _query(request, ())
    body = await _body(request)
    if "account" in body:
        raise PaperError(
            400, "account", body["account"], "no 'account' in the body (it is in the path)"
        )
    body = {"account": request.match_info["account"], **body}
    return _json(await _service(request).command("subaccount", body))


async def transfer(request: web.Request) -> web.Response:
    _query(request, ())
    return _json(await _service(request).command("transfer", await _body(request)))


async def step(request: web.Request) -> web.Response:
    _query(request, ())
    return _json(await _service(request).command("step", await _body(request)))


async def fills(request: web.Request) -> web.Response:
    params = _query(request, ("account", "after", "limit"))
    service = _service(request)
    _known_account(service, params.get("account"))
    after = _int_param(params, "after", 0, 0, 2**62)
    limit = _int_param(params, "limit", 100, 1, 1000)
    rows = service.store.fills(account=params.get("account"), after=after, limit=limit)
    return _json({"fills": rows})


async def journal(request: web.Request) -> web.Response:
    params = _query(request, ("after", "limit"))
    service = _service(request)
    after = _int_param(params, "after", -1, -1, 2**62)
    limit = _int_param(params, "limit", 100, 1, 1000)
    lines = service.store.journal(after=after, limit=limit)
    return _json({"records": [json.loads(line) for line in lines]})


async def routes(request: web.Request) -> web.Response:
    params = _query(request, ("limit",))
    limit = _int_param(params, "limit", 20, 1, 50)
    return _json({"routes": list(_service(request).routes)[:limit]})


async def pnl(request: web.Request) -> web.Response:
    params = _query(request, ("account",))
    service = _service(request)
    account = params.get("account") or service.accounts()[0]
    _known_account(service, account)
    return _json({"account": account, "points": [[t, v] for t, v in service.pnl[account]]})


async def stream(request: web.Request) -> web.StreamResponse:
    """Websocket: every fill, order change, account change, liquidation and tick, as JSON text."""
    _query(request, ())
    service = _service(request)
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096)
    await ws.prepare(request)
    queue = service.subscribe()
    await ws.send_json({"type": "hello", "tick": service.sim.tick, "t_ns": service.sim.t_ns})
    reader = asyncio.ensure_future(ws.receive())
    try:
        while not ws.closed:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                await ws.send_json(getter.result())
            else:
                getter.cancel()
            if reader in done:
                msg = reader.result()
                if msg.type in (
                    WSMsgType.CLOSE,
                    WSMsgType.CLOSING,
                    WSMsgType.CLOSED,
                    WSMsgType.ERROR,
                ):
                    break
                reader = asyncio.ensure_future(ws.receive())
    finally:
        service.unsubscribe(queue)
        reader.cancel()
        await ws.close()
    return ws


async def openapi(request: web.Request) -> web.Response:
    return web.Response(
        text=OPENAPI_PATH.read_text(encoding="utf-8"), content_type="application/json"
    )


async def index(request: web.Request) -> web.Response:
    return web.FileResponse(WEB_DIR / "index.html")


# -- the venue server over the same venues -----------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": format(value, "f")}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$decimal"}:
        return Decimal(value["$decimal"])
    return value


class _SettlingBook:
    """An order book as the router's adapters see it when the venue server shares it.

    Every ``place_market`` / ``place_limit`` that does not come from the venue server's own engine
    (the router's child orders, the makers) is passed through; the fills it made against resting
    orders that the venue server placed are then settled in the venue server's balances by the
    engine's own settlement (``Engine.settle_book_fills``, maker side only: the taker is settled
    by whoever sent it, the margin ledger for the router). So a venue-server account pays or
    receives exactly each fill's notional and its maker fee, whoever took its order.
    Everything else is forwarded to the book unchanged. O(fills) per call.
    """

    __slots__ = ("_book", "_engine", "_inside", "_market")

    def __init__(self, book: Any, market: Any, engine: Any, inside: list[bool]) -> None:
        self._book = book
        self._market = market
        self._engine = engine
        self._inside = inside

    def __getattr__(self, name: str) -> Any:
        return getattr(self._book, name)

    def _settle(self, result: Any) -> Any:
        if not self._inside[0] and result.fills:
            kind, name = self._market.kind, self._market.name
            resting = self._engine._by_book_id
            ours = [fill for fill in result.fills if (kind, name, fill.maker_order_id) in resting]
            if ours:
                self._engine.settle_book_fills(self._market, None, ours, kind)
        return result

    def place_market(self, *args: Any, **kwargs: Any) -> Any:
        return self._settle(self._book.place_market(*args, **kwargs))

    def place_limit(self, *args: Any, **kwargs: Any) -> Any:
        return self._settle(self._book.place_limit(*args, **kwargs))


def _engine_digest(engine: Any) -> str:
    ledger = engine.ledger
    balances = [
        (a, s, ledger.free(a, s), ledger.locked(a, s))
        for a in ledger.accounts
        for s in ledger.assets
    ]
    positions = sorted((k, v.size_lots, v.entry_quanta) for k, v in ledger.positions.items())
    orders = sorted(
        (r.order_id, r.status, r.executed_base_units, r.cum_quote_units, r.reserved_units)
        for r in engine.orders.values()
    )
    return repr((balances, positions, orders))


def attach_venue_server(app: web.Application, service: PaperService) -> Any:
    """Mount the Binance-compatible venue server at ``/venue`` over the service's venues.

    The engine runs on the simulated clock (``t_ns // 10**6``). Its ``place`` and ``cancel`` are
    wrapped: each successful call is logged as a ``venue`` command (arguments and the time it ran at) and made durable before the
    response is written; mutating requests run under the service lock, so they never interleave
    with a command or a tick. Replay re-runs the call at the logged time. Resting venue-server
    orders that the router's flow takes are settled through :class:`_SettlingBook`. The engine
    and its balances join the service's snapshots and recovery (``PaperService.attach_state``).
    """
    from router.server.build import build_server

    # The engine stamps orders and trades with the simulated time (ms), like every other paper
    # timestamp, so equal command logs give equal trade lists; request signatures and rate limits
    # keep the wall clock (clients sign with theirs).
    server = build_server(service.market, market_clock_ms=lambda: service.sim.t_ns // 1_000_000)
    engine = server.engine
    market_clock = server.market_clock_ms
    originals = {name: getattr(engine, name) for name in _VENUE_MUTATIONS}
    inside = [False]  # True while the engine itself trades: it settles both sides of its own fills
    for market in engine.by_name.values():
        adapter = service.market.adapters.get(market.name)
        if (
            hasattr(market, "book")
            and adapter is not None
            and getattr(adapter, "book", None) is market.book
        ):
            adapter.book = _SettlingBook(market.book, market, engine, inside)
    service.attach_state(
        [engine, engine.ledger], exclude={0: frozenset({"by_name", "views", "ledger"})}
    )
    service.digest_hooks.append(lambda: _engine_digest(engine))

    def engine_call(name: str, args: Any, kwargs: Any) -> Any:
        inside[0] = True
        try:
            return originals[name](*args, **kwargs)
        finally:
            inside[0] = False

    def wrap(name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            t_ms = server.market_clock_ms()
            record = engine_call(name, args, kwargs)  # all or nothing (the engine's contract)
            body = {
                "call": name,
                "args": [_encode(a) for a in args],
                "kwargs": {k: _encode(v) for k, v in sorted(kwargs.items())},
                "t_ms": t_ms,
            }
            result = {
                "order_id": record.order_id,
                "status": record.status,
                "executed_base_units": record.executed_base_units,
            }
            if not service.replaying:
                try:
                    service.record("venue", service.sim.tick, service.sim.t_ns, body, result)
                except BaseException:
                    service.needs_recovery = True  # applied in memory, not durable: roll back
                    raise
            return record

        return call

    for name in _VENUE_MUTATIONS:
        setattr(engine, name, wrap(name))

    def replay(body: dict[str, Any]) -> dict[str, Any]:
        # The logged time: equal to the simulated time for logs written by this code, and the wall
        # time a log from before the simulated clock recorded.
        server.market_clock_ms = lambda: body["t_ms"]
        try:
            record = engine_call(
                body["call"],
                [_decode(a) for a in body["args"]],
                {k: _decode(v) for k, v in body["kwargs"].items()},
            )
        finally:
            server.market_clock_ms = market_clock
        return {
            "order_id": record.order_id,
            "status": record.status,
            "executed_base_units": record.executed_base_units,
        }

    service.venue_replay = replay

    @web.middleware
    async def serialise(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.method in ("GET", "HEAD"):
            return await handler(request)
        async with service.lock:
            try:
                return await handler(request)
            finally:
                if service.needs_recovery:
                    await service.recover(service.sim.tick)

    server.app.middlewares.append(serialise)
    app.add_subapp("/venue", server.app)
    return server


def create_paper_app(service: PaperService, *, venue_server: bool = True) -> web.Application:
    """The whole service as one aiohttp Application (``app[SERVICE_KEY]`` is ``service``)."""
    app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY_BYTES)
    app[SERVICE_KEY] = service
    r = app.router
    r.add_get("/api/health", health)
    r.add_get("/api/status", status)
    r.add_get("/api/market", market)
    r.add_post("/api/market/step", step)
    r.add_get("/api/quote", quote)
    r.add_get("/api/orders", list_orders)
    r.add_post("/api/orders", place_order)
    r.add_get("/api/orders/{client_id}", get_order)
    r.add_delete("/api/orders/{client_id}", cancel_order)
    r.add_get("/api/accounts", list_accounts)
    r.add_get("/api/accounts/{account}", get_account)
    r.add_post("/api/accounts/{account}/subaccounts", open_subaccount)
    r.add_post("/api/transfers", transfer)
    r.add_get("/api/fills", fills)
    r.add_get("/api/journal", journal)
    r.add_get("/api/routes", routes)
    r.add_get("/api/pnl", pnl)
    r.add_get("/api/stream", stream)
    r.add_get("/openapi.json", openapi)
    r.add_get("/", index)
    r.add_static("/static", WEB_DIR)
    if venue_server:
        attach_venue_server(app, service)
    return app


async def drive(
    service: PaperService, speed: float, *, on_tick: Callable[[], None] | None = None
) -> None:
    """Run the market in wall-clock time: one tick every ``tick_ns / speed`` of wall time (speed 0:
    paused, time moves only through POST /api/market/step). Makes the tick count durable at most
    every 0.5 s of wall time."""
    if speed <= 0:
        while True:
            await asyncio.sleep(3600)
    interval_s = service.params.tick_ns / 1e9 / speed
    next_at = time.monotonic()
    last_flush = next_at
    while True:
        next_at += interval_s
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            next_at = time.monotonic()  # behind: do not try to catch up a burst of ticks
        await service.tick(1)
        if time.monotonic() - last_flush >= 0.5:
            async with service.lock:
                service.flush_ticks()
            last_flush = time.monotonic()
        if on_tick is not None:
            on_tick()
