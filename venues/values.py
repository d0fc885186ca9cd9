"""The one grammar for every number a user types: CLI flags, TOML files, HTTP parameters.

A number is ASCII digits with an optional sign and an optional decimal point: ``50``, ``-3``,
``0.25``, ``.5``. Nothing else: no underscores (``1_0``), no exponents (``1e3``), no ``NaN`` or
``Infinity``, no whitespace, no digits of other scripts (``١``), no floats from a parser that
already rounded them. Every field states its bounds (magnitude and decimal places), so a value the
program cannot represent exactly is refused at the edge with the field, the value as given, and
what is allowed, instead of failing deep inside the arithmetic.

It lives in the bottom layer (``venues``) because every layer above reads numbers and none may
define its own grammar. Errors are :class:`ValueInputError` unless the caller passes ``error``,
a factory ``(field, value, allowed) -> Exception`` that adds its own context (a file name).

>>> parse_decimal("qty", "0.25", minimum=0, exclusive_minimum=True)
Decimal('0.25')
>>> parse_decimal("qty", "1e3")
Traceback (most recent call last):
...
venues.values.ValueInputError: qty='1e3' is invalid; allowed: a decimal number such as 50 or 0.25 (ASCII digits, optional sign and point)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from venues.errors import CrossrouteError, InvalidValue

__all__ = [
    "DEFAULT_MAX_INTEGER_DIGITS",
    "DEFAULT_MAX_SCALE",
    "ErrorFactory",
    "ValueInputError",
    "format_decimal",
    "parse_decimal",
    "parse_int",
    "parse_non_negative",
    "parse_positive",
]

# Bounds that hold unless a field asks for tighter ones: 10^24 whole units and 18 decimal places
# cover every token amount (wei) and price crossroute handles, and keep Decimal arithmetic exact
# in a 60-digit context.
DEFAULT_MAX_INTEGER_DIGITS = 24
DEFAULT_MAX_SCALE = 18

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_MAX_TEXT = 64  # longer text is refused before any parsing (and shown cut)

ErrorFactory = Callable[[str, Any, str], Exception]


class ValueInputError(InvalidValue, CrossrouteError):
    """A typed number broke the grammar or its field's bounds; carries field, value, allowed."""


def _shown(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_TEXT:
        return value[:_MAX_TEXT] + f"... ({len(value)} characters)"
    return value


def _grammar_text(kind: str) -> str:
    example = "50 or 0.25" if kind == "a decimal number" else "50"
    return f"{kind} such as {example} (ASCII digits, optional sign and point)"


def _bounds_text(
    kind: str,
    minimum: Decimal | int | None,
    maximum: Decimal | int | None,
    exclusive_minimum: bool,
) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if exclusive_minimum else '>='} {minimum}")
    if maximum is not None:
        parts.append(f"<= {maximum}")
    return f"{kind} {' and '.join(parts)}" if parts else kind


def parse_decimal(
    field: str,
    value: Any,
    *,
    minimum: Decimal | int | str | None = None,
    maximum: Decimal | int | str | None = None,
    exclusive_minimum: bool = False,
    max_scale: int = DEFAULT_MAX_SCALE,
    max_integer_digits: int = DEFAULT_MAX_INTEGER_DIGITS,
    kind: str = "a decimal number",
    error: ErrorFactory | None = None,
) -> Decimal:
    """``value`` (a ``str`` in the grammar, an ``int`` or a ``Decimal``) as an exact ``Decimal``.

    Refused: ``bool`` and ``float`` (a float has already been rounded), text outside the grammar,
    more than ``max_scale`` decimal places, more than ``max_integer_digits`` digits before the
    point, and values outside [minimum, maximum] (``exclusive_minimum``: strictly above minimum).
    The result keeps the digits as typed (``"2.50"`` stays ``Decimal('2.50')``).
    """
    make = error or ValueInputError
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise make(field, _shown(value), _grammar_text(kind))
    if isinstance(value, str):
        if len(value) > _MAX_TEXT or not _NUMBER.fullmatch(value):
            raise make(field, _shown(value), _grammar_text(kind))
        number = Decimal(value)
    elif isinstance(value, int):
        number = Decimal(value)
    else:
        if not value.is_finite():
            raise make(field, value, _grammar_text(kind))
        number = value
    _sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite by construction
    scale = max(0, -exponent)
    integer_digits = len(digits) + exponent if number else 0
    if scale > max_scale:
        raise make(field, _shown(value), f"{kind} with at most {max_scale} decimal places")
    if integer_digits > max_integer_digits:
        raise make(field, _shown(value), f"{kind} below 10^{max_integer_digits}")
    low = None if minimum is None else Decimal(minimum)
    high = None if maximum is None else Decimal(maximum)
    if (low is not None and (number < low or (exclusive_minimum and number == low))) or (
        high is not None and number > high
    ):
        raise make(field, _shown(value), _bounds_text(kind, low, high, exclusive_minimum))
    return number


def parse_positive(field: str, value: Any, **bounds: Any) -> Decimal:
    """A decimal number > 0 (``qty``, ``price``): see :func:`parse_decimal` for the bounds."""
    bounds.setdefault("kind", "a positive decimal number")
    return parse_decimal(field, value, minimum=0, exclusive_minimum=True, **bounds)


def parse_non_negative(field: str, value: Any, **bounds: Any) -> Decimal:
    """A decimal number >= 0 (``leg_cost``, a fee): see :func:`parse_decimal`."""
    bounds.setdefault("kind", "a non-negative decimal number")
    return parse_decimal(field, value, minimum=0, **bounds)


def parse_int(
    field: str,
    value: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    error: ErrorFactory | None = None,
) -> int:
    """An integer from an ``int`` (not ``bool``) or ASCII-digit text, within [minimum, maximum]."""
    make = error or ValueInputError
    kind = "an integer"
    if isinstance(value, str) and len(value) <= _MAX_TEXT and _INTEGER.fullmatch(value):
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise make(
            field,
            _shown(value),
            _grammar_text(kind).replace("optional sign and point", "optional sign"),
        )
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise make(field, _shown(value), _bounds_text(kind, minimum, maximum, False))
    return number


def format_decimal(value: Decimal) -> str:
    """``value`` as plain positional text (never an exponent): ``Decimal('1E+3')`` -> ``'1000'``."""
    if not value.is_finite():
        raise ValueInputError("value", value, "a finite decimal number")
    return format(value, "f")
