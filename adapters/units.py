"""Exact conversions between whole-unit ``Decimal`` amounts and venue integers, and argument checks.

Every adapter speaks ``Decimal`` in whole units to the router and Python ``int`` to its venue.
Conversions here never go through ``float`` and never lose a digit silently: a quantity off the
venue's grid is an error, and a quote amount is rounded to the quote asset's decimals only in the
direction that is against the trader (a buyer pays rounded up, a seller receives rounded down).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from fractions import Fraction
from typing import Any, Generic, TypeVar

from router.model.errors import RouteError
from router.model.orders import SIDES, LegFill, LegOrder, LegQuote

# Wide enough for any uint256 amount with 36 decimals: conversions below are exact, never rounded
# by the ambient 28-digit context.
_EXACT = Context(prec=120)


def invalid(field: str, value: Any, allowed: str, venue: str | None = None) -> RouteError:
    """A RouteError that names the field, the value given and what is allowed."""
    where = f"{venue}: " if venue else ""
    return RouteError(
        f"{where}{field}={value!r} is invalid; allowed: {allowed}",
        field=field,
        value=value,
        allowed=allowed,
        venue=venue,
    )


def check_side(side: Any, venue: str | None = None) -> str:
    """Return ``side`` if it is ``"buy"`` or ``"sell"``, else raise RouteError."""
    if not isinstance(side, str) or side not in SIDES:
        raise invalid("side", side, "'buy' or 'sell'", venue)
    return side


def check_amount(
    field: str, value: Any, venue: str | None = None, *, allow_zero: bool = False
) -> Decimal:
    """Return ``value`` if it is a finite positive ``Decimal`` (or zero when allowed), else raise RouteError.

    Only ``Decimal`` is accepted: an ``int`` would do no harm but a ``float`` would carry binary
    noise into exact venue math, and one accepted type keeps callers honest.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal) or not value.is_finite():
        raise invalid(field, value, "a finite Decimal", venue)
    if value < 0 or (value == 0 and not allow_zero):
        raise invalid(field, value, "a Decimal >= 0" if allow_zero else "a Decimal > 0", venue)
    return value


def check_identity(name: Any, symbol: Any) -> None:
    """Raise RouteError unless ``name`` is a non-empty string and ``symbol`` is ``'BASE/QUOTE'``."""
    if not isinstance(name, str) or not name:
        raise invalid("name", name, "a non-empty string")
    if not isinstance(symbol, str) or symbol.count("/") != 1:
        raise invalid("symbol", symbol, "'BASE/QUOTE'", name)


def check_decimals(field: str, value: Any, venue: str | None = None) -> int:
    """Return ``value`` if it is an ``int`` (not bool) in [0, 36] (a token's decimals), else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 36:
        raise invalid(field, value, "an integer in [0, 36]", venue)
    return value


def check_leg_order(order: Any, venue: str) -> LegOrder:
    """Return ``order`` if it is a LegOrder for ``venue`` with a valid side, qty, limit and a
    non-empty client order id (the venue's idempotency key), else raise RouteError. O(1)."""
    if not isinstance(order, LegOrder):
        raise invalid("order", order, "a LegOrder", venue)
    if order.venue != venue:
        raise invalid("order.venue", order.venue, repr(venue), venue)
    check_side(order.side, venue)
    check_amount("order.qty", order.qty, venue)
    if order.limit_price is not None:
        check_amount("order.limit_price", order.limit_price, venue)
    if not isinstance(order.client_order_id, str) or not order.client_order_id:
        raise invalid("order.client_order_id", order.client_order_id, "a non-empty string", venue)
    return order


def beyond_limit(order: LegOrder, avg_price: Decimal) -> bool:
    """True when an all-in average price is worse than ``order.limit_price`` for its side."""
    if order.limit_price is None:
        return False
    return avg_price > order.limit_price if order.side == "buy" else avg_price < order.limit_price


def quote_or_reject(adapter: Any, order: LegOrder) -> LegQuote | LegFill:
    """The exact quote ``order`` would fill at, or the rejected LegFill to return instead.

    Quoting before trading is what keeps a fill from ever being worse than the order's limit: a
    venue that cannot fill the size, or an all-in average beyond ``order.limit_price``, rejects
    the order before the venue is touched.
    """
    try:
        leg = adapter.quote(order.side, order.qty)
    except RouteError as exc:
        return rejected_fill(order, str(exc))
    if beyond_limit(order, leg.avg_price):
        return rejected_fill(
            order, f"average price {leg.avg_price} is beyond the limit {order.limit_price}"
        )
    return leg


def rejected_fill(order: LegOrder, reason: str) -> LegFill:
    """The LegFill of an order the venue did not touch: nothing filled, nothing paid."""
    zero = Decimal(0)
    return LegFill(
        venue=order.venue,
        side=order.side,
        client_order_id=order.client_order_id,
        requested_qty=order.qty,
        filled_qty=zero,
        quote_amount=zero,
        fee=zero,
        leg_cost=zero,
        status="rejected",
        reason=reason,
    )


def to_units_exact(field: str, amount: Decimal, decimals: int, venue: str | None = None) -> int:
    """``amount`` whole units as an integer count of 10^-decimals units; raise if off that grid.

    Exact: works on the Decimal's digits, never rounds. O(digits). The context is passed to each
    call rather than entered with ``localcontext``: same result, a third of the time.
    """
    scaled = amount.scaleb(decimals, _EXACT)
    if scaled != scaled.to_integral_value(context=_EXACT):
        raise invalid(field, amount, f"a multiple of 1e-{decimals}", venue)
    return int(scaled)


def to_units(amount: Decimal, decimals: int, *, round_up: bool) -> int:
    """``amount`` whole units as integer 10^-decimals units, rounded up or down (for budgets and costs)."""
    scaled = amount.scaleb(decimals, _EXACT)
    return int(
        scaled.to_integral_value(
            rounding=ROUND_CEILING if round_up else ROUND_FLOOR, context=_EXACT
        )
    )


def from_units(units: int, decimals: int) -> Decimal:
    """An integer count of 10^-decimals units as whole units; exact (built from the digits)."""
    return Decimal(units).scaleb(-decimals, _EXACT)


def to_float(value: Decimal | Fraction | int) -> float:
    """Correctly rounded float of an exact value (only the depth model uses floats)."""
    return float(Fraction(value))


_Curve = TypeVar("_Curve")


class CurveCache(Generic[_Curve]):
    """The last depth curve built per side, reused while the venue state it was built from is unchanged.

    ``get(side, key, build)`` returns the stored curve when ``key`` equals the key it was built
    with, else calls ``build(side, key)`` and stores the result. Correct exactly when ``key`` holds
    every input of ``build`` (and ``build`` reads nothing else): each adapter builds its curve from
    the key alone, so a stale hit is impossible by construction. Curves are frozen, so sharing one
    object between callers is safe. O(1) plus one comparison of keys. ``hits``/``misses`` count
    lookups (for tests and benchmarks).
    """

    __slots__ = ("_entries", "hits", "misses")

    def __init__(self) -> None:
        self._entries: dict[str, tuple[object, _Curve]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, side: str, key: object, build: Callable[[str, Any], _Curve]) -> _Curve:
        """The curve for ``side`` at state ``key``, built by ``build(side, key)`` on a miss."""
        entry = self._entries.get(side)
        if entry is not None and entry[0] == key:
            self.hits += 1
            return entry[1]
        curve = build(side, key)  # may raise: then nothing is stored and the old entry stays valid
        self._entries[side] = (key, curve)
        self.misses += 1
        return curve

    def clear(self) -> None:
        """Forget every stored curve (the next ``get`` per side rebuilds)."""
        self._entries.clear()
