"""`crossroute paper`: run the paper-trading service, or talk to a running one.

- ``crossroute paper --config config/default.toml [--db PATH] [--port N] [--speed X] [--seed N]``
  starts the service on 127.0.0.1 (port 0: any free port; the first stdout line names it) and
  shows a live status line on a terminal. ``--speed`` is simulated seconds per wall second
  (0: paused; time moves only through POST /api/market/step).
- ``crossroute paper order --url URL --account A --symbol S --side buy|sell --qty N
  [--quote-qty N] [--limit P] [--venue V ...] [--tif ioc|gtc] [--client-id ID]`` places an order.
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

from router.model.errors import ConfigError

HELP = "paper trading: a simulated market with accounts, an HTTP API and a web page (order/status talk to one)"
DEFAULT_URL = "http://127.0.0.1:8700"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        action="append",
        metavar="FILE",
        help="market TOML (default: config/default.toml); repeat to layer files",
    )
    parser.add_argument(
        "--db",
        default="paper.db",
        help="SQLite database (WAL) holding the state (default paper.db)",
    )
    parser.add_argument(
        "--port", type=int, default=8700, help="TCP port on 127.0.0.1 (0: any free port)"
    )
    parser.add_argument(
        "--speed", default="1", help="simulated seconds per wall-clock second (0: paused)"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="price process seed (a new database only)"
    )
    parser.add_argument(
        "--replay",
        metavar="FILE",
        default=None,
        help="drive the reference price of a spot symbol by the mid of a Binance capture or CSV file "
        "(router/backtest/feed.py formats; a new database only)",
    )
    parser.add_argument(
        "--replay-symbol", default="", help="the spot symbol --replay drives (default: the first)"
    )
    parser.add_argument(
        "--snapshot-every",
        type=int,
        default=None,
        help="commands between snapshots of the whole state (default 1000)",
    )
    parser.add_argument(
        "--snapshot-every-ticks",
        type=int,
        default=None,
        help="ticks between snapshots (default 600)",
    )
    parser.add_argument("--no-status", action="store_true", help="no live status line")
    sub = parser.add_subparsers(dest="paper_command", parser_class=type(parser))
    order = sub.add_parser("order", help="place an order on a running service")
    order.add_argument("--url", default=DEFAULT_URL)
    order.add_argument("--account", required=True)
    order.add_argument("--subaccount", default=None)
    order.add_argument("--symbol", required=True)
    order.add_argument("--side", required=True, choices=("buy", "sell"))
    order.add_argument("--qty")
    order.add_argument("--quote-qty", dest="quote_qty")
    order.add_argument("--limit")
    order.add_argument("--venue", action="append", dest="venues")
    order.add_argument("--tif", choices=("ioc", "gtc"), default="ioc")
    order.add_argument("--client-id", dest="client_id")
    status = sub.add_parser("status", help="print the status of a running service as JSON")
    status.add_argument("--url", default=DEFAULT_URL)


def run(args: argparse.Namespace) -> int:
    if args.paper_command == "order":
        return asyncio.run(_order(args))
    if args.paper_command == "status":
        return asyncio.run(_status(args))
    return _serve(args)


# -- clients -----------------------------------------------------------------------------------------


async def _request(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    import aiohttp

    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.request(method, url, json=body) as response,
        ):
            return response.status, await response.json(content_type=None)
    except aiohttp.ClientError as exc:
        raise ConfigError(
            "<command line>", "--url", url, f"a running paper service ({exc.__class__.__name__})"
        ) from None


async def _order(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "client_id": args.client_id or f"cli-{uuid.uuid4().hex[:12]}",
        "account": args.account,
        "symbol": args.symbol,
        "side": args.side,
        "tif": args.tif,
    }
    for key in ("subaccount", "qty", "quote_qty", "limit", "venues"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    code, data = await _request("POST", args.url.rstrip("/") + "/api/orders", body)
    if code >= 400:
        sys.stderr.write(f"crossroute: error: {data.get('error', {}).get('message', data)}\n")
        return 2
    sys.stdout.write(json.dumps(data, sort_keys=True) + "\n")
    return 0 if data.get("status") not in ("rejected",) else 1


async def _status(args: argparse.Namespace) -> int:
    code, data = await _request("GET", args.url.rstrip("/") + "/api/status")
    sys.stdout.write(json.dumps(data, sort_keys=True) + "\n")
    return 0 if code == 200 else 2


# -- the service ------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from router.app import DEFAULT_CONFIG
    from router.paper.market import SimParams
    from venues.values import parse_decimal

    speed = parse_decimal(
        "--speed",
        args.speed,
        minimum=0,
        maximum=1_000_000,
        max_scale=6,
        error=lambda field, value, allowed: ConfigError("<command line>", field, value, allowed),
    )
    if not 0 <= args.port <= 65535:
        raise ConfigError("<command line>", "--port", args.port, "an integer in [0, 65535]")
    overrides: dict[str, Any] = {}
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.replay is not None:
        overrides["replay_path"] = args.replay
        overrides["replay_symbol"] = args.replay_symbol
    params = SimParams(**overrides) if overrides else None
    snapshots = {
        name: value
        for name, value in (
            ("snapshot_every", args.snapshot_every),
            ("snapshot_every_ticks", args.snapshot_every_ticks),
        )
        if value is not None
    }
    asyncio.run(
        _main(
            args.config or [str(DEFAULT_CONFIG)],
            args.db,
            args.port,
            float(speed),
            params,
            show_status=not args.no_status and sys.stdout.isatty(),
            snapshots=snapshots,
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
    snapshots: dict[str, int] | None = None,
) -> None:
    import signal

    from aiohttp import web

    from router.paper.api import create_paper_app, drive
    from router.paper.service import PaperService

    service = PaperService(config, db=db, params=params, **(snapshots or {}))
    app = create_paper_app(service)  # before open(): the log may hold venue-server calls to replay
    replayed = await service.open()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]  # the real port when --port 0
    sys.stdout.write(
        f"crossroute paper: listening on http://127.0.0.1:{bound} (db {db}, {replayed} commands "
        f"replayed, tick {service.sim.tick}, speed {speed:g}x)\n"
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
            s = service.status()
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


__all__ = ["HELP", "add_arguments", "run"]
