"""The ``crossroute`` command.

Each subcommand lives in its own module under ``router/commands`` (``HELP``, ``add_arguments``,
``run``). Every crossroute error ends the command with one line on stderr and exit status 2;
nothing else is printed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from router.model.errors import CrossrouteError

# subcommand name -> module under router.commands (module names are Python identifiers)
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "route": "route",
    "margin": "margin",
    "execute": "execute",
    "serve-venue": "serve_venue",
    "paper": "paper",
    "backtest": "backtest",
    "stress": "stress",
    "audit": "audit",
}


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, like every other bad request."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"crossroute: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="crossroute", description="Smart order router across exact simulated venues."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"router.commands.{module_name}")
        child = sub.add_parser(name, help=getattr(module, "HELP", None))
        module.add_arguments(child)
        child.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args))
    except CrossrouteError as exc:
        sys.stderr.write(f"crossroute: error: {exc}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
