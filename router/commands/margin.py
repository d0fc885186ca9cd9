"""`crossroute margin report --account FILE [--json]`: one subaccount's margin state."""

from __future__ import annotations

import argparse
import json
import sys

from router.commands import margin_replay

HELP = "margin report of an account file: equity, requirements, headroom, liquidation prices"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="margin_command", required=True)
    report = sub.add_parser("report", help="print the margin report of one account file")
    report.add_argument("--account", required=True, help="account TOML file")
    report.add_argument("--json", action="store_true", help="print one JSON object")
    replay = sub.add_parser("replay", help=margin_replay.HELP)
    margin_replay.add_arguments(replay)


def run(args: argparse.Namespace) -> int:
    if args.margin_command == "replay":
        return margin_replay.run(args)
    from router.margin.report import report_from_file

    data = report_from_file(args.account)
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    probe = Console()
    # never truncate a figure a risk desk will check by hand: at least 140 columns
    console = Console(width=max(probe.width, 140))
    summary = Table(title=f"margin report: {args.account}")
    summary.add_column("figure")
    summary.add_column("USDC", justify="right")
    for key in ("equity", "maintenance_equity", "initial_margin", "maintenance_margin", "headroom"):
        summary.add_row(key, data[key])
    ce = data["capital_efficiency"]
    for key in ("cross_requirement", "isolated_requirement", "saving"):
        summary.add_row(key, ce[key])
    console.print(summary)
    positions = Table(title="positions")
    for col in (
        "symbol",
        "mode",
        "size",
        "entry",
        "mark",
        "notional",
        "initial_margin",
        "maintenance_margin",
        "liquidation_price",
    ):
        positions.add_column(
            col, justify="left" if col in ("symbol", "mode") else "right", overflow="fold"
        )
    for row in data["positions"]:
        positions.add_row(
            *(
                row[c] if row[c] is not None else "-"
                for c in (
                    "symbol",
                    "mode",
                    "size",
                    "entry",
                    "mark",
                    "notional",
                    "initial_margin",
                    "maintenance_margin",
                    "liquidation_price",
                )
            )
        )
    console.print(positions)
    return 0
