"""Liquidation through the venues: the margin core's loop, filled where the market is.

The margin core (:class:`router.margin.liquidation.Liquidation`) decides every step and books it;
:class:`VenueFiller` trades each step on the simulated venues of its instrument (a perp step on the
venues trading the perp's symbol, a spot step on the ``ASSET/QUOTE`` venues) at the prices they
show at that moment, routed by :func:`router.plan.plan_route` like any order. What the venues did
is what is booked: the filled size, at the all-in average price (venue fees inside it) rounded
against the account (a sale at the floor of the ledger's 1e-18 grid, a purchase at the ceiling,
in integers); a size finer than the ledger's grid is booked rounded toward zero. When the depth cannot take the whole
step, the largest size it can take (bisection to 0.1% of the step) is filled and the rest named.

``crossroute execute`` (a move that makes the account liquidatable mid-order) and paper trading run
their liquidations through :func:`liquidate_through_venues`; stress drives the same loop with its
own filler (router/stress/engine.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

from router.margin.book import MarginBook
from router.margin.liquidation import (
    PERP_STEP,
    Liquidation,
    LiquidationFill,
    LiquidationOrder,
    LiquidationResult,
)
from router.margin.quantities import PLACES, SCALE, to_decimal, to_text
from router.model.orders import LegOrder

__all__ = ["VenueFiller", "liquidate_through_venues", "liquidation_outcome", "liquidation_steps"]

_PARTIAL_PRECISION = 1000  # bisection of an oversized step stops at 1/1000 of it


class VenueFiller:
    """Trades liquidation orders on ``adapters`` (venue name -> adapter, the execution layer's
    venue protocol: ``symbol``, ``quote``, ``execute``).

    ``perp_symbols`` maps the ledger's perp market names to the symbols venues trade
    (``ETH-PERP`` -> ``ETH/USDC:USDC``); ``quote`` is the ledger's quote asset. Client order ids
    are ``<prefix>-<n>``, deterministic. ``sent`` keeps every child fill, for the caller's report;
    ``answers`` each order's fill with the child fills that made it (:func:`liquidation_steps`).
    """

    def __init__(
        self,
        adapters: Mapping[str, Any],
        perp_symbols: Mapping[str, str],
        quote: str,
        client_prefix: str = "liq",
    ) -> None:
        self.adapters = dict(adapters)
        self.perp_symbols = dict(perp_symbols)
        self.quote = quote
        self.prefix = client_prefix
        self.sent: list[Any] = []
        self.answers: list[tuple[LiquidationFill, list[Any]]] = []

    def symbol_of(self, order: LiquidationOrder) -> str:
        """The venue symbol that trades ``order``'s instrument."""
        if order.kind == PERP_STEP:
            return self.perp_symbols.get(order.symbol, order.symbol)
        return f"{order.symbol}/{self.quote}"

    async def fill(self, ledger: MarginBook, order: LiquidationOrder) -> LiquidationFill:
        """Route ``order`` through the venues trading its symbol and report the exact fill."""
        children: list[Any] = []
        answer = await self._fill(order, children)
        self.answers.append((answer, children))
        return answer

    async def _fill(self, order: LiquidationOrder, children: list[Any]) -> LiquidationFill:
        from router.plan import plan_up_to  # the route planner, only when a liquidation runs

        symbol = self.symbol_of(order)
        venues = [a for _, a in sorted(self.adapters.items()) if a.symbol == symbol]
        if not venues:
            return LiquidationFill(0, 0, f"no venue trades {symbol}")
        side = "buy" if order.signed_units > 0 else "sell"
        qty = to_decimal(abs(order.signed_units))
        plan = plan_up_to(
            venues, symbol, side, qty, quantum=Decimal(1) / SCALE, precision=_PARTIAL_PRECISION
        )
        filled, quote = Decimal(0), Decimal(0)
        by_name = {a.name: a for a in venues}
        for leg in plan.legs if plan is not None else ():
            if leg.qty <= 0:
                continue
            coid = f"{self.prefix}-{len(self.sent) + 1}"
            result = await by_name[leg.venue].execute(LegOrder(leg.venue, side, leg.qty, coid))
            self.sent.append(result)
            children.append(result)
            filled += result.filled_qty
            quote += result.quote_amount
        # toward zero: the ledger never books more than was filled
        units = int(Fraction(filled) * SCALE)
        note = "" if filled >= qty else f"the venues trading {symbol} took {filled} of {qty}"
        if units <= 0:
            return LiquidationFill(0, 0, note)
        # all-in average on the grid, against the account: a sale at the floor, a buy at the
        # ceiling; exact in integers (a 28-digit decimal context rounds before it floors)
        average = Fraction(quote) * SCALE / Fraction(filled)
        price_units = math.floor(average) if side == "sell" else math.ceil(average)
        return LiquidationFill(units if side == "buy" else -units, max(1, price_units), note)


async def liquidate_through_venues(
    ledger: MarginBook,
    sub_id: Any,
    filler: VenueFiller,
    refresh_marks: Callable[[], None] | None = None,
) -> LiquidationResult:
    """Run the margin core's liquidation of ``sub_id``, each step traded on the venues by
    ``filler`` and booked as filled. ``refresh_marks`` (optional) re-reads the marks from their
    sources after each fill, so the next step is decided at the prices the liquidation left."""
    run = Liquidation(ledger, sub_id)
    while (order := run.next_order()) is not None:
        run.book(order, await filler.fill(ledger, order))
        if refresh_marks is not None:
            refresh_marks()
    return run.finish()


def liquidation_outcome(result: LiquidationResult) -> dict[str, object]:
    """A liquidation's result as a journal/report dict (decimal strings)."""
    return {
        "triggered": result.triggered,
        "cancelled_orders": list(result.cancelled_orders),
        "steps": [
            {
                "kind": st.kind,
                "symbol": st.symbol,
                "asked": to_text(st.asked_units),
                "closed": to_text(st.closed_units),
                "price": to_text(st.price_units),
                "mark": to_text(st.mark_units),
                "fee": to_text(st.fee_units),
            }
            for st in result.steps
        ],
        "bad_debt": to_text(result.bad_debt_units),
        "ended": result.ended,
        "unfilled": list(result.unfilled),
        "reason": result.reason,
    }


def liquidation_steps(result: LiquidationResult, filler: VenueFiller) -> list[dict[str, Any]]:
    """Each booked step of ``result`` with the venues' fills that made it (exact Decimals, whole
    units): ``kind``, ``symbol`` (the ledger's perp market or spot asset), ``side``, ``asked`` and
    ``qty`` (unsigned), ``price`` (the booked all-in average), ``mark`` (when the step was decided),
    ``fee`` (the liquidation fee to the fund), ``cost`` (what filling at the venues cost against
    the mark: qty x (price - mark) for a buy, qty x (mark - price) for a sale; > 0 is worse),
    ``mm_before`` and ``mm_after`` (the subaccount's maintenance margin around the step) and
    ``fills`` (each venue child that traded: ``venue``, ``symbol``, ``side``, ``qty``,
    ``quote_amount``, ``fee``). Steps and the orders that filled anything pair one to one, in
    order (:meth:`Liquidation.book` books a step exactly when something filled). O(fills)."""
    traded = [children for answer, children in filler.answers if answer.filled_units]
    rows = []
    for step, children in zip(result.steps, traded, strict=True):
        cost16 = step.closed_units * (step.price_units - step.mark_units)  # 1e-36 quote
        rows.append(
            {
                "kind": step.kind,
                "symbol": step.symbol,
                "side": "buy" if step.closed_units > 0 else "sell",
                "asked": to_decimal(abs(step.asked_units)),
                "qty": to_decimal(abs(step.closed_units)),
                "price": to_decimal(step.price_units),
                "mark": to_decimal(step.mark_units),
                "fee": to_decimal(step.fee_units),
                "cost": Decimal(cost16).scaleb(-2 * PLACES),
                "mm_before": to_decimal(step.mm_before),
                "mm_after": to_decimal(step.mm_after),
                "fills": [
                    {
                        "venue": child.venue,
                        "symbol": filler.adapters[child.venue].symbol,
                        "side": child.side,
                        "qty": child.filled_qty,
                        "quote_amount": child.quote_amount,
                        "fee": child.fee,
                    }
                    for child in children
                    if child.filled_qty > 0
                ],
            }
        )
    return rows
