"""The simulated makers refresh their ladders in place: fixed ids per (book, side, level), so a
market left running keeps its memory and snapshots flat; a new id only when a level's order is gone."""

from __future__ import annotations

import asyncio
import pickle

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from router.app import build_margin, load_market
from router.paper.market import MAKER, MarketSimulator, SimParams
from router.paper.service import PaperService

CONFIG = "config/default.toml"
BOOKS = ("binance-book", "perp-book")


def _sim(seed: int = 7) -> MarketSimulator:
    market = load_market(CONFIG)
    setup = build_margin(market)
    return MarketSimulator(market, setup.ledger, setup.perp_markets, SimParams(seed=seed))


def _book(sim: MarketSimulator, name: str):
    return sim.market.adapters[name].book


def _maker_ids(sim: MarketSimulator, name: str) -> set[str]:
    return {order.order_id for order in _book(sim, name).open_orders(MAKER)}


def _footprint(service: PaperService) -> tuple[int, int, int]:
    """(ids the books remember, open orders on the books, bytes of a snapshot as written)."""
    books = [a.book for a in service.market.adapters.values() if hasattr(a, "book")]
    blob = pickle.dumps(
        [image.dumps() for image, _ in service.snapshots.parts], protocol=pickle.HIGHEST_PROTOCOL
    )
    return sum(len(b._ids) for b in books), sum(len(b) for b in books), len(blob)


async def test_quiet_market_keeps_book_ids_and_snapshot_size_flat_over_ticks():
    # The PnL history is a bounded window of its own (deque maxlen); sampling it rarely keeps it
    # out of this measurement, which is about what grows with ticks.
    params = SimParams(pnl_every_ticks=10**6)
    service = PaperService(CONFIG, params=params, snapshot_every=10**9, snapshot_every_ticks=10**9)
    await service.open()
    await service.tick(500)
    service.flush_ticks()
    closed_500, open_500, bytes_500 = _footprint(service)
    ids_500 = {name: _maker_ids(service.sim, name) for name in BOOKS}
    await service.tick(1500)
    service.flush_ticks()
    closed_2000, open_2000, bytes_2000 = _footprint(service)
    assert service.sim.tick == 2000
    # The old refresh added levels x sides x books = 48 ids a tick: 72,000 over these 1,500 ticks.
    assert closed_2000 == closed_500 and open_2000 == open_500, (closed_500, closed_2000)
    assert abs(bytes_2000 - bytes_500) <= 512, (
        bytes_500,
        bytes_2000,
    )  # digits of growing integers only
    assert {
        name: _maker_ids(service.sim, name) for name in BOOKS
    } == ids_500  # same orders, amended
    service._check()


async def test_ladder_ids_are_one_per_side_and_level_and_survive_refreshes():
    sim = _sim()
    await sim.step()
    levels = sim.params.maker_levels
    first = _maker_ids(sim, "binance-book")
    assert first == {f"mk-binance-book-{side}{level}-0" for side in "bs" for level in range(levels)}
    prices = _book(sim, "binance-book").depth("bids", 1)
    for _ in range(20):
        await sim.step()
    assert _maker_ids(sim, "binance-book") == first
    assert _book(sim, "binance-book").depth("bids", 1) != prices  # quotes did move
    sim._check()


async def test_a_level_taken_by_a_taker_is_re_placed_under_its_next_generation():
    sim = _sim()
    await sim.step()
    book = _book(sim, "binance-book")
    best_ask_lots = book.depth("asks", 1)[0][1]
    taken = len(book._ids)
    result = book.place_market("taker-1", "trader", "buy", best_ask_lots)
    assert result.filled_lots == best_ask_lots and book.order("mk-binance-book-s0-0") is None
    await sim.step()  # the reference moves (seed 7): the ladder refreshes
    assert book.order("mk-binance-book-s0-1") is not None
    # Two new ids, nothing more: the taker's and the filled level's next generation.
    assert len(book._ids) == taken + 2
    sim._check()


async def test_levels_that_would_cross_a_traders_order_sit_out_and_come_back_with_new_ids():
    sim = _sim()
    await sim.step()
    book = _book(sim, "binance-book")
    best_bid = book.best_bid()
    book.place_limit("trader-ask", "trader", "sell", best_bid + 1, 1_000)
    sim.refs["ETH/USDC"] = sim.refs["ETH/USDC"] * 101 // 100  # every maker bid would now cross it
    await sim.step()
    sim._check()
    assert not [o for o in book.open_orders(MAKER) if o.side == "buy"]
    assert book.best_bid() is None or book.best_bid() < book.best_ask()
    book.cancel("trader-ask")
    await sim.step()
    bids = {o.order_id for o in book.open_orders(MAKER) if o.side == "buy"}
    assert bids == {f"mk-binance-book-b{level}-1" for level in range(sim.params.maker_levels)}
    sim._check()


class MakerMachine(RuleBasedStateMachine):
    """Ticks, takers and traders' resting orders in any order: every closed maker id is an earlier
    generation of its slot (ids never skip or leak), each slot has at most one open order, and the
    books stay uncrossed."""

    @initialize()
    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.sim = _sim(11)
        self.n = 0
        self.loop.run_until_complete(self.sim.step())

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self.loop.close()

    @rule(ticks=st.integers(1, 4))
    def step(self, ticks: int) -> None:
        for _ in range(ticks):
            self.loop.run_until_complete(self.sim.step())

    @rule(
        name=st.sampled_from(BOOKS),
        side=st.sampled_from(["buy", "sell"]),
        lots=st.integers(1, 30_000),
    )
    def take(self, name: str, side: str, lots: int) -> None:
        self.n += 1
        _book(self.sim, name).place_market(f"t{self.n}", "trader", side, lots)

    @rule(
        name=st.sampled_from(BOOKS),
        side=st.sampled_from(["buy", "sell"]),
        offset_ticks=st.integers(-300, 300),
    )
    def rest(self, name: str, side: str, offset_ticks: int) -> None:
        book = _book(self.sim, name)
        mid = self.sim.center_e8(self.sim.market.adapters[name].symbol) // int(
            book.tick_size.scaleb(8)
        )
        self.n += 1
        book.place_limit(f"r{self.n}", "trader", side, max(1, mid + offset_ticks), 5_000)

    @rule(name=st.sampled_from(BOOKS))
    def cancel_traders(self, name: str) -> None:
        book = _book(self.sim, name)
        for order in book.open_orders("trader"):
            book.cancel(order.order_id)

    @invariant()
    def maker_ids_are_accounted_for(self) -> None:
        if not hasattr(self, "sim"):
            return
        self.sim._check()
        for name in BOOKS:
            book = _book(self.sim, name)
            slots = self.sim._maker_slots.get(name, {})
            expected_closed = set()
            for slot, generation in slots.items():
                expected_closed |= {f"mk-{name}-{slot}-{g}" for g in range(generation)}
                current = f"mk-{name}-{slot}-{generation}"
                if book.order(current) is None:
                    expected_closed.add(current)
            closed = book._ids - {order.order_id for order in book.open_orders()}
            assert {i for i in closed if i.startswith("mk-")} == expected_closed
            live = _maker_ids(self.sim, name)
            assert live <= {f"mk-{name}-{slot}-{g}" for slot, g in slots.items()}
            assert len(live) <= 2 * self.sim.params.maker_levels


MakerMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)
test_maker_machine = MakerMachine.TestCase
