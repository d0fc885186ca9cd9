"""Adapter for a limit order book (``venues.orderbook.OrderBook``).

The book counts integer price ticks and quantity lots; notional is in quanta of
``tick_size * lot_size`` quote and the taker fee is rounded up per fill, in the venue's favour.
The adapter turns that into whole-unit ``Decimal`` legs: a buy pays notional plus taker fee plus
the leg cost, rounded up to the quote asset's decimals; a sell receives notional minus taker fee
minus the leg cost, rounded down.
"""

from __future__ import annotations

from decimal import Decimal

from adapters.account import VenueAccount
from adapters.amm import PIPS
from adapters.units import (
    CurveCache,
    check_amount,
    check_decimals,
    check_identity,
    check_leg_order,
    check_side,
    from_units,
    invalid,
    quote_or_reject,
    rejected_fill,
    to_float,
    to_units,
    to_units_exact,
)
from router.model.depth import DepthCurve, FlatSegment
from router.model.errors import RouteError
from router.model.orders import LegFill, LegOrder, LegQuote
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

    def __init__(
        self,
        name: str,
        symbol: str,
        book: OrderBook,
        *,
        quote_decimals: int,
        taker_fee_pips: int,
        min_notional: Decimal = Decimal(0),
        leg_cost: Decimal = Decimal(0),
        owner: str = "router",
    ) -> None:
        check_identity(name, symbol)
        check_decimals("quote_decimals", quote_decimals, name)
        if (
            isinstance(taker_fee_pips, bool)
            or not isinstance(taker_fee_pips, int)
            or not 0 <= taker_fee_pips < PIPS
        ):
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
        # Exact integer ratios of the book's grid, so conversions are int arithmetic, not Fraction:
        # one lot = lot_num / lot_den base, one tick = tick_num / tick_den quote per base, one
        # notional quantum = quantum_num / quantum_den quote.
        self._lot_num, self._lot_den = self._lot.as_integer_ratio()
        self._tick_num, self._tick_den = book.ticks_to_price(1).as_integer_ratio()
        self._quantum_num, self._quantum_den = book.quanta_to_quote(1).as_integer_ratio()
        self._min_notional_num, self._min_notional_den = min_notional.as_integer_ratio()
        self._quote_scale = 10**quote_decimals
        self._lot_float = self._lot_num / self._lot_den
        self._curves: CurveCache[DepthCurve] = CurveCache()
        self.account = VenueAccount(symbol.split("/", 1)[0])

    # -- the VenueAdapter protocol --

    def base_quantum(self) -> Decimal:
        """The book's lot size."""
        return self._lot

    def min_qty(self) -> Decimal:
        """The lot size, or the lots needed to reach the minimum notional at the lower best price."""
        if self.min_notional == 0:
            return self._lot
        return self.book.lots_to_qty(self._min_lots(self.book.best_bid(), self.book.best_ask()))

    def _min_lots(self, best_bid_ticks: int | None, best_ask_ticks: int | None) -> int:
        """Lots for the minimum notional at the lower of the best prices, >= 1. Exact ints, O(1).

        ceil(min_notional / (price * lot)) with price = ticks * tick_num / tick_den and
        lot = lot_num / lot_den, as one integer ceiling division.
        """
        if self.min_notional == 0:
            return 1
        prices = [p for p in (best_bid_ticks, best_ask_ticks) if p is not None]
        if not prices:
            return 1
        numerator = self._min_notional_num * self._tick_den * self._lot_den
        denominator = self._min_notional_den * min(prices) * self._tick_num * self._lot_num
        return max(-(-numerator // denominator), 1)

    def best_prices(self) -> tuple[Decimal | None, Decimal | None]:
        """(best bid, best ask) in quote per base, None for an empty side."""
        bid, ask = self.book.best_bid(), self.book.best_ask()
        return (
            None if bid is None else self.book.ticks_to_price(bid),
            None if ask is None else self.book.ticks_to_price(ask),
        )

    def mid_price(self) -> Decimal | None:
        """(best bid + best ask) / 2 in quote per base; None when a side is empty."""
        bid, ask = self.best_prices()
        return None if bid is None or ask is None else (bid + ask) / 2

    def depth_curve(self, side: str) -> DepthCurve:
        """One flat segment per level of the opposite side, best first, the taker fee inside.

        Cached per side, keyed by (the side's aggregated levels, best bid, best ask, leg_cost):
        the whole input of the build (the best prices set ``min_qty``). The book has no public
        mutation counter (its order and fill sequence numbers miss cancels and in-place amends),
        so the key is the level list itself: O(levels) to read, and any change to the levels, a
        fill, cancel, amend or new order, rebuilds. A miss costs O(levels) in int/float arithmetic.
        """
        check_side(side, self.name)
        book = self.book
        key = (book.depth(_BOOK_SIDE[side]), book.best_bid(), book.best_ask(), self.leg_cost)
        return self._curves.get(side, key, self._build_curve)

    def _build_curve(self, side: str, key: tuple) -> DepthCurve:
        """The curve of a book in state ``key`` (see :meth:`depth_curve`); reads nothing else.

        Floats: per level qty = lots * lot_num / lot_den and the all-in price = ticks * tick_num *
        (1e6 +- fee_pips) / (tick_den * 1e6), each one correctly rounded int / int division (the
        float of the exact value, as the former Fraction route gave). O(levels).
        """
        levels, best_bid, best_ask, leg_cost = key
        fee_factor = PIPS + self.taker_fee_pips if side == "buy" else PIPS - self.taker_fee_pips
        price_num = self._tick_num * fee_factor
        price_den = self._tick_den * PIPS
        lot_num, lot_den = self._lot_num, self._lot_den
        segments = tuple(
            FlatSegment(qty=(lots * lot_num) / lot_den, price=(ticks * price_num) / price_den)
            for ticks, lots in levels
        )
        min_qty = (self._min_lots(best_bid, best_ask) * lot_num) / lot_den
        return DepthCurve(
            venue=self.name,
            side=side,
            segments=segments,
            fixed_cost=to_float(leg_cost),
            lot=self._lot_float,
            min_qty=min_qty,
        )

    def quote(self, side: str, qty: Decimal) -> LegQuote:
        """Exact sweep of ``qty`` base (a multiple of the lot size) against the book; read-only.

        Raises RouteError when the book cannot fill ``qty`` or the notional is below the minimum.
        """
        check_side(side, self.name)
        check_amount("qty", qty, self.name)
        lots = self._lots("qty", qty)
        sweep = self.book.quote(side, lots, owner=self.owner)
        if sweep.filled_lots < lots:
            raise RouteError(
                f"{self.name}: cannot {side} {qty}: the book holds "
                f"{self.book.lots_to_qty(sweep.filled_lots)}",
                venue=self.name,
                qty=qty,
                available=self.book.lots_to_qty(sweep.filled_lots),
            )
        notional = self.book.quanta_to_quote(sweep.notional_quanta)
        if notional < self.min_notional:
            raise RouteError(
                f"{self.name}: {side} {qty} has notional {notional} below the minimum"
                f" {self.min_notional}",
                venue=self.name,
                qty=qty,
            )
        return self._leg_quote(side, lots, sweep.notional_quanta, sweep.taker_fee_quanta)

    def quote_for_quote(self, side: str, quote_amount: Decimal) -> LegQuote:
        """Leg sized in quote, all-in: buy the most lots costing <= ``quote_amount``, or sell the
        fewest lots receiving >= ``quote_amount``.

        Exact: a galloping search over lots with the book's exact sweeps, started at an estimate
        from the aggregated levels, comparing integer quote units (a leg's amount is an integer
        count of 10^-quote_decimals, so ``amount <= budget`` is ``units <= floor(budget)`` and
        ``amount >= wanted`` is ``units >= ceil(wanted)``). The amount is monotone in lots, so the
        result is the one a bisection over all lots finds; the estimate only saves sweeps
        (O(log(estimate error)) sweeps instead of O(log(total lots))).
        Raises RouteError when no lot fits the budget (buy) or the book cannot pay that much (sell).
        """
        check_side(side, self.name)
        check_amount("quote_amount", quote_amount, self.name)
        levels = self.book.depth(_BOOK_SIDE[side])
        total_lots = sum(lots for _, lots in levels)

        def units(lots: int) -> int:
            sweep = self.book.quote(side, lots, owner=self.owner)
            return self._total_units(side, sweep.notional_quanta, sweep.taker_fee_quanta)

        if side == "buy":
            budget = to_units(quote_amount, self.quote_decimals, round_up=False)
            # the most lots whose cost fits; 0 lots cost nothing
            lots = _last_true(
                lambda n: units(n) <= budget,
                0,
                total_lots,
                self._estimate_lots(side, levels, budget),
            )
        else:
            wanted = to_units(quote_amount, self.quote_decimals, round_up=True)
            # the fewest lots receiving enough: one past the most lots receiving too little (0 lots
            # receive nothing); only when that is the whole book must the whole book be swept to see
            # whether it is enough at all
            lots = 1 + _last_true(
                lambda n: units(n) < wanted,
                0,
                max(total_lots - 1, 0),
                self._estimate_lots(side, levels, wanted) - 1,
            )
            if total_lots == 0 or (lots == total_lots and units(total_lots) < wanted):
                raise RouteError(
                    f"{self.name}: selling the whole book's bids does not receive {quote_amount}",
                    venue=self.name,
                    quote_amount=quote_amount,
                )
        if lots == 0:
            raise RouteError(
                f"{self.name}: quote_amount={quote_amount} does not buy one lot",
                venue=self.name,
                quote_amount=quote_amount,
            )
        return self.quote(side, self.book.lots_to_qty(lots))

    def _estimate_lots(self, side: str, levels: list[tuple[int, int]], amount_units: int) -> int:
        """Lots whose all-in amount is about ``amount_units`` quote units, from the levels (float).

        Ignores per-fill fee rounding and self-trade prevention: only a starting point. O(levels).
        """
        fee = self.taker_fee_pips / PIPS
        # quote units per (tick * lot) quantum of notional, with the fee inside
        per_quantum = self._quantum_num * self._quote_scale / self._quantum_den
        per_quantum *= (1 + fee) if side == "buy" else (1 - fee)
        remaining = amount_units + (-self._leg_units if side == "buy" else self._leg_units)
        lots_taken = 0
        for ticks, lots in levels:
            level_units = ticks * lots * per_quantum
            if level_units >= remaining:
                return lots_taken + int(remaining / (ticks * per_quantum))
            remaining -= level_units
            lots_taken += lots
        return lots_taken

    async def execute(self, order: LegOrder) -> LegFill:
        """Send ``order`` as a market order protected at the quoted worst price, or reject it.

        The order is quoted first; a leg the book cannot fill or whose all-in average price is
        beyond ``order.limit_price`` is rejected without touching the book. Venue refusals become
        rejected fills. ``client_order_id`` is the book's order id (duplicates are refused).
        """
        check_leg_order(order, self.name)
        lots = self._lots("order.qty", order.qty)
        leg = quote_or_reject(self, order)
        if isinstance(leg, LegFill):
            return self.account.book(leg)
        worst_ticks = self.book.quote(order.side, lots, owner=self.owner).worst_price_ticks
        try:
            result = self.book.place_market(
                order.client_order_id,
                self.owner,
                order.side,
                lots,
                protection_price_ticks=worst_ticks,
            )
        except VenueError as exc:
            return self.account.book(rejected_fill(order, str(exc)))
        filled = sum(fill.qty_lots for fill in result.fills)
        if filled == 0:
            return self.account.book(
                rejected_fill(order, f"the book filled nothing (status {result.status})")
            )
        done = self._leg_quote(
            order.side,
            filled,
            sum(fill.notional_quanta for fill in result.fills),
            sum(fill.taker_fee_quanta for fill in result.fills),
        )
        return self.account.book(
            LegFill(
                venue=self.name,
                side=order.side,
                client_order_id=order.client_order_id,
                requested_qty=order.qty,
                filled_qty=done.qty,
                quote_amount=done.quote_amount,
                fee=done.fee,
                leg_cost=done.leg_cost,
                status="filled" if filled == lots else "partial",
                reason="" if filled == lots else f"status {result.status}",
            )
        )

    async def order_status(self, client_order_id: str) -> LegFill | None:
        """The venue's answer to ``client_order_id`` from its own books (None: never received)."""
        return self.account.order(client_order_id)

    async def holdings(self) -> dict[str, Decimal]:
        """The account's signed base holding on this venue, as the venue booked it."""
        return self.account.holdings()

    # -- helpers --

    def _lots(self, field: str, qty: Decimal) -> int:
        """``qty`` base as whole lots; raise if off the lot grid. Exact ints, O(digits)."""
        num, den = qty.as_integer_ratio()
        lots, rest = divmod(num * self._lot_den, den * self._lot_num)
        if rest:
            raise invalid(field, qty, f"a multiple of the lot size {self._lot}", self.name)
        return lots

    def _total_units(self, side: str, notional_quanta: int, fee_quanta: int) -> int:
        """All-in quote of a sweep in 10^-quote_decimals units, leg cost included, rounded against
        the trader: a buy pays ceil((notional + fee) quanta) + leg cost, a sell receives
        floor((notional - fee) quanta) - leg cost. Exact ints, O(1)."""
        if side == "buy":
            pay = (notional_quanta + fee_quanta) * self._quantum_num * self._quote_scale
            return -(-pay // self._quantum_den) + self._leg_units
        receive = (notional_quanta - fee_quanta) * self._quantum_num * self._quote_scale
        return receive // self._quantum_den - self._leg_units

    def _leg_quote(self, side: str, lots: int, notional_quanta: int, fee_quanta: int) -> LegQuote:
        """Whole-unit leg from book integers; quote rounded to the quote decimals against the trader.

        The fee is rounded up to the quote decimals. Exact ints, O(1).
        """
        total = self._total_units(side, notional_quanta, fee_quanta)
        fee_units = -(-(fee_quanta * self._quantum_num * self._quote_scale) // self._quantum_den)
        return LegQuote(
            venue=self.name,
            side=side,
            qty=self.book.lots_to_qty(lots),
            quote_amount=from_units(total, self.quote_decimals),
            fee=from_units(fee_units, self.quote_decimals),
            leg_cost=self.leg_cost,
        )


def _last_true(predicate, lo: int, hi: int, guess: int) -> int:
    """The greatest n in [lo, hi] with ``predicate(n)``, for a predicate true up to some n, false
    after, with ``predicate(lo)`` true (not evaluated). Gallops from ``guess`` (clamped) in doubling
    steps, then bisects: O(log |answer - guess|) calls."""
    guess = min(max(guess, lo), hi)
    if guess > lo and not predicate(guess):
        hi = guess - 1  # answer below the guess: gallop down
        step = 1
        while True:
            probe = max(hi - step + 1, lo)
            if probe == lo or predicate(probe):
                lo = probe
                break
            hi = probe - 1
            step *= 2
    else:
        lo = guess  # answer at or above the guess: gallop up
        step = 1
        while lo < hi:
            probe = min(lo + step, hi)
            if not predicate(probe):
                hi = probe - 1
                break
            lo = probe
            step *= 2
    while lo < hi:  # invariant: predicate(lo), and the answer is in [lo, hi]
        mid = (lo + hi + 1) // 2
        if predicate(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo
