"""Subcommands of the `crossroute` command, one module each.

Each module defines ``add_arguments(parser)`` and ``run(args) -> int``; ``router/cli.py`` holds the
registry of names, modules and one-line helps, and imports only the module of the chosen command.
"""
