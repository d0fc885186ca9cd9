"""TOML I/O: the one place every crossroute TOML file (market, order, account, scenarios,
backtest) is read and parsed. Validation is :mod:`router.config.schema`'s job."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from router.model.errors import ConfigError

# The ConfigError keys of an unreadable / unparsable file.
FILE_KEY = "(file)"
SYNTAX_KEY = "(syntax)"


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read and parse one TOML file.

    Raises ConfigError(file, "(file)", path, "a readable UTF-8 TOML file (reason)") when the
    file cannot be read or is not UTF-8, and ConfigError(file, "(syntax)", parser message,
    "valid TOML") when it does not parse. O(file size).
    """
    return parse_toml(read_text(path), str(path))


def parse_toml(text: str, file: str = "<string>") -> dict[str, Any]:
    """Parse TOML text; ``file`` names it in the ConfigError(file, "(syntax)", ...) of a bad one."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, SYNTAX_KEY, str(exc), "valid TOML") from None


def read_text(path: Any) -> str:
    """The UTF-8 text of ``path``; ConfigError(file, "(file)", ...) when it cannot be read."""
    if not isinstance(path, (str, Path)):
        raise ConfigError(str(path), FILE_KEY, path, "the path of a TOML file (str or Path)")
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise ConfigError(
            str(path), FILE_KEY, str(path), f"a readable UTF-8 TOML file ({reason})"
        ) from None
