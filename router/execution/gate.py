"""The margin gate: what the executor needs from a cross-margin core, and the types it speaks.

``MarginLeg`` is the one name for a leg as the margin check sees it (the order's leg is
:class:`~router.execution.order.OrderLeg`, a child order sent to a venue is
:class:`~router.model.orders.LegOrder`). :mod:`router.execution.margin_gate` implements the
protocol over :mod:`router.margin`; the executor sees only this protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn, Protocol

from router.model.errors import ExecutionError

__all__ = ["MaintenanceCheck", "MarginCheck", "MarginGate", "MarginLeg", "invalid"]

ZERO = Decimal(0)


def invalid(field: str, value: Any, allowed: str) -> NoReturn:
    """Raise the ExecutionError for one bad argument: its field, the value given, what is allowed."""
    raise ExecutionError(
        f"{field}={value!r} is invalid; allowed: {allowed}",
        field=field,
        value=value,
        allowed=allowed,
    )


@dataclass(frozen=True, slots=True)
class MarginLeg:
    """One (child) leg as the margin core sees it.

    ``qty`` is base (> 0); ``quote_amount`` is the all-in quote paid (buy) or received (sell),
    fees and leg cost inside, at the worst allowed price for a check or as filled for a booking;
    ``fee`` is the fee and leg-cost part of it (quote). Spot: base +qty / quote -quote_amount for
    a buy. Perp: position +qty (buy) or -qty (sell) at entry = notional/qty, where notional is
    ``quote_amount - fee`` (buy) or ``quote_amount + fee`` (sell), and the fee is paid from the
    quote collateral.
    """

    instrument: str
    symbol: str
    side: str
    qty: Decimal
    quote_amount: Decimal
    fee: Decimal = ZERO

    def __post_init__(self) -> None:
        if self.instrument not in ("spot", "perp"):
            invalid("instrument", self.instrument, "spot | perp")
        if not isinstance(self.symbol, str) or "/" not in self.symbol:
            invalid("symbol", self.symbol, "BASE/QUOTE or BASE/QUOTE:SETTLE")
        if self.side not in ("buy", "sell"):
            invalid("side", self.side, "buy | sell")
        for name, positive in (("qty", True), ("quote_amount", False), ("fee", False)):
            value = getattr(self, name)
            if (
                not isinstance(value, Decimal)
                or not value.is_finite()
                or value < 0
                or (positive and value == 0)
            ):
                invalid(
                    name, value, "a finite Decimal > 0" if positive else "a finite Decimal >= 0"
                )

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "symbol": self.symbol,
            "side": self.side,
            "qty": self.qty,
            "quote_amount": self.quote_amount,
            "fee": self.fee,
        }


@dataclass(frozen=True, slots=True)
class MarginCheck:
    """The answer of a pre-trade check of a sequence of legs (read-only; nothing was booked).

    ``headroom_after[i]`` is the headroom after legs ``0..i`` (quote units); ``accepted`` means
    every prefix keeps headroom >= 0 and every limit holds; ``failed_index`` is the first prefix
    that fails, ``reason`` says why (which limit, by how much, in which asset).
    """

    accepted: bool
    headroom_before: Decimal
    headroom_after: tuple[Decimal, ...]
    failed_index: int | None = None
    reason: str = ""
    asset: str = "USDC"

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "headroom_before": self.headroom_before,
            "headroom_after": list(self.headroom_after),
            "failed_index": self.failed_index,
            "reason": self.reason,
            "asset": self.asset,
        }


@dataclass(frozen=True, slots=True)
class MaintenanceCheck:
    """The answer of a maintenance check (read-only): ``excess`` = maintenance equity - MM now;
    ``excess_with_pending`` the same with the pending legs booked at their prices; ``breached``
    says whether the state *counted* (with pending legs when any were given) is liquidatable
    (an isolated bucket below its own MM counts too)."""

    excess: Decimal
    excess_with_pending: Decimal
    breached: bool

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "excess": self.excess,
            "excess_with_pending": self.excess_with_pending,
            "breached": self.breached,
        }


class MarginGate(Protocol):
    """The executor's view of one (sub)account in a cross-margin core.

    Optional: ``maintenance(pending: Sequence[MarginLeg]) -> MaintenanceCheck`` and
    ``liquidate() -> dict`` (what the liquidation did); a gate without them is never liquidated
    by the executor (e.g. a spot-only account).
    """

    def check(self, legs: Sequence[MarginLeg]) -> MarginCheck:
        """Pre-trade check of ``legs`` in this order, every prefix; changes nothing."""
        ...

    def apply(self, fill: MarginLeg) -> None:
        """Book an actual fill (as filled, not worst case)."""
        ...

    def summary(self) -> dict[str, Decimal]:
        """Current ``equity``, ``initial_margin``, ``maintenance_margin``, ``headroom`` (quote)."""
        ...

    def capital_efficiency(self) -> dict[str, Decimal]:
        """``cross_requirement`` and ``isolated_requirement`` of the current portfolio (quote)."""
        ...
