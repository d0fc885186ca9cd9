"""`crossroute margin report|port|transfer`: one subaccount's margin state, and moving a position
or collateral from an account file's subaccount to a new one.

- ``report --account FILE [--json]``, or ``report --state STATE [--sub NAME] [--json]``;
- ``port --account FILE --symbol S --size X [--to NAME] [--fund ASSET=AMOUNT ...] [--at-mark]``:
  port X of the file's cross position S into a new subaccount (funded with ``--fund`` first),
  keeping the entry price (``--at-mark``: as a trade at the mark, realising PnL);
- ``transfer --account FILE --asset A --amount X [--to NAME] [--fund ...]``: move collateral.

With ``--state STATE`` (router/commands/margin_state.py) the subaccounts persist: the first
command starts STATE from ``--account``, later ones read it (``--account`` then optional),
``--from NAME`` picks the source subaccount (default main), ``--to`` an existing subaccount or a
new one, and the file is rewritten atomically after a successful move only.

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
    report.add_argument("--account", help="account TOML file (required without --state)")
    report.add_argument("--state", help="margin state file written by port/transfer --state")
    report.add_argument("--sub", help="with --state: one subaccount (default: every one)")
    report.add_argument(
        "--rules",
        metavar="hyperliquid|dydx|binance|CONFIG",
        help="with --account: positions without a rule set take their market's rules "
        "(oracle, rule set, funding terms) from this market config's [margin.markets]",
    )
    report.add_argument("--json", action="store_true", help="print one JSON object")
    for name, what in (("port", "a position"), ("transfer", "collateral")):
        move = sub.add_parser(name, help=f"move {what} into a new subaccount, print both reports")
        move.add_argument(
            "--account", help="account TOML file (required unless --state FILE exists)"
        )
        move.add_argument(
            "--state", help="margin state file: read if it exists, written atomically after"
        )
        move.add_argument("--from", dest="source", default="main", help="source subaccount")
        move.add_argument("--to", default="port", help="the destination subaccount (default port)")
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
    """Run ``port`` or ``transfer`` on the state (or a ledger read from the account file); both
    subaccounts' reports. Nothing is written unless the move succeeded."""
    from router.commands.margin_state import open_state
    from router.margin.errors import MarginInputError
    from router.margin.report import margin_report
    from router.model.errors import ConfigError

    state = open_state(args.state, args.account)
    where = args.state or args.account
    flag = "--from"
    try:
        if not state.has(args.source):
            raise MarginInputError("from", args.source, f"a subaccount among: {state.names()}")
        flag = "--to"
        if args.to == args.source:
            raise MarginInputError("to", args.to, "a subaccount other than --from")
        if not state.has(args.to):
            state.apply({"op": "open", "name": args.to})
        for item in args.fund:
            flag = "--fund"
            asset, sep, amount = item.partition("=")
            if not sep:
                raise MarginInputError("fund", item, "ASSET=AMOUNT")
            state.apply({"op": "fund", "name": args.to, "asset": asset, "amount": amount})
        move: dict[str, object] = {"from": args.source, "to": args.to}
        if args.margin_command == "port":
            flag = "--size"
            move |= {"op": "port", "symbol": args.symbol, "size": args.size}
            move["at_mark"] = bool(args.at_mark)
        else:
            flag = "--amount"
            move |= {"op": "transfer", "asset": args.asset, "amount": args.amount}
        state.apply(move)
    except MarginInputError as exc:
        raise ConfigError(where, f"{flag} ({exc.field})", exc.value, exc.allowed) from None
    state.ledger._check()
    if args.state:
        state.save()
    return {
        "source": margin_report(state.ledger, state.sub_id(args.source)),
        "destination": margin_report(state.ledger, state.sub_id(args.to)),
    }


def _state_report(args: argparse.Namespace) -> dict[str, object]:
    """Every subaccount of the state (or the one ``--sub`` names), by name."""
    from router.commands.margin_state import open_state
    from router.margin.report import margin_report
    from router.model.errors import ConfigError

    state = open_state(args.state, args.account if args.account else None)
    names = state.names()
    if args.sub is not None and args.sub not in names:
        raise ConfigError(args.state, "--sub", args.sub, f"a subaccount among: {names}")
    chosen = names if args.sub is None else [args.sub]
    return {
        "subaccounts": {n: margin_report(state.ledger, state.sub_id(n)) for n in chosen},
        "operations": len(state.operations),
    }


def _rules(rules: str) -> dict[str, dict[str, object]]:
    """``--rules``: a preset (config/venues/NAME.toml) or a market config; its markets' rules
    under the account file's position keys, by market name."""
    from router.config import load_config
    from router.model.errors import ConfigError
    from router.replay.account import position_rules
    from router.replay.run import rules_file

    path = rules_file(rules)
    margin = load_config(path).margin
    if margin is None or not margin.markets:
        raise ConfigError(path, "margin.markets", None, "a [margin.markets] table with the rules")
    return {spec.name: position_rules(spec) for spec in margin.markets}


def run(args: argparse.Namespace) -> int:
    if args.margin_command == "replay":
        return margin_replay.run(args)
    from router.margin.report import report_from_file

    if args.margin_command in ("port", "transfer"):
        moved = _move(args)
        sys.stdout.write(json.dumps(moved, indent=2) + "\n")
        return 0
    if args.state is not None:
        if args.rules is not None:
            from router.model.errors import ConfigError

            raise ConfigError("-", "--rules", args.rules, "only with --account")
        sys.stdout.write(json.dumps(_state_report(args), indent=2) + "\n")
        return 0
    if args.account is None:
        from router.model.errors import ConfigError

        raise ConfigError("-", "--account", None, "an account TOML file, or --state FILE")
    data = report_from_file(args.account, None if args.rules is None else _rules(args.rules))
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return 0
    from router.commands.render import console, show, table

    out = console()
    summary = table(f"margin report: {args.account}", [("figure", False), (data["quote"], True)])
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
