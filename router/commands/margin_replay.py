"""``crossroute margin replay``: a trader's own fills through the margin core, over time."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

HELP = "replay your own fills: equity, requirements, headroom and liquidation over time"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fills",
        action="append",
        required=True,
        metavar="[VENUE=]FILE",
        help="fills file, repeatable: generic CSV, ccxt trades JSON, Binance CSV export, or an "
        "execute journal; VENUE= names the venue of formats without one",
    )
    parser.add_argument(
        "--marks",
        default=None,
        metavar="FILE",
        help="marks CSV time,symbol,price (default: the fills' own prices)",
    )
    parser.add_argument(
        "--rules",
        required=True,
        metavar="hyperliquid|dydx|binance|CONFIG",
        help="margin rules: a preset or a market config with a [margin] table",
    )
    parser.add_argument(
        "--collateral",
        action="append",
        default=[],
        metavar="[VENUE:]ASSET=AMOUNT",
        help="starting collateral, repeatable (default: none)",
    )
    parser.add_argument(
        "--mode",
        default="cross",
        choices=("cross", "isolated"),
        help="margin mode of the report (default: cross; the other is compared)",
    )
    parser.add_argument(
        "--every",
        type=int,
        default=0,
        metavar="SECONDS",
        help="sample marks at most once per SECONDS; fills are always sampled (default: 0, all)",
    )
    parser.add_argument(
        "--subaccount",
        default=None,
        metavar="ACCOUNT/SUB",
        help="the subaccount to rebuild when the fills name several (generic CSV account and "
        "subaccount columns; default: the only one named, main/main for formats without them)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", default=None, metavar="PNG", help="write the equity plot here")


def run(args: argparse.Namespace) -> int:
    from router.commands import inputs
    from router.commands.extras import require
    from router.replay.run import replay

    every = inputs.integer_in("--every", args.every, 0, 10**9)
    if args.plot:  # checked before any work, so a bad path wastes no replay
        require("plots", "crossroute margin replay --plot")
        inputs.writable_file("--plot", args.plot)
    report = replay(
        args.fills,
        args.marks,
        args.rules,
        args.collateral,
        args.mode,
        every,
        subaccount=args.subaccount,
    )
    if args.plot:
        from router.replay.plot import plot_replay

        plot_replay(report, args.plot)
    data = report.to_json()
    if args.json:
        sys.stdout.write(json.dumps(data, indent=1) + "\n")
        return 0
    _print(data)
    return 0


def _print(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    quote = data["quote"]
    console.print(
        f"replayed {data['fills']} fills and {data['marks']} marks under {data['rules']} rules, "
        f"{data['mode']} margin: {len(data['samples'])} samples"
    )
    liq = data["first_liquidation"]
    if liq is None:
        console.print("never liquidated")
    else:
        marks = ", ".join(f"{k} {v}" for k, v in liq["marks"].items())
        console.print(
            f"first liquidation at {liq['time']} (marks {marks}): maintenance equity "
            f"{liq['maintenance_equity']} < requirement {liq['maintenance_margin']} {quote}; "
            f"closing would lose {liq['loss']} {quote}, bad debt {liq['bad_debt']}"
        )
    table = Table(title=f"cross against isolated ({quote})")
    for col in ("mode", "first liquidation", "peak capital locked"):
        table.add_column(col, overflow="fold")
    for mode, row in data["comparison"].items():
        table.add_row(mode, row["first_liquidation"] or "never", row["peak_capital_locked"])
    console.print(table)
    last = data["samples"][-1]
    console.print(
        f"last sample {last['time']}: equity {last['equity']}, maintenance requirement "
        f"{last['maintenance_margin']}, headroom {last['headroom']} {quote}"
    )
    for pos in last["positions"]:
        console.print(
            f"  {pos['symbol']}: size {pos['size']}, mark {pos['mark']}, liquidation price "
            f"{pos['liquidation_price'] or 'none'}"
        )
