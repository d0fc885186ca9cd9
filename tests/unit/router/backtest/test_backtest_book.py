"""The L2 book's update-id sync, and the replayed venue's queue position and liquidity consumption."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from router.backtest.book import L2Book, ReplayBookVenue
from router.model.orders import LegOrder
from router.sim.errors import BacktestError, BookSyncError
from router.sim.feed import Grid, Levels


def test_spot_sync_drops_old_updates_and_applies_the_straddling_one() -> None:
    book = L2Book()
    assert not book.apply_depth((95, 99, None, [(10, 1)], []))  # buffered before the snapshot
    book.apply_snapshot((100, [(10, 5), (9, 2)], [(12, 3)]))
    assert book.bids == {10: 5, 9: 2}  # u=99 <= 100: dropped
    assert book.apply_depth((98, 103, None, [(9, 0)], [(11, 4)]))  # 98 <= 101 <= 103
    assert book.bids == {10: 5} and book.asks == {12: 3, 11: 4} and book.last_update_id == 103
    assert book.apply_depth((104, 104, None, [(10, 6)], []))


def test_spot_gap_resyncs_at_the_next_snapshot() -> None:
    book = L2Book()
    book.apply_snapshot((100, [(10, 5)], [(12, 3)]))
    book.apply_depth((101, 101, None, [], []))
    assert not book.apply_depth((103, 104, None, [(10, 1)], []))  # 102 is missing
    assert book.state == "waiting" and book.gaps == 1 and book.bids == {}
    book.apply_snapshot((104, [(10, 7)], [(12, 3)]))
    assert book.bids == {10: 7}
    assert book.apply_depth((105, 105, None, [(11, 1)], []))


def test_perp_uses_previous_final_update_id() -> None:
    book = L2Book()
    book.apply_snapshot((100, [(10, 5)], [(12, 3)]))
    assert not book.apply_depth((90, 99, 89, [(10, 9)], []))  # u < lastUpdateId
    assert book.apply_depth((95, 105, 94, [(10, 6)], []))  # U <= 100 <= u
    assert book.apply_depth((110, 120, 105, [(10, 7)], []))  # pu == previous u
    assert not book.apply_depth((130, 140, 121, [], []))  # pu != 120
    assert book.gaps == 1


def test_gap_raises_when_asked_and_changes_nothing() -> None:
    book = L2Book(on_gap="error")
    book.apply_snapshot((100, [(10, 5)], [(12, 3)]))
    before = (dict(book.bids), dict(book.asks), book.last_update_id, book.state)
    with pytest.raises(BookSyncError):
        book.apply_depth((105, 106, None, [(10, 1)], []))
    assert (book.bids, book.asks, book.last_update_id, book.state) == before


def test_bad_on_gap_is_refused() -> None:
    with pytest.raises(BacktestError):
        L2Book(on_gap="ignore")


def _venue() -> ReplayBookVenue:
    venue = ReplayBookVenue("bk", "ETH/USDT", Grid("1", "1"), quote_decimals=2)
    venue.on_snapshot((None, [(100, 10), (99, 20)], [(101, 10), (102, 20)]))
    return venue


def test_our_order_waits_behind_the_queue_and_fills_after_it() -> None:
    venue = _venue()
    venue.place_limit("me", "buy", 100, 5)
    assert venue.queue_ahead_lots("me") == 10
    venue.on_depth((None, None, None, [(100, 14)], []))  # 4 more join behind us
    assert venue.queue_ahead_lots("me") == 10
    venue.on_trade((1, 100, 8, "sell"))  # takes 8 of the 10 ahead
    assert venue.queue_ahead_lots("me") == 2 and not venue.maker_fills
    venue.on_trade((2, 100, 4, "sell"))  # 2 ahead, then 2 of ours
    assert [f.qty_lots for f in venue.maker_fills] == [2]
    venue._check()


def test_cancellations_leave_from_the_back() -> None:
    venue = _venue()
    venue.place_limit("me", "buy", 100, 5)
    venue.on_depth((None, None, None, [(100, 15)], []))  # +5 behind us
    venue.on_depth((None, None, None, [(100, 6)], []))  # -9: 5 behind, then 4 ahead
    venue.sync()
    assert venue.queue_ahead_lots("me") == 6
    venue._check()


def test_a_better_priced_order_fills_first_on_a_recorded_trade() -> None:
    venue = _venue()
    venue.on_depth((None, None, None, [], [(101, 0), (102, 0), (103, 5)]))
    venue.place_limit("me", "buy", 102, 2)  # better than the recorded 100
    venue.on_trade((1, 100, 3, "sell"))  # a seller down to 100 meets us first
    assert [(f.price_ticks, f.qty_lots) for f in venue.maker_fills] == [(102, 2)]
    assert venue.book.depth("bids")[0] == (100, 9)


def test_our_taker_fill_is_not_shown_again_by_the_recording() -> None:
    venue = _venue()
    fill = asyncio.run(venue.adapter.execute(LegOrder("bk", "buy", Decimal(6), "t1")))
    assert fill.filled_qty == 6
    assert venue.book.depth("asks")[0] == (101, 4)
    venue.on_depth((None, None, None, [], [(101, 10), (102, 21)]))  # the recording still shows 10
    venue.sync()
    assert venue.book.depth("asks")[:2] == [(101, 4), (102, 21)]
    venue.on_trade((3, 101, 5, "buy"))  # a recorded buyer took 5 there
    venue.on_depth((None, None, None, [], [(101, 5)]))
    venue.sync()
    # the recorded buyer took 5 of the 6 lots we had already taken: 1 is still gone, 5 - 1 show
    assert venue.book.depth("asks")[0] == (101, 4)
    venue._check()


def test_cancel_of_an_unknown_order_is_refused_and_changes_nothing() -> None:
    venue = _venue()
    venue.sync()
    before = venue.book._snapshot()
    with pytest.raises(BacktestError):
        venue.cancel("nope")
    with pytest.raises(BacktestError):
        venue.queue_ahead_lots("nope")
    assert venue.book._snapshot() == before


class ReplayMachine(RuleBasedStateMachine):
    """Random recorded updates, trades and our orders: the book never crosses and never shows
    more market liquidity than the recording at any level."""

    def __init__(self) -> None:
        super().__init__()
        self.venue = _venue()
        self.n = 0

    @rule(price=st.integers(95, 100), qty=st.integers(0, 30))
    def bid_update(self, price: int, qty: int) -> None:
        self.venue.on_depth((None, None, None, [(price, qty)], []))

    @rule(price=st.integers(101, 106), qty=st.integers(0, 30))
    def ask_update(self, price: int, qty: int) -> None:
        self.venue.on_depth((None, None, None, [], [(price, qty)]))

    @rule(price=st.integers(95, 106), qty=st.integers(1, 20), side=st.sampled_from(["buy", "sell"]))
    def trade(self, price: int, qty: int, side: str) -> None:
        self.venue.on_trade((self.n, price, qty, side))

    @rule(price=st.integers(95, 100), qty=st.integers(1, 5))
    def rest_bid(self, price: int, qty: int) -> None:
        self.n += 1
        self.venue.sync()
        ask = self.venue.book.best_ask()
        if ask is None or price < ask:
            self.venue.place_limit(f"o{self.n}", "buy", price, qty)

    @rule(qty=st.integers(1, 5))
    def take(self, qty: int) -> None:
        self.n += 1
        asyncio.run(self.venue.adapter.execute(LegOrder("bk", "buy", Decimal(qty), f"t{self.n}")))

    @invariant()
    def consistent(self) -> None:
        self.venue.sync()
        self.venue._check()
        bid, ask = self.venue.book.best_bid(), self.venue.book.best_ask()
        assert bid is None or ask is None or bid < ask


TestReplayMachine = ReplayMachine.TestCase
TestReplayMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


_BIDS = st.lists(st.tuples(st.integers(1, 6), st.integers(0, 4)), max_size=6)
_ASKS = st.lists(st.tuples(st.integers(7, 12), st.integers(0, 4)), max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("update"), _BIDS, _ASKS, st.booleans()),
            st.tuples(st.just("read"), st.just([]), st.just([]), st.just(False)),
        ),
        max_size=60,
    )
)
def test_dirty_prices_cover_every_change_and_the_venue_follows_the_recording(ops) -> None:
    """However many updates go unread (the book switches to 'every price changed' past its own
    size), the prices read as changed include every price whose size differs from the last read,
    the parsers' Levels and plain lists apply alike, and the synced OrderBook shows exactly the
    recording."""
    venue = ReplayBookVenue("bk", "ETH/USDT", Grid("1", "1"), quote_decimals=2)
    untracked = L2Book(track_dirty=False)
    reference: tuple[dict[int, int], dict[int, int]] = ({}, {})
    venue.on_snapshot((None, Levels(), Levels()))
    untracked.apply_snapshot((None, Levels(), Levels()))
    seen: tuple[dict[int, int], dict[int, int]] = ({}, {})
    for op, bids, asks, as_levels in [*ops, ("read", [], [], False)]:
        if op == "update":
            payload = (None, None, None, *((Levels(x) if as_levels else x) for x in (bids, asks)))
            venue.on_depth(payload)
            untracked.apply_depth(payload)
            for side, levels in zip(reference, (bids, asks), strict=True):
                side.update(levels)
                for price in [p for p, q in levels if not q]:
                    if not side.get(price):
                        side.pop(price, None)
            continue
        l2 = venue.l2
        assert (l2.bids, l2.asks) == (untracked.bids, untracked.asks) == reference
        for before, now, dirty in zip(
            seen, (l2.bids, l2.asks), (l2.dirty_bids, l2.dirty_asks), strict=True
        ):
            assert {p for p in {*before, *now} if before.get(p) != now.get(p)} <= dirty
        venue.sync()
        assert not venue.l2.dirty_bids and not venue.l2.dirty_asks
        for side, recorded in (("buy", l2.bids), ("sell", l2.asks)):
            market = {p: venue._market_lots(side, p) for p in list(venue._market[side])}
            assert market == recorded
        venue._check()
        seen = (dict(l2.bids), dict(l2.asks))


def test_a_zero_price_is_refused_and_changes_nothing() -> None:
    book = L2Book()
    book.apply_snapshot((None, Levels([(10, 5)]), Levels([(12, 3)])))
    with pytest.raises(BacktestError, match="depth.asks"):
        book.apply_depth((None, None, None, Levels([(9, 1)]), [(13, 2), (0, 1)]))
    with pytest.raises(BacktestError, match="snapshot.bids"):
        book.apply_snapshot((None, [(0, 5)], Levels()))
    assert (book.bids, book.asks, book.applied) == ({10: 5}, {12: 3}, 0)
