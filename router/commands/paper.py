"""`crossroute paper`: run the paper-trading service, or talk to a running one.

- ``crossroute paper --config config/default.toml [--db PATH] [--port N] [--speed X] [--seed N]``
  starts the service on 127.0.0.1 (port 0: any free port; the first stdout line names it) and
  shows a live status line on a terminal. ``--speed`` is simulated seconds per wall second
  (0: paused; time moves only through POST /api/market/step).
- ``crossroute paper order --url URL --account A --symbol S --side buy|sell --qty N
  [--quote-qty N] [--limit P] [--venue V ...] [--tif ioc|gtc] [--client-id ID] [--json]`` places an order and prints
  its report (a table; ``--json``: the service's JSON answer). Both clients default to
  ``--url http://127.0.0.1:8080``, the service's default address.
- ``crossroute paper status --url URL`` prints the service status as JSON.

See docs/paper.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from typing import Any

from router.commands import inputs
from router.execution.executor import DEFAULT_CHILD_TIMEOUT_SECS
from router.model.errors import ConfigError
from venues.values import parse_positive

# One address for the service and its clients (the README starts the service on it).
DEFAULT_PORT = 8080
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        action="append",
        metavar="FILE",
        help="market TOML (default: the embedded default market); repeat to layer files",
    )
    parser.add_argument("--db", default="paper.db", help="SQLite database (WAL) holding the state")
    parser.add_argument(
        "--port", default=str(DEFAULT_PORT), help="TCP port on 127.0.0.1 (0: any free port)"
    )
    parser.add_argument(
        "--speed", default="1", help="simulated seconds per wall-clock second (0: paused)"
    )
    parser.add_argument(
        "--seed", default=None, help="price process seed (a new database only; default: built in)"
    )
    parser.add_argument(
        "--replay",
        metavar="FILE",
        default=None,
        help="drive the reference price of a spot symbol by the mid of a Binance capture or CSV "
        "file (router/sim/feed.py formats; a new database only)",
    )
    parser.add_argument(
        "--replay-symbol", default="", help="the spot symbol --replay drives (default: the first)"
    )
    parser.add_argument(
        "--snapshot-every",
        default=None,
        help="commands between snapshots of the whole state (default 1000)",
    )
    parser.add_argument(
        "--snapshot-every-ticks", default=None, help="ticks between snapshots (default 600)"
    )
    parser.add_argument(
        "--faults",
        metavar="FILE",
        default=None,
        help="inject the venue faults of FILE (the TOML of `execute --faults`: [[faults]] venue, "
        "kind, after, share) between the executor and the venues; a new database only: the "
        "schedule is stored and a restart continues it (default: none, or the stored one)",
    )
    parser.add_argument(
        "--child-timeout",
        metavar="SECS",
        default=None,
        help="seconds to wait for each child order and each status query; a hang fault holds "
        f"the service at most a few of these (default {DEFAULT_CHILD_TIMEOUT_SECS}, or the "
        "stored one)",
    )
    parser.add_argument("--no-status", action="store_true", help="no live status line")
    sub = parser.add_subparsers(
        dest="paper_command", metavar="{order,status}", parser_class=type(parser)
    )
    order = sub.add_parser(
        "order",
        help="place an order on a running service",
        description="Place an order on a running paper service and print its report.",
    )
    order.add_argument("--url", default=DEFAULT_URL, help="the paper service")
    order.add_argument("--account", required=True, help="account name (the config's [[accounts]])")
    order.add_argument(
        "--subaccount", default=None, help="subaccount (default: the account's main one)"
    )
    order.add_argument("--symbol", required=True, help="BASE/QUOTE, or BASE/QUOTE:SETTLE (perp)")
    order.add_argument("--side", required=True, choices=("buy", "sell"), help="the taker's side")
    order.add_argument("--qty", help="order size in base units (or --quote-qty)")
    order.add_argument(
        "--quote-qty", dest="quote_qty", help="order size in quote units (spend or receive)"
    )
    order.add_argument("--limit", help="worst all-in price accepted (default: none)")
    order.add_argument(
        "--venue",
        action="append",
        dest="venues",
        help="a venue to use; repeat for several (default: all venues of the symbol)",
    )
    order.add_argument(
        "--tif", choices=("ioc", "gtc"), default="ioc", help="time in force: ioc or gtc"
    )
    order.add_argument(
        "--client-id", dest="client_id", help="idempotency key (default: a fresh random one)"
    )
    order.add_argument("--json", action="store_true", help="print the service's JSON answer")
    status = sub.add_parser(
        "status",
        help="print the status of a running service as JSON",
        description="Print the status of a running paper service as one JSON object.",
    )
    status.add_argument("--url", default=DEFAULT_URL, help="the paper service")


def run(args: argparse.Namespace) -> int:
    if args.paper_command == "order":
        return asyncio.run(_order(args))
    if args.paper_command == "status":
        return asyncio.run(_status(args))
    return _serve(args)


# -- clients -----------------------------------------------------------------------------------------


async def _request(
    method: str, service: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    """(HTTP status, JSON answer) of ``path`` on the service at ``service`` (``--url`` as typed)."""
    import aiohttp

    if not service.startswith(("http://", "https://")) or len(service) > 2000:
        raise ConfigError(
            inputs.COMMAND_LINE, "--url", service, "an http:// address such as " + DEFAULT_URL
        )
    url = service.rstrip("/") + path

    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.request(method, url, json=body) as response,
        ):
            return response.status, await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise ConfigError(
            inputs.COMMAND_LINE,
            "--url",
            service,
            f"a running paper service ({exc.__class__.__name__})",
        ) from None


def _error_message(data: Any) -> str:
    """The service's one-line error text, whatever shape the answer has."""
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return str(message or data).replace("\n", " ")


async def _order(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "client_id": args.client_id or f"cli-{uuid.uuid4().hex[:12]}",
        "account": args.account,
        "symbol": args.symbol,
        "side": args.side,
        "tif": args.tif,
    }
    # checked here too, so a typo is refused before anything is sent
    inputs.optional(inputs.qty, "qty", args.qty)
    inputs.optional(inputs.quote_qty, "quote_qty", args.quote_qty)
    inputs.optional(inputs.price, "limit", args.limit)
    for key in ("subaccount", "qty", "quote_qty", "limit", "venues"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    code, data = await _request("POST", args.url, "/api/orders", body)
    if code >= 400 or not isinstance(data, dict):
        sys.stderr.write(f"crossroute: error: {_error_message(data)}\n")
        return 2
    if args.json:
        sys.stdout.write(json.dumps(data, sort_keys=True) + "\n")
    else:
        render_order(data)
    return 0 if data.get("status") not in ("rejected",) else 1


def render_order(data: dict[str, Any]) -> None:
    """An order's answer for people: status line, one row per venue fill, margin before/after."""
    from decimal import Decimal

    from router.commands.render import console, show, table
    from router.plan import fmt_qty

    def qty(text: str) -> str:  # "22.908700000000000000" -> "22.9087": the same number, exactly
        return fmt_qty(Decimal(text))

    out = console()
    reason = f" - {data['reason']}" if data.get("reason") else ""
    out.print(
        f"order {data.get('client_id')}: {data.get('status')} ({data.get('tif')}, "
        f"{data.get('subaccount')}){reason}",
        markup=False,
    )
    for leg in data.get("legs", []):
        base, quote = str(leg["symbol"]).split(":")[0].split("/")
        routes = table(
            f"{leg['side']} {leg['symbol']}: {leg['status']}",
            [("venue", False), (f"qty ({base})", True), (f"quote amount ({quote})", True)],
        )
        routes.extend((r["venue"], qty(r["qty"]), r["quote_amount"]) for r in leg.get("route", []))
        routes.section()
        routes.add("total", qty(leg["filled_qty"]), leg["quote_amount"])
        show(out, routes)
        out.print(
            f"average price {leg['avg_price'] or '-'} {quote} per {base}; fees {leg['fee']} {quote}",
            markup=False,
        )
    before, after = data.get("margin_before") or {}, data.get("margin_after") or {}
    if before or after:
        margin = table("margin (quote)", [("", False), ("before", True), ("after", True)])
        margin.extend(
            (key, before.get(key), after.get(key))
            for key in ("equity", "initial_margin", "maintenance_margin", "headroom")
        )
        show(out, margin)


async def _status(args: argparse.Namespace) -> int:
    code, data = await _request("GET", args.url, "/api/status")
    if code != 200:
        sys.stderr.write(f"crossroute: error: {_error_message(data)}\n")
        return 2
    sys.stdout.write(json.dumps(data, sort_keys=True) + "\n")
    return 0


# -- the service ------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from router.app import DEFAULT_CONFIG
    from router.paper.market import SimParams

    # the simulated clock advances in whole nanoseconds: a finer speed would round to a stop
    speed = inputs.decimal_in("--speed", args.speed, 0, 1_000_000, max_scale=6)
    port = inputs.integer_in("--port", args.port, 0, 65535)
    inputs.writable_file("--db", args.db)
    overrides: dict[str, Any] = {}
    if args.seed is not None:
        overrides["seed"] = inputs.integer_in("--seed", args.seed, 0, 2**63 - 1)
    if args.replay is not None:
        overrides["replay_path"] = str(inputs.readable_file("--replay", args.replay))
        overrides["replay_symbol"] = args.replay_symbol
    params = SimParams(**overrides) if overrides else None
    snapshots = {
        name: inputs.integer_in(flag, value, 1, 10**9)
        for name, flag, value in (
            ("snapshot_every", "--snapshot-every", args.snapshot_every),
            ("snapshot_every_ticks", "--snapshot-every-ticks", args.snapshot_every_ticks),
        )
        if value is not None
    }
    faults: dict[str, Any] = {}
    if args.child_timeout is not None:
        faults["child_timeout_secs"] = parse_positive(
            "--child-timeout", args.child_timeout, maximum=3600, max_scale=3, kind="seconds"
        )
    config = args.config or [str(DEFAULT_CONFIG)]
    if args.faults is not None:
        from router.app import load_market
        from router.execution.faults import load_faults

        venues = list(load_market(config if len(config) > 1 else config[0]).adapters)
        faults["faults"] = load_faults(inputs.readable_file("--faults", args.faults), venues)
    asyncio.run(
        _main(
            config,
            args.db,
            port,
            float(speed),
            params,
            show_status=not args.no_status and sys.stdout.isatty(),
            snapshots={**snapshots, **faults},
        )
    )
    return 0


async def _main(
    config: list[str],
    db: str,
    port: int,
    speed: float,
    params: Any,
    *,
    show_status: bool,
    snapshots: dict[str, Any] | None = None,
) -> None:
    import signal

    from aiohttp import web

    from router.paper.api import create_paper_app, drive
    from router.paper.service import PaperService
    from router.server.runner import VenueRunner

    service = PaperService(config, db=db, params=params, **(snapshots or {}))
    app = create_paper_app(service)  # before open(): the log may hold venue-server calls to replay
    replayed = await service.open()
    runner = VenueRunner(app, access_log=None)  # JSON answers even to unparseable HTTP
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]  # the real port when --port 0
    sys.stdout.write(
        f"crossroute paper: listening on http://127.0.0.1:{bound} (db {db}, {replayed} commands "
        f"replayed, tick {service.status()['tick']}, speed {speed:g}x)\n"
    )
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    live = None
    if show_status:
        from rich.live import Live

        live = Live(auto_refresh=False, transient=True)
        live.start()

    def on_tick() -> None:
        if live is not None:
            s = service.status(digest=False)  # every tick: no O(state) digest on the loop
            refs = " ".join(f"{k} {v}" for k, v in s["refs"].items())
            pnl = " ".join(f"{a} pnl {v['pnl']}" for a, v in s["accounts"].items())
            live.update(
                f"tick {s['tick']}  {refs}  orders {s['orders']} (working {s['working_orders']})  "
                f"fills {s['fills']}  {pnl}",
                refresh=True,
            )

    driver = asyncio.create_task(drive(service, speed, on_tick=on_tick))
    try:
        await stop.wait()
    finally:
        driver.cancel()
        if live is not None:
            live.stop()
        async with service.lock:
            service.snapshot()  # a clean shutdown restarts without replaying anything
        await runner.cleanup()
        service.close()


__all__ = ["add_arguments", "run"]
