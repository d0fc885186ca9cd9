"""Subcommands of the `crossroute` command, one module each.

Each module defines ``add_arguments(parser)`` and ``run(args) -> int``; ``router/cli.py`` holds the
registry of names, modules and one-line helps, and imports only the module of the chosen command.
"""


def version() -> str:
    """The installed distribution's version ("0+unknown" when run from a bare source tree)."""
    from importlib import metadata  # 20 ms: only --version and the backtest manifest ask

    try:
        return metadata.version("crossroute")
    except metadata.PackageNotFoundError:
        return "0+unknown"
