"""Example strategy: open leveraged positions on margin and hold them.

:class:`LeveragedLong` buys ``perp_qty`` of a perpetual and ``spot_qty`` of a spot asset in one
multi-leg order through the executor (margin checked before every child; a spot buy beyond the
quote balance is a quote borrow), then holds. Nothing else trades for it: if the replay moves
against the account, the margin core liquidates it through the replayed venues (results.json
``liquidations``). It is the strategy of tests/unit/router/backtest/test_backtest_liquidation.py::

    [strategy]
    kind = "router.backtest.examples.leveraged:LeveragedLong"
    perp_symbol = "ETH/USDT:USDT"
    perp_qty = "5"
    spot_symbol = "ETH/USDT"
    spot_qty = "2"
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from router.backtest.strategies import Strategy
from router.execution.order import MultiLegOrder, OrderLeg
from router.sim.errors import BacktestError, decimal_arg

__all__ = ["LeveragedLong"]


class LeveragedLong(Strategy):
    """Buy ``perp_qty`` of ``perp_symbol`` and ``spot_qty`` of ``spot_symbol`` (either may be
    "0") at most ``limit_bps`` above the seen mid, then hold."""

    def __init__(
        self,
        *,
        perp_symbol: str,
        perp_qty: Any,
        spot_symbol: str = "",
        spot_qty: Any = "0",
        limit_bps: int = 50,
    ) -> None:
        if type(limit_bps) is not int or not 0 <= limit_bps <= 10_000:
            raise BacktestError("strategy.limit_bps", limit_bps, "an integer in [0, 10000]")
        self.legs = [
            (instrument, symbol, decimal_arg(f"strategy.{instrument}_qty", qty, positive=False))
            for instrument, symbol, qty in (
                ("perp", perp_symbol, perp_qty),
                ("spot", spot_symbol, spot_qty),
            )
        ]
        self.legs = [leg for leg in self.legs if leg[2] > 0]
        if not self.legs:
            raise BacktestError("strategy.perp_qty", perp_qty, "a size > 0 on at least one leg")
        self.limit_bps = limit_bps
        self.report: Any = None

    async def on_start(self, ctx: Any) -> None:
        if ctx.ledger is None:
            raise BacktestError("margin", None, "a [margin] table for a leveraged position")
        band = 1 + Decimal(self.limit_bps) / 10_000
        parents = {}
        legs = []
        for instrument, symbol, qty in self.legs:
            parents[instrument] = ctx.parent(f"leveraged-{instrument}", "buy", qty, symbol=symbol)
            limit = (ctx.mid(symbol) * band).quantize(Decimal("0.01"))
            legs.append(OrderLeg(instrument, instrument, symbol, "buy", qty=qty, limit_price=limit))
        order = MultiLegOrder(client_id="leveraged-1", max_rounds=3, legs=tuple(legs))
        self.report = await ctx.execute_multi(order, parents)
