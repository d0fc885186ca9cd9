"""``crossroute demo``: show the market, route a sample buy and sell, then run a basis trade.

The routes are plans (exact quotes, nothing executed). The basis trade then runs through the
executor on the same in-memory market, with the first account's cross margin
(:func:`router.app.build_margin`): buy ``--basis-qty`` base spot across the symbol's venues and
short the filled size on its perpetual (``BASE/QUOTE:QUOTE``), limits 1% either side of the
mids. It is skipped, with a line saying why, when the market has no such perpetual or no
account. Everything printed is deterministic: the same config prints the same text.
"""

from __future__ import annotations

import argparse
from decimal import Decimal

from router.app import Market, load_market
from router.commands import inputs
from router.commands.execute import execute_order, render_report
from router.commands.render import Rows, console, show, table
from router.commands.route import (
    config_path,
    make_plan,
    render_multihop,
    render_plan,
    resolve_symbol,
)
from router.execution.order import MultiLegOrder, order_from_dict

# The basis trade's limits: 1% beyond the mids, so the sample always fills on a sane market.
LIMIT_BAND = Decimal("0.01")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        help="market TOML (default: config/default.toml here, else the embedded default market)",
    )
    parser.add_argument(
        "--symbol", default=None, help="BASE/QUOTE (default: the market's only symbol)"
    )
    parser.add_argument("--qty", default="50", help="size of the sample orders in base units")
    parser.add_argument(
        "--basis-qty",
        default="10",
        dest="basis_qty",
        help="spot size of the basis trade in base units",
    )


def _fee_pips(market: Market, name: str) -> int:
    venue = market.venue_config(name)
    return getattr(venue, "fee_pips", getattr(venue, "taker_fee_pips", 0))


def _fmt(value: float | Decimal | None, places: str = "0.01") -> str:
    if value is None:
        return "-"
    return str(
        Decimal(repr(value) if isinstance(value, float) else value).quantize(Decimal(places))
    )


def market_table(market: Market, symbol: str) -> Rows:
    """One row per venue of ``symbol`` and of its perpetual (``symbol:QUOTE``): kind, fee, leg
    cost, mid, marginal best prices, depth within 1% of mid.

    Mid prices are exact (venue state); best prices (fee in) and depths come from the float
    depth curves the router optimises over.
    """
    base, quote = symbol.split("/")
    adapters = market.adapters_for(symbol)
    perp = f"{symbol}:{quote}"
    title = f"market {symbol}: {len(adapters)} venues"
    if perp in market.symbols("perp"):
        perps = market.adapters_for(perp)
        adapters = adapters + perps
        spot_mid, perp_mid = market.mid_price(symbol), market.mid_price(perp)
        title += f" + perpetual {perp} ({len(perps)} venue{'s' if len(perps) > 1 else ''}"
        if spot_mid and perp_mid:
            title += f", mid {((perp_mid / spot_mid - 1) * 10_000).quantize(Decimal('0.1'))} bps over spot"
        title += ")"
    out = table(
        title,
        [
            ("venue", False),
            ("kind", False),
            ("fee", True),
            (f"leg cost ({quote})", True),
            (f"mid ({quote})", True),
            (f"best bid ({quote}, fee in)", True),
            (f"best ask ({quote}, fee in)", True),
            (f"bids within 1% ({base})", True),
            (f"asks within 1% ({base})", True),
        ],
    )
    rows = []
    for adapter in adapters:
        mid = adapter.mid_price()
        buy, sell = adapter.depth_curve("buy"), adapter.depth_curve("sell")
        best_ask = buy.marginal_price(0.0) if buy.total_qty > 0 else None
        best_bid = sell.marginal_price(0.0) if sell.total_qty > 0 else None
        asks = buy.qty_at_price(float(mid) * 1.01) if mid is not None else None
        bids = sell.qty_at_price(float(mid) * 0.99) if mid is not None else None
        fee = Decimal(_fee_pips(market, adapter.name)) / Decimal(10_000)
        kind = adapter.kind + (
            " perp" if market.venue_config(adapter.name).instrument == "perp" else ""
        )
        rows.append(
            (
                adapter.name,
                kind,
                f"{fee.normalize():f}%",
                f"{adapter.leg_cost:f}",
                _fmt(mid, "0.0001"),
                _fmt(best_bid),
                _fmt(best_ask),
                _fmt(bids),
                _fmt(asks),
            )
        )
    return out.extend(rows)


def basis_order(market: Market, symbol: str, qty: Decimal) -> MultiLegOrder | str:
    """The demo's basis trade on ``symbol``, or the reason there is none (a one-line string).

    Spot leg: buy ``qty`` across every venue of ``symbol``, limit mid x 1.01; perp leg: sell the
    filled size on ``BASE/QUOTE:QUOTE``, limit perp mid x 0.99; limits rounded to the cent,
    against the order (buy down, sell up) so they never widen the band.
    """
    _base, quote = symbol.split("/")
    perp = f"{symbol}:{quote}"
    if perp not in market.symbols("perp"):
        return f"no perpetual {perp} in this market"
    if not market.accounts:
        return "no [[accounts]] in this market"
    spot_mid, perp_mid = market.mid_price(symbol), market.mid_price(perp)
    if spot_mid is None or perp_mid is None:
        return f"no mid price for {symbol if spot_mid is None else perp}"
    cent = Decimal("0.01")
    spot_venues = [adapter.name for adapter in market.adapters_for(symbol)]
    return order_from_dict(
        {
            "order": {"client_id": "demo-basis", "on_hedge_failure": "unwind"},
            "legs": [
                {
                    "id": "spot-long",
                    "instrument": "spot",
                    "symbol": symbol,
                    "side": "buy",
                    "qty": str(qty),
                    "limit": str(
                        (spot_mid * (1 + LIMIT_BAND)).quantize(cent, rounding="ROUND_FLOOR")
                    ),
                    "venues": spot_venues,
                },
                {
                    "id": "perp-short",
                    "instrument": "perp",
                    "symbol": perp,
                    "side": "sell",
                    "follows": "spot-long",
                    "ratio": "1",
                    "limit": str(
                        (perp_mid * (1 - LIMIT_BAND)).quantize(cent, rounding="ROUND_CEILING")
                    ),
                },
            ],
        },
        "<demo basis trade>",
    )


def run(args: argparse.Namespace) -> int:
    qty = inputs.qty("qty", args.qty)
    basis_qty = inputs.qty("basis_qty", args.basis_qty)
    market = load_market(config_path(args.config))
    symbol = resolve_symbol(market, args.symbol)
    base = symbol.split("/")[0]
    out = console()
    show(out, market_table(market, symbol))
    for side in ("buy", "sell"):
        out.print()
        plan = make_plan(market, symbol, side, qty, None, None, None)
        render_plan(out, plan, title=f"route: {side} {qty} {base}")
    quote = symbol.split("/")[1]
    if len(market.symbols()) > 1:
        # across quote currencies and intermediate assets: the same sell, every path of <= 2 hops
        out.print()
        hops = market.plan_conversion(base, quote, amount_in=qty)
        render_multihop(out, hops, title=f"route across paths: sell {qty} {base} for {quote}")
    out.print()
    order = basis_order(market, symbol, basis_qty)
    if isinstance(order, str):
        out.print(f"basis trade skipped: {order}")
        return 0
    legs = order.legs
    out.print(
        f"basis trade: buy {basis_qty} {base} spot (limit {legs[0].limit_price}), short the filled size on "
        f"{legs[1].symbol} (limit {legs[1].limit_price}), account {order.account or market.config.accounts[0].name}"
    )
    render_report(out, execute_order(market, order))
    out.print(
        f"As JSON: crossroute route --symbol {symbol} --side buy --qty {qty} --json;"
        " crossroute execute --order config/examples/basis-order.toml --json"
    )
    return 0
