"""Exact limit order book (price-time priority, spot and perpetual): the public names.

``types`` holds the vocabulary and the immutable records, ``book`` the :class:`OrderBook` itself
(its module docstring states the units and the semantics).
"""

from venues.orderbook.book import OrderBook
from venues.orderbook.types import (
    PIPS_PER_UNIT,
    BookQuote,
    BookSide,
    Fill,
    Kind,
    Order,
    OrderResult,
    Side,
    Status,
    StpMode,
    TimeInForce,
)

__all__ = [
    "PIPS_PER_UNIT",
    "BookQuote",
    "BookSide",
    "Fill",
    "Kind",
    "Order",
    "OrderBook",
    "OrderResult",
    "Side",
    "Status",
    "StpMode",
    "TimeInForce",
]
