"""Fixed-quantum exact quantities of the margin ledger, and their parsing at the edge.

Every amount, size and price in the ledger is a Python ``int`` counting quanta of 1e-8
(``SCALE`` = 10**8) of its unit: balances in 1e-8 of the asset, prices in 1e-8 quote per base,
sizes in 1e-8 base. Products of two such numbers are exact in 1e-16 and are rounded back to 1e-8
against the account (requirements and costs up, values, PnL and equity down). ``Decimal`` is
used only at the edges: inputs go through :func:`parse_units` (which refuses float, bool, NaN,
infinities and anything finer than the quantum), outputs through :func:`to_decimal`.
"""

from __future__ import annotations

from decimal import Context, Decimal, InvalidOperation
from typing import Any

from router.margin.errors import MarginInputError

SCALE = 10**8  # ledger units per whole unit (1e-8 quantum)
QUANTUM = Decimal("1e-8")
CENT_UNITS = SCALE // 100  # printed liquidation prices are on the cent grid
WEIGHT_SCALE = 10**6  # collateral weights in parts per million
RATE_SCALE = 10**12  # funding rates in 1e-12 per interval
INDEX_SCALE = SCALE * RATE_SCALE  # funding index: 1e-20 quote per base (price_units * rate_units)
BPS = 10_000
# exact edge conversions regardless of the caller's decimal context (default precision is 28)
_EXACT = Context(prec=200)


def ceil_div(numerator: int, denominator: int) -> int:
    """Exact ceiling of numerator / denominator for ints (denominator > 0). O(1)."""
    return -((-numerator) // denominator)


def floor_div(numerator: int, denominator: int) -> int:
    """Exact floor of numerator / denominator for ints (denominator > 0). O(1)."""
    return numerator // denominator


def _as_decimal(field: str, value: Any, allowed: str) -> Decimal:
    # float is refused outright: Decimal(0.1) is not 0.1, and no float may enter the ledger.
    if isinstance(value, (bool, float)):
        raise MarginInputError(field, value, allowed)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise MarginInputError(field, value, allowed) from None
    else:
        raise MarginInputError(field, value, allowed)
    if not result.is_finite():
        raise MarginInputError(field, value, allowed)
    return result


def parse_units(
    field: str,
    value: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    positive: bool = False,
    scale: int = SCALE,
) -> int:
    """Parse a decimal string, ``int`` or ``Decimal`` into integer quanta of 1/``scale``.

    Refuses float, bool, NaN, infinities, values finer than the quantum (no silent rounding of
    an input) and values outside [minimum, maximum] (in quanta) or not > 0 when ``positive``.
    Raises :class:`MarginInputError` naming ``field``. O(digits).
    """
    quantum_text = f"1/{scale}" if scale != SCALE else "1e-8"
    allowed = (
        "a finite decimal (string, int or Decimal; not float) on the " + quantum_text + " grid"
    )
    if positive:
        allowed += ", > 0"
    elif minimum == 0:
        allowed += ", >= 0"
    number = _as_decimal(field, value, allowed)
    scaled = _EXACT.multiply(number, Decimal(scale))
    if scaled != scaled.to_integral_value():
        raise MarginInputError(field, value, allowed)
    units = int(scaled)
    if positive and units <= 0:
        raise MarginInputError(field, value, allowed)
    if (minimum is not None and units < minimum) or (maximum is not None and units > maximum):
        raise MarginInputError(field, value, allowed)
    return units


def parse_int(field: str, value: Any, *, minimum: int, maximum: int | None = None) -> int:
    """Parse a plain integer (int, or an integral decimal string / Decimal) within bounds."""
    allowed = f"an integer >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
    number = _as_decimal(field, value, allowed)
    if number != number.to_integral_value():
        raise MarginInputError(field, value, allowed)
    result = int(number)
    if result < minimum or (maximum is not None and result > maximum):
        raise MarginInputError(field, value, allowed)
    return result


def parse_name(field: str, value: Any) -> str:
    """A non-empty identifier string (asset, symbol, subaccount)."""
    if not isinstance(value, str) or not value or value != value.strip():
        raise MarginInputError(field, value, "a non-empty string without surrounding spaces")
    return value


def to_text(units: int, scale: int = SCALE) -> str:
    """Decimal string of ``units`` quanta: fixed 8 places for ledger units. Exact, O(digits)."""
    if scale != SCALE:
        return str(_EXACT.divide(Decimal(units), Decimal(scale)))
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), SCALE)
    return f"{sign}{whole}.{frac:08d}"


def to_decimal(units: int, scale: int = SCALE) -> Decimal:
    """Exact Decimal of ``units`` quanta (units / scale), with 8 places for ledger units."""
    return Decimal(to_text(units, scale))


def cents_text(price_units: int) -> str:
    """A price already on the cent grid as a 2-place decimal string."""
    return str(
        _EXACT.divide(Decimal(price_units), Decimal(SCALE)).quantize(
            Decimal("0.01"), context=_EXACT
        )
    )
