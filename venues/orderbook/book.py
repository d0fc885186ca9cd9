"""Exact limit order book: price-time priority, for spot and perpetual markets.

Units. Prices are integer ticks (``price = price_ticks * tick_size``), quantities integer lots
(``qty = qty_lots * lot_size``). A notional is counted in quote quanta,
``notional_quanta = price_ticks * qty_lots``, one quantum being ``tick_size * lot_size`` quote.
Fees are in quanta, per fill, ``ceil(notional_quanta * fee_pips / 1_000_000)``: rounded up, in the
venue's favour, because the venue must never pay out a fraction of a quantum it did not collect.
``Decimal`` appears only at the edge (:meth:`OrderBook.price_to_ticks` and friends); no float is
ever used.

Semantics, decided once and tested:

- ``GTC`` rests the remainder; ``IOC`` and market orders cancel it (status ``"expired"``).
- ``FOK`` fills completely or does nothing: when the book (after self-trade prevention) cannot
  fill all of it, the result has status ``"expired"``, no fills, and the book, positions and cash
  are exactly as before. The order id is consumed (the order existed and expired), as on Binance.
- ``POST_ONLY`` that would take liquidity raises ``VenueError`` code ``"POST_ONLY_WOULD_CROSS"``
  and changes nothing (the id is not consumed); otherwise it rests like ``GTC``.
- Self-trade prevention compares owners. ``cancel_taker`` cancels the taker's remainder
  (status ``"cancelled"``, earlier fills stand); ``cancel_maker`` cancels each resting order of
  the same owner the taker meets and carries on; ``cancel_both`` does both.
- Every error is raised before any state changes: a failed call leaves the book exactly as it was.
- Order ids are unique for the life of the book (a filled or cancelled id cannot be reused), so a
  fill always names one order.

Statuses of an :class:`OrderResult`: ``"filled"`` (all of it), ``"partially_filled"`` (some filled,
the rest rests), ``"resting"`` (nothing filled, all rests), ``"expired"`` (the remainder was
cancelled by the time in force: IOC, FOK, market), ``"cancelled"`` (the remainder was cancelled by
self-trade prevention). Rejections are exceptions, never a status.

Positions. For both kinds the book keeps each owner's net position in lots (bought minus sold) and
cash flow in quanta (received minus paid, fees included), so fills are conserved: positions sum to
zero, and cash plus the fees the venue collected sums to zero. The margin core tracks perpetual
positions elsewhere; these figures serve the venue server.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import islice
from typing import Any

try:
    import cython  # compiled: Cython's directives (free lists, no GC tracking: _Resting, _Level)
except ModuleNotFoundError:  # running as plain Python where Cython is not installed
    from venues.orderbook import cython_absent as cython

from venues.errors import InvalidArgument, VenueError, require_int
from venues.orderbook import records
from venues.orderbook.prices import PriceSet
from venues.orderbook.types import PIPS_PER_UNIT, BookQuote, Fill, Order, OrderResult
from venues.values import parse_decimal, parse_non_negative, parse_positive

__all__ = ["OrderBook"]

BUY, SELL = "buy", "sell"
GTC, IOC, FOK, POST_ONLY = "GTC", "IOC", "FOK", "POST_ONLY"
# Lookups that also intern: an enum member or an equal str maps to the constant, so the hot
# paths can compare sides and times in force by identity.
_SIDES = {BUY: BUY, SELL: SELL}
_TIFS = {GTC: GTC, IOC: IOC, FOK: FOK, POST_ONLY: POST_ONLY}
_KINDS = {"spot": "spot", "perp": "perp"}
_STPS = {
    "cancel_taker": "cancel_taker",
    "cancel_maker": "cancel_maker",
    "cancel_both": "cancel_both",
}
_BOOK_SIDES = {"bids": "bids", "asks": "asks"}


# Compiled, a resting order is allocated from a free list (most live briefly: cancelled or filled
# within a few operations) and is not tracked by the cycle collector: it refers only to str and
# int values, so it can never be part of a cycle. As plain Python these decorators do nothing.
@cython.freelist(1024)
@cython.no_gc
@cython.cclass
class _Resting:
    """Mutable internal twin of :class:`Order`; the public API hands out immutable snapshots."""

    __slots__ = (
        "order_id",
        "original_lots",
        "owner",
        "price_ticks",
        "qty_lots",
        "seq",
        "side",
        "tif",
    )

    def __init__(
        self,
        order_id: str,
        owner: str,
        side: str,
        price_ticks: int,
        qty_lots: int,
        tif: str,
        seq: int,
    ) -> None:
        self.order_id = order_id
        self.owner = owner
        self.side = side
        self.price_ticks = price_ticks
        self.qty_lots = qty_lots
        self.original_lots = qty_lots
        self.tif = tif
        self.seq = seq

    def snapshot(self) -> Order:
        return records.new(
            Order,
            (
                self.order_id,
                self.owner,
                self.side,
                self.price_ticks,
                self.qty_lots,
                self.original_lots,
                self.tif,
                self.seq,
            ),
        )


# Compiled like _Resting: levels open and empty at the touch all the time, and a level refers only
# to its list of resting orders, which refer to no level, so no cycle can pass through it.
@cython.freelist(256)
@cython.no_gc
@cython.cclass
class _Level:
    """One price level: the FIFO of its orders, how many of them are open, and their lots.

    A list with lazy cancellation rather than a keyed map: a cancel only marks its order dead
    (``qty_lots = 0``) and fixes the counters. The front is ``queue[head]``: matching takes
    orders off the front by moving ``head`` on (the orders it passes are dead), and drops the
    passed part once it is half the list, so taking from the front is O(1) amortised; the queue
    is compacted when dead entries outnumber the open orders, so ``len(queue) - head`` stays at
    most ``2 * live + 8``. A list rather than a deque because compiled, appending and indexing a
    list are C operations where a deque's are method calls. An entry per order is one 8-byte
    pointer, where an OrderedDict entry cost about 100 bytes.
    """

    __slots__ = ("head", "live", "queue", "total_lots")

    def __init__(self) -> None:
        self.queue: list[_Resting] = []
        self.head = 0
        self.live = 0
        self.total_lots = 0

    def open_orders(self) -> list[_Resting]:
        """The open orders of the level, oldest first. O(queue)."""
        return [r for r in self.queue if r.qty_lots]


def _new_level() -> _Level:
    """An empty level: ``_Level()`` without the call of ``__init__`` (compiled, a C function
    that takes the instance from the type's free list)."""
    level = _Level.__new__(_Level)
    level.queue = []
    level.head = level.live = level.total_lots = 0
    return level


def _ceil_div(numerator: int, denominator: int) -> int:
    return -((-numerator) // denominator)


def _decimal_from_int_scaled(units: int, coefficient: int, exponent: int) -> Decimal:
    """Exactly ``units * coefficient * 10**exponent`` as a Decimal, never rounded by a context."""
    return Decimal(f"{units * coefficient}E{exponent}")


def _coefficient_exponent(dec: Decimal) -> tuple[int, int]:
    sign, digits, exponent = dec.as_tuple()
    assert isinstance(exponent, int)  # finite: the value grammar refuses NaN and Infinity
    coefficient = int("".join(map(str, digits)) or "0")
    return (-coefficient if sign else coefficient), exponent


class OrderBook:
    """An exact limit order book with price-time priority, self-trade prevention and fees.

    Prices are integer ticks, sizes integer lots, notionals and fees quanta (module docstring).
    Complexity, with W the non-empty 256-tick words of a side's prices (venues.orderbook.prices):
    placing O(1), plus O(log W) when it opens the first level of a word; each fill O(1)
    amortised; cancel O(1), plus O(log W) when it empties a word; quote O(orders touched).

    >>> book = OrderBook("ETH/USDC", tick_size="0.01", lot_size="0.0001", taker_fee_pips=500)
    >>> book.place_limit("a1", "maker", "sell", book.price_to_ticks("3000.50"), 80_000).status
    'resting'
    >>> result = book.place_limit("b1", "taker", "buy", 300_100, 30_000, tif="IOC")
    >>> result.status, result.filled_lots, result.fills[0].taker_fee_quanta
    ('filled', 30000, 4500750)
    >>> book.quanta_to_quote(result.fills[0].notional_quanta)
    Decimal('9001.500000')
    >>> book.depth("asks"), book.position_lots("taker")
    ([(300050, 50000)], 30000)
    """

    __slots__ = (
        "_ask_levels",
        "_ask_prices",
        "_best_ask",
        "_best_bid",
        "_bid_levels",
        "_bid_prices",
        "_cash_quanta",
        "_fees_quanta",
        "_fill_seq",
        "_ids",
        "_kind",
        "_lot_ce",
        "_lot_ratio",
        "_lot_size",
        "_maker_fee_pips",
        "_min_notional",
        "_min_notional_quanta",
        "_order_seq",
        "_orders",
        "_position_lots",
        "_quantum_ce",
        "_stp",
        "_symbol",
        "_taker_fee_pips",
        "_tick_ce",
        "_tick_ratio",
        "_tick_size",
    )

    def __init__(
        self,
        symbol: str,
        *,
        tick_size: Decimal | str,
        lot_size: Decimal | str,
        min_notional: Decimal | str = "0",
        maker_fee_pips: int = 0,
        taker_fee_pips: int = 0,
        kind: str = "spot",
        stp: str = "cancel_taker",
    ) -> None:
        """Create an empty book. Raises :class:`InvalidArgument` on any bad parameter."""
        if not isinstance(symbol, str) or not symbol:
            raise InvalidArgument("symbol", symbol, "a non-empty str such as 'ETH/USDC'")
        tick = parse_positive("tick_size", tick_size, error=InvalidArgument)
        lot = parse_positive("lot_size", lot_size, error=InvalidArgument)
        floor_notional = parse_non_negative(
            "min_notional", min_notional, kind="a quote amount >= 0", error=InvalidArgument
        )
        require_int("taker_fee_pips", taker_fee_pips, minimum=0, maximum=PIPS_PER_UNIT - 1)
        # A maker rebate (negative maker fee) is allowed only while the venue still earns on every
        # fill: with both fees rounded up, ceil(x*t) + ceil(-x*m) >= 0 whenever m <= t.
        require_int(
            "maker_fee_pips", maker_fee_pips, minimum=-taker_fee_pips, maximum=PIPS_PER_UNIT - 1
        )
        kind_value = _lookup(_KINDS, "kind", kind)
        stp_value = _lookup(_STPS, "stp", stp)

        self._symbol = symbol
        self._tick_size = tick
        self._lot_size = lot
        self._min_notional = floor_notional
        self._tick_ratio = tick.as_integer_ratio()
        self._lot_ratio = lot.as_integer_ratio()
        self._tick_ce = _coefficient_exponent(tick)
        self._lot_ce = _coefficient_exponent(lot)
        self._quantum_ce = (self._tick_ce[0] * self._lot_ce[0], self._tick_ce[1] + self._lot_ce[1])
        # Rounded up: an order must be worth at least min_notional, never a fraction less.
        mn_num, mn_den = floor_notional.as_integer_ratio()
        (tn, td), (ln, ld) = self._tick_ratio, self._lot_ratio
        self._min_notional_quanta = _ceil_div(mn_num * td * ld, mn_den * tn * ln)
        self._maker_fee_pips = maker_fee_pips
        self._taker_fee_pips = taker_fee_pips
        self._kind = kind_value
        self._stp = stp_value

        # Each side: price -> level (O(1) lookup) plus the sorted set of those prices (a bitmap,
        # see venues.orderbook.prices: O(1) to add or remove a level at the touch).
        self._bid_levels: dict[int, _Level] = {}
        self._bid_prices = PriceSet()
        self._ask_levels: dict[int, _Level] = {}
        self._ask_prices = PriceSet()
        # The best price of each side (None when empty), cached: reading the price set is a
        # Python-level call, and every order asks whether it crosses.
        self._best_bid: int | None = None
        self._best_ask: int | None = None
        self._orders: dict[str, _Resting] = {}  # open orders by id, in seq order
        # Ids are unique for the book's life: every id the book ever took, open or closed. An id
        # enters once, when its order is placed, in the same set operation that finds whether it
        # was taken before; closing an order touches nothing here. (A set of the closed ids
        # only cost a second operation per order on a set too large for the cache.)
        self._ids: set[str] = set()
        self._position_lots: dict[str, int] = {}
        self._cash_quanta: dict[str, int] = {}
        self._fees_quanta = 0
        self._order_seq = 0
        self._fill_seq = 0

    # Read-only configuration: changing a fee or the grid under resting orders would corrupt them.
    symbol = property(lambda self: self._symbol, doc="Instrument symbol, e.g. 'ETH/USDC'.")
    tick_size = property(lambda self: self._tick_size, doc="Quote per base of one price tick.")
    lot_size = property(lambda self: self._lot_size, doc="Base quantity of one lot.")
    min_notional = property(
        lambda self: self._min_notional, doc="Smallest notional of a new order, quote units."
    )
    min_notional_quanta = property(
        lambda self: self._min_notional_quanta, doc="min_notional in quanta, rounded up."
    )
    maker_fee_pips = property(
        lambda self: self._maker_fee_pips,
        doc="Maker fee in hundredths of a bip (negative: rebate).",
    )
    taker_fee_pips = property(
        lambda self: self._taker_fee_pips, doc="Taker fee in hundredths of a bip."
    )
    kind = property(lambda self: self._kind, doc="'spot' or 'perp'.")
    stp = property(lambda self: self._stp, doc="Self-trade prevention mode.")

    def __len__(self) -> int:
        """Number of open orders. O(1)."""
        return len(self._orders)

    def __repr__(self) -> str:
        return (
            f"OrderBook({self._symbol!r}, kind={self._kind!r}, best_bid={self.best_bid()}, "
            f"best_ask={self.best_ask()}, open_orders={len(self._orders)})"
        )

    # ------------------------------------------------------------------ edge conversions

    def price_to_ticks(self, price: Decimal | str) -> int:
        """Convert a price in quote per base to ticks; exact, raises if off the tick grid or <= 0.

        >>> OrderBook("X/Y", tick_size="0.5", lot_size="1").price_to_ticks("101.5")
        203
        """
        allowed = f"a positive multiple of tick_size {self._tick_size} (Decimal or str)"
        dec = parse_decimal("price", price, error=InvalidArgument)
        num, den = dec.as_integer_ratio()
        tn, td = self._tick_ratio
        ticks, rest = divmod(num * td, den * tn)
        if rest or ticks <= 0:
            raise InvalidArgument("price", price, allowed, code="OFF_TICK")
        return ticks

    def ticks_to_price(self, price_ticks: int) -> Decimal:
        """Convert ticks (int >= 0) to a price in quote per base; exact, keeps the tick's scale.

        >>> OrderBook("X/Y", tick_size="0.01", lot_size="1").ticks_to_price(300050)
        Decimal('3000.50')
        """
        require_int("price_ticks", price_ticks, minimum=0)
        return _decimal_from_int_scaled(price_ticks, *self._tick_ce)

    def qty_to_lots(self, qty: Decimal | str) -> int:
        """Convert a base quantity to lots; exact, raises if off the lot grid or negative.

        >>> OrderBook("X/Y", tick_size="1", lot_size="0.001").qty_to_lots("1.25")
        1250
        """
        allowed = f"a multiple of lot_size {self._lot_size}, >= 0 (Decimal or str)"
        dec = parse_decimal("qty", qty, error=InvalidArgument)
        num, den = dec.as_integer_ratio()
        ln, ld = self._lot_ratio
        lots, rest = divmod(num * ld, den * ln)
        if rest or lots < 0:
            raise InvalidArgument("qty", qty, allowed, code="OFF_LOT")
        return lots

    def lots_to_qty(self, qty_lots: int) -> Decimal:
        """Convert lots (any int: positions may be negative) to base units; exact.

        >>> OrderBook("X/Y", tick_size="1", lot_size="0.001").lots_to_qty(-1250)
        Decimal('-1.250')
        """
        require_int("qty_lots", qty_lots)
        return _decimal_from_int_scaled(qty_lots, *self._lot_ce)

    def quanta_to_quote(self, quanta: int) -> Decimal:
        """Convert quanta (any int: cash may be negative) to quote units; exact.

        >>> OrderBook("X/Y", tick_size="0.01", lot_size="0.1").quanta_to_quote(12345)
        Decimal('12.345')
        """
        require_int("quanta", quanta)
        return _decimal_from_int_scaled(quanta, *self._quantum_ce)

    # ------------------------------------------------------------------ reads

    def best_bid(self) -> int | None:
        """Highest bid price in ticks, or None on an empty side. O(1)."""
        return self._best_bid

    def best_ask(self) -> int | None:
        """Lowest ask price in ticks, or None on an empty side. O(1)."""
        return self._best_ask

    def depth(self, side: str, levels: int | None = None) -> list[tuple[int, int]]:
        """Aggregated levels of ``"bids"`` or ``"asks"``, best first: ``(price_ticks, qty_lots)``.

        ``levels`` (int >= 0) caps how many; None returns all. O(levels).

        >>> book = OrderBook("X/Y", tick_size="1", lot_size="1")
        >>> for i, price in enumerate([99, 98, 99]):
        ...     _ = book.place_limit(f"b{i}", "mm", "buy", price, 5)
        >>> book.depth("bids"), book.depth("bids", 1), book.depth("asks")
        ([(99, 10), (98, 5)], [(99, 10)], [])
        """
        side_value = _lookup(_BOOK_SIDES, "side", side)
        if levels is not None:
            require_int("levels", levels, minimum=0)
        if side_value == "bids":
            book, prices = self._bid_levels, self._bid_prices.irange(reverse=True)
        else:
            book, prices = self._ask_levels, iter(self._ask_prices)
        if levels is not None:
            prices = islice(prices, levels)
        return [(price, book[price].total_lots) for price in prices]

    def order(self, order_id: str) -> Order | None:
        """Snapshot of the open order ``order_id``, or None if it is not open. O(1)."""
        _str_arg("order_id", order_id)
        resting = self._orders.get(order_id)
        return None if resting is None else resting.snapshot()

    def open_orders(self, owner: str | None = None) -> list[Order]:
        """Snapshots of the open orders (of ``owner`` if given), oldest priority first. O(n)."""
        if owner is not None:
            _str_arg("owner", owner)
            return [r.snapshot() for r in self._orders.values() if r.owner == owner]
        return [r.snapshot() for r in self._orders.values()]

    def position_lots(self, owner: str) -> int:
        """Net lots ``owner`` bought minus sold on this book. O(1)."""
        _str_arg("owner", owner)
        return self._position_lots.get(owner, 0)

    def cash_quanta(self, owner: str) -> int:
        """Net quanta ``owner`` received minus paid on this book, fees included. O(1)."""
        _str_arg("owner", owner)
        return self._cash_quanta.get(owner, 0)

    @property
    def fees_quanta(self) -> int:
        """Fees the venue collected, in quanta (net of maker rebates)."""
        return self._fees_quanta

    def quote(
        self,
        side: str,
        qty_lots: int,
        limit_price_ticks: int | None = None,
        *,
        owner: str | None = None,
    ) -> BookQuote:
        """Sweep the book read-only for a taker ``side`` of ``qty_lots``, up to the limit.

        With ``owner`` the quote applies self-trade prevention exactly as an order of that owner
        would, so it equals what such an IOC or market order then fills. Fees per fill, rounded
        up. O(orders touched).

        >>> book = OrderBook("X/Y", tick_size="1", lot_size="1", taker_fee_pips=1000)
        >>> _ = book.place_limit("a1", "mm", "sell", 100, 3)
        >>> _ = book.place_limit("a2", "mm", "sell", 101, 3)
        >>> q = book.quote("buy", 5)   # 3 @ 100 + 2 @ 101; fees ceil(0.3) + ceil(0.202)
        >>> q.filled_lots, q.notional_quanta, q.taker_fee_quanta, q.worst_price_ticks, q.levels
        (5, 502, 2, 101, 2)
        >>> book.quote("buy", 5, owner="mm").filled_lots   # self-trade prevention
        0
        """
        side_value = _lookup(_SIDES, "side", side)
        _lots_arg("qty_lots", qty_lots)
        if limit_price_ticks is not None:
            _ticks_arg("limit_price_ticks", limit_price_ticks)
        if owner is not None:
            _str_arg("owner", owner)
        return self._sweep(side_value, qty_lots, limit_price_ticks, owner)

    # ------------------------------------------------------------------ writes

    def place_limit(
        self,
        order_id: str,
        owner: str,
        side: str,
        price_ticks: int,
        qty_lots: int,
        tif: str = "GTC",
    ) -> OrderResult:
        """Place a limit order; it takes what crosses, then rests, cancels or expires per ``tif``.

        Raises (changing nothing) on bad input, a duplicate id, a notional below
        ``min_notional_quanta``, or a POST_ONLY order that would take. Complexity: O(1) to rest
        (O(log W) to open the first level of a price word), plus O(1) amortised per fill.

        >>> book = OrderBook("X/Y", tick_size="1", lot_size="1")
        >>> book.place_limit("a1", "mm", "sell", 100, 3).status
        'resting'
        >>> r = book.place_limit("b1", "tk", "buy", 100, 5)
        >>> r.status, r.filled_lots, r.resting_lots, book.best_bid()
        ('partially_filled', 3, 2, 100)
        >>> book.place_limit("b2", "tk", "buy", 90, 5, tif="FOK").status
        'expired'
        """
        # The usual spellings pass by identity; any other (an enum member, an equal str built
        # at run time) is looked up, which also interns it, or refused.
        if side is not BUY and side is not SELL:
            try:
                side = _SIDES[side]
            except (KeyError, TypeError):
                raise InvalidArgument("side", side, "'buy' or 'sell'") from None
        if tif is not GTC and tif is not IOC:
            try:
                tif = _TIFS[tif]
            except (KeyError, TypeError):
                raise InvalidArgument("tif", tif, "'GTC', 'IOC', 'FOK' or 'POST_ONLY'") from None
        # Validation is inlined on this hot path; the helpers build the error messages. The id is
        # taken first, by the one set operation that also tells whether it was taken before (the
        # set grows exactly when it was not); a later refusal gives it back, so an error still
        # changes nothing and the errors keep their order.
        ids = self._ids
        orders = self._orders
        if type(order_id) is not str or not order_id:
            self._new_id_arg(order_id)
        taken = len(ids)
        ids.add(order_id)
        if len(ids) == taken:
            self._new_id_arg(order_id)
        if (
            type(owner) is not str
            or not owner
            or type(price_ticks) is not int
            or price_ticks < 1
            or type(qty_lots) is not int
            or qty_lots < 1
        ):
            ids.discard(order_id)
            _str_arg("owner", owner)
            _ticks_arg("price_ticks", price_ticks)
            _lots_arg("qty_lots", qty_lots)
        min_quanta = self._min_notional_quanta
        if min_quanta > 1 and price_ticks * qty_lots < min_quanta:  # 1 lot at 1 tick is 1
            ids.discard(order_id)
            raise InvalidArgument(
                "qty_lots",
                qty_lots,
                f"price_ticks * qty_lots >= min_notional_quanta {min_quanta}",
                code="MIN_NOTIONAL",
            )

        if side is BUY:
            best, best_own = self._best_ask, self._best_bid
            crosses = best is not None and best <= price_ticks
        else:
            best, best_own = self._best_bid, self._best_ask
            crosses = best is not None and best >= price_ticks
        if not crosses:
            if tif is IOC or tif is FOK:
                return records.new(OrderResult, (order_id, "expired", 0, 0, (), qty_lots, ()))
            # Rest at once: the common case of a book, kept free of calls.
            self._order_seq = seq = self._order_seq + 1
            # _Resting(...) inlined: slot stores in place cost half the constructor call. Written
            # as _Resting.__new__ so that compiled it is the type's own allocator, called in C.
            resting = _Resting.__new__(_Resting)
            resting.order_id = order_id
            resting.owner = owner
            resting.side = side
            resting.price_ticks = price_ticks
            resting.qty_lots = resting.original_lots = qty_lots
            resting.tif = tif
            resting.seq = seq
            if side is BUY:
                level = self._bid_levels.get(price_ticks)
                if level is None:  # a new level; not crossing, it is the best only if above
                    level = self._bid_levels[price_ticks] = _new_level()
                    self._bid_prices.add(price_ticks)
                    if best_own is None or price_ticks > best_own:
                        self._best_bid = price_ticks
            else:
                level = self._ask_levels.get(price_ticks)
                if level is None:
                    level = self._ask_levels[price_ticks] = _new_level()
                    self._ask_prices.add(price_ticks)
                    if best_own is None or price_ticks < best_own:
                        self._best_ask = price_ticks
            level.queue.append(resting)
            level.live += 1
            level.total_lots += qty_lots
            orders[order_id] = resting
            return records.new(OrderResult, (order_id, "resting", 0, qty_lots, (), 0, ()))
        if tif is POST_ONLY:
            ids.discard(order_id)
            raise VenueError(
                "POST_ONLY_WOULD_CROSS",
                f"post-only {side} at {price_ticks} ticks would take liquidity",
                order_id=order_id,
                price_ticks=price_ticks,
                best_opposite_ticks=best,
            )
        if tif is FOK:
            plan = self._sweep(side, qty_lots, price_ticks, owner)
            if plan.filled_lots < qty_lots:
                return records.new(OrderResult, (order_id, "expired", 0, 0, (), qty_lots, ()))
        remaining, fills, stp_cancelled, killed = self._match(
            order_id, owner, side, qty_lots, price_ticks
        )
        filled = qty_lots - remaining
        if remaining and not killed and tif is GTC:
            self._rest(order_id, owner, side, price_ticks, remaining, tif)
            orders[order_id].original_lots = qty_lots
            status = "partially_filled" if filled else "resting"
            return records.new(
                OrderResult, (order_id, status, filled, remaining, fills, 0, stp_cancelled)
            )
        if not remaining:
            status = "filled"
        elif killed:
            status = "cancelled"
        else:
            status = "expired"
        return records.new(
            OrderResult, (order_id, status, filled, 0, fills, remaining, stp_cancelled)
        )

    def place_market(
        self,
        order_id: str,
        owner: str,
        side: str,
        qty_lots: int,
        protection_price_ticks: int | None = None,
    ) -> OrderResult:
        """Take up to ``qty_lots`` at any price up to ``protection_price_ticks``; the rest expires.

        IOC semantics; min_notional does not apply (a market order has no price). O(1) amortised
        per fill plus O(log W) per emptied price word.

        >>> book = OrderBook("X/Y", tick_size="1", lot_size="1")
        >>> _ = book.place_limit("a1", "mm", "sell", 100, 3)
        >>> _ = book.place_limit("a2", "mm", "sell", 105, 3)
        >>> r = book.place_market("m1", "tk", "buy", 10, protection_price_ticks=104)
        >>> r.status, r.filled_lots, r.cancelled_lots
        ('expired', 3, 7)
        """
        try:
            side = _SIDES[side]
        except (KeyError, TypeError):
            raise InvalidArgument("side", side, "'buy' or 'sell'") from None
        self._new_id_arg(order_id)
        _str_arg("owner", owner)
        _lots_arg("qty_lots", qty_lots)
        if protection_price_ticks is not None:
            _ticks_arg("protection_price_ticks", protection_price_ticks)
        self._ids.add(order_id)
        remaining, fills, stp_cancelled, killed = self._match(
            order_id, owner, side, qty_lots, protection_price_ticks
        )
        filled = qty_lots - remaining
        if not remaining:
            status = "filled"
        elif killed:
            status = "cancelled"
        else:
            status = "expired"
        return records.new(
            OrderResult, (order_id, status, filled, 0, fills, remaining, stp_cancelled)
        )

    def cancel(self, order_id: str) -> Order:
        """Cancel the open order ``order_id`` and return its last snapshot (remaining lots).

        Raises ``UNKNOWN_ORDER`` if it is not open. O(1).

        >>> book = OrderBook("X/Y", tick_size="1", lot_size="1")
        >>> _ = book.place_limit("a1", "mm", "sell", 100, 3)
        >>> book.cancel("a1").qty_lots, book.best_ask()
        (3, None)
        """
        resting = self._orders.pop(order_id, None) if type(order_id) is str else None
        if resting is None:
            raise _not_open_error(order_id)  # nothing was removed
        side, price, qty_lots = resting.side, resting.price_ticks, resting.qty_lots
        snapshot = records.new(
            Order,
            (
                order_id,
                resting.owner,
                side,
                price,
                qty_lots,
                resting.original_lots,
                resting.tif,
                resting.seq,
            ),
        )
        # _unlink inlined for the common case: the level keeps other orders, no compaction due.
        level = (self._bid_levels if side == BUY else self._ask_levels)[price]
        live = level.live - 1
        if live and len(level.queue) - level.head <= 2 * live + 8:
            level.live = live
            level.total_lots -= qty_lots
            resting.qty_lots = 0  # dead: skipped, then dropped, by the level's queue
        else:
            self._unlink(resting)
        return snapshot

    def amend(
        self, order_id: str, *, price_ticks: int | None = None, qty_lots: int | None = None
    ) -> Order:
        """Change an open order's price and/or remaining size; return the new snapshot.

        ``qty_lots`` is the new open (remaining) size. Priority is kept only when the price is
        unchanged and the size does not grow; otherwise the order goes to the back of its (new)
        level with a new ``seq``. An amend that would cross the book raises ``AMEND_WOULD_CROSS``;
        any error changes nothing. O(1), O(log W) at worst when the price moves.

        >>> book = OrderBook("X/Y", tick_size="1", lot_size="1")
        >>> _ = book.place_limit("a1", "mm", "sell", 100, 3)
        >>> _ = book.place_limit("a2", "mm", "sell", 100, 3)
        >>> book.amend("a1", qty_lots=2).seq      # shrink in place: keeps priority
        1
        >>> book.amend("a1", qty_lots=4).seq      # growth: back of the queue
        3
        """
        resting = self._open_arg(order_id)
        if price_ticks is None and qty_lots is None:
            raise InvalidArgument("price_ticks/qty_lots", None, "at least one of them")
        if price_ticks is not None:
            _ticks_arg("price_ticks", price_ticks)
        if qty_lots is not None:
            _lots_arg("qty_lots", qty_lots)
        new_price = resting.price_ticks if price_ticks is None else price_ticks
        new_qty = resting.qty_lots if qty_lots is None else qty_lots
        if new_price * new_qty < self._min_notional_quanta:
            raise InvalidArgument(
                "qty_lots",
                new_qty,
                f"price_ticks * qty_lots >= min_notional_quanta {self._min_notional_quanta}",
                code="MIN_NOTIONAL",
            )
        if new_price != resting.price_ticks:
            if resting.side == BUY:
                best = self._best_ask
                crosses = best is not None and new_price >= best
            else:
                best = self._best_bid
                crosses = best is not None and new_price <= best
            if crosses:
                raise VenueError(
                    "AMEND_WOULD_CROSS",
                    f"amending {order_id} to {new_price} ticks would cross the book",
                    order_id=order_id,
                    price_ticks=new_price,
                    best_opposite_ticks=best,
                )

        if new_price == resting.price_ticks and new_qty <= resting.qty_lots:
            shrink = resting.qty_lots - new_qty
            levels = self._bid_levels if resting.side == BUY else self._ask_levels
            levels[new_price].total_lots -= shrink
            resting.qty_lots = new_qty
            resting.original_lots -= shrink
            return resting.snapshot()
        original_lots = resting.original_lots + new_qty - resting.qty_lots
        self._unlink(resting)  # the old record stays in its queue, dead
        del self._orders[order_id]
        self._order_seq += 1
        moved = _Resting(
            order_id, resting.owner, resting.side, new_price, new_qty, resting.tif, self._order_seq
        )
        moved.original_lots = original_lots
        self._link(moved)
        self._orders[order_id] = moved
        return moved.snapshot()

    # ------------------------------------------------------------------ invariants

    def _check(self) -> None:
        """Assert every internal invariant; O(n). Tests call it after each operation."""
        seen_ids: set[str] = set()
        for side, levels, prices in (
            (BUY, self._bid_levels, self._bid_prices),
            (SELL, self._ask_levels, self._ask_prices),
        ):
            prices._check()
            assert list(prices) == sorted(levels), "sorted prices match the level map"
            for price, level in levels.items():
                assert type(price) is int and price >= 1
                open_orders = level.open_orders()
                assert open_orders and level.live == len(open_orders), f"level {price} count"
                head = level.head
                assert len(level.queue) - head <= 2 * level.live + 8, f"level {price} not compacted"
                assert not head or 2 * head < len(level.queue), f"level {price}: front not dropped"
                assert not any(r.qty_lots for r in level.queue[:head]), f"level {price}: taken"
                for r in level.queue:
                    assert r.qty_lots or self._orders.get(r.order_id) is not r, "dead but open"
                total = 0
                last_seq = 0
                for r in open_orders:
                    oid = r.order_id
                    assert oid not in seen_ids, f"{oid} indexed twice"
                    seen_ids.add(oid)
                    assert self._orders.get(oid) is r, f"{oid} missing from the id index"
                    assert r.side == side and r.price_ticks == price
                    assert r.qty_lots >= 1 and r.original_lots >= r.qty_lots
                    assert r.tif in (GTC, POST_ONLY)
                    assert r.seq > last_seq, f"FIFO broken at {price}"
                    last_seq = r.seq
                    total += r.qty_lots
                assert total == level.total_lots, f"level {price}: {level.total_lots} != {total}"
        assert seen_ids == set(self._orders), "id index holds exactly the resting orders"
        assert self._orders.keys() <= self._ids, "an open id was not taken"
        seqs = [r.seq for r in self._orders.values()]
        assert seqs == sorted(seqs) and all(s <= self._order_seq for s in seqs)
        assert self._best_bid == self._bid_prices.max(), "best bid"
        assert self._best_ask == self._ask_prices.min(), "best ask"
        if self._best_bid is not None and self._best_ask is not None:
            assert self._best_bid < self._best_ask, "book crossed"
        assert sum(self._position_lots.values()) == 0, "positions do not net to zero"
        assert sum(self._cash_quanta.values()) + self._fees_quanta == 0, "cash not conserved"
        assert self._fees_quanta >= 0

    def _snapshot(self) -> tuple[object, ...]:
        """Full comparable state, for tests that assert a failed call changed nothing."""

        def side(levels: dict[int, _Level], prices: PriceSet) -> tuple[object, ...]:
            return tuple(
                (
                    p,
                    levels[p].total_lots,
                    tuple(
                        (
                            r.order_id,
                            r.owner,
                            r.side,
                            r.price_ticks,
                            r.qty_lots,
                            r.original_lots,
                            r.tif,
                            r.seq,
                        )
                        for r in levels[p].open_orders()
                    ),
                )
                for p in prices
            )

        return (
            side(self._bid_levels, self._bid_prices),
            side(self._ask_levels, self._ask_prices),
            tuple(self._orders),
            tuple(sorted(self._ids)),
            tuple(sorted(self._position_lots.items())),
            tuple(sorted(self._cash_quanta.items())),
            self._fees_quanta,
            self._order_seq,
            self._fill_seq,
        )

    # ------------------------------------------------------------------ internals

    def _new_id_arg(self, order_id: Any) -> None:
        if type(order_id) is not str or not order_id:
            raise InvalidArgument("order_id", order_id, "a non-empty str")
        if order_id in self._ids:
            raise InvalidArgument(
                "order_id",
                order_id,
                "an id not used before on this book",
                code="DUPLICATE_ORDER_ID",
            )

    def _open_arg(self, order_id: Any) -> _Resting:
        resting = self._orders.get(order_id) if type(order_id) is str else None
        if resting is None:
            raise _not_open_error(order_id)
        return resting

    def _rest(
        self, order_id: str, owner: str, side: str, price_ticks: int, qty_lots: int, tif: str
    ) -> None:
        self._order_seq += 1
        resting = _Resting(order_id, owner, side, price_ticks, qty_lots, tif, self._order_seq)
        self._link(resting)
        self._orders[order_id] = resting

    def _add_price(self, side: str, price_ticks: int) -> None:
        """Register a new level's price in the sorted prices and the best-price cache."""
        if side == BUY:
            self._bid_prices.add(price_ticks)
            if self._best_bid is None or price_ticks > self._best_bid:
                self._best_bid = price_ticks
        else:
            self._ask_prices.add(price_ticks)
            if self._best_ask is None or price_ticks < self._best_ask:
                self._best_ask = price_ticks

    def _drop_price(self, side: str, price_ticks: int) -> None:
        """Remove an emptied level's price from the sorted prices and the best-price cache."""
        if side == BUY:
            self._bid_prices.remove(price_ticks)
            if price_ticks == self._best_bid:
                self._best_bid = self._bid_prices.max()
        else:
            self._ask_prices.remove(price_ticks)
            if price_ticks == self._best_ask:
                self._best_ask = self._ask_prices.min()

    def _link(self, resting: _Resting) -> None:
        side, price = resting.side, resting.price_ticks
        levels = self._bid_levels if side == BUY else self._ask_levels
        level = levels.get(price)
        if level is None:
            level = levels[price] = _new_level()
            self._add_price(side, price)
        level.queue.append(resting)
        level.live += 1
        level.total_lots += resting.qty_lots

    def _unlink(self, resting: _Resting) -> None:
        """Take an open order off its level (it stays in the queue, dead); O(1), O(log W) if it
        empties a price word."""
        price = resting.price_ticks
        levels = self._bid_levels if resting.side == BUY else self._ask_levels
        level = levels[price]
        level.total_lots -= resting.qty_lots
        resting.qty_lots = 0  # dead: skipped, then dropped, by the level's queue
        live = level.live = level.live - 1
        if not live:
            del levels[price]
            self._drop_price(resting.side, price)
        elif len(level.queue) - level.head > 2 * live + 8:
            level.queue = [r for r in level.queue if r.qty_lots]
            level.head = 0

    def _sweep(self, side: str, qty_lots: int, limit: int | None, owner: str | None) -> BookQuote:
        """Read-only twin of :meth:`_match`: what a taker would fill, with the same STP rules."""
        if side == BUY:
            levels = self._ask_levels
            prices = self._ask_prices.irange(maximum=limit)
        else:
            levels = self._bid_levels
            prices = self._bid_prices.irange(minimum=limit, reverse=True)
        stp = self._stp
        pips = self._taker_fee_pips
        remaining = qty_lots
        notional = fee = touched = 0
        worst = None
        for price in prices:
            stop = False
            took = False
            for maker in levels[price].queue:
                if not maker.qty_lots:
                    continue  # cancelled, not yet dropped
                if maker.owner == owner:
                    if stp == "cancel_maker":
                        continue
                    stop = True
                    break
                take = maker.qty_lots if maker.qty_lots < remaining else remaining
                fill_notional = price * take
                notional += fill_notional
                if pips:
                    fee += -((-fill_notional * pips) // PIPS_PER_UNIT)
                remaining -= take
                took = True
                if not remaining:
                    break
            if took:
                touched += 1
                worst = price
            if stop or not remaining:
                break
        return records.new(
            BookQuote, (side, qty_lots, qty_lots - remaining, notional, fee, worst, touched)
        )

    def _match(
        self, order_id: str, owner: str, side: str, qty_lots: int, limit: int | None
    ) -> tuple[int, tuple[Fill, ...], tuple[str, ...], bool]:
        """Take liquidity for a validated taker; return (remaining, fills, stp ids, killed by STP).

        Makers leave the front of a level's queue (its head moves on, O(1) amortised) as they are
        filled in full or STP-cancelled, and are marked dead; a partially filled maker stays in
        front; an own order under cancel_taker stops the taker. Dead (cancelled) entries met at
        the front are passed over the same way.
        """
        if side is BUY:
            levels, prices, price = self._ask_levels, self._ask_prices, self._best_ask
        else:
            levels, prices, price = self._bid_levels, self._bid_prices, self._best_bid
        stp = self._stp
        taker_pips, maker_pips = self._taker_fee_pips, self._maker_fee_pips
        orders_index = self._orders
        positions, cash = self._position_lots, self._cash_quanta
        fill_seq = self._fill_seq
        remaining = qty_lots
        fills: list[Fill] = []
        stp_cancelled: list[str] = []
        killed = False
        taker_notional = taker_fees = maker_fees = 0
        maker_sign = -1 if side is BUY else 1  # the maker's position moves against the taker
        is_buy = side is BUY
        # Fees are ceil(notional * pips / PIPS_PER_UNIT), as floor((x + PIPS_PER_UNIT - 1) / ...):
        # equal for every integer x, negative ones (rebates) included, in three operations.
        round_up = PIPS_PER_UNIT - 1
        # Dict, list and set methods are called on the containers themselves, not through bound
        # locals: compiled, they are then direct C calls.
        while remaining and price is not None:
            if limit is not None and (price > limit if is_buy else price < limit):
                break
            level = levels[price]
            queue = level.queue
            head = level.head
            end = len(queue)
            level_lots = level.total_lots
            live = level.live
            while head < end:
                maker = queue[head]
                maker_lots = maker.qty_lots
                if not maker_lots:
                    head += 1  # cancelled earlier; its counters are already off
                    continue
                maker_owner = maker.owner
                if maker_owner == owner:
                    if stp == "cancel_taker":
                        killed = True
                        break
                    head += 1
                    maker.qty_lots = 0
                    del orders_index[maker.order_id]
                    live -= 1
                    level_lots -= maker_lots
                    stp_cancelled.append(maker.order_id)
                    if stp == "cancel_both":
                        killed = True
                        break
                    continue
                if maker_lots <= remaining:
                    take = maker_lots
                    head += 1
                    maker.qty_lots = 0
                    del orders_index[maker.order_id]
                    live -= 1
                else:
                    take = remaining
                    maker.qty_lots = maker_lots - take
                level_lots -= take
                remaining -= take
                notional = price * take
                taker_fee = (notional * taker_pips + round_up) // PIPS_PER_UNIT if taker_pips else 0
                maker_fee = (notional * maker_pips + round_up) // PIPS_PER_UNIT if maker_pips else 0
                fill_seq += 1
                fills.append(
                    records.new(
                        Fill,
                        (
                            fill_seq,
                            order_id,
                            maker.order_id,
                            owner,
                            maker_owner,
                            side,
                            price,
                            take,
                            notional,
                            taker_fee,
                            maker_fee,
                        ),
                    )
                )
                taker_notional += notional
                taker_fees += taker_fee
                maker_fees += maker_fee
                if is_buy:  # the maker sold
                    positions[maker_owner] = positions.get(maker_owner, 0) - take
                    cash[maker_owner] = cash.get(maker_owner, 0) + notional - maker_fee
                else:
                    positions[maker_owner] = positions.get(maker_owner, 0) + take
                    cash[maker_owner] = cash.get(maker_owner, 0) - notional - maker_fee
                if not remaining:
                    break
            level.total_lots = level_lots
            level.live = live
            if not live:
                del levels[price]
                prices.remove(price)
                price = prices.min() if is_buy else prices.max()
            elif end - head > 2 * live + 8:  # dead entries outnumber the open orders
                level.queue = [r for r in queue if r.qty_lots]
                level.head = 0
            elif 2 * head >= end:  # the passed front is half the list: drop it
                del queue[:head]
                level.head = 0
            else:
                level.head = head
            if killed:
                break
        if is_buy:
            self._best_ask = price
        else:
            self._best_bid = price
        if fills:
            self._fill_seq = fill_seq
            filled = qty_lots - remaining
            positions[owner] = positions.get(owner, 0) - maker_sign * filled
            cash[owner] = cash.get(owner, 0) + maker_sign * taker_notional - taker_fees
            self._fees_quanta += taker_fees + maker_fees
        return remaining, tuple(fills), tuple(stp_cancelled) if stp_cancelled else (), killed


def _lookup(table: dict[str, str], field: str, value: Any) -> str:
    try:
        return table[value]
    except (KeyError, TypeError):
        raise InvalidArgument(field, value, " or ".join(repr(k) for k in table)) from None


def _str_arg(field: str, value: Any) -> None:
    if type(value) is not str or not value:
        raise InvalidArgument(field, value, "a non-empty str")


def _ticks_arg(field: str, value: Any) -> None:
    if type(value) is not int or value < 1:
        raise InvalidArgument(field, value, "an int >= 1 (price in ticks; bool refused)")


def _lots_arg(field: str, value: Any) -> None:
    if type(value) is not int or value < 1:
        raise InvalidArgument(field, value, "an int >= 1 (quantity in lots; bool refused)")


def _not_open_error(order_id: Any) -> InvalidArgument:
    """The error for an order id that names no open order (or is no id at all)."""
    if type(order_id) is not str or not order_id:
        return InvalidArgument("order_id", order_id, "a non-empty str")
    return InvalidArgument("order_id", order_id, "the id of an open order", code="UNKNOWN_ORDER")
