"""The venue's own record of the router's account on an in-process venue: orders by client order
id, and the account's holdings as the venue booked them.

A real exchange answers "what happened to client order id X" and "what does this account hold"
from its own books, whatever became of the reply it sent. :class:`VenueAccount` gives the
in-process venues the same two answers: an adapter books every answer here at the moment the venue
acts, before the reply travels back, so a reply lost on the way (see
:mod:`router.execution.faults`) does not lose the fill. Holdings count from when the adapter was built (reports use their change over a run) and are the
base asset only (spot:
the base balance change; perp: the signed position in base), because that is the exposure a hedge
must cancel; quote cash flows are in each fill's ``quote_amount``. Exact Decimals, O(1) per fill.

Like an exchange that archives old orders, the books answer for the most recent
:data:`ORDER_MEMORY` client order ids only (an older id answers None): reconciliation asks about a
child right after sending it, and a long-running paper market must not grow its state with every
order it ever saw.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal

from router.model.orders import LegFill

__all__ = ["ORDER_MEMORY", "VenueAccount"]

ORDER_MEMORY = 64


class VenueAccount:
    """Orders by client order id and the signed base holding of one account on one venue."""

    def __init__(self, base_asset: str) -> None:
        self.base_asset = base_asset
        self._orders: OrderedDict[str, LegFill] = OrderedDict()
        self._base = Decimal(0)

    def book(self, fill: LegFill) -> LegFill:
        """Record the venue's answer to one order (filled, partial or rejected) and return it.
        A rejection of an id the books already hold (a duplicate client order id) leaves the
        original order's record as it is, as an exchange does."""
        if fill.status == "rejected" and fill.client_order_id in self._orders:
            return fill
        self._orders[fill.client_order_id] = fill
        if len(self._orders) > ORDER_MEMORY:
            self._orders.popitem(last=False)  # archived: the oldest id is no longer answered for
        self._base += fill.filled_qty if fill.side == "buy" else -fill.filled_qty
        return fill

    def order(self, client_order_id: str) -> LegFill | None:
        """The venue's answer to ``client_order_id``, or None when the venue never received it."""
        return self._orders.get(client_order_id)

    def holdings(self) -> dict[str, Decimal]:
        """Asset -> signed quantity this account gained on the venue (base asset only)."""
        return {self.base_asset: self._base}
