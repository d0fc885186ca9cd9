# Cython declarations augmenting book.py (pure-Python mode): the same source runs unchanged
# without Cython; compiled (setup.py), the book, its levels and resting orders are extension
# types whose fields are C struct members, and the internal calls are C calls.
cimport cython

from venues.orderbook cimport records
from venues.orderbook.prices cimport PriceSet


cdef class _Resting:
    cdef public object order_id
    cdef public object owner
    cdef public object side
    cdef public object price_ticks
    cdef public object qty_lots
    cdef public object original_lots
    cdef public object tif
    cdef public object seq
    # No cdef/cpdef methods here or in _Level: a virtual table pointer would add 8 bytes to
    # every resting order, and their methods are not on the hot paths.


cdef class _Level:
    cdef public list queue
    cdef public Py_ssize_t head
    cdef public Py_ssize_t live
    cdef public object total_lots


@cython.locals(level=_Level)
cdef _Level _new_level()


cdef class OrderBook:
    cdef public dict _ask_levels
    cdef public PriceSet _ask_prices
    cdef public object _best_ask
    cdef public object _best_bid
    cdef public dict _bid_levels
    cdef public PriceSet _bid_prices
    cdef public dict _cash_quanta
    cdef public object _fees_quanta
    cdef public object _fill_seq
    cdef public set _ids
    cdef public object _kind
    cdef public object _lot_ce
    cdef public object _lot_ratio
    cdef public object _lot_size
    cdef public object _maker_fee_pips
    cdef public object _min_notional
    cdef public object _min_notional_quanta
    cdef public object _order_seq
    cdef public dict _orders
    cdef public dict _position_lots
    cdef public object _quantum_ce
    cdef public object _stp
    cdef public object _symbol
    cdef public object _taker_fee_pips
    cdef public object _tick_ce
    cdef public object _tick_ratio
    cdef public object _tick_size

    @cython.locals(resting=_Resting, level=_Level, ids=set, orders=dict, taken=Py_ssize_t)
    cpdef place_limit(self, order_id, owner, side, price_ticks, qty_lots, tif=*)

    @cython.locals(resting=_Resting, level=_Level, live=Py_ssize_t)
    cpdef cancel(self, order_id)

    @cython.locals(resting=_Resting)
    cpdef _rest(self, order_id, owner, side, price_ticks, qty_lots, tif)

    cpdef _add_price(self, side, price_ticks)
    cpdef _drop_price(self, side, price_ticks)

    @cython.locals(level=_Level)
    cpdef _link(self, _Resting resting)

    @cython.locals(level=_Level, live=Py_ssize_t)
    cpdef _unlink(self, _Resting resting)

    @cython.locals(maker=_Resting)
    cpdef _sweep(self, side, qty_lots, limit, owner)

    @cython.locals(
        level=_Level, maker=_Resting, prices=PriceSet, live=Py_ssize_t, queue=list,
        head=Py_ssize_t, end=Py_ssize_t,
        fills=list, stp_cancelled=list, positions=dict, cash=dict, levels=dict,
        orders_index=dict,
    )
    cpdef _match(self, order_id, owner, side, qty_lots, limit)
