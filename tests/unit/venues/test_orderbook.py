"""Unit tests of venues.orderbook: time in force, self-trade prevention, amend priority, fees,
edge conversions, and every public method refusing bad input without changing anything."""

from __future__ import annotations

import doctest
import pickle
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import venues.orderbook.book as orderbook_module
from venues.errors import CrossrouteError, InvalidArgument, VenueError
from venues.orderbook import (
    BookQuote,
    Fill,
    Order,
    OrderBook,
    OrderResult,
    Side,
    StpMode,
    TimeInForce,
)
from venues.values import format_decimal


def make_book(**overrides) -> OrderBook:
    params = dict(tick_size="0.01", lot_size="0.001")
    params.update(overrides)
    return OrderBook("ETH/USDC", **params)


def seeded_book(**overrides) -> OrderBook:
    """Bids 99 (m1: 10, m2: 5), 98 (m3: 7); asks 101 (m4: 4, m5: 6), 103 (m6: 9)."""
    book = make_book(**overrides)
    for oid, owner, side, price, qty in [
        ("m1", "alice", "buy", 99, 10),
        ("m2", "bob", "buy", 99, 5),
        ("m3", "alice", "buy", 98, 7),
        ("m4", "alice", "sell", 101, 4),
        ("m5", "bob", "sell", 101, 6),
        ("m6", "carol", "sell", 103, 9),
    ]:
        assert book.place_limit(oid, owner, side, price, qty).status == "resting"
    book._check()
    return book


def test_doctests_pass():
    result = doctest.testmod(orderbook_module)
    assert result.attempted >= 8 and result.failed == 0


# ---------------------------------------------------------------- construction and conversions


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(tick_size="0"), "tick_size"),
        (dict(tick_size="-0.01"), "tick_size"),
        (dict(tick_size=0.01), "tick_size"),
        (dict(tick_size="abc"), "tick_size"),
        (dict(tick_size="NaN"), "tick_size"),
        (dict(lot_size="0"), "lot_size"),
        (dict(lot_size=None), "lot_size"),
        (dict(min_notional="-1"), "min_notional"),
        (dict(min_notional=1.5), "min_notional"),
        (dict(taker_fee_pips=-1), "taker_fee_pips"),
        (dict(taker_fee_pips=1_000_000), "taker_fee_pips"),
        (dict(taker_fee_pips=True), "taker_fee_pips"),
        (dict(maker_fee_pips=-1, taker_fee_pips=0), "maker_fee_pips"),
        (dict(maker_fee_pips=1.0), "maker_fee_pips"),
        (dict(kind="future"), "kind"),
        (dict(stp="none"), "stp"),
    ],
)
def test_constructor_rejects_bad_parameter_naming_the_field(kwargs, field):
    with pytest.raises(InvalidArgument) as info:
        make_book(**kwargs)
    assert info.value.field == field
    assert field in str(info.value) and info.value.allowed


def test_constructor_rejects_empty_symbol():
    with pytest.raises(InvalidArgument) as info:
        OrderBook("", tick_size="1", lot_size="1")
    assert info.value.field == "symbol"


def test_constructor_accepts_enums_and_decimals():
    book = OrderBook(
        "BTC-PERP",
        tick_size=Decimal("0.5"),
        lot_size=Decimal("0.001"),
        kind="perp",
        stp=StpMode.CANCEL_BOTH,
        maker_fee_pips=-100,
        taker_fee_pips=400,
    )
    assert (book.kind, book.stp, book.maker_fee_pips) == ("perp", "cancel_both", -100)


def test_min_notional_converts_to_quanta_rounding_up():
    # quantum = 0.01 * 0.001 = 0.00001 quote; 10.000005 quote is 1000000.5 quanta -> 1000001
    assert make_book(min_notional="10.000005").min_notional_quanta == 1_000_001
    assert make_book(min_notional="10").min_notional_quanta == 1_000_000
    assert make_book().min_notional_quanta == 0


@settings(max_examples=200)
@given(
    # prices below 10^24, the value grammar's bound on typed numbers
    ticks=st.integers(min_value=1, max_value=10**21),
    tick=st.sampled_from(["0.01", "0.5", "1", "25", "0.00000001", "100", Decimal("1E+2")]),
)
def test_price_ticks_round_trip_exactly(ticks, tick):
    book = OrderBook("X/Y", tick_size=tick, lot_size="1")
    price = book.ticks_to_price(ticks)
    # Fraction, not Decimal arithmetic: the default context would round past 28 digits
    assert Fraction(price) == ticks * Fraction(Decimal(tick))
    assert book.price_to_ticks(price) == ticks
    assert book.price_to_ticks(format_decimal(price)) == ticks


@settings(max_examples=200)
@given(
    lots=st.integers(min_value=-(10**21), max_value=10**21),
    lot=st.sampled_from(["0.001", "0.0001", "1", "5", "0.000000000000000001", Decimal("1E-18")]),
)
def test_lots_round_trip_exactly(lots, lot):
    book = OrderBook("X/Y", tick_size="1", lot_size=lot)
    qty = book.lots_to_qty(lots)
    assert Fraction(qty) == lots * Fraction(Decimal(lot))
    if lots >= 0:
        assert book.qty_to_lots(qty) == lots


def test_quanta_to_quote_is_exact_and_keeps_scale():
    book = make_book()
    assert book.quanta_to_quote(123_456_789) == Decimal("1234.56789")
    assert str(book.quanta_to_quote(-5)) == "-0.00005"
    assert str(book.ticks_to_price(300_050)) == "3000.50"


@pytest.mark.parametrize(
    "method, value, code",
    [
        ("price_to_ticks", "100.005", "OFF_TICK"),
        ("price_to_ticks", "0", "OFF_TICK"),
        ("price_to_ticks", "-1", "OFF_TICK"),
        ("price_to_ticks", 100.0, "ARG"),
        ("price_to_ticks", "Infinity", "ARG"),
        ("price_to_ticks", "1e", "ARG"),
        ("price_to_ticks", "1E+2", "ARG"),
        ("price_to_ticks", " 100", "ARG"),
        ("price_to_ticks", "1_00", "ARG"),
        ("qty_to_lots", "\u0661", "ARG"),
        ("qty_to_lots", "0.0005", "OFF_LOT"),
        ("qty_to_lots", "-0.001", "OFF_LOT"),
        ("qty_to_lots", 0.5, "ARG"),
        ("ticks_to_price", -1, "ARG"),
        ("ticks_to_price", 1.5, "ARG"),
        ("lots_to_qty", True, "ARG"),
        ("quanta_to_quote", "5", "ARG"),
    ],
)
def test_conversions_reject_off_grid_or_wrong_type(method, value, code):
    with pytest.raises(InvalidArgument) as info:
        getattr(make_book(), method)(value)
    assert info.value.code == code and info.value.value == value


# ---------------------------------------------------------------- priority and time in force


def test_gtc_rests_when_not_crossing_and_depth_aggregates_per_level():
    book = seeded_book()
    assert book.depth("bids") == [(99, 15), (98, 7)]
    assert book.depth("asks") == [(101, 10), (103, 9)]
    assert book.depth("asks", 1) == [(101, 10)]
    assert book.depth("bids", 0) == []
    assert (book.best_bid(), book.best_ask()) == (99, 101)


def test_empty_book_reads():
    book = make_book()
    assert (book.best_bid(), book.best_ask(), book.depth("bids"), book.open_orders()) == (
        None,
        None,
        [],
        [],
    )
    assert book.quote("buy", 5) == BookQuote("buy", 5, 0, 0, 0, None, 0)


def test_taker_fills_best_price_first_then_time_priority():
    book = seeded_book()
    result = book.place_limit("t1", "dave", "buy", 103, 12)
    assert [(f.maker_order_id, f.price_ticks, f.qty_lots) for f in result.fills] == [
        ("m4", 101, 4),
        ("m5", 101, 6),
        ("m6", 103, 2),
    ]
    assert (result.status, result.filled_lots, result.resting_lots) == ("filled", 12, 0)
    assert [f.seq for f in result.fills] == [1, 2, 3]
    assert book.depth("asks") == [(103, 7)]
    book._check()


def test_gtc_partial_fill_rests_the_remainder_at_its_price():
    book = seeded_book()
    result = book.place_limit("t1", "dave", "buy", 101, 15)
    assert (result.status, result.filled_lots, result.resting_lots) == ("partially_filled", 10, 5)
    assert book.depth("bids")[0] == (101, 5)
    order = book.order("t1")
    assert (order.qty_lots, order.original_lots, order.filled_lots) == (5, 15, 10)
    book._check()


def test_ioc_cancels_the_remainder_and_never_rests():
    book = seeded_book()
    result = book.place_limit("t1", "dave", "sell", 99, 20, tif=TimeInForce.IOC)
    assert (result.status, result.filled_lots, result.cancelled_lots) == ("expired", 15, 5)
    assert book.order("t1") is None and book.depth("bids") == [(98, 7)]
    no_cross = book.place_limit("t2", "dave", "sell", 200, 3, tif="IOC")
    assert (no_cross.status, no_cross.filled_lots, no_cross.cancelled_lots) == ("expired", 0, 3)
    book._check()


def test_fok_that_cannot_fill_expires_and_changes_nothing_but_the_id():
    book = seeded_book()
    before = book._snapshot()
    result = book.place_limit("t1", "dave", "buy", 101, 11, tif="FOK")
    assert result == OrderResult("t1", "expired", 0, 0, (), 11, ())
    after = book._snapshot()
    assert after[:2] == before[:2] and after[4:] == before[4:]  # book, positions, cash, seqs
    with pytest.raises(InvalidArgument) as info:  # the id was consumed
        book.place_limit("t1", "dave", "buy", 101, 1)
    assert info.value.code == "DUPLICATE_ORDER_ID"


def test_fok_that_can_fill_fills_completely():
    book = seeded_book()
    result = book.place_limit("t1", "dave", "buy", 103, 19, tif="FOK")
    assert (result.status, result.filled_lots) == ("filled", 19)
    assert book.depth("asks") == []
    book._check()


def test_post_only_that_would_take_raises_and_changes_nothing():
    book = seeded_book()
    before = book._snapshot()
    with pytest.raises(VenueError) as info:
        book.place_limit("p1", "dave", "buy", 101, 1, tif="POST_ONLY")
    assert info.value.code == "POST_ONLY_WOULD_CROSS"
    assert info.value.details["best_opposite_ticks"] == 101
    assert book._snapshot() == before
    # the id was not consumed; a non-crossing post-only rests
    assert book.place_limit("p1", "dave", "buy", 100, 1, tif="POST_ONLY").status == "resting"
    assert book.order("p1").tif == "POST_ONLY"
    book._check()


def test_market_order_sweeps_to_protection_price_and_expires_the_rest():
    book = seeded_book()
    quote = book.quote("buy", 30, 101)
    result = book.place_market("k1", "dave", Side.BUY, 30, protection_price_ticks=101)
    assert (result.status, result.filled_lots, result.cancelled_lots) == ("expired", 10, 20)
    assert (quote.filled_lots, quote.notional_quanta, quote.worst_price_ticks, quote.levels) == (
        10,
        1010,
        101,
        1,
    )
    full = book.place_market("k2", "dave", "buy", 9)
    assert (full.status, full.filled_lots, full.notional_quanta) == ("filled", 9, 927)
    empty = book.place_market("k3", "dave", "buy", 1)
    assert (empty.status, empty.filled_lots, empty.cancelled_lots) == ("expired", 0, 1)
    book._check()


def test_quote_is_read_only_and_matches_the_fill():
    book = seeded_book(taker_fee_pips=2500, maker_fee_pips=1000)
    before = book._snapshot()
    quote = book.quote("sell", 16, 98)
    assert book._snapshot() == before
    result = book.place_limit("t1", "dave", "sell", 98, 16, tif="IOC")
    assert (quote.filled_lots, quote.notional_quanta, quote.taker_fee_quanta) == (
        result.filled_lots,
        result.notional_quanta,
        result.taker_fee_quanta,
    )
    assert (quote.worst_price_ticks, quote.levels) == (98, 2)


# ---------------------------------------------------------------- self-trade prevention


def test_stp_cancel_taker_keeps_earlier_fills_and_the_maker():
    book = seeded_book()  # asks 101: m4 alice 4, m5 bob 6
    book.cancel("m4")
    book.place_limit("m7", "alice", "sell", 101, 3)  # behind bob's m5
    result = book.place_limit("t1", "alice", "buy", 103, 20)
    assert [f.maker_order_id for f in result.fills] == ["m5"]
    assert (result.status, result.filled_lots, result.cancelled_lots) == ("cancelled", 6, 14)
    assert result.stp_cancelled == () and book.order("m7") is not None
    assert book.order("t1") is None
    book._check()


def test_stp_cancel_maker_cancels_own_orders_and_carries_on():
    book = seeded_book(stp="cancel_maker")
    result = book.place_limit("t1", "alice", "buy", 103, 8)
    assert result.stp_cancelled == ("m4",)
    assert [(f.maker_order_id, f.qty_lots) for f in result.fills] == [("m5", 6), ("m6", 2)]
    assert (result.status, book.order("m4")) == ("filled", None)
    book._check()


def test_stp_cancel_both_cancels_maker_and_taker_remainder():
    book = seeded_book(stp="cancel_both")
    result = book.place_limit("t1", "alice", "buy", 103, 8)
    assert (result.status, result.fills, result.stp_cancelled) == ("cancelled", (), ("m4",))
    assert result.cancelled_lots == 8 and book.depth("asks") == [(101, 6), (103, 9)]
    book._check()


def test_stp_never_trades_with_self_on_market_orders():
    book = seeded_book(stp="cancel_maker")
    result = book.place_market("k1", "alice", "sell", 100)
    assert result.stp_cancelled == ("m1", "m3")
    assert all(f.maker_owner != "alice" for f in result.fills)
    assert result.filled_lots == 5 and book.depth("bids") == []
    book._check()


@pytest.mark.parametrize(
    "stp, filled", [("cancel_taker", 0), ("cancel_both", 0), ("cancel_maker", 8)]
)
def test_fok_accounts_for_stp(stp, filled):
    book = seeded_book(stp=stp)
    before = book._snapshot()
    result = book.place_limit("t1", "alice", "buy", 103, 8, tif="FOK")
    assert result.filled_lots == filled
    if not filled:  # nothing changes: not even the own maker order is cancelled
        assert result.status == "expired" and book._snapshot()[:2] == before[:2]
    else:
        assert result.stp_cancelled == ("m4",)
    book._check()


def test_quote_with_owner_applies_stp_like_the_order():
    book = seeded_book()
    assert book.quote("buy", 8, owner="alice").filled_lots == 0  # m4 is alice's, first
    assert book.quote("buy", 8).filled_lots == 8
    assert make_book(stp="cancel_maker").quote("buy", 1, owner="x").filled_lots == 0


# ---------------------------------------------------------------- amend and cancel


def test_amend_shrink_at_same_price_keeps_priority():
    book = seeded_book()
    amended = book.amend("m1", qty_lots=3)
    assert (amended.seq, amended.qty_lots, amended.original_lots) == (1, 3, 3)
    result = book.place_limit("t1", "dave", "sell", 99, 4, tif="IOC")
    assert [(f.maker_order_id, f.qty_lots) for f in result.fills] == [("m1", 3), ("m2", 1)]
    book._check()


def test_amend_growth_loses_priority():
    book = seeded_book()
    amended = book.amend("m1", qty_lots=11)
    assert amended.seq > book.order("m2").seq
    result = book.place_limit("t1", "dave", "sell", 99, 6, tif="IOC")
    assert [(f.maker_order_id, f.qty_lots) for f in result.fills] == [("m2", 5), ("m1", 1)]
    assert [o.order_id for o in book.open_orders()][-1] == "m1"
    book._check()


def test_amend_price_change_moves_level_and_loses_priority():
    book = seeded_book()
    book.amend("m3", price_ticks=99)
    assert book.depth("bids") == [(99, 22)]
    result = book.place_limit("t1", "dave", "sell", 99, 22, tif="IOC")
    assert [f.maker_order_id for f in result.fills] == ["m1", "m2", "m3"]
    book._check()


def test_amend_after_partial_fill_keeps_filled_lots():
    book = seeded_book()
    book.place_limit("t1", "dave", "sell", 99, 4, tif="IOC")
    amended = book.amend("m1", qty_lots=2, price_ticks=100)
    assert (amended.qty_lots, amended.original_lots, amended.filled_lots) == (2, 6, 4)
    book._check()


def test_amend_that_would_cross_is_rejected_and_changes_nothing():
    book = seeded_book()
    before = book._snapshot()
    with pytest.raises(VenueError) as info:
        book.amend("m2", price_ticks=101, qty_lots=1)
    assert info.value.code == "AMEND_WOULD_CROSS"
    with pytest.raises(VenueError):
        book.amend("m6", price_ticks=99)
    assert book._snapshot() == before


def test_amend_to_same_values_is_a_noop_keeping_priority():
    book = seeded_book()
    assert book.amend("m1", price_ticks=99, qty_lots=10) == book.order("m1")
    assert book.order("m1").seq == 1


def test_cancel_returns_the_last_snapshot_and_frees_an_empty_level():
    book = seeded_book()
    book.place_limit("t1", "dave", "buy", 101, 1, tif="IOC")
    assert book.cancel("m4") == Order("m4", "alice", "sell", 101, 3, 4, "GTC", 4)
    assert book.cancel("m5").qty_lots == 6
    assert book.depth("asks") == [(103, 9)] and book.order("m4") is None
    with pytest.raises(InvalidArgument) as info:
        book.cancel("m4")
    assert info.value.code == "UNKNOWN_ORDER"
    book._check()


def test_open_orders_are_in_priority_order_and_filter_by_owner():
    book = seeded_book()
    assert [o.order_id for o in book.open_orders()] == ["m1", "m2", "m3", "m4", "m5", "m6"]
    assert [o.order_id for o in book.open_orders("alice")] == ["m1", "m3", "m4"]
    assert book.open_orders("nobody") == []


def test_order_ids_are_unique_for_the_life_of_the_book():
    book = seeded_book()
    book.cancel("m1")
    with pytest.raises(InvalidArgument) as info:
        book.place_limit("m1", "alice", "buy", 90, 1)
    assert info.value.code == "DUPLICATE_ORDER_ID"
    with pytest.raises(InvalidArgument):
        book.place_market("m2", "alice", "buy", 1)


# ---------------------------------------------------------------- fees, positions, cash


def test_fees_round_up_per_fill_in_the_venues_favour():
    book = make_book(taker_fee_pips=1, maker_fee_pips=1)
    book.place_limit("a", "m", "sell", 1, 1)
    book.place_limit("b", "m", "sell", 1, 1)
    result = book.place_limit("t", "t", "buy", 1, 2)
    # notional 1 quantum per fill: 1 * 1 / 1e6 rounds up to 1 on each fill, not once on 2
    assert [(f.taker_fee_quanta, f.maker_fee_quanta) for f in result.fills] == [(1, 1), (1, 1)]
    assert book.quote("buy", 1) == BookQuote("buy", 1, 0, 0, 0, None, 0)


def test_exact_fee_needs_no_rounding_and_rebate_rounds_toward_the_venue():
    book = make_book(taker_fee_pips=500, maker_fee_pips=-200)
    book.place_limit("a", "m", "sell", 300_000, 3_333)  # notional 999_900_000 quanta
    fill = book.place_limit("t", "t", "buy", 300_000, 3_333).fills[0]
    assert fill.taker_fee_quanta == 499_950  # exact: 999_900_000 * 500 / 1e6
    assert fill.maker_fee_quanta == -199_980  # exact rebate
    book.place_limit("b", "m", "sell", 7, 1)
    fill = book.place_limit("u", "t", "buy", 7, 1).fills[0]
    assert (fill.taker_fee_quanta, fill.maker_fee_quanta) == (1, 0)  # ceil(-0.0014) == 0


def test_positions_and_cash_follow_fills_and_are_conserved():
    book = make_book(taker_fee_pips=1000, maker_fee_pips=500, kind="perp")
    book.place_limit("a", "maker", "sell", 2_000, 10)
    book.place_limit("t", "taker", "buy", 2_000, 4)
    # notional 8_000 quanta; taker fee 8, maker fee 4
    assert (book.position_lots("taker"), book.position_lots("maker")) == (4, -4)
    assert (book.cash_quanta("taker"), book.cash_quanta("maker")) == (-8_008, 7_996)
    assert book.fees_quanta == 12 and book.position_lots("nobody") == 0
    book._check()


def test_results_and_orders_are_frozen():
    book = seeded_book()
    result = book.place_limit("t1", "dave", "buy", 101, 1)
    with pytest.raises(AttributeError):
        result.status = "x"
    with pytest.raises(AttributeError):
        result.fills[0].qty_lots = 5
    assert isinstance(result.fills[0], Fill)


@pytest.mark.parametrize(
    "name",
    [
        "symbol",
        "tick_size",
        "lot_size",
        "min_notional",
        "min_notional_quanta",
        "maker_fee_pips",
        "taker_fee_pips",
        "kind",
        "stp",
    ],
)
def test_configuration_is_read_only(name):
    book = seeded_book(taker_fee_pips=300)
    value = getattr(book, name)
    with pytest.raises(AttributeError):
        setattr(book, name, value)
    assert getattr(book, name) == value


# ---------------------------------------------------------------- bad input changes nothing

BAD_CALLS = [
    # (method, args, kwargs, field, code)
    ("place_limit", ("n1", "x", "hold", 100, 1), {}, "side", "ARG"),
    ("place_limit", ("n1", "x", None, 100, 1), {}, "side", "ARG"),
    ("place_limit", ("n1", "x", ["buy"], 100, 1), {}, "side", "ARG"),
    ("place_limit", ("n1", "x", "buy", 100, 1), {"tif": "GTD"}, "tif", "ARG"),
    ("place_limit", ("", "x", "buy", 100, 1), {}, "order_id", "ARG"),
    ("place_limit", (5, "x", "buy", 100, 1), {}, "order_id", "ARG"),
    ("place_limit", ("m1", "x", "buy", 100, 1), {}, "order_id", "DUPLICATE_ORDER_ID"),
    ("place_limit", ("n1", "", "buy", 100, 1), {}, "owner", "ARG"),
    ("place_limit", ("n1", None, "buy", 100, 1), {}, "owner", "ARG"),
    ("place_limit", ("n1", "x", "buy", 0, 1), {}, "price_ticks", "ARG"),
    ("place_limit", ("n1", "x", "buy", -5, 1), {}, "price_ticks", "ARG"),
    ("place_limit", ("n1", "x", "buy", 100.0, 1), {}, "price_ticks", "ARG"),
    ("place_limit", ("n1", "x", "buy", True, 1), {}, "price_ticks", "ARG"),
    ("place_limit", ("n1", "x", "buy", Decimal(100), 1), {}, "price_ticks", "ARG"),
    ("place_limit", ("n1", "x", "buy", 100, 0), {}, "qty_lots", "ARG"),
    ("place_limit", ("n1", "x", "buy", 100, -1), {}, "qty_lots", "ARG"),
    ("place_limit", ("n1", "x", "buy", 100, True), {}, "qty_lots", "ARG"),
    ("place_limit", ("n1", "x", "buy", 100, "1"), {}, "qty_lots", "ARG"),
    ("place_limit", ("n1", "x", "buy", 1, 4), {}, "qty_lots", "MIN_NOTIONAL"),
    (
        "place_limit",
        ("n1", "x", "sell", 99, 200),
        {"tif": "POST_ONLY"},
        None,
        "POST_ONLY_WOULD_CROSS",
    ),
    ("place_market", ("n1", "x", "up", 1), {}, "side", "ARG"),
    ("place_market", ("m1", "x", "buy", 1), {}, "order_id", "DUPLICATE_ORDER_ID"),
    ("place_market", ("n1", 7, "buy", 1), {}, "owner", "ARG"),
    ("place_market", ("n1", "x", "buy", 0), {}, "qty_lots", "ARG"),
    ("place_market", ("n1", "x", "buy", 1.5), {}, "qty_lots", "ARG"),
    ("place_market", ("n1", "x", "buy", 1, 0), {}, "protection_price_ticks", "ARG"),
    ("place_market", ("n1", "x", "buy", 1, False), {}, "protection_price_ticks", "ARG"),
    ("cancel", ("zz",), {}, "order_id", "UNKNOWN_ORDER"),
    ("cancel", (None,), {}, "order_id", "ARG"),
    ("cancel", (["m1"],), {}, "order_id", "ARG"),
    ("amend", ("zz",), {"qty_lots": 1}, "order_id", "UNKNOWN_ORDER"),
    ("amend", ("m1",), {}, "price_ticks/qty_lots", "ARG"),
    ("amend", ("m1",), {"qty_lots": 0}, "qty_lots", "ARG"),
    ("amend", ("m1",), {"qty_lots": True}, "qty_lots", "ARG"),
    ("amend", ("m1",), {"price_ticks": 0}, "price_ticks", "ARG"),
    ("amend", ("m1",), {"price_ticks": 99.0}, "price_ticks", "ARG"),
    ("amend", ("m1",), {"price_ticks": 1, "qty_lots": 4}, "qty_lots", "MIN_NOTIONAL"),
    ("amend", ("m1",), {"price_ticks": 101}, None, "AMEND_WOULD_CROSS"),
    ("quote", ("hold", 1), {}, "side", "ARG"),
    ("quote", ("buy", 0), {}, "qty_lots", "ARG"),
    ("quote", ("buy", 1, -1), {}, "limit_price_ticks", "ARG"),
    ("quote", ("buy", 1), {"owner": ""}, "owner", "ARG"),
    ("depth", ("buy",), {}, "side", "ARG"),
    ("depth", ("bids", -1), {}, "levels", "ARG"),
    ("depth", ("bids", 1.0), {}, "levels", "ARG"),
    ("order", (3,), {}, "order_id", "ARG"),
    ("open_orders", ("",), {}, "owner", "ARG"),
    ("position_lots", (None,), {}, "owner", "ARG"),
    ("cash_quanta", (b"x",), {}, "owner", "ARG"),
    ("price_to_ticks", ("99.999",), {}, "price", "OFF_TICK"),
    ("qty_to_lots", ("1.0001",), {}, "qty", "OFF_LOT"),
    ("ticks_to_price", ("1",), {}, "price_ticks", "ARG"),
    ("lots_to_qty", (1.0,), {}, "qty_lots", "ARG"),
    ("quanta_to_quote", (None,), {}, "quanta", "ARG"),
]


@pytest.mark.parametrize(
    "method, args, kwargs, field, code",
    BAD_CALLS,
    ids=[f"{c[0]}-{c[3]}-{c[4]}-{i}" for i, c in enumerate(BAD_CALLS)],
)
def test_bad_input_raises_clear_error_and_changes_nothing(method, args, kwargs, field, code):
    # min_notional 5 quanta so that price 1 * qty 4 is below it; a position exists to be kept
    book = seeded_book(min_notional="0.00005", taker_fee_pips=300, maker_fee_pips=100)
    book.place_limit("t0", "dave", "buy", 101, 1, tif="IOC")
    before = book._snapshot()
    with pytest.raises(VenueError) as info:
        getattr(book, method)(*args, **kwargs)
    error = info.value
    assert isinstance(error, CrossrouteError) and error.code == code
    if field is not None:
        assert isinstance(error, InvalidArgument) and error.field == field
        assert any(v is error.value or v == error.value for v in (*args, *kwargs.values(), None))
        assert field in str(error) and "allowed" in str(error)
    assert book._snapshot() == before
    book._check()


def test_every_public_method_has_a_bad_input_case():
    public = {
        name
        for name in dir(OrderBook)
        if not name.startswith("_") and callable(getattr(OrderBook, name))
    }
    covered = {call[0] for call in BAD_CALLS}
    assert public - covered == {"best_bid", "best_ask"}  # they take no arguments


# ---------------------------------------------------------------- long levels and _check itself


def test_a_long_level_drains_in_fifo_order_across_many_takers():
    book = make_book()
    for i in range(300):
        book.place_limit(f"m{i}", f"maker{i % 7}", "sell", 500, 2)
    book.cancel("m150")
    makers = []
    for i in range(100):
        makers += [f.maker_order_id for f in book.place_market(f"t{i}", "taker", "buy", 5).fills]
    expected = [f"m{i}" for i in range(300) if i != 150][:250]
    assert list(dict.fromkeys(makers)) == expected
    assert book.depth("asks") == [(500, 2 * 299 - 500)] and len(book) == 49
    book._check()


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda b: setattr(b._ask_levels[101], "total_lots", 11),
        lambda b: b._orders.pop("m1"),
        lambda b: setattr(b._orders["m2"], "seq", 0),
        lambda b: b._position_lots.__setitem__("x", 1),
        lambda b: setattr(b, "_fees_quanta", 1),
        lambda b: b._bid_prices.add(101) or b._bid_levels.__setitem__(101, b._ask_levels[101]),
        lambda b: b._ask_prices.add(500),  # a sorted price without its level
        lambda b: b._ask_prices.remove(103),  # a level without its sorted price
    ],
)
def test_check_detects_corruption(corrupt):
    book = seeded_book()
    corrupt(book)
    with pytest.raises(AssertionError):
        book._check()


def test_repr_and_len():
    book = seeded_book()
    assert len(book) == 6
    assert repr(book) == (
        "OrderBook('ETH/USDC', kind='spot', best_bid=99, best_ask=101, open_orders=6)"
    )


def test_value_types_build_by_keyword_and_pickle():
    fill = Fill(
        seq=1,
        taker_order_id="t",
        maker_order_id="m",
        taker_owner="a",
        maker_owner="b",
        taker_side="buy",
        price_ticks=5,
        qty_lots=2,
        notional_quanta=10,
        taker_fee_quanta=1,
        maker_fee_quanta=0,
    )
    assert fill == Fill(1, "t", "m", "a", "b", "buy", 5, 2, 10, 1, 0)
    assert fill._replace(qty_lots=3).qty_lots == 3
    result = OrderResult("t", "filled", 2, 0, (fill,), 0, ())
    assert pickle.loads(pickle.dumps(result)) == result


def test_pickled_book_keeps_trading_identically():
    book = seeded_book(taker_fee_pips=300, stp="cancel_maker")
    clone = pickle.loads(pickle.dumps(book))
    clone._check()
    assert clone._snapshot() == book._snapshot()
    for b in (book, clone):
        b.place_limit("t1", "alice", "buy", 103, 12)
        b.amend("m3", price_ticks=97)
        b.cancel("m2")
    assert clone._snapshot() == book._snapshot()
    clone._check()
