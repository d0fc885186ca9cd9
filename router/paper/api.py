"""aiohttp application of the paper service: JSON API, websocket stream, web page, venue server.

Routes are documented in ``openapi.json`` beside this module (the tests check every response
against it and fuzz every route). Errors are ``{"error": {status, message, field, value,
allowed}}`` with a 4xx status and change nothing; every query string and body is validated by
router/paper/requests.py before anything runs. The venue server's Binance-compatible API
(``router.server``) is mounted under ``/venue`` over the *same* venue objects, so a ccxt strategy
pointed at ``http://HOST:PORT/venue`` trades on the paper market; its engine calls (place, cancel,
set_leverage, set_hedge_mode) run under the service lock and are logged as ``venue`` commands, so
a restart replays them too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from router.paper.errors import PaperError
from router.paper.requests import (
    QUOTE_KEYS,
    parse_multihop_quote,
    parse_quote,
    query,
    query_int,
    query_name,
)
from router.paper.service import PaperService
from router.paper.venue import RecordedEngine, SharedBook, VenueClock, engine_digest

__all__ = ["OPENAPI_PATH", "SERVICE_KEY", "WEB_DIR", "attach_venue_server", "create_paper_app"]

log = logging.getLogger("crossroute.paper")
SERVICE_KEY: web.AppKey[PaperService] = web.AppKey("paper_service", PaperService)
OPENAPI_PATH = Path(__file__).with_name("openapi.json")
WEB_DIR = Path(__file__).with_name("web")
MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 8  # order bodies nest 3 deep (legs, venues); deeper is refused before parsing


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
        return _error(404, "path", request.path, "a route of openapi.json")
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
        query_name({"account": account}, "account")  # 400 for a malformed name
        raise PaperError(404, "account", account, f"one of {', '.join(service.accounts())}")


def _query(request: web.Request, allowed: tuple[str, ...]) -> dict[str, str]:
    return query(request.query, allowed)


def _depth(text: str) -> int:
    """The deepest nesting of brackets in JSON text (strings skipped). O(len)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise PaperError(413, "body", request.content_length, f"at most {MAX_BODY_BYTES} bytes")
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
        if _depth(text) > MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        body = json.loads(text) if raw else None
    except ValueError as exc:  # bad UTF-8, bad JSON, an integer of more than 4,300 digits
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
    return _json(_service(request).views.market_view(query_int(params, "points", 24, 2, 200)))


async def quote(request: web.Request) -> web.Response:
    """A routed quote (``symbol``/``side``) or, with ``from``/``to``, a conversion's multi-hop
    plan: the same JSON as ``crossroute route --json`` for the same request."""
    service = _service(request)
    params = _query(request, QUOTE_KEYS)
    if "from" in params or "to" in params:
        return _json(service.views.multihop(parse_multihop_quote(params, service.market)))
    return _json(service.views.quote(parse_quote(params, service.market, service.ledger)))


async def list_orders(request: web.Request) -> web.Response:
    params = _query(request, ("account", "status", "limit"))
    service = _service(request)
    _known_account(service, params.get("account"))
    status = query_name(params, "status")
    limit = query_int(params, "limit", 100, 1, 1000)
    if status == "working":  # open and partially filled gtc orders, oldest first (memory)
        docs = service.open_orders(params.get("account"))[:limit]
        return _json({"orders": docs})
    # Every order is in the store (finished ones only there); an open order's doc in memory may be
    # newer (a retry that filled nothing bumps ``attempts`` without a commit), so it wins.
    docs = service.store.orders(account=params.get("account"), status=status, limit=limit)
    return _json({"orders": [service.desk.state.orders.get(d["client_id"], d) for d in docs]})


async def get_order(request: web.Request) -> web.Response:
    _query(request, ())
    service = _service(request)
    client_id = request.match_info["client_id"]
    doc = service.order_doc(client_id) if client_id.isascii() else None
    if doc is None:
        raise PaperError(404, "client_id", client_id, "the client id of an order")
    return _json(doc)


async def place_order(request: web.Request) -> web.Response:
    _query(request, ())
    body = await _body(request)
    return _json(await _service(request).command("order", body))


async def amend_order(request: web.Request) -> web.Response:
    _query(request, ())
    body = await _body(request)
    if "client_id" in body:
        raise PaperError(400, "client_id", body["client_id"], "no client_id in the body (the path)")
    body = {"client_id": request.match_info["client_id"], **body}
    return _json(await _service(request).command("amend", body))


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


async def port(request: web.Request) -> web.Response:
    _query(request, ())
    return _json(await _service(request).command("port", await _body(request)))


async def step(request: web.Request) -> web.Response:
    _query(request, ())
    return _json(await _service(request).command("step", await _body(request)))


async def fills(request: web.Request) -> web.Response:
    params = _query(request, ("account", "after", "before", "limit"))
    service = _service(request)
    _known_account(service, params.get("account"))
    after = query_int(params, "after", 0, 0, 2**62)
    before = query_int(params, "before", 0, 0, 2**62)
    limit = query_int(params, "limit", 100, 1, 1000)
    rows = service.store.fills_json(
        account=params.get("account"), after=after, before=before or None, limit=limit
    )
    return web.Response(text='{"fills":' + rows + "}", content_type="application/json")


async def journal(request: web.Request) -> web.Response:
    params = _query(request, ("after", "limit"))
    service = _service(request)
    after = query_int(params, "after", -1, -1, 2**62)
    limit = query_int(params, "limit", 100, 1, 1000)
    lines = service.store.journal(after=after, limit=limit)
    return _json({"records": [json.loads(line) for line in lines]})


async def routes(request: web.Request) -> web.Response:
    params = _query(request, ("limit",))
    limit = query_int(params, "limit", 20, 1, 50)
    return _json({"routes": list(_service(request).desk.state.routes)[:limit]})


async def pnl(request: web.Request) -> web.Response:
    params = _query(request, ("account",))
    service = _service(request)
    account = params.get("account") or service.accounts()[0]
    _known_account(service, account)
    points = service.views.state.pnl.get(account, ())
    return _json({"account": account, "points": [[t, v] for t, v in points]})


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


def attach_venue_server(app: web.Application, service: PaperService) -> Any:
    """Mount the Binance-compatible venue server at ``/venue`` over the service's venues.

    The engine (:class:`router.paper.venue.RecordedEngine`) runs on the simulated clock and hands
    each place, cancel, set_leverage and set_hedge_mode to the service, which logs it as a ``venue`` command and makes it
    durable before the response is written; mutating requests run under the service lock, so they
    never interleave with a command or a tick. Resting venue-server orders that the router's flow
    takes are settled through :class:`router.paper.venue.SharedBook`.
    """
    from router.server.build import build_server

    # The engine stamps orders and trades with the simulated time (ms), like every other paper
    # timestamp, so equal command logs give equal trade lists; request signatures and rate limits
    # keep the wall clock (clients sign with theirs).
    clock = VenueClock(lambda: service.sim.t_ns // 1_000_000)
    server = build_server(
        service.market,
        market_clock_ms=clock.now_ms,
        engine_factory=partial(RecordedEngine, recorder=service.record_venue),
    )
    engine = server.engine
    for market in engine.by_name.values():
        adapter = service.market.adapters.get(market.name)
        if hasattr(market, "book") and getattr(adapter, "book", None) is market.book:
            # Wiring, before the service runs: the adapter and the makers trade on the shared book.
            adapter.book = SharedBook(market.book, market, engine)

    def replay(body: dict[str, Any]) -> dict[str, Any]:
        # The logged time: equal to the simulated time for logs written by this code, and the wall
        # time a log from before the simulated clock recorded.
        with clock.at(body["t_ms"]):
            return engine.replay(body)

    service.attach_venue([engine, engine.ledger], replay, lambda: engine_digest(engine))

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
    r.add_patch("/api/orders/{client_id}", amend_order)
    r.add_delete("/api/orders/{client_id}", cancel_order)
    r.add_get("/api/accounts", list_accounts)
    r.add_get("/api/accounts/{account}", get_account)
    r.add_post("/api/accounts/{account}/subaccounts", open_subaccount)
    r.add_post("/api/transfers", transfer)
    r.add_post("/api/ports", port)
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
