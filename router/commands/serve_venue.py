"""``crossroute serve-venue --config FILE --port N``: the config's venues over a Binance-like API.

Serves on 127.0.0.1 only. Every venue of the config is reachable under ``/v/<venue>/api/v3/...``
as its own exchange; the root paths (``/api/v3/...``) serve the first venue of each symbol in
config order, so a plain ccxt client pointed at the root sees one market per symbol. Books are
LIMIT and MARKET markets, pools MARKET-only markets with a synthetic depth ladder of
``--pool-depth-step`` base per level. Accounts and their API keys come from the config's
``[[accounts]]``; every account shares one ledger across venues.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from router.app import DEFAULT_CONFIG, load_market
from router.commands import inputs
from router.server.app import ServerLimits
from router.server.build import build_server


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", default=None, help="market TOML (default: the embedded default market)"
    )
    parser.add_argument("--port", required=True, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument(
        "--pool-depth-step",
        default="1",
        dest="pool_depth_step",
        help="base quantity per synthetic depth level of a pool",
    )
    parser.add_argument(
        "--weight-per-minute",
        default="6000",
        dest="weight_per_minute",
        help="request weight per API key (or client address) per minute",
    )


def run(args: argparse.Namespace) -> int:
    step = inputs.qty("--pool-depth-step", args.pool_depth_step)
    port = inputs.integer_in("--port", args.port, 0, 65535)
    # named here: ServerLimits would name its field, not the flag
    weight = inputs.integer_in("--weight-per-minute", args.weight_per_minute, 1, 10**9)
    market = load_market(args.config or DEFAULT_CONFIG)
    server = build_server(
        market, pool_depth_step=step, limits=ServerLimits(weight_per_minute=weight)
    )
    names = ", ".join(server.engine.by_name)
    try:
        asyncio.run(_serve(server.app, names, port))
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(app: Any, names: str, port: int) -> None:
    """Serve ``app`` on 127.0.0.1 until SIGINT/SIGTERM, printing the port actually bound."""
    from aiohttp import web

    from router.server.runner import VenueRunner  # JSON answers even to unparseable HTTP

    runner = VenueRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        bound = runner.addresses[0][1]  # the real port when --port 0
        sys.stdout.write(
            f"crossroute serve-venue: {names} on http://127.0.0.1:{bound} (Ctrl-C to stop)\n"
        )
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
