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
from decimal import Decimal
from typing import Any

from router.app import DEFAULT_CONFIG, Market, load_market
from router.commands.route import parse_amount
from router.config import AmmConfig, ClmmConfig, OrderBookConfig
from router.errors import ConfigError
from venues.server.accounts import AccountSpec
from venues.server.app import ServerLimits, VenueServer
from venues.server.markets import BookMarket, MarketUnits, PoolMarket, V2Quoter, V3Quoter

HELP = "serve the config's venues over a Binance-compatible REST API on 127.0.0.1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="market TOML (default: config/default.toml)")
    parser.add_argument(
        "--port", type=int, required=True, help="TCP port on 127.0.0.1 (0: any free port)"
    )
    parser.add_argument(
        "--pool-depth-step",
        default="1",
        dest="pool_depth_step",
        help="base quantity per synthetic depth level of a pool (default 1)",
    )
    parser.add_argument(
        "--weight-per-minute",
        type=int,
        default=6000,
        dest="weight_per_minute",
        help="request weight per API key (or client address) per minute",
    )


def build_server(
    market: Market,
    *,
    pool_depth_step: Decimal = Decimal("1"),
    limits: ServerLimits | None = None,
    **options: Any,
) -> VenueServer:
    """A VenueServer over the built ``market``'s live venue objects and its accounts."""
    config = market.config
    decimals = {asset.name: asset.decimals for asset in config.assets}
    served = []
    for index, venue in enumerate(config.venues):
        units = MarketUnits(venue.base, venue.quote, decimals[venue.base], decimals[venue.quote])
        obj = market.venues[venue.name]
        try:
            if isinstance(venue, OrderBookConfig):
                served.append(BookMarket(venue.name, obj, units))
            elif isinstance(venue, AmmConfig):
                served.append(
                    PoolMarket(venue.name, V2Quoter(obj), units, depth_step=pool_depth_step)
                )
            elif isinstance(venue, ClmmConfig):
                served.append(
                    PoolMarket(venue.name, V3Quoter(obj), units, depth_step=pool_depth_step)
                )
            else:  # pragma: no cover - the config yields only the kinds above
                raise ConfigError(
                    config.file, f"venues[{index}].kind", venue.kind, "amm | clmm | orderbook"
                )
        except ConfigError:
            raise
        except Exception as exc:  # a venue the server cannot settle exactly (units off the grid)
            raise ConfigError(
                config.file, f"venues[{index}]", venue.name, f"a servable venue ({exc})"
            ) from None
    accounts = [
        AccountSpec(a.name, dict(a.balances), a.api_key, a.api_secret) for a in config.accounts
    ]
    return VenueServer(served, accounts, decimals, limits=limits or ServerLimits(), **options)


def run(args: argparse.Namespace) -> int:
    step = parse_amount("--pool-depth-step", args.pool_depth_step)
    if not 0 <= args.port <= 65535:
        raise ConfigError("<command line>", "--port", args.port, "an integer in [0, 65535]")
    if args.weight_per_minute < 1:  # named here: ServerLimits would name its field, not the flag
        raise ConfigError(
            "<command line>", "--weight-per-minute", args.weight_per_minute, "an integer >= 1"
        )
    market = load_market(args.config or DEFAULT_CONFIG)
    server = build_server(
        market, pool_depth_step=step, limits=ServerLimits(weight_per_minute=args.weight_per_minute)
    )
    names = ", ".join(server.engine.by_name)
    try:
        asyncio.run(_serve(server.app, names, args.port))
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(app: Any, names: str, port: int) -> None:
    """Serve ``app`` on 127.0.0.1 until SIGINT/SIGTERM, printing the port actually bound."""
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None)
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
