"""Example maker strategy and queue-model plug-in.

:class:`JoinBestBid` rests a buy of ``qty`` at the best bid it has seen, and every ``interval_s``
cancels it and joins the (possibly new) best bid again, ``max_orders`` times; its fills are the
replayed book's ``our_resting_fills``. It is the strategy whose fill count the queue model moves
(tests/unit/router/backtest/test_queues.py)::

    [strategy]
    kind = "router.backtest.examples.join_bid:JoinBestBid"
    venue = "binance-spot"
    qty = "0.5"

:class:`FrontFirstQueue` is the opposite of the risk-averse default, as a ``module:Class`` queue
model: every recorded cancellation at our level is taken from ahead of us first (the most
optimistic position). ``[backtest] queue_model = "router.backtest.examples.join_bid:FrontFirstQueue"``.
"""

from __future__ import annotations

from typing import Any

from router.backtest.strategies import Strategy
from router.sim.errors import BacktestError, decimal_arg

__all__ = ["FrontFirstQueue", "JoinBestBid"]

_NS = 1_000_000_000


class JoinBestBid(Strategy):
    """Join the seen best bid with ``qty`` base, re-joining every ``interval_s``."""

    def __init__(
        self, *, venue: str, qty: Any, interval_s: Any = "2", max_orders: int = 1_000
    ) -> None:
        if not isinstance(venue, str) or not venue:
            raise BacktestError("strategy.venue", venue, "the name of a replayed book")
        if type(max_orders) is not int or not 1 <= max_orders <= 10**6:
            raise BacktestError("strategy.max_orders", max_orders, "an integer in [1, 1000000]")
        self.venue = venue
        self.qty = decimal_arg("strategy.qty", qty)
        self.interval_ns = int(decimal_arg("strategy.interval_s", interval_s) * _NS)
        self.max_orders = max_orders
        self.placed = 0

    def on_start(self, ctx: Any) -> None:
        self.on_timer(ctx, "join")
        ctx.set_timer("join", self.interval_ns, count=self.max_orders - 1)

    def on_timer(self, ctx: Any, name: str) -> None:
        touch = ctx.touch(self.venue)
        if touch is None:
            return
        if self.placed:
            ctx.cancel(self.venue, f"bid{self.placed}")
        self.placed += 1
        ctx.place_limit(self.venue, "buy", touch[0], self.qty, f"bid{self.placed}")


class FrontFirstQueue:
    """Every cancellation at our level comes from ahead of us (the optimistic bound)."""

    def ahead_lots(self, ahead: int, behind: int, cancelled: int) -> int:
        return cancelled
