"""Request parameters as Binance reads them: query and body pairs, numbers, symbols, enums.

Numbers go through ``venues/values.py`` (the one grammar for typed numbers); a value that breaks
it is Binance's -1100 "Illegal characters" with the field, the value as sent and what is allowed.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from router.server.errors import (
    ILLEGAL_CHARS,
    TOO_MANY_PARAMETERS,
    BinanceError,
    illegal,
    raw_param,
)
from venues.values import parse_decimal, parse_int

_CLIENT_ID = re.compile(r"[.A-Za-z0-9:/_-]{1,36}")
_SYMBOL = re.compile(r"[A-Z0-9]{2,32}")
# Request quantities and prices: at most 20 decimals and 20 integer digits, as the old parser.
_MAX_SCALE = 20
_MAX_INTEGER_DIGITS = 20


def _illegal(field: str, value: Any, allowed: str) -> BinanceError:
    return illegal(field, value, allowed)


def parse_params(raw: str, max_params: int) -> dict[str, str]:
    """``a=1&b=2`` as a dict; -1100 bad encoding, -1101 too many or duplicated parameters."""
    if not raw:
        return {}
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BinanceError(
            ILLEGAL_CHARS, "Illegal characters found in the request parameters."
        ) from None
    if len(pairs) > max_params:
        raise BinanceError(TOO_MANY_PARAMETERS, f"Too many parameters; at most {max_params}.")
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise BinanceError(
                TOO_MANY_PARAMETERS, "Duplicate values for a parameter detected.", field=name[:64]
            )
        params[name] = value
    return params


def required(params: dict[str, str], name: str) -> str:
    """The raw text of a mandatory parameter; -1102 when absent or empty."""
    return raw_param(params, name, required=True)  # type: ignore[return-value]


def decimal(params: dict[str, str], name: str, *, required: bool = True) -> Decimal | None:
    """A non-negative decimal parameter (quantity, price) exactly as sent; -1100 otherwise."""
    raw = raw_param(params, name, required=required)
    if raw is None:
        return None
    if raw.startswith(("+", "-")):  # Binance sends unsigned numbers; a sign is a typo here
        raise illegal(name, raw, "an unsigned decimal number such as 1.25")
    return parse_decimal(
        name,
        raw,
        minimum=0,
        max_scale=_MAX_SCALE,
        max_integer_digits=_MAX_INTEGER_DIGITS,
        kind="an unsigned decimal number such as 1.25",
        error=_illegal,
    )


def integer(
    params: dict[str, str],
    name: str,
    *,
    default: int | None = None,
    minimum: int = 0,
    maximum: int = 2**63 - 1,
) -> int | None:
    """An integer parameter in [minimum, maximum], ``default`` when absent; -1100 otherwise."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if raw.startswith(("+", "-")) and minimum >= 0:
        raise illegal(name, raw, f"an integer in [{minimum}, {maximum}]")
    return parse_int(name, raw, minimum=minimum, maximum=maximum, error=_illegal)


def symbol(params: dict[str, str], *, required: bool = True) -> str | None:
    """The ``symbol`` parameter: upper-case letters and digits; -1100 otherwise."""
    raw = raw_param(params, "symbol", required=required)
    if raw is None:
        return None
    if not _SYMBOL.fullmatch(raw):
        raise illegal("symbol", raw, "an upper-case symbol such as ETHUSDC")
    return raw


def symbols_list(params: dict[str, str]) -> list[str] | None:
    """The ``symbols`` parameter, a JSON list of symbols (``["ETHUSDC","BTCUSDC"]``)."""
    raw = params.get("symbols")
    if not raw:
        return None
    try:
        names = json.loads(raw)
    except ValueError:
        raise illegal("symbols", raw, 'a JSON list such as ["ETHUSDC"]') from None
    if not isinstance(names, list) or not all(
        isinstance(n, str) and _SYMBOL.fullmatch(n) for n in names
    ):
        raise illegal("symbols", raw, 'a JSON list such as ["ETHUSDC"]')
    return names


def client_id(params: dict[str, str], name: str) -> str | None:
    """A client order id: 1-36 characters of ``[.A-Za-z0-9:/_-]``."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not _CLIENT_ID.fullmatch(raw):
        raise illegal(name, raw, "1-36 characters of [.A-Za-z0-9:/_-]")
    return raw


def boolean(params: dict[str, str], name: str) -> bool:
    """``true`` / ``false`` (any case, as Binance accepts); absent is false."""
    raw = params.get(name)
    if raw is None or raw == "":
        return False
    if raw.lower() not in ("true", "false"):
        raise illegal(name, raw, "true or false")
    return raw.lower() == "true"


def choice(params: dict[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    """One of ``allowed`` (exact case), ``default`` when absent; -1100 otherwise."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if raw not in allowed:
        raise illegal(name, raw, " | ".join(allowed))
    return raw
