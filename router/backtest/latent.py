"""A venue as the executor sees it in a backtest: quoted as seen, reached after the latency.

Multi-leg orders (the basis trade: a spot leg and its perpetual hedge) run through the real
:class:`router.execution.executor.Executor`; each venue it is given is a :class:`LatentVenue`:

- every quote (depth curve, exact quote, best prices, mid) is of the book as the strategy has
  seen it now (:class:`router.backtest.view.SeenBook`: exchange time + feed latency, our own takes
  subtracted); pools and plug-ins as they are, as :meth:`router.backtest.engine._Run.routable`;
  a replayed book that is stale or unusable as seen quotes nothing, so the router leaves it out;
- ``execute`` hands the child (its limit fixed now, at decision time, by the executor) to the
  replay, which executes it on the exchange-side state when it reaches the venue (now + that
  venue's order latency) and answers after the response latency: the executor hears of a fill
  then, and sizes the hedge to it;
- the venue's own records (``holdings``, ``order_status``) are the exchange side's.

The replay is reached through the :class:`Desk` protocol (implemented by the engine's run).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from adapters.orderbook import OrderBookAdapter
from router.backtest.view import SeenBook
from router.model.orders import LegFill, LegOrder
from router.protection import venue_mid
from venues.orderbook import OrderBook

__all__ = ["Desk", "LatentVenue"]


class Desk(Protocol):
    """What a latent venue needs from the replay."""

    now: int
    fills_seen: int  # bumped by every fill of ours (the seen books subtract what we took)

    def is_stale(self, venue: str, ts_ns: int | None = None) -> bool: ...

    async def send_latent(self, venue: str, order: LegOrder) -> LegFill: ...


class LatentVenue:
    """The executor's view of one venue (module docstring). ``seen`` is None for pools and
    plug-ins, which are quoted as they are."""

    def __init__(self, adapter: Any, desk: Desk, seen: SeenBook | None) -> None:
        self.name: str = adapter.name
        self.symbol: str = adapter.symbol
        self.leg_cost: Decimal = adapter.leg_cost
        self._real = adapter
        self._desk = desk
        self._seen = seen
        self._view: Any = None
        self._view_key: tuple[int, int] | None = None

    def _quoted(self) -> Any:
        """What quotes come from now: the seen copy (rebuilt when the clock moved or we traded
        since), or the venue itself."""
        if self._seen is None:
            return self._real
        key = (self._desk.now, self._desk.fills_seen)
        if key != self._view_key:
            view = None
            if not self._desk.is_stale(self.name):
                view = self._seen.plan_adapter(self._desk.now)
            self._view = view if view is not None else self._empty()
            self._view_key = key
        return self._view

    def _empty(self) -> OrderBookAdapter:
        """An empty book on the venue's grid: what a stale or out-of-sync venue quotes."""
        real = self._real
        book = OrderBook(
            self.symbol,
            tick_size=real.book.ticks_to_price(1),
            lot_size=real.book.lots_to_qty(1),
            taker_fee_pips=real.taker_fee_pips,
            kind=real.book.kind,
        )
        return OrderBookAdapter(
            self.name,
            self.symbol,
            book,
            quote_decimals=real.quote_decimals,
            taker_fee_pips=real.taker_fee_pips,
            leg_cost=real.leg_cost,
            owner="router",
        )

    # -- quotes: as seen at decision time --

    def base_quantum(self) -> Decimal:
        return self._real.base_quantum()

    def min_qty(self) -> Decimal:
        return self._quoted().min_qty()

    def depth_curve(self, side: str) -> Any:
        return self._quoted().depth_curve(side)

    def quote(self, side: str, qty: Decimal) -> Any:
        return self._quoted().quote(side, qty)

    def quote_for_quote(self, side: str, quote_amount: Decimal) -> Any:
        return self._quoted().quote_for_quote(side, quote_amount)

    def mid_price(self) -> Decimal | None:
        """The venue's mid as seen (router.protection's rule for a venue without its own)."""
        return venue_mid(self._quoted())

    # -- orders: executed where and when they arrive --

    async def execute(self, order: LegOrder) -> LegFill:
        return await self._desk.send_latent(self.name, order)

    async def order_status(self, client_order_id: str) -> LegFill | None:
        return await self._real.order_status(client_order_id)

    async def holdings(self) -> dict[str, Decimal]:
        return await self._real.holdings()
