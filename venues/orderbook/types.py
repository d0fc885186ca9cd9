"""The order book's vocabulary: sides, times in force, kinds, STP modes, statuses, and the
immutable records it hands out (:class:`Order`, :class:`Fill`, :class:`OrderResult`,
:class:`BookQuote`).

The records are ``NamedTuple`` classes: immutable, hashable, picklable, built by position or by
keyword, and the cheapest immutable record Python has. The book builds one or more per operation,
with ``tuple.__new__(Record, fields)``: several times cheaper than a frozen dataclass constructor
(``benchmarks/bench_orderbook.py --records`` measures both). Being tuples, they also compare equal
to a plain tuple of the same fields; ``record._replace(field=value)`` copies with changes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

__all__ = [
    "PIPS_PER_UNIT",
    "BookQuote",
    "BookSide",
    "Fill",
    "Kind",
    "Order",
    "OrderResult",
    "Side",
    "Status",
    "StpMode",
    "TimeInForce",
]

PIPS_PER_UNIT = 1_000_000  # fee_pips are hundredths of a basis point: 1_000_000 pips = 100 %


class Side(StrEnum):
    """The side of an order (for a taker: buy takes asks, sell takes bids)."""

    BUY = "buy"
    SELL = "sell"


class TimeInForce(StrEnum):
    """How long an order's unfilled remainder lives."""

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    POST_ONLY = "POST_ONLY"


class Kind(StrEnum):
    """The instrument kind a book trades."""

    SPOT = "spot"
    PERP = "perp"


class StpMode(StrEnum):
    """Self-trade prevention: what happens when a taker meets a resting order of its own owner."""

    CANCEL_TAKER = "cancel_taker"
    CANCEL_MAKER = "cancel_maker"
    CANCEL_BOTH = "cancel_both"


class BookSide(StrEnum):
    """One side of the book, for :meth:`OrderBook.depth`."""

    BIDS = "bids"
    ASKS = "asks"


class Status(StrEnum):
    """Final state of an order right after it was placed (see the book's module docstring)."""

    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    RESTING = "resting"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Order(NamedTuple):
    """A resting order as the book holds it: ticks and lots; ``qty_lots`` is what remains open.

    ``original_lots`` is filled plus remaining (an amend moves it with the remaining size);
    ``seq`` is the time priority: lower is earlier, a priority-losing amend gets a new one.
    """

    order_id: str
    owner: str
    side: str
    price_ticks: int
    qty_lots: int
    original_lots: int
    tif: str
    seq: int

    @property
    def filled_lots(self) -> int:
        """Lots of this order filled so far."""
        return self.original_lots - self.qty_lots


class Fill(NamedTuple):
    """One match between a taker and a resting maker, at the maker's price.

    ``notional_quanta = price_ticks * qty_lots``; fees are quanta rounded up per fill.
    """

    seq: int
    taker_order_id: str
    maker_order_id: str
    taker_owner: str
    maker_owner: str
    taker_side: str
    price_ticks: int
    qty_lots: int
    notional_quanta: int
    taker_fee_quanta: int
    maker_fee_quanta: int


class OrderResult(NamedTuple):
    """What placing one order did: its status, lots filled, resting and cancelled, and the fills.

    ``filled_lots + resting_lots + cancelled_lots`` is the order's size. ``stp_cancelled`` lists
    the resting maker orders that self-trade prevention cancelled.
    """

    order_id: str
    status: str
    filled_lots: int
    resting_lots: int
    fills: tuple[Fill, ...]
    cancelled_lots: int
    stp_cancelled: tuple[str, ...]

    @property
    def notional_quanta(self) -> int:
        """Sum of the fills' notionals in quanta."""
        return sum(f.notional_quanta for f in self.fills)

    @property
    def taker_fee_quanta(self) -> int:
        """Sum of the taker fees this order paid, in quanta (each fill rounded up)."""
        return sum(f.taker_fee_quanta for f in self.fills)


class BookQuote(NamedTuple):
    """Read-only result of sweeping the book for a taker; nothing in the book changed.

    ``worst_price_ticks`` is the last (worst) level price touched, ``None`` if nothing fills;
    ``levels`` counts the price levels that contributed at least one lot.
    """

    side: str
    requested_lots: int
    filled_lots: int
    notional_quanta: int
    taker_fee_quanta: int
    worst_price_ticks: int | None
    levels: int
