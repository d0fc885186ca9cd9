"""`crossroute margin report --account FILE [--json]`: one subaccount's margin state."""

from __future__ import annotations

import argparse
import json
import sys

MARGIN_FIGURES = (
    "equity",
    "maintenance_equity",
    "initial_margin",
    "maintenance_margin",
    "headroom",
)
EFFICIENCY_FIGURES = ("cross_requirement", "isolated_requirement", "saving")
POSITION_COLUMNS = (
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(
        dest="margin_command", metavar="report", required=True, parser_class=type(parser)
    )
    report = sub.add_parser("report", help="print the margin report of one account file")
    report.add_argument("--account", required=True, help="account TOML file")
    report.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from router.margin.report import report_from_file

    data = report_from_file(args.account)
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return 0
    from router.commands.render import console, show, table

    out = console()
    summary = table(f"margin report: {args.account}", [("figure", False), ("USDC", True)])
    ce = data["capital_efficiency"]
    summary.extend(
        [(key, data[key]) for key in MARGIN_FIGURES]
        + [(key, ce[key]) for key in EFFICIENCY_FIGURES],
    )
    show(out, summary)
    positions = table(
        "positions", [(column, column not in ("symbol", "mode")) for column in POSITION_COLUMNS]
    )
    positions.extend([row[c] for c in POSITION_COLUMNS] for row in data["positions"])
    show(out, positions)
    return 0
