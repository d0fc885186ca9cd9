"""`crossroute stress --account FILE [--scenarios FILE] [--config MARKET] [--paths N] [--seed N]
[--json] [--plot PNG]`: stress a portfolio on the simulated venues.

Wiring only: reads the account (the `crossroute margin report` file format), the scenarios
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
from router.stress.engine import StressEngine, load_portfolio
from router.stress.scenarios import MAX_PATHS, StressInputError, load_scenarios

# shipped as package data, a copy of config/examples/stress-scenarios.toml (a test keeps them equal)
DEFAULT_SCENARIOS = DEFAULT_CONFIG.with_name("stress-scenarios.toml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--account", required=True, help="account TOML (the `margin report` format)"
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
    portfolio = load_portfolio(args.account)
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
        "account": str(args.account),
        "isolated_extra_capital": to_decimal(portfolio.isolated_extra_units),
        "scenarios": [
            {"name": c.name, "cross": c.to_json_dict(), "isolated": i.to_json_dict()}
            for c, i in pairs
        ],
        "monte_carlo": None if mc is None else mc.to_json_dict(),
    }
    return report, pairs, mc


def run(args: argparse.Namespace) -> int:
    report, pairs, mc = stress_report(args)
    if args.plot:
        from router.stress.plot import plot_losses

        title = f"{Path(args.account).name}, {Path(args.scenarios).name} [monte_carlo]"
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
