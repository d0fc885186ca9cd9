"""Errors of the cross-margin core, all below :class:`router.model.errors.MarginError`.

Each carries the numbers a risk desk needs as attributes (and in ``details``) and a message that
names the field or limit, the value, what was allowed and, for a refusal, the shortfall and asset.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from router.model.errors import MarginError
from venues.errors import InvalidValue

__all__ = [
    "IsolatedBucketRejected",
    "MarginError",
    "MarginInputError",
    "MarginRejected",
    "OraclePriceError",
]


class MarginInputError(InvalidValue, MarginError):
    """A public margin method got a bad argument: ``field``, the ``value`` given, what is ``allowed``."""


class OraclePriceError(MarginError):
    """No usable price for ``asset``: ``state`` is ``missing``, ``stale`` or ``no_quorum``."""

    def __init__(self, asset: str, state: str, detail: str = "") -> None:
        text = f"price of {asset} is {state}" + (f" ({detail})" if detail else "")
        super().__init__(text, asset=asset, state=state)
        self.asset = asset
        self.state = state


def _plain(value: Any) -> Any:
    """A Decimal as positional text (``0E-8`` reads as 0.00000000), anything else as is."""
    return format(value, "f") if isinstance(value, Decimal) else value


class MarginRejected(MarginError):
    """A margin rule refused an operation; nothing changed.

    ``limit`` names the rule (``headroom``, ``max_notional``, ``max_gross_leverage``,
    ``price_invalid``, ...), ``subaccount`` where it failed, ``required`` and ``available`` the two
    sides of the comparison and ``shortfall`` the missing amount, all ``Decimal`` in ``asset``.
    """

    def __init__(
        self,
        limit: str,
        subaccount: str,
        asset: str,
        required: Any,
        available: Any,
        shortfall: Any,
        message: str = "",
    ) -> None:
        text = message or (
            f"{subaccount}: {limit} violated: required {_plain(required)} {asset}, "
            f"available {_plain(available)} {asset}, short by {_plain(shortfall)} {asset}"
        )
        super().__init__(
            text,
            limit=limit,
            subaccount=subaccount,
            asset=asset,
            required=required,
            available=available,
            shortfall=shortfall,
        )
        self.limit = limit
        self.subaccount = subaccount
        self.asset = asset
        self.required = required
        self.available = available
        self.shortfall = shortfall

    @classmethod
    def from_check(cls, result: Any, subaccount: str, quote_asset: str) -> MarginRejected:
        """The refusal a failed pre-trade check stands for (a CheckResult: limit, asset,
        required, available, shortfall; no asset means the quote)."""
        return cls(
            result.limit or "",
            subaccount,
            result.asset or quote_asset,
            result.required,
            result.available,
            result.shortfall,
        )


ISOLATED_BUCKET_ALLOWED = "add isolated margin first, or let liquidation close it"


class IsolatedBucketRejected(MarginRejected):
    """A voluntary trade would leave an isolated position's margin bucket below zero; nothing changed.

    Limit ``isolated_bucket``: ``required`` is 0, ``available`` the bucket the trade would leave
    (negative), ``shortfall`` what is missing, all ``Decimal`` in ``asset``; ``symbol`` names the
    position and ``allowed`` says what the trader may do instead.
    """

    def __init__(
        self, subaccount: str, symbol: str, asset: str, available: Any, shortfall: Any
    ) -> None:
        text = (
            f"{subaccount}: trade on isolated {symbol} refused: its margin bucket would end at "
            f"{available} {asset}, short by {shortfall} {asset}; the loss may not be charged to the "
            f"cross balance nor to the insurance fund; allowed: {ISOLATED_BUCKET_ALLOWED}"
        )
        super().__init__(
            "isolated_bucket", subaccount, asset, Decimal(0), available, shortfall, message=text
        )
        self.symbol = symbol
        self.allowed = ISOLATED_BUCKET_ALLOWED
        self.details.update(symbol=symbol, allowed=ISOLATED_BUCKET_ALLOWED)
