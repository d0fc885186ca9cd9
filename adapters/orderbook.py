"""Adapter for a limit order book (``venues.orderbook.OrderBook``).

The book counts integer price ticks and quantity lots; notional is in quanta of
``tick_size * lot_size`` quote and the taker fee is rounded up per fill, in the venue's favour.
The adapter turns that into whole-unit ``Decimal`` legs: a buy pays notional plus taker fee plus
the leg cost, rounded up to the quote asset's decimals; a sell receives notional minus taker fee
minus the leg cost, rounded down.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from adapters.amm import PIPS, _beyond_limit, _rejected
from adapters.units import check_amount, check_side, from_units, invalid, to_float, to_units_exact
from router.depth import DepthCurve, FlatSegment
from router.errors import RouteError
from router.orders import LegFill, LegOrder, LegQuote
from venues.errors import VenueError
from venues.orderbook import OrderBook

_BOOK_SIDE = {"buy": "asks", "sell": "bids"}


class OrderBookAdapter:
    """Adapter over one :class:`OrderBook`; takes liquidity with market orders as ``owner``.

    Depth: one flat segment per price level with the taker fee inside (buy: price * (1 + fee),
    sell: price * (1 - fee)). Exact quotes use the book's read-only sweep. Complexity: O(levels)
    per curve and per quote; O(levels * log(total lots)) for a quote-sized leg.
    """

    kind = "orderbook"

    def __init__(self, name: str, symbol: str, book: OrderBook, *, quote_decimals: int,
                 taker_fee_pips: int, min_notional: Decimal = Decimal(0),
                 leg_cost: Decimal = Decimal(0), owner: str = "router") -> None:
        if not isinstance(name, str) or not name:
            raise invalid("name", name, "a non-empty string")
        if not isinstance(symbol, str) or symbol.count("/") != 1:
            raise invalid("symbol", symbol, "'BASE/QUOTE'", name)
        if isinstance(quote_decimals, bool) or not isinstance(quote_decimals, int) or not 0 <= quote_decimals <= 36:
            raise invalid("quote_decimals", quote_decimals, "an integer in [0, 36]", name)
        if isinstance(taker_fee_pips, bool) or not isinstance(taker_fee_pips, int) or not 0 <= taker_fee_pips < PIPS:
            raise invalid("taker_fee_pips", taker_fee_pips, f"an integer in [0, {PIPS - 1}]", name)
        check_amount("min_notional", min_notional, name, allow_zero=True)
        check_amount("leg_cost", leg_cost, name, allow_zero=True)
        if not isinstance(owner, str) or not owner:
            raise invalid("owner", owner, "a non-empty string", name)
        self.name = name
        self.symbol = symbol
        self.book = book
        self.quote_decimals = quote_decimals
        self.taker_fee_pips = taker_fee_pips
        self.min_notional = min_notional
        self.owner = owner
        self._leg_units = to_units_exact("leg_cost", leg_cost, quote_decimals, name)
        self.leg_cost = leg_cost
        self._lot = book.lots_to_qty(1)

    # -- the VenueAdapter protocol --

    def base_quantum(self) -> Decimal:
        """The book's lot size."""
        return self._lot

    def min_qty(self) -> Decimal:
        """The lot size, or the lots needed to reach the minimum notional at the lower best price."""
        if self.min_notional == 0:
            return self._lot
        prices = [p for p in (self.book.best_bid(), self.book.best_ask()) if p is not None]
        if not prices:
            return self._lot
        price = Fraction(self.book.ticks_to_price(min(prices)))
        lots = -((-Fraction(self.min_notional)) // (price * Fraction(self._lot)))
        return self.book.lots_to_qty(max(int(lots), 1))

    def best_prices(self) -> tuple[Decimal | None, Decimal | None]:
        """(best bid, best ask) in quote per base, None for an empty side."""
        bid, ask = self.book.best_bid(), self.book.best_ask()
        return (None if bid is None else self.book.ticks_to_price(bid),
                None if ask is None else self.book.ticks_to_price(ask))

    def mid_price(self) -> Decimal | None:
        """(best bid + best ask) / 2 in quote per base; None when a side is empty."""
        bid, ask = self.best_prices()
        return None if bid is None or ask is None else (bid + ask) / 2

    def depth_curve(self, side: str) -> DepthCurve:
        """One flat segment per level of the opposite side, best first, the taker fee inside. O(levels)."""
        check_side(side, self.name)
        fee = Fraction(self.taker_fee_pips, PIPS)
        factor = 1 + fee if side == "buy" else 1 - fee
        segments = tuple(
            FlatSegment(qty=to_float(self.book.lots_to_qty(lots)),
                        price=to_float(Fraction(self.book.ticks_to_price(ticks)) * factor))
            for ticks, lots in self.book.depth(_BOOK_SIDE[side]))
        return DepthCurve(venue=self.name, side=side, segments=segments,
                          fixed_cost=to_float(self.leg_cost), lot=to_float(self._lot),
                          min_qty=to_float(self.min_qty()))

    def quote(self, side: str, qty: Decimal) -> LegQuote:
        """Exact sweep of ``qty`` base (a multiple of the lot size) against the book; read-only.

        Raises RouteError when the book cannot fill ``qty`` or the notional is below the minimum.
        """
        check_side(side, self.name)
        check_amount("qty", qty, self.name)
        lots = self._lots("qty", qty)
        sweep = self.book.quote(side, lots, owner=self.owner)
        if sweep.filled_lots < lots:
            raise RouteError(f"{self.name}: cannot {side} {qty}: the book holds "
                             f"{self.book.lots_to_qty(sweep.filled_lots)}", venue=self.name,
                             qty=qty, available=self.book.lots_to_qty(sweep.filled_lots))
        notional = self.book.quanta_to_quote(sweep.notional_quanta)
        if notional < self.min_notional:
            raise RouteError(f"{self.name}: {side} {qty} has notional {notional} below the minimum"
                             f" {self.min_notional}", venue=self.name, qty=qty)
        return self._leg_quote(side, lots, sweep.notional_quanta, sweep.taker_fee_quanta)

    def quote_for_quote(self, side: str, quote_amount: Decimal) -> LegQuote:
        """Leg sized in quote, all-in: buy the most lots costing <= ``quote_amount``, or sell the
        fewest lots receiving >= ``quote_amount``. Binary search over lots with exact sweeps.

        Raises RouteError when no lot fits the budget (buy) or the book cannot pay that much (sell).
        """
        check_side(side, self.name)
        check_amount("quote_amount", quote_amount, self.name)
        total_lots = sum(lots for _, lots in self.book.depth(_BOOK_SIDE[side]))

        def amount(lots: int) -> Decimal:
            sweep = self.book.quote(side, lots, owner=self.owner)
            return self._leg_quote(side, lots, sweep.notional_quanta, sweep.taker_fee_quanta).quote_amount

        if side == "buy":
            lo, hi = 0, total_lots  # invariant: amount(lo) <= budget (lo = 0 costs nothing)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if amount(mid) <= quote_amount:
                    lo = mid
                else:
                    hi = mid - 1
            lots = lo
        else:
            if total_lots == 0 or amount(total_lots) < quote_amount:
                raise RouteError(f"{self.name}: selling the whole book's bids does not receive"
                                 f" {quote_amount}", venue=self.name, quote_amount=quote_amount)
            lo, hi = 1, total_lots  # invariant: amount(hi) >= wanted
            while lo < hi:
                mid = (lo + hi) // 2
                if amount(mid) >= quote_amount:
                    hi = mid
                else:
                    lo = mid + 1
            lots = hi
        if lots == 0:
            raise RouteError(f"{self.name}: quote_amount={quote_amount} does not buy one lot",
                             venue=self.name, quote_amount=quote_amount)
        return self.quote(side, self.book.lots_to_qty(lots))

    async def execute(self, order: LegOrder) -> LegFill:
        """Send ``order`` as a market order protected at the quoted worst price, or reject it.

        The order is quoted first; a leg the book cannot fill or whose all-in average price is
        beyond ``order.limit_price`` is rejected without touching the book. Venue refusals become
        rejected fills. ``client_order_id`` is the book's order id (duplicates are refused).
        """
        lots = self._check_order(order)
        try:
            leg = self.quote(order.side, order.qty)
        except RouteError as exc:
            return _rejected(order, self.leg_cost, str(exc))
        if _beyond_limit(order, leg.avg_price):
            return _rejected(order, self.leg_cost,
                             f"average price {leg.avg_price} is beyond the limit {order.limit_price}")
        worst_ticks = self.book.quote(order.side, lots, owner=self.owner).worst_price_ticks
        try:
            result = self.book.place_market(order.client_order_id, self.owner, order.side, lots,
                                            protection_price_ticks=worst_ticks)
        except VenueError as exc:
            return _rejected(order, self.leg_cost, str(exc))
        filled = sum(fill.qty_lots for fill in result.fills)
        if filled == 0:
            return _rejected(order, self.leg_cost, f"the book filled nothing (status {result.status})")
        done = self._leg_quote(order.side, filled,
                               sum(fill.notional_quanta for fill in result.fills),
                               sum(fill.taker_fee_quanta for fill in result.fills))
        return LegFill(venue=self.name, side=order.side, client_order_id=order.client_order_id,
                       requested_qty=order.qty, filled_qty=done.qty, quote_amount=done.quote_amount,
                       fee=done.fee, leg_cost=done.leg_cost,
                       status="filled" if filled == lots else "partial",
                       reason="" if filled == lots else f"status {result.status}")

    # -- helpers --

    def _lots(self, field: str, qty: Decimal) -> int:
        lots_fraction = Fraction(qty) / Fraction(self._lot)
        if lots_fraction.denominator != 1:
            raise invalid(field, qty, f"a multiple of the lot size {self._lot}", self.name)
        return lots_fraction.numerator

    def _check_order(self, order: Any) -> int:
        if not isinstance(order, LegOrder):
            raise invalid("order", order, "a LegOrder", self.name)
        if order.venue != self.name:
            raise invalid("order.venue", order.venue, repr(self.name), self.name)
        check_side(order.side, self.name)
        check_amount("order.qty", order.qty, self.name)
        if order.limit_price is not None:
            check_amount("order.limit_price", order.limit_price, self.name)
        if not isinstance(order.client_order_id, str) or not order.client_order_id:
            raise invalid("order.client_order_id", order.client_order_id, "a non-empty string", self.name)
        return self._lots("order.qty", order.qty)

    def _leg_quote(self, side: str, lots: int, notional_quanta: int, fee_quanta: int) -> LegQuote:
        """Whole-unit leg from book integers; quote rounded to the quote decimals against the trader."""
        quantum = Fraction(self.book.quanta_to_quote(1))
        scale = 10 ** self.quote_decimals
        if side == "buy":
            pay = (notional_quanta + fee_quanta) * quantum * scale
            total = -((-pay.numerator) // pay.denominator) + self._leg_units
        else:
            receive = (notional_quanta - fee_quanta) * quantum * scale
            total = receive.numerator // receive.denominator - self._leg_units
        fee = fee_quanta * quantum * scale
        fee_units = -((-fee.numerator) // fee.denominator)
        qty = self.book.lots_to_qty(lots)
        return LegQuote(venue=self.name, side=side, qty=qty,
                        quote_amount=from_units(total, self.quote_decimals),
                        fee=from_units(fee_units, self.quote_decimals), leg_cost=self.leg_cost)
