"""Stateful property test of venues.orderbook against a deliberately naive reference model.

The model keeps open orders in a plain dict and matches by sorting every crossing order by
(price, seq) on each call: slow, but too simple to share a bug with the real book. Every step
compares fills, statuses, depth, open orders, positions and cash; ``_check()`` runs after every
step, a quote taken just before each taking order must equal what the order then fills, and a
rejected call must leave the book exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from venues.errors import VenueError
from venues.orderbook import OrderBook

OWNERS = ("ann", "ben", "cat")
PRICES = st.integers(min_value=95, max_value=105)
QTYS = st.integers(min_value=1, max_value=12)
SIDES = st.sampled_from(("buy", "sell"))
MIN_NOTIONAL_QUANTA = 300  # price ~100: sizes 1 and 2 are below the minimum


def ceil_fee(notional: int, pips: int) -> int:
    return -((-notional * pips) // 1_000_000)


@dataclass
class ModelOrder:
    order_id: str
    owner: str
    side: str
    price: int
    qty: int
    original: int
    tif: str
    seq: int


@dataclass
class Model:
    stp: str
    taker_pips: int
    maker_pips: int
    orders: dict[str, ModelOrder] = field(default_factory=dict)
    seq: int = 0
    seen: set[str] = field(default_factory=set)
    positions: dict[str, int] = field(default_factory=dict)
    cash: dict[str, int] = field(default_factory=dict)
    fees: int = 0

    def crossing(self, side: str, limit: int | None) -> list[ModelOrder]:
        if side == "buy":
            found = [
                o
                for o in self.orders.values()
                if o.side == "sell" and (limit is None or o.price <= limit)
            ]
            return sorted(found, key=lambda o: (o.price, o.seq))
        found = [
            o
            for o in self.orders.values()
            if o.side == "buy" and (limit is None or o.price >= limit)
        ]
        return sorted(found, key=lambda o: (-o.price, o.seq))

    def plan(self, owner: str | None, side: str, qty: int, limit: int | None):
        """(fills as (maker, qty), stp-cancelled makers, killed, remaining); no mutation."""
        fills, cancelled, killed, remaining = [], [], False, qty
        for maker in self.crossing(side, limit):
            if not remaining:
                break
            if maker.owner == owner:
                if self.stp == "cancel_taker":
                    killed = True
                    break
                cancelled.append(maker)
                if self.stp == "cancel_both":
                    killed = True
                    break
                continue
            take = min(remaining, maker.qty)
            fills.append((maker, take))
            remaining -= take
        return fills, cancelled, killed, remaining

    def apply(self, owner: str, side: str, fills, cancelled) -> None:
        sign = 1 if side == "buy" else -1
        for maker in cancelled:
            del self.orders[maker.order_id]
        for maker, take in fills:
            notional = maker.price * take
            taker_fee = ceil_fee(notional, self.taker_pips)
            maker_fee = ceil_fee(notional, self.maker_pips)
            self.positions[owner] = self.positions.get(owner, 0) + sign * take
            self.positions[maker.owner] = self.positions.get(maker.owner, 0) - sign * take
            self.cash[owner] = self.cash.get(owner, 0) - sign * notional - taker_fee
            self.cash[maker.owner] = self.cash.get(maker.owner, 0) + sign * notional - maker_fee
            self.fees += taker_fee + maker_fee
            maker.qty -= take
            if not maker.qty:
                del self.orders[maker.order_id]

    def rest(self, order_id, owner, side, price, qty, original, tif) -> None:
        self.seq += 1
        self.orders[order_id] = ModelOrder(
            order_id, owner, side, price, qty, original, tif, self.seq
        )

    def depth(self, side: str) -> list[tuple[int, int]]:
        wanted = "buy" if side == "bids" else "sell"
        levels: dict[int, int] = {}
        for o in self.orders.values():
            if o.side == wanted:
                levels[o.price] = levels.get(o.price, 0) + o.qty
        return sorted(levels.items(), reverse=(side == "bids"))


class OrderBookMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.next_id = 0

    @initialize(
        stp=st.sampled_from(("cancel_taker", "cancel_maker", "cancel_both")),
        fees=st.sampled_from(((0, 0), (500, 100), (2500, -700), (999, 333))),
        kind=st.sampled_from(("spot", "perp")),
    )
    def build(self, stp, fees, kind):
        taker_pips, maker_pips = fees
        self.book = OrderBook(
            "ETH/USDC",
            tick_size="0.01",
            lot_size="0.1",
            min_notional="0.3",
            taker_fee_pips=taker_pips,
            maker_fee_pips=maker_pips,
            kind=kind,
            stp=stp,
        )
        assert self.book.min_notional_quanta == MIN_NOTIONAL_QUANTA
        self.model = Model(stp, taker_pips, maker_pips)

    def new_id(self) -> str:
        self.next_id += 1
        return f"o{self.next_id}"

    def check_fills(self, result, owner, side, fills, cancelled) -> None:
        assert [(f.maker_order_id, f.price_ticks, f.qty_lots) for f in result.fills] == [
            (m.order_id, m.price, q) for m, q in fills
        ]
        assert result.stp_cancelled == tuple(m.order_id for m in cancelled)
        for f in result.fills:
            assert (f.taker_owner, f.taker_side, f.taker_order_id) == (owner, side, result.order_id)
            assert f.maker_owner != owner
            assert f.notional_quanta == f.price_ticks * f.qty_lots
            assert f.taker_fee_quanta == ceil_fee(f.notional_quanta, self.model.taker_pips)
            assert f.maker_fee_quanta == ceil_fee(f.notional_quanta, self.model.maker_pips)

    def check_quote(self, quote, result) -> None:
        assert quote.filled_lots == result.filled_lots
        assert quote.notional_quanta == result.notional_quanta
        assert quote.taker_fee_quanta == result.taker_fee_quanta
        prices = [f.price_ticks for f in result.fills]
        assert quote.worst_price_ticks == (prices[-1] if prices else None)
        assert quote.levels == len(set(prices))

    def expect_rejection(self, call, code: str) -> None:
        before = self.book._snapshot()
        with pytest.raises(VenueError) as info:
            call()
        assert info.value.code == code
        assert self.book._snapshot() == before

    @rule(
        owner=st.sampled_from(OWNERS),
        side=SIDES,
        price=PRICES,
        qty=QTYS,
        tif=st.sampled_from(("GTC", "GTC", "IOC", "FOK", "POST_ONLY")),
    )
    def place_limit(self, owner, side, price, qty, tif):
        order_id = self.new_id()
        model = self.model
        call = lambda: self.book.place_limit(order_id, owner, side, price, qty, tif)  # noqa: E731
        if price * qty < MIN_NOTIONAL_QUANTA:
            self.expect_rejection(call, "MIN_NOTIONAL")
            return
        if tif == "POST_ONLY" and model.crossing(side, price):
            self.expect_rejection(call, "POST_ONLY_WOULD_CROSS")
            return
        fills, cancelled, killed, remaining = model.plan(owner, side, qty, price)
        quote = self.book.quote(side, qty, price, owner=owner)
        result = self.book.place_limit(order_id, owner, side, price, qty, tif)
        model.seen.add(order_id)
        if tif == "FOK" and remaining:
            assert (result.status, result.fills, result.cancelled_lots) == ("expired", (), qty)
            assert quote.filled_lots < qty
            return
        self.check_quote(quote, result)
        self.check_fills(result, owner, side, fills, cancelled)
        model.apply(owner, side, fills, cancelled)
        filled = qty - remaining
        assert result.filled_lots == filled
        if not remaining:
            assert (result.status, result.resting_lots, result.cancelled_lots) == ("filled", 0, 0)
        elif killed:
            assert (result.status, result.cancelled_lots) == ("cancelled", remaining)
        elif tif in ("GTC", "POST_ONLY"):
            assert result.status == ("partially_filled" if filled else "resting")
            assert result.resting_lots == remaining
            model.rest(order_id, owner, side, price, remaining, qty, tif)
        else:
            assert (result.status, result.cancelled_lots) == ("expired", remaining)

    @rule(
        owner=st.sampled_from(OWNERS),
        side=SIDES,
        qty=st.integers(1, 40),
        protection=st.none() | PRICES,
    )
    def place_market(self, owner, side, qty, protection):
        order_id = self.new_id()
        model = self.model
        fills, cancelled, killed, remaining = model.plan(owner, side, qty, protection)
        anonymous = self.book.quote(side, qty, protection)
        expected_anonymous = model.plan(None, side, qty, protection)
        assert anonymous.filled_lots == qty - expected_anonymous[3]
        quote = self.book.quote(side, qty, protection, owner=owner)
        result = self.book.place_market(order_id, owner, side, qty, protection)
        model.seen.add(order_id)
        self.check_quote(quote, result)
        self.check_fills(result, owner, side, fills, cancelled)
        model.apply(owner, side, fills, cancelled)
        expected = "filled" if not remaining else ("cancelled" if killed else "expired")
        assert (result.status, result.filled_lots, result.cancelled_lots) == (
            expected,
            qty - remaining,
            remaining,
        )

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data())
    def cancel(self, data):
        order_id = data.draw(st.sampled_from(sorted(self.model.orders)))
        expected = self.model.orders.pop(order_id)
        order = self.book.cancel(order_id)
        assert (
            order.order_id,
            order.owner,
            order.side,
            order.price_ticks,
            order.qty_lots,
            order.original_lots,
            order.seq,
        ) == (
            expected.order_id,
            expected.owner,
            expected.side,
            expected.price,
            expected.qty,
            expected.original,
            expected.seq,
        )

    @rule(data=st.data())
    def cancel_unknown_or_closed(self, data):
        candidates = sorted(self.model.seen - set(self.model.orders)) or ["never-placed"]
        order_id = data.draw(st.sampled_from(candidates))
        self.expect_rejection(lambda: self.book.cancel(order_id), "UNKNOWN_ORDER")

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data(), price=st.none() | PRICES, qty=st.none() | QTYS)
    def amend(self, data, price, qty):
        order_id = data.draw(st.sampled_from(sorted(self.model.orders)))
        model_order = self.model.orders[order_id]
        call = lambda: self.book.amend(order_id, price_ticks=price, qty_lots=qty)  # noqa: E731
        if price is None and qty is None:
            self.expect_rejection(call, "ARG")
            return
        new_price = model_order.price if price is None else price
        new_qty = model_order.qty if qty is None else qty
        if new_price * new_qty < MIN_NOTIONAL_QUANTA:
            self.expect_rejection(call, "MIN_NOTIONAL")
            return
        # as a taker on its own side at the new price, would it meet anything?
        if new_price != model_order.price and self.model.crossing(model_order.side, new_price):
            self.expect_rejection(call, "AMEND_WOULD_CROSS")
            return
        order = call()
        keeps_priority = new_price == model_order.price and new_qty <= model_order.qty
        model_order.original += new_qty - model_order.qty
        model_order.price, model_order.qty = new_price, new_qty
        if not keeps_priority:
            self.model.seq += 1
            model_order.seq = self.model.seq
            del self.model.orders[order_id]  # back of the open-order list
            self.model.orders[order_id] = model_order
        assert (order.price_ticks, order.qty_lots, order.original_lots, order.seq) == (
            new_price,
            new_qty,
            model_order.original,
            model_order.seq,
        )

    @rule(owner=st.sampled_from(OWNERS), side=SIDES, price=PRICES, qty=QTYS)
    def reuse_an_id(self, owner, side, price, qty):
        if not self.model.seen:
            return
        order_id = sorted(self.model.seen)[0]
        self.expect_rejection(
            lambda: self.book.place_limit(order_id, owner, side, price, qty), "DUPLICATE_ORDER_ID"
        )

    @invariant()
    def book_matches_model(self):
        self.book._check()
        assert self.book.depth("bids") == self.model.depth("bids")
        assert self.book.depth("asks") == self.model.depth("asks")
        assert [(o.order_id, o.qty_lots, o.seq) for o in self.book.open_orders()] == [
            (o.order_id, o.qty, o.seq) for o in self.model.orders.values()
        ]
        for owner in OWNERS:
            assert self.book.position_lots(owner) == self.model.positions.get(owner, 0)
            assert self.book.cash_quanta(owner) == self.model.cash.get(owner, 0)
        assert self.book.fees_quanta == self.model.fees
        # conservation over every owner: lots net to zero, cash plus venue fees net to zero
        assert sum(self.model.positions.values()) == 0
        assert sum(self.model.cash.values()) + self.model.fees == 0


# max_examples comes from the active profile (tests/conftest.py): 100 by default, more with
# HYPOTHESIS_PROFILE=deep.
OrderBookMachine.TestCase.settings = settings(stateful_step_count=40, deadline=None)
TestOrderBookMachine = OrderBookMachine.TestCase


@pytest.mark.parametrize("stp", ["cancel_taker", "cancel_maker", "cancel_both"])
def test_seeded_random_stress_matches_the_model(stp):
    """Thousands of seeded random operations on a deeper book than hypothesis builds."""
    import random

    rng = random.Random(f"orderbook-stress-{stp}")
    book = OrderBook(
        "ETH/USDC",
        tick_size="0.01",
        lot_size="0.1",
        taker_fee_pips=700,
        maker_fee_pips=-200,
        stp=stp,
        kind="perp",
    )
    model = Model(stp, 700, -200)
    owners = [f"acct{i}" for i in range(6)]
    peak_open = 0
    for step in range(3_000):
        owner, side = rng.choice(owners), rng.choice(("buy", "sell"))
        order_id = f"s{step}"
        roll = rng.random()
        if roll < 0.65:
            # resting-biased prices: a buy mostly below 100, a sell mostly above
            price = rng.randint(80, 103) if side == "buy" else rng.randint(97, 120)
            qty, tif = rng.randint(1, 30), rng.choice(("GTC", "GTC", "GTC", "IOC", "FOK"))
            fills, cancelled, killed, remaining = model.plan(owner, side, qty, price)
            result = book.place_limit(order_id, owner, side, price, qty, tif)
            if tif == "FOK" and remaining:
                assert result.fills == () and result.status == "expired"
                continue
            assert [(f.maker_order_id, f.qty_lots) for f in result.fills] == [
                (m.order_id, q) for m, q in fills
            ]
            model.apply(owner, side, fills, cancelled)
            if remaining and not killed and tif == "GTC":
                model.rest(order_id, owner, side, price, remaining, qty, tif)
        elif roll < 0.72:
            qty = rng.randint(1, 40)
            fills, cancelled, killed, remaining = model.plan(owner, side, qty, None)
            assert book.quote(side, qty, owner=owner).filled_lots == qty - remaining
            result = book.place_market(order_id, owner, side, qty)
            assert [(f.maker_order_id, f.qty_lots) for f in result.fills] == [
                (m.order_id, q) for m, q in fills
            ]
            model.apply(owner, side, fills, cancelled)
        elif model.orders and roll < 0.86:
            victim = rng.choice(sorted(model.orders))
            del model.orders[victim]
            book.cancel(victim)
        elif model.orders:
            victim = model.orders[rng.choice(sorted(model.orders))]
            new_qty = rng.randint(1, 30)
            keeps = new_qty <= victim.qty
            book.amend(victim.order_id, qty_lots=new_qty)
            victim.original += new_qty - victim.qty
            victim.qty = new_qty
            if not keeps:
                model.seq += 1
                victim.seq = model.seq
                del model.orders[victim.order_id]
                model.orders[victim.order_id] = victim
        peak_open = max(peak_open, len(book))
        if step % 100 == 0:
            book._check()
            assert book.depth("bids") == model.depth("bids")
            assert book.depth("asks") == model.depth("asks")
    book._check()
    assert book.depth("bids") == model.depth("bids") and book.depth("asks") == model.depth("asks")
    assert [o.order_id for o in book.open_orders()] == list(model.orders)
    for owner in owners:
        assert book.position_lots(owner) == model.positions.get(owner, 0)
        assert book.cash_quanta(owner) == model.cash.get(owner, 0)
    assert book.fees_quanta == model.fees and peak_open > 100, peak_open
