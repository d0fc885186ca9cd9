"""The VenueAdapter protocol: the only face of a venue the router core ever sees."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, runtime_checkable

from router.model.depth import DepthCurve
from router.model.orders import LegFill, LegOrder, LegQuote


@runtime_checkable
class VenueAdapter(Protocol):
    """A venue seen by the router.

    Reads are synchronous and pure (they never change the venue); ``execute`` is async because a
    real venue sits behind a network. All amounts are whole units as ``Decimal``.
    """

    name: str  # unique venue name from the config
    symbol: str  # "BASE/QUOTE"
    leg_cost: Decimal  # fixed quote cost whenever the venue is used (gas, per-order fee)

    def base_quantum(self) -> Decimal:
        """Smallest base increment a leg may have (1e-18 ETH for a pool, the lot size for a book)."""
        ...

    def min_qty(self) -> Decimal:
        """Smallest non-zero leg in base (0 when there is none)."""
        ...

    def depth_curve(self, side: str) -> DepthCurve:
        """The venue's liquidity for a taker on ``side`` as a float depth curve, fees and leg cost inside."""
        ...

    def quote(self, side: str, qty: Decimal) -> LegQuote:
        """Exact re-quote of ``qty`` base (a multiple of ``base_quantum()``); read-only.

        Raises :class:`router.model.errors.RouteError` when the venue cannot fill ``qty`` in full.
        """
        ...

    def quote_for_quote(self, side: str, quote_amount: Decimal) -> LegQuote:
        """Exact re-quote of the leg sized in quote: for a buy, the base that ``quote_amount``
        (all-in) buys; for a sell, the base to sell to receive ``quote_amount`` (all-in). Read-only.
        """
        ...

    async def execute(self, order: LegOrder) -> LegFill:
        """Send one child order; returns what was filled. Never raises for a venue-side rejection:
        that is a ``LegFill`` with status ``"rejected"`` and the reason."""
        ...

    async def order_status(self, client_order_id: str) -> LegFill | None:
        """What the venue did with ``client_order_id``, from the venue's own books: its fill
        (filled, partial or rejected), or None when the venue never received that id. Raises
        :class:`router.model.errors.AdapterError` when the venue cannot be asked (the executor
        then retries with backoff and reports unknown exposure if the venue stays silent)."""
        ...

    async def holdings(self) -> dict[str, Decimal]:
        """The account's signed holding per asset on this venue as the venue reports it (spot: the
        base balance; perp: the position in base). The executor reports the change over a run.
        Raises AdapterError when the venue cannot be asked."""
        ...
