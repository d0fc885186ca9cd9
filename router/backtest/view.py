"""What the strategy has seen of a replayed book: the recorded updates applied at their arrival time.

The exchange-side book (:class:`router.backtest.book.ReplayBookVenue`) applies each recorded update
at its exchange time; the strategy's copy applies the same updates, in the same order, once they
have arrived (exchange time + feed latency, see :mod:`router.backtest.latency`). Decisions (the
touch and mid a strategy reads, the split the router plans, the limit prices it sets) are made on
this copy; orders then execute on the exchange-side book when they get there. This is the two-clock
model of hftbacktest (every event has an exchange and a local time).

The copy is brought up to date lazily (only when read): appending an arrival is O(1), and the
updates are applied on the next read, O(levels in them). What our own taker orders took (the
exchange-side book's consumption memory) is subtracted when reading, as the venue's own feed would
have shown it after our trade.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from adapters.orderbook import OrderBookAdapter
from router.backtest.book import L2Book, ReplayBookVenue
from router.sim.feed import SNAPSHOT
from venues.orderbook import OrderBook

__all__ = ["SeenBook"]

PLAN_LEVELS = 400  # levels per side the router sees when planning (a child never walks further)


class SeenBook:
    """The strategy's copy of one replayed book. ``venue`` is the exchange-side book it mirrors."""

    def __init__(self, venue: ReplayBookVenue) -> None:
        self.venue = venue
        # A gap empties the copy too ("error" is the exchange side's); nothing reads which prices
        # changed (the copy is read whole), so they are not tracked.
        self.l2 = L2Book("resync", track_dirty=False)
        self._pending: deque[tuple[int, int, tuple]] = deque()

    def arrive(self, arrival_ns: int, kind: int, payload: tuple) -> None:
        """Queue a recorded snapshot or depth update that reaches the strategy at ``arrival_ns``."""
        self._pending.append((arrival_ns, kind, payload))

    def advance(self, now_ns: int) -> None:
        """Apply every update that has arrived by ``now_ns``. O(levels in them)."""
        pending, l2 = self._pending, self.l2
        while pending and pending[0][0] <= now_ns:
            _, kind, payload = pending.popleft()
            if kind == SNAPSHOT:
                l2.apply_snapshot(payload)
            else:
                l2.apply_depth(payload)

    def _side(self, side: str) -> list[tuple[int, int]]:
        """(price_ticks, lots) best first, our consumption subtracted; ``side`` 'buy' = bids."""
        recorded = self.l2.bids if side == "buy" else self.l2.asks
        consumed = self.venue._consumed[side]
        prices = sorted(recorded, reverse=side == "buy")
        out = []
        for price in prices:
            lots = recorded[price] - consumed.get(price, 0)
            if lots > 0:
                out.append((price, lots))
                if len(out) >= PLAN_LEVELS:
                    break
        return out

    def touch_ticks(self, now_ns: int) -> tuple[int, int] | None:
        """(best bid, best ask) in ticks as seen at ``now_ns``; None if a side is empty or the
        copy is out of sync. O(levels)."""
        self.advance(now_ns)
        if self.l2.state not in ("synced", "fresh"):
            return None
        bids, asks = self._side("buy"), self._side("sell")
        if not bids or not asks:
            return None
        return bids[0][0], asks[0][0]

    def touch(self, now_ns: int) -> tuple[Decimal, Decimal] | None:
        """(best bid, best ask) in quote per base as seen at ``now_ns``; None when not available."""
        touch = self.touch_ticks(now_ns)
        if touch is None:
            return None
        grid = self.venue.grid
        return grid.price(touch[0]), grid.price(touch[1])

    def plan_adapter(self, now_ns: int) -> OrderBookAdapter | None:
        """A read-only adapter over the seen book (the best ``PLAN_LEVELS`` levels a side) for the
        router to plan on; None when the copy is not usable. O(levels log levels)."""
        if self.touch_ticks(now_ns) is None:
            return None
        real = self.venue.adapter
        grid = self.venue.grid
        book = OrderBook(
            self.venue.symbol,
            tick_size=grid.tick_size,
            lot_size=grid.lot_size,
            taker_fee_pips=real.taker_fee_pips,
            kind=self.venue.book.kind,
        )
        for side in ("buy", "sell"):
            for n, (price, lots) in enumerate(self._side(side)):
                book.place_limit(f"{side[0]}{n}", "market", side, price, lots)
        return OrderBookAdapter(
            self.venue.name,
            self.venue.symbol,
            book,
            quote_decimals=real.quote_decimals,
            taker_fee_pips=real.taker_fee_pips,
            leg_cost=real.leg_cost,
            owner="router",
        )
