"""Fixed-quantum exact quantities of the margin ledger, and their parsing at the edge.

Every amount, size and price in the ledger is a Python ``int`` counting quanta of 1e-18
(``SCALE`` = 10**18) of its unit: balances in 1e-18 of the asset, prices in 1e-18 quote per base,
sizes in 1e-18 base. 1e-18 is the venues' grain (an ERC-20 wei of an 18-decimal token such as
ETH), so every fill a venue can produce is booked exactly: the ledger's holdings equal the venue's
to the wei. Products of two such numbers are exact in 1e-36 (``SCALE**2``; the names ``cost16``,
``n16`` and ``notional16`` of the modules that use them date from the 1e-8 grid) and are rounded
back to 1e-18 against the account (requirements and costs up, values, PnL and equity down). ``Decimal`` is
used only at the edges: inputs go through :func:`parse_units`, which applies the one number grammar
of :mod:`venues.values` (refusing float, bool, NaN, infinities, exponents, underscores) and refuses
anything finer than the quantum; outputs go through :func:`to_decimal`.
"""

from __future__ import annotations

from decimal import Context, Decimal
from typing import Any

from router.margin.errors import MarginInputError
from venues import values
from venues.values import parse_decimal

SCALE = 10**18  # ledger units per whole unit (1e-18 quantum: the wei of an 18-decimal token)
QUANTUM = Decimal("1e-18")
# Text of ledger units shows at least this many places (the 1e-8 display precision of the
# reports) and more only when the value has them, so a value on the 1e-8 grid prints as before.
MIN_PLACES = 8
DISPLAY_UNITS = SCALE // 10**MIN_PLACES  # ledger units per step of the 1e-8 display grid
CENT_UNITS = SCALE // 100  # printed liquidation prices are on the cent grid
WEIGHT_SCALE = 10**6  # collateral weights in parts per million
RATE_SCALE = 10**12  # funding rates in 1e-12 per interval
INDEX_SCALE = SCALE * RATE_SCALE  # funding index: 1e-30 quote per base (price_units * rate_units)
BPS = 10_000
# no ledger amount reaches 10^24 whole units: larger inputs are refused at the edge
MAX_INTEGER_DIGITS = 24
# exact edge conversions regardless of the caller's decimal context (default precision is 28)
_EXACT = Context(prec=200)


def ceil_div(numerator: int, denominator: int) -> int:
    """Exact ceiling of numerator / denominator for ints (denominator > 0). O(1)."""
    return -((-numerator) // denominator)


def floor_div(numerator: int, denominator: int) -> int:
    """Exact floor of numerator / denominator for ints (denominator > 0). O(1)."""
    return numerator // denominator


def _margin_error(field: str, value: Any, allowed: str) -> MarginInputError:
    return MarginInputError(field, value, allowed)


def _places(scale: int) -> int:
    """Decimal places of a power-of-ten scale (10**8 -> 8)."""
    places = len(str(scale)) - 1
    if scale != 10**places:
        raise ValueError(f"scale {scale} is not a power of ten")
    return places


def parse_units(
    field: str,
    value: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    positive: bool = False,
    scale: int = SCALE,
) -> int:
    """Parse a decimal (text in the one grammar of :mod:`venues.values`, ``int`` or ``Decimal``)
    into integer quanta of 1/``scale``.

    Refuses float, bool, NaN, infinities, exponents and underscores (the grammar), values finer
    than the quantum (no silent rounding of an input) and values outside [minimum, maximum] (in
    quanta) or not > 0 when ``positive``. Raises :class:`MarginInputError` naming ``field``.
    A ``Decimal`` computed by a caller may carry trailing zeros beyond the quantum; they are not
    digits of the value, so they are dropped before the places are counted. O(digits).
    """
    if isinstance(value, Decimal) and value.is_finite():
        value = value.normalize(_EXACT)
    number = parse_decimal(
        field,
        value,
        minimum=0 if positive else None,
        exclusive_minimum=positive,
        max_scale=_places(scale),
        max_integer_digits=MAX_INTEGER_DIGITS,
        error=_margin_error,
    )
    units = int(_EXACT.multiply(number, Decimal(scale)))
    if (minimum is not None and units < minimum) or (maximum is not None and units > maximum):
        low = None if minimum is None else to_text(minimum, scale)
        high = None if maximum is None else to_text(maximum, scale)
        bounds = " and ".join(
            part
            for part in (
                None if low is None else f">= {low}",
                None if high is None else f"<= {high}",
            )
            if part
        )
        raise MarginInputError(field, value, f"a decimal number {bounds}")
    return units


def parse_int(field: str, value: Any, *, minimum: int, maximum: int | None = None) -> int:
    """A plain integer (``int`` or ASCII-digit text) within bounds: :func:`venues.values.parse_int`
    with the margin core's error type."""
    return values.parse_int(field, value, minimum=minimum, maximum=maximum, error=_margin_error)


def parse_name(field: str, value: Any) -> str:
    """A non-empty identifier string (asset, symbol, subaccount)."""
    if not isinstance(value, str) or not value or value != value.strip():
        raise MarginInputError(field, value, "a non-empty string without surrounding spaces")
    return value


PLACES = _places(SCALE)  # decimal places of a ledger unit (18)


def to_text(units: int, scale: int = SCALE) -> str:
    """Decimal string of ``units`` quanta. Exact, O(digits). Ledger units show ``MIN_PLACES``
    places, and up to 18 when the value is finer (trailing zeros past the eighth place dropped):
    ``10.03696680`` prints as before, a wei-exact ``10.036966805`` as itself."""
    if scale != SCALE:
        return str(_EXACT.divide(Decimal(units), Decimal(scale)))
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), SCALE)
    digits = f"{frac:0{PLACES}d}"
    return f"{sign}{whole}.{digits[:MIN_PLACES]}{digits[MIN_PLACES:].rstrip('0')}"


def to_decimal(units: int, scale: int = SCALE) -> Decimal:
    """Exact Decimal of ``units`` quanta (units / scale); ledger units as :func:`to_text`."""
    return Decimal(to_text(units, scale))


def cents_text(price_units: int) -> str:
    """A price already on the cent grid as a 2-place decimal string."""
    return str(
        _EXACT.divide(Decimal(price_units), Decimal(SCALE)).quantize(
            Decimal("0.01"), context=_EXACT
        )
    )
