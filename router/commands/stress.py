"""`crossroute stress --account FILE | --fills FILE [--fills FILE ...] --at TIME --rules RULES
[--collateral ...] [--marks FILE]  [--scenarios FILE] [--config MARKET] [--paths N] [--seed N]
[--json] [--plot PNG]`: stress a portfolio on the simulated venues.

Wiring only: reads the account (the `crossroute margin report` file format, or the book a replay
of the trader's fills held at --at, :func:`router.replay.run.account_at`), the scenarios
(config/examples/stress-scenarios.toml by default) and the market (the embedded default), runs every
named scenario in cross and isolated margin on fresh venues (:mod:`router.stress.engine`), then the
Monte Carlo model when the file has one, and prints a table or one JSON object. Exit 0, or 2 with
one line for a bad request (unknown asset, a shock at or beyond -100%, no scenarios, bad files).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from router.app import DEFAULT_CONFIG
from router.commands import inputs
from router.commands.extras import require
from router.config import load_config
from router.execution.journal import encode_record
from router.margin.quantities import to_decimal
from router.model.errors import ConfigError
from router.replay.run import account_at
from router.stress.engine import (
    Portfolio,
    StressEngine,
    load_portfolio,
    portfolio_from_document,
)
from router.stress.scenarios import MAX_PATHS, StressInputError, load_scenarios

# shipped as package data, a copy of config/examples/stress-scenarios.toml (a test keeps them equal)
DEFAULT_SCENARIOS = DEFAULT_CONFIG.with_name("stress-scenarios.toml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--account", help="account TOML (the `margin report` format); or --fills with --at"
    )
    parser.add_argument(
        "--fills",
        action="append",
        metavar="[VENUE=]FILE",
        help="stress your own book instead: fills files as `margin replay` reads them, repeatable",
    )
    parser.add_argument(
        "--at",
        metavar="TIME",
        help="with --fills: the moment (ISO 8601 UTC) whose book is stressed",
    )
    parser.add_argument(
        "--rules",
        metavar="hyperliquid|dydx|binance|CONFIG",
        help="with --fills: the margin rules of the replay",
    )
    parser.add_argument(
        "--collateral",
        action="append",
        default=[],
        metavar="[VENUE:]ASSET=AMOUNT",
        help="with --fills: starting collateral, repeatable",
    )
    parser.add_argument("--marks", metavar="FILE", help="with --fills: marks CSV time,symbol,price")
    parser.add_argument(
        "--subaccount",
        metavar="ACCOUNT/SUB",
        help="with --fills: the subaccount whose book is stressed when the fills name several",
    )
    parser.add_argument(
        "--scenarios",
        default=str(DEFAULT_SCENARIOS),
        help="scenarios TOML (default: the shipped config/examples/stress-scenarios.toml)",
    )
    parser.add_argument(
        "--config",
        default=str(DEFAULT_CONFIG),
        metavar="MARKET",
        help="market TOML (default: the embedded default market)",
    )
    parser.add_argument("--paths", help="Monte Carlo paths (default: the scenarios file's)")
    parser.add_argument("--seed", default="0", help="Monte Carlo seed")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--plot", metavar="PNG", help="write the cross and isolated loss distributions as a PNG"
    )


def stress_report(args: argparse.Namespace) -> tuple[dict[str, Any], Any, Any]:
    """Run everything the arguments ask for; returns (report dict, scenario pairs, MC result)."""
    paths = None if args.paths is None else inputs.integer_in("--paths", args.paths, 1, MAX_PATHS)
    seed = inputs.integer_in("--seed", args.seed, 0, 2**63 - 1)
    if args.plot:
        inputs.writable_file("--plot", args.plot)
        require("plots", "--plot")
    source, portfolio = _portfolio(args)
    scenarios = load_scenarios(args.scenarios)
    market = load_config(args.config)
    engine = StressEngine(portfolio, market)
    try:
        for scenario in scenarios.scenarios:  # validate all before running any
            engine.validate(scenario)
        pairs = [(engine.run(s, "cross"), engine.run(s, "isolated")) for s in scenarios.scenarios]
        mc = None
        if scenarios.monte_carlo is not None:
            mc = engine.monte_carlo(scenarios.monte_carlo, seed, paths)
    except StressInputError as exc:
        raise ConfigError(args.scenarios, exc.field, exc.value, exc.allowed) from None
    if args.plot and mc is None:
        raise ConfigError(
            args.scenarios, "monte_carlo", None, "a [monte_carlo] table when --plot is given"
        )
    report = {
        "account": source,
        "isolated_extra_capital": to_decimal(portfolio.isolated_extra_units),
        "scenarios": [
            {"name": c.name, "cross": c.to_json_dict(), "isolated": i.to_json_dict()}
            for c, i in pairs
        ],
        "monte_carlo": None if mc is None else mc.to_json_dict(),
    }
    return report, pairs, mc


def _portfolio(args: argparse.Namespace) -> tuple[str, Portfolio]:
    """(its name, the Portfolio): the --account file, or the replayed book at --at."""
    replay_flags = {
        "--at": args.at,
        "--rules": args.rules,
        "--marks": args.marks,
        "--subaccount": args.subaccount,
    }
    if args.collateral:
        replay_flags["--collateral"] = args.collateral[0]
    if args.fills is None:
        if args.account is None:
            raise ConfigError("<command line>", "--account", None, "--account FILE or --fills")
        for flag, value in replay_flags.items():
            if value is not None:
                raise ConfigError("<command line>", flag, value, "only with --fills")
        return str(args.account), load_portfolio(args.account)
    if args.account is not None:
        raise ConfigError("<command line>", "--account", args.account, "not with --fills")
    for flag in ("--at", "--rules"):
        if replay_flags[flag] is None:
            raise ConfigError("<command line>", flag, None, "given with --fills")
    source, doc = account_at(
        args.fills, args.marks, args.rules, args.collateral, args.at, args.subaccount
    )
    return source, portfolio_from_document(source, doc)


def run(args: argparse.Namespace) -> int:
    report, pairs, mc = stress_report(args)
    if args.plot:
        from router.stress.plot import plot_losses

        account = Path(args.account).name if args.account else report["account"]
        title = f"{account}, {Path(args.scenarios).name} [monte_carlo]"
        plot_losses(mc, args.plot, title)
        report["plot"] = str(args.plot)
    if args.json:
        sys.stdout.write(encode_record(report) + "\n")
        return 0
    from router.commands.render import console as new_console
    from router.commands.render import rows_of, show
    from router.stress.plot import scenario_table, tail_table

    console = new_console()
    if pairs:
        show(console, rows_of(scenario_table(pairs)))
        for cross, iso in pairs:
            if len(cross.path) > 1:
                for result in (cross, iso):
                    trail = " -> ".join(f"{s.nav:,.0f}" for s in result.path)
                    console.print(
                        f"  {result.name} ({result.mode}) value by step: {result.nav_start:,.0f} -> {trail}"
                    )
        for cross, _ in pairs:
            for event in cross.liquidations:
                console.print(
                    f"  {cross.name}: step {event.step} (t={event.t_min} min, round {event.cascade_round}) "
                    f"{event.symbol} closed {event.size:f} at {event.mark:f}, fee {event.fee:f}, "
                    f"fund slippage {event.fund_slippage:f}"
                )
    if mc is not None:
        show(console, rows_of(tail_table(mc)))
    if args.plot:
        console.print(f"plot: {args.plot}")
    return 0


__all__ = ["add_arguments", "run", "stress_report"]
