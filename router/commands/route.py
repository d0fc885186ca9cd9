"""``crossroute route``: plan one order across the market's venues and print the exact plan.

``--json`` prints the contract of docs/api.md (one JSON object, numbers as decimal strings); without it a
table. Every bad request (size, symbol, venue, limit, config) raises a RouteError or ConfigError,
which the command line turns into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from router.app import DEFAULT_CONFIG, Market, load_market
from router.commands import inputs
from router.config.protection import ProtectionConfig
from router.model.errors import RouteError
from router.plan import RoutePlan, fmt_qty, plan_route
from router.protection import (
    DEFAULT_BAND_BPS,
    DEFAULT_MAX_FIXED_COST_SHARE,
    MAX_BAND_BPS,
    Protection,
    fixed_cost_finding,
    protect,
)
from router.routing import DEFAULT_MAX_HOPS, MAX_HOPS, MultiHopPlan
from venues.values import parse_decimal, parse_int

if TYPE_CHECKING:  # rich is loaded only to print a table, never for --json
    from rich.console import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        help="market TOML (default: config/default.toml here, else the embedded default market)",
    )
    parser.add_argument(
        "--symbol",
        default=None,
        help="BASE/QUOTE, e.g. ETH/USDC (default: the market's first spot symbol)",
    )
    parser.add_argument(
        "--side", default=None, choices=("buy", "sell"), help="the taker's side (with --symbol)"
    )
    parser.add_argument(
        "--from",
        default=None,
        dest="from_asset",
        help="route across symbols and paths: the asset spent (with --to instead of --side)",
    )
    parser.add_argument(
        "--to", default=None, dest="to_asset", help="the asset received (with --from)"
    )
    parser.add_argument(
        "--to-qty",
        default=None,
        dest="to_qty",
        help="with --from/--to: receive exactly this much of --to (instead of --qty: spend)",
    )
    parser.add_argument(
        "--max-hops",
        default=None,
        dest="max_hops",
        help=f"with --from/--to: most hops of a path, 1 to {MAX_HOPS} (default {DEFAULT_MAX_HOPS};"
        " 3 routes through two intermediate assets, paths sharing links)",
    )
    parser.add_argument(
        "--qty",
        default=None,
        help="order size in base units, e.g. 50 (with --from/--to: the amount of --from spent)",
    )
    parser.add_argument(
        "--quote-qty",
        default=None,
        dest="quote_qty",
        help="order size in quote units instead: spend (buy) or receive (sell), all-in",
    )
    parser.add_argument(
        "--limit",
        default=None,
        help="worst all-in price accepted for every leg, its average and its last unit"
        " (fees and leg costs in; buy: at most, sell: at least)",
    )
    add_protection_arguments(parser)
    parser.add_argument(
        "--venues", default=None, help="comma-separated venue names to use (default: all)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object (the contract in docs/api.md)"
    )


def config_path(value: str | None) -> Path:
    """``--config`` as given, else config/default.toml here, else the one shipped with the code."""
    if value is not None:
        return Path(value)
    local = Path("config/default.toml")
    return local if local.is_file() else DEFAULT_CONFIG


def resolve_symbol(market: Market, symbol: str | None) -> str:
    """The requested symbol, or the market's first spot symbol (config order)."""
    if symbol is not None:
        return symbol
    symbols = market.symbols()
    if not symbols:
        raise RouteError(
            "symbol=None is invalid; allowed: a spot symbol (the market has none)",
            field="symbol",
            value=None,
        )
    return symbols[0]


def make_plan(
    market: Market,
    symbol: str,
    side: str,
    qty: Decimal | None,
    quote_qty: Decimal | None,
    limit: Decimal | None,
    venues: list[str] | None,
) -> RoutePlan:
    """Validate the request and plan it. Raises RouteError for anything that cannot be routed."""
    if (qty is None) == (quote_qty is None):
        raise RouteError(
            "qty/quote_qty: give exactly one of --qty (base) and --quote-qty (quote)",
            field="qty",
            value=(qty, quote_qty),
            allowed="exactly one of --qty and --quote-qty",
        )
    adapters = market.adapters_for(symbol, venues)
    plan = plan_route(adapters, symbol, side, qty, quote_qty=quote_qty, limit_price=limit)
    if not plan.legs or plan.qty == 0:
        if limit is not None:
            raise RouteError(
                f"limit={str(limit)!r} is invalid; allowed: a price at which some venue can"
                f" fill (nothing of the order can be filled within the limit {limit})",
                field="limit",
                value=limit,
            )
        if qty is not None:
            minimums = ", ".join(f"{a.name} {a.min_qty():f}" for a in adapters)
            raise RouteError(
                f"qty={str(qty)!r} is invalid; allowed: a size some venue can fill"
                f" (smallest legs: {minimums})",
                field="qty",
                value=qty,
            )
        costs = ", ".join(f"{a.name} {a.leg_cost:f}" for a in adapters)
        raise RouteError(
            f"quote_qty={str(quote_qty)!r} is invalid; allowed: an amount some venue can"
            f" fill beyond its leg cost (leg costs: {costs})",
            field="quote_qty",
            value=quote_qty,
        )
    return plan


def run(args: argparse.Namespace) -> int:
    if args.from_asset is not None or args.to_asset is not None:
        return run_multihop(args)
    for flag, value in (("to_qty", args.to_qty), ("max_hops", args.max_hops)):
        if value is not None:
            raise RouteError(
                f"{flag}={value!r} is invalid; allowed: only with --from and --to",
                field=flag,
                value=value,
            )
    if args.side is None:
        raise RouteError(
            "side=None is invalid; allowed: --side buy|sell (with --symbol), or --from/--to",
            field="side",
            value=None,
        )
    qty = inputs.optional(inputs.qty, "qty", args.qty)
    quote_qty = inputs.optional(inputs.quote_qty, "quote_qty", args.quote_qty)
    limit = inputs.optional(inputs.price, "limit", args.limit)
    venues = None
    if args.venues is not None:
        venues = [name.strip() for name in args.venues.split(",") if name.strip()]
        if not venues:
            raise RouteError(
                f"venues={args.venues!r} is invalid; allowed: comma-separated venue names",
                field="venues",
                value=args.venues,
            )
    market = load_market(config_path(args.config))
    symbol = resolve_symbol(market, args.symbol)
    protection = protection_from_args(
        args,
        market.adapters_for(symbol, venues),
        args.side,
        limit_price=limit,
        config=market.config.protection,
    )
    try:
        plan = make_plan(market, symbol, args.side, qty, quote_qty, protection.limit_price, venues)
    except RouteError as exc:
        if protection.mode != "band" or exc.details.get("field") != "limit":
            raise
        raise RouteError(
            f"nothing of the order fills within the default price protection "
            f"({protection.describe()}); allowed: a size some venue fills within the band, "
            "--limit, or --no-limit",
            field="limit",
            value=protection.limit_price,
        ) from None
    warnings = plan_warnings(plan, args, market.config.protection)
    if args.json:
        data = {
            **plan.to_json_dict(),
            "protection": protection.to_json_dict(),
            "warnings": warnings,
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return 0
    from router.commands.render import console

    out = console()
    render_plan(out, plan)
    out.print(protection.describe())
    for warning in warnings:
        out.print(f"[bold]warning[/bold]: {warning}")
    return 0


def run_multihop(args: argparse.Namespace) -> int:
    """``--from A --to B --qty N | --to-qty N [--max-hops K]``: route across symbols and paths."""
    for flag, value in (
        ("side", args.side),
        ("symbol", args.symbol),
        ("quote_qty", args.quote_qty),
        ("limit", args.limit),
        ("venues", args.venues),
    ):
        if value is not None:
            raise RouteError(
                f"{flag}={value!r} is invalid; allowed: not with --from/--to (--{flag.replace('_', '-')}"
                " belongs to the single-symbol --symbol/--side form)",
                field=flag,
                value=value,
            )
    for flag, value in (("from", args.from_asset), ("to", args.to_asset)):
        if value is None:
            raise RouteError(
                f"{flag}=None is invalid; allowed: an asset name (--from and --to go together)",
                field=flag,
                value=None,
            )
    if (args.qty is None) == (args.to_qty is None):
        raise RouteError(
            "qty/to_qty: give exactly one of --qty (spend) and --to-qty (receive)",
            field="qty",
            value=(args.qty, args.to_qty),
        )
    # either side of a multi-hop order may be any asset: bounded like a quote amount
    amount_in = inputs.optional(inputs.quote_qty, "qty", args.qty)
    amount_out = inputs.optional(inputs.quote_qty, "to_qty", args.to_qty)
    max_hops = (
        DEFAULT_MAX_HOPS
        if args.max_hops is None
        else inputs.integer_in("--max-hops", args.max_hops, 1, MAX_HOPS)
    )
    market = load_market(config_path(args.config))
    plan = market.plan_conversion(
        args.from_asset,
        args.to_asset,
        amount_in=amount_in,
        amount_out=amount_out,
        max_hops=max_hops,
    )
    if args.json:
        sys.stdout.write(json.dumps(plan.to_json_dict(), indent=2) + "\n")
        return 0
    from router.commands.render import console

    render_multihop(console(), plan)
    return 0


def render_multihop(console: Console, plan: MultiHopPlan, title: str | None = None) -> None:
    """Print a multi-hop plan: one row per hop, path by path, then totals and benchmarks."""
    from router.commands.render import show
    from router.commands.render import table as new_table

    data = plan.to_json_dict()
    head = (
        f"spend {data['amount_in']} {plan.source} for {plan.target}"
        if plan.mode == "from"
        else f"receive {data['amount_out']} {plan.target} for {plan.source}"
    )
    table = new_table(
        title or head,
        [("path", False), ("step", True), ("venue", False), ("pays", True), ("gets", True)],
    )
    for path in data["paths"]:
        label = "->".join(path["assets"])
        for hop in path["hops"]:
            table.add(
                label,
                str(hop["step"]),
                hop["venue"],
                f"{hop['amount_in']} {hop['from']}",
                f"{hop['amount_out']} {hop['to']}",
            )
        table.section()
    table.add(
        "total", "", "", f"{data['amount_in']} {plan.source}", f"{data['amount_out']} {plan.target}"
    )
    show(console, table)
    best = data["best_single_path"]
    if best is not None:
        console.print(
            f"best single path: {'->'.join(best['assets'])} pays {best['amount_in']} {plan.source}"
            f" for {best['amount_out']} {plan.target}; improvement {data['improvement_bps']} bps"
        )
    direct = data["best_direct_venue"]
    if direct is not None:
        console.print(
            f"best direct venue: {direct['venue']} pays {direct['amount_in']} {plan.source}"
            f" for {direct['amount_out']} {plan.target}"
        )
    console.print(f"duality gap of the convex split over paths: {data['duality_gap']}")
    for asset, amount in data["residual"].items():
        console.print(f"left unconverted (below every venue's lot or leg cost): {amount} {asset}")
    for note in data["notes"]:
        console.print(note)


def add_protection_arguments(parser: argparse.ArgumentParser) -> None:
    """The default price protection's options (route and execute share them)."""
    parser.add_argument(
        "--no-limit",
        action="store_true",
        help="lift the default price protection (an order without --limit is otherwise limited "
        f"to a band around the arrival mid, {DEFAULT_BAND_BPS} bps by default)",
    )
    parser.add_argument(
        "--band-bps",
        default=None,
        help="the default protection band in bps around the arrival mid (default: the config's "
        f"[protection] band_bps, else {DEFAULT_BAND_BPS})",
    )
    parser.add_argument(
        "--max-fixed-cost-share",
        default=None,
        help="fixed costs (gas, per-order fees) above this share of the notional are warned about"
        " (route) or refused (execute); default: the config's [protection] max_fixed_cost_share,"
        f" else {DEFAULT_MAX_FIXED_COST_SHARE}",
    )


def band_bps_of(args: argparse.Namespace, protection: ProtectionConfig) -> int | None:
    """The default band: None with --no-limit, else --band-bps, else the config's. Exits 2 (via
    the grammar's error) on a bad --band-bps."""
    if args.band_bps is None:
        return None if args.no_limit else protection.band_bps
    band = parse_int("--band-bps", args.band_bps, minimum=1, maximum=MAX_BAND_BPS)
    return None if args.no_limit else band


def fixed_cost_share_of(args: argparse.Namespace, protection: ProtectionConfig) -> Decimal:
    """--max-fixed-cost-share, else the config's [protection] max_fixed_cost_share."""
    if args.max_fixed_cost_share is None:
        return protection.max_fixed_cost_share
    return parse_decimal(
        "--max-fixed-cost-share", args.max_fixed_cost_share, minimum=0, maximum=1, kind="a share"
    )


def protection_from_args(
    args: argparse.Namespace,
    venues: list[Any],
    side: str,
    *,
    limit_price: Decimal | None,
    config: ProtectionConfig | None = None,
) -> Protection:
    """The order's protection from ``--limit`` / ``--no-limit`` / ``--band-bps``, else the
    config's ``[protection]`` band."""
    band = band_bps_of(args, config or ProtectionConfig())
    return protect(
        venues,
        side,
        limit_price=limit_price,
        band_bps=DEFAULT_BAND_BPS if band is None else band,
        no_limit=args.no_limit,
    )


def plan_warnings(
    plan: RoutePlan, args: argparse.Namespace, config: ProtectionConfig | None = None
) -> list[str]:
    """Warnings with their figures: fixed costs above the allowed share of the notional."""
    share = fixed_cost_share_of(args, config or ProtectionConfig())
    finding = fixed_cost_finding(plan.legs, plan.side, share)
    return [] if finding is None else [finding]


def _share(part: Decimal, whole: Decimal) -> str:
    return f"{(part / whole * 100).quantize(Decimal('0.01'))}%" if whole else "-"


def render_plan(console: Console, plan: RoutePlan, title: str | None = None) -> None:
    """Print a plan as a table: legs, total, averages, best single venue, partial-fill line."""
    from router.commands.render import show
    from router.commands.render import table as new_table

    base, quote = plan.symbol.split(":")[0].split("/")
    data: dict[str, Any] = plan.to_json_dict()
    verb = "paid" if plan.side == "buy" else "received"
    table = new_table(
        title or f"{plan.side} {data['qty']} {base} ({plan.symbol})",
        [
            ("venue", False),
            (f"qty ({base})", True),
            (f"avg price ({quote})", True),
            (f"quote {verb} ({quote})", True),
            ("share", True),
        ],
    )
    for leg, row in zip(plan.legs, data["legs"]):
        table.add(
            leg.venue, row["qty"], row["avg_price"], row["quote_amount"], _share(leg.qty, plan.qty)
        )
    table.section()
    table.add(
        "total", data["qty"], data["avg_price"], data["quote_amount"], _share(plan.qty, plan.qty)
    )
    show(console, table)
    console.print(
        f"average price  {data['avg_price']} {quote} per {base} (fees and leg costs included)"
    )
    if data["marginal_price"] is not None:
        console.print(f"marginal price {data['marginal_price']} {quote} per {base}")
    best = data["best_single_venue"]
    if best is None:
        console.print("best single venue: none can fill the whole order")
    else:
        console.print(
            f"best single venue: {best['venue']} at {best['quote_amount']} {quote};"
            f" improvement {data['improvement_bps']} bps"
        )
    if not plan.complete:
        if plan.requested_qty is not None:
            console.print(
                f"[bold]partly fillable[/bold]: {data['qty']} of {fmt_qty(plan.requested_qty)} {base};"
                f" {data['unfilled_qty']} {base} cannot be filled within the limit"
            )
        else:
            console.print(
                f"[bold]partly fillable[/bold]: {data['quote_amount']} of"
                f" {plan.requested_quote} {quote} within the limit"
            )
