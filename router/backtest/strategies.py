"""Strategies: the user callback API, TWAP and POV parent orders, and the hedged basis trade.

A strategy subclasses :class:`Strategy` and overrides any of ``on_start(ctx)``,
``on_book(ctx, venue, ts_ns)``, ``on_trade(ctx, venue, trade)``, ``on_fill(ctx, fill)``,
``on_timer(ctx, name)``, ``on_end(ctx)``; each may be a plain function or a coroutine.
``on_book``/``on_trade`` are delivered at the event's exchange time plus the feed latency and
only when overridden (they cost a scheduled event each). ``ctx`` (:class:`router.backtest.engine.Context`)
gives the clock (``now_ns``), mids (``mid()``), timers (``set_timer``), parent orders
(``parent``), child orders routed through ``router.plan.plan_route`` across the allowed venues
(``route``, executed after the order latency), resting limit orders (``place_limit``), and the
margin ledger when one is configured.

Sizes are Decimal base units; a child is quantised down to ``qty_step`` (the remainder is carried
to the next child, and reported as unfilled at the end).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Any

from router.execution.order import Hedge, MultiLegOrder, OrderLeg
from router.sim.errors import BacktestError, decimal_arg

__all__ = ["KINDS", "BasisTrade", "Pov", "Strategy", "Twap", "build_strategy"]

KINDS = ("twap", "pov", "basis")
_NS = 1_000_000_000


def _int(field: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise BacktestError(field, value, f"an integer in [{lo}, {hi}]")
    return value


class Strategy:
    """Base class of strategies: every callback does nothing. Parameters come from ``[strategy]``."""

    def __init__(self, **params: Any) -> None:
        if params:
            raise BacktestError(
                f"strategy.{sorted(params)[0]}",
                params[sorted(params)[0]],
                f"a parameter of {type(self).__name__}",
            )

    def on_start(self, ctx: Any) -> Any: ...
    def on_book(self, ctx: Any, venue: str, ts_ns: int) -> Any: ...
    def on_trade(self, ctx: Any, venue: str, trade: tuple) -> Any: ...
    def on_fill(self, ctx: Any, fill: dict) -> Any: ...
    def on_timer(self, ctx: Any, name: str) -> Any: ...
    def on_end(self, ctx: Any) -> Any: ...


def _floor(qty: Decimal, step: Decimal) -> Decimal:
    return (qty / step).to_integral_value(rounding=ROUND_FLOOR) * step


class Twap(Strategy):
    """Buy or sell ``qty`` in ``slices`` equal children every ``duration_s / slices`` seconds.

    Child k (1-based) brings the total sent to floor(qty * k / slices) on the ``qty_step`` grid,
    so the children sum to the parent exactly.
    """

    def __init__(
        self,
        *,
        side: str,
        qty: Any,
        duration_s: Any,
        slices: int,
        symbol: str | None = None,
        qty_step: Any = "0.0001",
        limit_price: Any = None,
    ) -> None:
        if side not in ("buy", "sell"):
            raise BacktestError("strategy.side", side, "'buy' or 'sell'")
        self.side = side
        self.qty = decimal_arg("strategy.qty", qty)
        self.duration_ns = int(decimal_arg("strategy.duration_s", duration_s) * _NS)
        self.slices = _int("strategy.slices", slices, 1, 100_000)
        self.symbol = symbol
        self.qty_step = decimal_arg("strategy.qty_step", qty_step)
        self.limit_price = (
            None if limit_price is None else decimal_arg("strategy.limit_price", limit_price)
        )
        self.sent = 0
        self.parent: Any = None

    def on_start(self, ctx: Any) -> None:
        self.parent = ctx.parent("twap", self.side, self.qty, symbol=self.symbol)
        self.on_timer(ctx, "twap")
        if self.slices > 1:
            ctx.set_timer("twap", self.duration_ns // self.slices, count=self.slices - 1)

    def on_timer(self, ctx: Any, name: str) -> None:
        self.sent += 1
        target = _floor(self.qty * self.sent / self.slices, self.qty_step)
        child = target - self.parent.sent_qty
        if child > 0:
            ctx.route(self.parent, child, limit_price=self.limit_price)


class Pov(Strategy):
    """Participate at ``rate`` of the recorded traded volume until ``qty`` is done.

    Every ``interval_s`` it sends rate * (volume seen so far) - sent, quantised down to
    ``qty_step``, capped at what is left: what it sent is never more than ``rate`` times the volume,
    nor behind it by a step or more, and never more than ``qty``. Volume is the reference venue's
    recorded trades seen (after the feed latency) since the order started.
    """

    def __init__(
        self,
        *,
        side: str,
        qty: Any,
        rate: Any,
        interval_s: Any = "1",
        symbol: str | None = None,
        qty_step: Any = "0.0001",
        max_children: int = 10_000,
    ) -> None:
        if side not in ("buy", "sell"):
            raise BacktestError("strategy.side", side, "'buy' or 'sell'")
        self.side = side
        self.qty = decimal_arg("strategy.qty", qty)
        self.rate = decimal_arg("strategy.rate", rate)
        if self.rate >= 1:
            raise BacktestError("strategy.rate", rate, "a decimal in (0, 1)")
        self.interval_ns = int(decimal_arg("strategy.interval_s", interval_s) * _NS)
        self.symbol = symbol
        self.qty_step = decimal_arg("strategy.qty_step", qty_step)
        self.max_children = _int("strategy.max_children", max_children, 1, 10**6)
        self.volume = Decimal(0)
        self.parent: Any = None

    def on_start(self, ctx: Any) -> None:
        self.parent = ctx.parent("pov", self.side, self.qty, symbol=self.symbol)
        ctx.set_timer("pov", self.interval_ns, count=self.max_children)

    def on_trade(self, ctx: Any, venue: str, trade: tuple) -> None:
        # Participation counts the volume traded since the order arrived: trades delivered before
        # the start (the replay's warm-up) do not count.
        if self.parent is not None and venue == ctx.reference_venue(self.parent.symbol):
            self.volume += ctx.qty_of(venue, trade[2])

    def on_timer(self, ctx: Any, name: str) -> None:
        want = min(self.qty, self.volume * self.rate)
        child = _floor(want - self.parent.sent_qty, self.qty_step)
        if child > 0:
            ctx.route(self.parent, child)


class BasisTrade(Strategy):
    """Hedged basis: buy ``qty`` spot and sell the same on the perpetual through the Executor.

    Margin is checked before every child by the executor's gate; then every ``funding_interval_s``
    the marks follow the replayed mids, one funding interval accrues, a liquidation runs if the
    account is below maintenance, and margin usage is sampled.
    """

    def __init__(
        self,
        *,
        qty: Any,
        spot_symbol: str,
        perp_symbol: str,
        funding_interval_s: Any = "1",
        limit_bps: int = 50,
        slippage_bps: int = 10,
    ) -> None:
        self.qty = decimal_arg("strategy.qty", qty)
        self.spot_symbol = spot_symbol
        self.perp_symbol = perp_symbol
        self.funding_ns = int(decimal_arg("strategy.funding_interval_s", funding_interval_s) * _NS)
        self.limit_bps = _int("strategy.limit_bps", limit_bps, 0, 10_000)
        self.slippage_bps = _int("strategy.slippage_bps", slippage_bps, 0, 10_000)
        self.report: Any = None

    async def on_start(self, ctx: Any) -> None:
        if ctx.ledger is None:
            raise BacktestError("margin", None, "a [margin] table for the basis strategy")
        spot = ctx.parent("basis-spot", "buy", self.qty, symbol=self.spot_symbol)
        perp = ctx.parent("basis-perp", "sell", self.qty, symbol=self.perp_symbol)
        band = Decimal(self.limit_bps) / 10_000
        order = MultiLegOrder(
            client_id="basis-1",
            max_rounds=3,
            slippage_bps=self.slippage_bps,
            legs=(
                OrderLeg(
                    "spot",
                    "spot",
                    self.spot_symbol,
                    "buy",
                    qty=self.qty,
                    limit_price=(ctx.mid(self.spot_symbol) * (1 + band)).quantize(Decimal("0.01")),
                ),
                OrderLeg(
                    "perp",
                    "perp",
                    self.perp_symbol,
                    "sell",
                    limit_price=(ctx.mid(self.perp_symbol) * (1 - band)).quantize(Decimal("0.01")),
                    hedge=Hedge("spot", Decimal(1)),
                ),
            ),
        )
        self.report = await ctx.execute_multi(order, {"spot": spot, "perp": perp})
        ctx.set_timer("funding", self.funding_ns, count=None)

    def on_timer(self, ctx: Any, name: str) -> None:
        ctx.funding_step(self.perp_symbol)


def build_strategy(kind: str, params: dict[str, Any]) -> Strategy:
    """``twap`` | ``pov`` | ``basis`` | ``module:Class`` (a Strategy subclass) with its parameters."""
    classes = {"twap": Twap, "pov": Pov, "basis": BasisTrade}
    if kind in classes:
        cls: Any = classes[kind]
    elif isinstance(kind, str) and ":" in kind:
        import importlib

        module_name, _, class_name = kind.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name, None)
        except ImportError as exc:
            raise BacktestError(
                "strategy.kind", kind, f"an importable module:Class ({exc})"
            ) from None
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise BacktestError(
                "strategy.kind", kind, "a subclass of router.backtest.strategies.Strategy"
            )
    else:
        raise BacktestError("strategy.kind", kind, "'twap', 'pov', 'basis' or 'module:Class'")
    try:
        return cls(**params)
    except TypeError as exc:
        raise BacktestError(
            "strategy", sorted(params), f"the parameters of {cls.__name__} ({exc})"
        ) from None
