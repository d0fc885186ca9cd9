"""`crossroute margin report|port|transfer`: one subaccount's margin state, and moving a position
or collateral from an account file's subaccount to a new one.

- ``report --account FILE [--json]``
- ``port --account FILE --symbol S --size X [--to NAME] [--fund ASSET=AMOUNT ...] [--at-mark]``:
  port X of the file's cross position S into a new subaccount (funded with ``--fund`` first),
  keeping the entry price (``--at-mark``: as a trade at the mark, realising PnL);
- ``transfer --account FILE --asset A --amount X [--to NAME] [--fund ...]``: move collateral.

Both sides must keep headroom >= 0 (the margin core's rule) or nothing moves and the command
exits 2 with one line; the output is both subaccounts' reports (``source``, ``destination``).
"""

from __future__ import annotations

import argparse
import json
import sys

from router.commands import margin_replay

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
        dest="margin_command",
        metavar="report|port|transfer|replay",
        required=True,
        parser_class=type(parser),
    )
    report = sub.add_parser("report", help="print the margin report of one account file")
    report.add_argument("--account", required=True, help="account TOML file")
    report.add_argument("--json", action="store_true", help="print one JSON object")
    for name, what in (("port", "a position"), ("transfer", "collateral")):
        move = sub.add_parser(name, help=f"move {what} into a new subaccount, print both reports")
        move.add_argument("--account", required=True, help="account TOML file (the source)")
        move.add_argument("--to", default="port", help="the new subaccount's name (default port)")
        move.add_argument(
            "--fund",
            action="append",
            default=[],
            metavar="ASSET=AMOUNT",
            help="deposit into the new subaccount first (repeatable)",
        )
        if name == "port":
            move.add_argument("--symbol", required=True, help="perp market of the position")
            move.add_argument("--size", required=True, help="base units to port (> 0)")
            move.add_argument(
                "--at-mark", action="store_true", help="trade at the mark instead of keeping entry"
            )
        else:
            move.add_argument("--asset", required=True, help="collateral asset")
            move.add_argument("--amount", required=True, help="amount to move (> 0)")
        move.add_argument("--json", action="store_true", help="print one JSON object")
    replay = sub.add_parser("replay", help=margin_replay.HELP)
    margin_replay.add_arguments(replay)


def _move(args: argparse.Namespace) -> dict[str, object]:
    """Run ``port`` or ``transfer`` on a ledger read from the account file; both reports."""
    from router.margin.errors import MarginInputError
    from router.margin.report import load_account, margin_report
    from router.model.errors import ConfigError

    ledger, source = load_account(args.account)
    flag = "--to"
    try:
        destination = ledger.open_subaccount("file", args.to)
        for item in args.fund:
            flag = "--fund"
            asset, sep, amount = item.partition("=")
            if not sep:
                raise MarginInputError("fund", item, "ASSET=AMOUNT")
            ledger.deposit(destination, asset, amount)
        if args.margin_command == "port":
            flag = "--size"
            ledger.port_position(source, destination, args.symbol, args.size, at_mark=args.at_mark)
        else:
            flag = "--amount"
            ledger.transfer_collateral(source, destination, args.asset, args.amount)
    except MarginInputError as exc:
        raise ConfigError(args.account, f"{flag} ({exc.field})", exc.value, exc.allowed) from None
    ledger._check()
    return {
        "source": margin_report(ledger, source),
        "destination": margin_report(ledger, destination),
    }


def run(args: argparse.Namespace) -> int:
    if args.margin_command == "replay":
        return margin_replay.run(args)
    from router.margin.report import report_from_file

    if args.margin_command in ("port", "transfer"):
        moved = _move(args)
        sys.stdout.write(json.dumps(moved, indent=2) + "\n")
        return 0
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
