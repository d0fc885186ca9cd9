"""Order and leg value types shared by the router core and the adapters.

Amounts are ``Decimal`` in whole units of the asset (1.5 ETH is ``Decimal("1.5")``); adapters
convert to and from their venue's integer units. ``side`` is always the taker's side: ``"buy"``
receives base and pays quote, ``"sell"`` delivers base and receives quote.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Side = Literal["buy", "sell"]
SIDES: tuple[str, ...] = ("buy", "sell")


@dataclass(frozen=True, slots=True)
class LegQuote:
    """The exact, read-only result of trading ``qty`` base on one venue.

    ``quote_amount`` follows docs/architecture.md: for a buy the quote paid (pool input, or book notional plus
    taker fee, plus the venue's leg cost); for a sell the quote received (pool output, or notional
    minus taker fee, minus leg cost); rounded to the quote asset's decimals against the trader.
    ``fee`` is the venue fee inside ``quote_amount`` (quote units), ``leg_cost`` the fixed part.
    """

    venue: str
    side: str
    qty: Decimal
    quote_amount: Decimal
    fee: Decimal
    leg_cost: Decimal

    @property
    def avg_price(self) -> Decimal:
        """All-in quote per base of this leg; zero for an empty leg."""
        return self.quote_amount / self.qty if self.qty else Decimal(0)


@dataclass(frozen=True, slots=True)
class LegOrder:
    """One child order sent to one venue. ``limit_price`` is the worst all-in average price accepted."""

    venue: str
    side: str
    qty: Decimal
    client_order_id: str
    limit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class LegFill:
    """What a venue did with a :class:`LegOrder`: ``filled_qty`` may be below ``qty`` (partial)."""

    venue: str
    side: str
    client_order_id: str
    requested_qty: Decimal
    filled_qty: Decimal
    quote_amount: Decimal
    fee: Decimal
    leg_cost: Decimal
    status: Literal["filled", "partial", "rejected"]
    reason: str = ""
