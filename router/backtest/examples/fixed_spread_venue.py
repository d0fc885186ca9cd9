"""Example plug-in venue: an OTC desk quoting a fixed spread around the replayed mid.

Use it in a backtest config::

    [[venues]]
    name = "otc"
    plugin = "router.backtest.examples.fixed_spread_venue:FixedSpreadVenue"
    params = { spread_bps = "5", max_qty = "20", lot = "0.001", leg_cost = "1" }

It implements the VenueAdapter protocol (adapters/base.py) with plain Decimal arithmetic and the
optional ``on_market(mid, ts_ns)`` hook. Buy price = mid * (1 + spread), sell price =
mid * (1 - spread); up to ``max_qty`` base per leg, in multiples of ``lot``; ``leg_cost`` quote per
leg. Quote amounts are rounded to ``quote_places`` decimals against the trader (buy up, sell
down). It holds no book: every leg fills in full at the quoted price while the desk has a mid.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from adapters.account import VenueAccount
from router.model.depth import DepthCurve, FlatSegment
from router.model.errors import RouteError
from router.model.orders import LegFill, LegOrder, LegQuote
from router.sim.errors import BacktestError

_BPS = Decimal(10_000)


def _decimal(field: str, value: Any, *, allow_zero: bool = False) -> Decimal:
    if isinstance(value, (bool, float)):
        raise BacktestError(field, value, "a decimal string (never float)")
    try:
        dec = Decimal(str(value))
    except InvalidOperation:
        raise BacktestError(field, value, "a decimal string") from None
    if not dec.is_finite() or dec < 0 or (dec == 0 and not allow_zero):
        raise BacktestError(field, value, "a decimal >= 0" if allow_zero else "a decimal > 0")
    return dec


class FixedSpreadVenue:
    """A fixed-spread quote around the latest mid; O(1) per read."""

    def __init__(
        self,
        *,
        name: str,
        symbol: str,
        spread_bps: str = "5",
        max_qty: str = "10",
        lot: str = "0.001",
        leg_cost: str = "0",
        quote_places: int = 6,
    ) -> None:
        self.name = name
        self.symbol = symbol
        self.spread = _decimal(f"{name}.spread_bps", spread_bps, allow_zero=True) / _BPS
        self.max_qty = _decimal(f"{name}.max_qty", max_qty)
        self.lot = _decimal(f"{name}.lot", lot)
        self.leg_cost = _decimal(f"{name}.leg_cost", leg_cost, allow_zero=True)
        if (
            isinstance(quote_places, bool)
            or not isinstance(quote_places, int)
            or not 0 <= quote_places <= 18
        ):
            raise BacktestError(f"{name}.quote_places", quote_places, "an integer in [0, 18]")
        self._quantum = Decimal(1).scaleb(-quote_places)
        self.mid: Decimal | None = None
        self.filled: list[LegFill] = []
        self.account = VenueAccount(self.symbol.split("/", 1)[0])

    def on_market(self, mid: Decimal, ts_ns: int) -> None:
        """Follow the replayed mid (called by the replay)."""
        self.mid = mid

    def base_quantum(self) -> Decimal:
        return self.lot

    def min_qty(self) -> Decimal:
        return self.lot

    def _price(self, side: str) -> Decimal:
        if self.mid is None:
            raise RouteError(f"{self.name}: no mid yet", venue=self.name)
        return self.mid * (1 + self.spread) if side == "buy" else self.mid * (1 - self.spread)

    def depth_curve(self, side: str) -> DepthCurve:
        """One flat segment of ``max_qty`` at the quoted price (empty before the first mid)."""
        if side not in ("buy", "sell"):
            raise RouteError(
                f"side={side!r} is invalid; allowed: 'buy' or 'sell'", field="side", value=side
            )
        segments = (
            ()
            if self.mid is None
            else (FlatSegment(qty=float(self.max_qty), price=float(self._price(side))),)
        )
        return DepthCurve(
            venue=self.name,
            side=side,
            segments=segments,
            fixed_cost=float(self.leg_cost),
            lot=float(self.lot),
            min_qty=float(self.lot),
        )

    def quote(self, side: str, qty: Decimal) -> LegQuote:
        if side not in ("buy", "sell"):
            raise RouteError(
                f"side={side!r} is invalid; allowed: 'buy' or 'sell'", field="side", value=side
            )
        if not isinstance(qty, Decimal) or qty <= 0 or qty % self.lot or qty > self.max_qty:
            raise RouteError(
                f"{self.name}: qty={qty!r} is invalid; allowed: a multiple of {self.lot} in"
                f" (0, {self.max_qty}]",
                venue=self.name,
                field="qty",
                value=qty,
            )
        notional = qty * self._price(side)
        if side == "buy":
            amount = (notional + self.leg_cost).quantize(self._quantum, rounding=ROUND_CEILING)
        else:
            amount = (notional - self.leg_cost).quantize(self._quantum, rounding=ROUND_FLOOR)
        return LegQuote(self.name, side, qty, amount, Decimal(0), self.leg_cost)

    def quote_for_quote(self, side: str, quote_amount: Decimal) -> LegQuote:
        price = self._price(side)
        budget = quote_amount - self.leg_cost if side == "buy" else quote_amount + self.leg_cost
        if side == "buy":
            qty = (budget / price / self.lot).to_integral_value(rounding=ROUND_FLOOR) * self.lot
        else:
            qty = (budget / price / self.lot).to_integral_value(rounding=ROUND_CEILING) * self.lot
        return self.quote(side, min(qty, self.max_qty))

    async def execute(self, order: LegOrder) -> LegFill:
        try:
            leg = self.quote(order.side, order.qty)
        except RouteError as exc:
            return LegFill(
                self.name,
                order.side,
                order.client_order_id,
                order.qty,
                Decimal(0),
                Decimal(0),
                Decimal(0),
                self.leg_cost,
                "rejected",
                str(exc),
            )
        fill = LegFill(
            self.name,
            order.side,
            order.client_order_id,
            order.qty,
            leg.qty,
            leg.quote_amount,
            leg.fee,
            leg.leg_cost,
            "filled",
        )
        self.filled.append(fill)
        return self.account.book(fill)

    async def order_status(self, client_order_id: str) -> LegFill | None:
        return self.account.order(client_order_id)

    async def holdings(self) -> dict[str, Decimal]:
        return self.account.holdings()
