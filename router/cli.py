"""The ``crossroute`` command.

Each subcommand lives in its own module under ``router/commands`` (``HELP``, ``add_arguments``,
``run``). Only the chosen subcommand's module is imported, so ``crossroute route`` never loads
the web server, ccxt or the plotting stack. Every crossroute error, and every file the command
cannot read or write, ends the command with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from router.commands import version
from router.model.errors import CrossrouteError

# subcommand name -> (module under router.commands, its one-line help). The help lines live here,
# not in the modules, so that `crossroute --help` lists every command without importing any.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "show the default market, route a sample buy and sell, run a basis trade"),
    "route": ("route", "plan one order across the venues of a market (exact legs, bps saved)"),
    "margin": ("margin", "margin report of an account file: equity, headroom, liquidation prices"),
    "execute": ("execute", "run a hedged multi-leg order (TOML) with margin checks per leg"),
    "serve-venue": ("serve_venue", "serve the config's venues over a Binance-compatible REST API"),
    "paper": ("paper", "paper trading service (HTTP API, web page); order/status talk to one"),
    "backtest": (
        "backtest",
        "replay real market data through the router; implementation shortfall",
    ),
    "stress": (
        "stress",
        "stress a portfolio: shocks, paths, Monte Carlo, cross vs isolated margin",
    ),
    "audit": ("audit", "verify a decision journal: hash chain and a replay of every decision"),
}


class DefaultsFormatter(argparse.HelpFormatter):
    """Help that states every option's default, unless the help text already says it or there
    is none to state (a flag that is off, an option that is unset unless given)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default in (None, False, argparse.SUPPRESS)
            or not action.option_strings
        ):
            return text
        shown = ",".join(map(str, default)) if isinstance(default, list) else default
        return f"{text} (default: {shown})".replace("%", "%%")


class _Version(argparse.Action):
    """``--version``: print it and exit 0 (reads the distribution's metadata only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        sys.stdout.write(f"crossroute {version()}\n")
        parser.exit(0)


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, like every other bad request, and shows defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"crossroute: error: {message}\n")
        raise SystemExit(2)


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name:<{width}}  {text}" for name, (_module, text) in COMMANDS.items()]
    return "commands:\n" + "\n".join(lines) + "\n\n'crossroute COMMAND --help' describes one."


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (its options are added), or none."""
    parser = Parser(
        prog="crossroute",
        usage="crossroute [-h] [--version] COMMAND [options]",
        description="Smart order router across exact simulated venues.",
        epilog=_usage(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    # the epilog lists the commands on one line each; argparse's own list would wrap them
    sub = parser.add_subparsers(
        dest="command",
        metavar="COMMAND",
        parser_class=Parser,
        help=argparse.SUPPRESS,
        prog="crossroute",
    )
    for name, (module_name, text) in COMMANDS.items():
        child = sub.add_parser(name, description=text)
        if name == command:
            module = importlib.import_module(f"router.commands.{module_name}")
            module.add_arguments(child)
            child.set_defaults(_run=module.run)
    return parser


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first argument not starting with '-'), if known."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_chosen(argv))
    if not argv:
        parser.print_help()
        return 2
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.error(f"a command is required: one of {', '.join(COMMANDS)}")
    try:
        return int(args._run(args))
    except CrossrouteError as exc:
        sys.stderr.write(f"crossroute: error: {exc}\n")
        return 2
    except OSError as exc:  # a file named on the command line cannot be read or written
        where = f": {exc.filename}" if exc.filename else ""
        sys.stderr.write(f"crossroute: error: {exc.strerror or exc.__class__.__name__}{where}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
