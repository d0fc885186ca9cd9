"""Depth-curve caching and float construction in the in-process adapters.

The cache must be invisible: after any sequence of venue mutations (through the adapter or
straight on the venue: trades, mints, burns, cancels, in-place amends) the curve an adapter returns
equals the curve a brand-new adapter over the same venue builds. The float curves must equal the
correctly rounded exact values (the former Fraction construction), field by field.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from adapters.amm import BUY_DUST_SHARE, PIPS, SELL_CAP_RESERVE_MULTIPLE, AmmAdapter
from adapters.clmm import Q96, ClmmAdapter, tick_at_price
from adapters.orderbook import OrderBookAdapter, _last_true
from router.model.errors import RouteError
from router.model.orders import LegOrder
from venues.clmm.tick_math import get_sqrt_ratio_at_tick
from venues.errors import VenueError

from .conftest import ETH, USDC, make_amm, make_book, make_clmm

SIDES = ("buy", "sell")


def fresh_curve(adapter, side: str):
    """The curve a new adapter (empty cache) over the same venue object builds."""
    if isinstance(adapter, AmmAdapter):
        other = AmmAdapter(
            adapter.name,
            adapter.symbol,
            adapter.pool,
            base_decimals=adapter.base_decimals,
            quote_decimals=adapter.quote_decimals,
            leg_cost=adapter.leg_cost,
        )
    elif isinstance(adapter, ClmmAdapter):
        other = ClmmAdapter(
            adapter.name,
            adapter.symbol,
            adapter.pool,
            base_decimals=adapter.base_decimals,
            quote_decimals=adapter.quote_decimals,
            fee_pips=adapter.fee_pips,
            leg_cost=adapter.leg_cost,
        )
    else:
        other = OrderBookAdapter(
            adapter.name,
            adapter.symbol,
            adapter.book,
            quote_decimals=adapter.quote_decimals,
            taker_fee_pips=adapter.taker_fee_pips,
            min_notional=adapter.min_notional,
            leg_cost=adapter.leg_cost,
            owner=adapter.owner,
        )
    return other.depth_curve(side)


class CachedCurvesStayFresh(RuleBasedStateMachine):
    """Random mutations of all three venue kinds; the cached curve always equals a fresh one."""

    def __init__(self) -> None:
        super().__init__()
        self.amm = make_amm()
        self.clmm = make_clmm()
        self.book = make_book(min_notional="10")
        self.adapters = (self.amm, self.clmm, self.book)
        self.count = 0
        for adapter in self.adapters:  # warm the caches so every rule runs against a stored curve
            for side in SIDES:
                adapter.depth_curve(side)

    def _id(self) -> str:
        self.count += 1
        return f"o{self.count}"

    @rule(which=st.integers(0, 2), side=st.sampled_from(SIDES), fraction=st.floats(1e-4, 0.3))
    def trade_through_adapter(self, which: int, side: str, fraction: float) -> None:
        adapter = self.adapters[which]
        total = min(adapter.depth_curve(side).total_qty, 30.0)
        quantum = adapter.base_quantum()
        qty = max(
            (Decimal(repr(total * fraction)) / quantum).to_integral_value() * quantum,
            adapter.min_qty(),
        )
        try:
            adapter.quote(side, qty)
        except RouteError:
            return
        fill = asyncio.run(adapter.execute(LegOrder(adapter.name, side, qty, self._id())))
        assert fill.status == "filled", fill.reason

    @rule(amount=st.integers(1, 10**20), zero_for_one=st.booleans())
    def amm_swap_on_venue(self, amount: int, zero_for_one: bool) -> None:
        try:
            self.amm.pool.swap(amount, zero_for_one)
        except VenueError:
            pass

    @rule(share=st.integers(1, 10_000))
    def amm_mint_on_venue(self, share: int) -> None:
        pool = self.amm.pool
        try:
            pool.mint("lp", pool.reserve0 * share // 100_000, pool.reserve1 * share // 100_000)
        except VenueError:
            pass

    @rule(
        lower=st.sampled_from(["2500", "2900", "2950", "3030", "3100"]),
        upper=st.sampled_from(["3030", "3100", "3600", "3700"]),
        liquidity=st.integers(1, 10**16),
        burn=st.booleans(),
    )
    def clmm_mint_or_burn_on_venue(
        self, lower: str, upper: str, liquidity: int, burn: bool
    ) -> None:
        # Mostly at ticks that are already initialised and away from the price: the tick count,
        # price, tick and active liquidity can all stay the same while liquidity_net changes.
        pool = self.clmm.pool
        tick_lower = tick_at_price(Decimal(lower), ETH, USDC, 10)
        tick_upper = tick_at_price(Decimal(upper), ETH, USDC, 10)
        if tick_lower >= tick_upper:
            return
        try:
            if burn:
                held = pool.positions("lp2", tick_lower, tick_upper).liquidity
                if held:
                    pool.burn("lp2", tick_lower, tick_upper, min(liquidity, held))
            else:
                pool.mint("lp2", tick_lower, tick_upper, liquidity)
        except VenueError:
            pass

    @rule(amount=st.integers(10**12, 10**19), zero_for_one=st.booleans())
    def clmm_swap_on_venue(self, amount: int, zero_for_one: bool) -> None:
        pool = self.clmm.pool
        limit = (
            get_sqrt_ratio_at_tick(-887272) + 1
            if zero_for_one
            else get_sqrt_ratio_at_tick(887272) - 1
        )
        try:
            pool.swap(zero_for_one, amount, limit)
        except VenueError:
            pass

    @rule(
        side=st.sampled_from(SIDES), offset_ticks=st.integers(1, 2000), lots=st.integers(1, 50_000)
    )
    def book_place_on_venue(self, side: str, offset_ticks: int, lots: int) -> None:
        book = self.book.book
        if side == "buy":
            price = (book.best_ask() or 300_000) - offset_ticks
        else:
            price = (book.best_bid() or 300_000) + offset_ticks
        try:
            book.place_limit(self._id(), "mm3", side, max(price, 1), lots)
        except VenueError:  # below the minimum notional: refused, nothing changed
            pass

    @precondition(lambda self: len(self.book.book.open_orders()) > 0)
    @rule(pick=st.integers(0, 10**6), action=st.sampled_from(["cancel", "shrink", "grow", "move"]))
    def book_change_resting_order(self, pick: int, action: str) -> None:
        book = self.book.book
        orders = book.open_orders()
        order = orders[pick % len(orders)]
        open_lots = order.qty_lots - order.filled_lots
        try:
            if action == "cancel":
                book.cancel(order.order_id)
            elif action == "shrink":
                # in place: keeps priority, so no sequence number moves; only the level total does
                if open_lots > 1:
                    book.amend(order.order_id, qty_lots=open_lots - 1)
            elif action == "grow":
                book.amend(order.order_id, qty_lots=open_lots + 7)
            else:
                book.amend(
                    order.order_id,
                    price_ticks=order.price_ticks + (-1 if order.side == "buy" else 1),
                )
        except VenueError:
            pass

    @invariant()
    def cached_curve_equals_fresh_build(self) -> None:
        for adapter in self.adapters:
            for side in SIDES:
                assert adapter.depth_curve(side) == fresh_curve(adapter, side)

    @invariant()
    def unchanged_venue_hits_the_cache(self) -> None:
        for adapter in self.adapters:
            for side in SIDES:
                first = adapter.depth_curve(side)
                hits = adapter._curves.hits
                assert adapter.depth_curve(side) is first
                assert adapter._curves.hits == hits + 1


TestCachedCurvesStayFresh = CachedCurvesStayFresh.TestCase
TestCachedCurvesStayFresh.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None
)


def test_in_place_amend_invalidates_the_book_curve() -> None:
    # An amend that shrinks an order keeps its priority: no sequence number changes, only a level
    # total. A fingerprint of counters alone would serve the stale curve here.
    adapter = make_book()
    before = adapter.depth_curve("buy")
    order = next(o for o in adapter.book.open_orders() if o.side == "sell")
    adapter.book.amend(order.order_id, qty_lots=order.qty_lots - 1)
    after = adapter.depth_curve("buy")
    assert after != before and after == fresh_curve(adapter, "buy")


def test_mint_at_existing_ticks_away_from_price_invalidates_the_clmm_curve() -> None:
    # Same price, tick, active liquidity and tick count: only two ticks' liquidity_net change.
    adapter = make_clmm()
    pool = adapter.pool
    before = adapter.depth_curve("buy")
    state = (pool.sqrt_price_x96, pool.tick, pool.liquidity, len(pool.initialized_ticks()))
    pool.mint(
        "lp2",
        tick_at_price(Decimal("3030"), ETH, USDC, 10),
        tick_at_price(Decimal("3100"), ETH, USDC, 10),
        10**16,
    )
    assert (pool.sqrt_price_x96, pool.tick, pool.liquidity, len(pool.initialized_ticks())) == state
    after = adapter.depth_curve("buy")
    assert after != before and after == fresh_curve(adapter, "buy")


def test_changed_leg_cost_rebuilds_the_curve() -> None:
    adapter = make_amm("4")
    assert adapter.depth_curve("sell").fixed_cost == 4.0
    adapter.leg_cost = Decimal("5")
    assert adapter.depth_curve("sell").fixed_cost == 5.0


def test_bad_side_leaves_the_cache_untouched() -> None:
    for adapter in (make_amm(), make_clmm(), make_book()):
        curve = adapter.depth_curve("buy")
        counts = (adapter._curves.hits, adapter._curves.misses)
        try:
            adapter.depth_curve("BUY")
        except RouteError as exc:
            assert exc.details["field"] == "side"
        else:
            raise AssertionError("a bad side must raise")
        assert (adapter._curves.hits, adapter._curves.misses) == counts
        assert adapter.depth_curve("buy") is curve


# -- the float curves are the correctly rounded exact values --


def _f(numerator: int, denominator: int = 1) -> float:
    return float(Fraction(numerator, denominator))


@settings(max_examples=40, deadline=None)
@given(
    reserve0=st.integers(10**6, 10**30),
    reserve1=st.integers(10**3, 10**24),
    fee_pips=st.sampled_from([0, 500, 3000, 10_000]),
    side=st.sampled_from(SIDES),
)
def test_amm_curve_fields_are_correctly_rounded(
    reserve0: int, reserve1: int, fee_pips: int, side: str
) -> None:
    from venues.amm import ConstantProductPool

    adapter = AmmAdapter(
        "amm",
        "ETH/USDC",
        ConstantProductPool(reserve0, reserve1, fee_pips),
        base_decimals=ETH,
        quote_decimals=USDC,
    )
    (segment,) = adapter.depth_curve(side).segments
    x, y = _f(reserve0, 10**ETH), _f(reserve1, 10**USDC)
    assert (segment.base_reserve, segment.quote_reserve, segment.fee) == (x, y, fee_pips / PIPS)
    expected_qty = (
        x - max(x * BUY_DUST_SHARE, _f(1, 10**ETH))
        if side == "buy"
        else x * SELL_CAP_RESERVE_MULTIPLE
    )
    assert segment.qty == max(expected_qty, 0.0)


@settings(max_examples=30, deadline=None)
@given(
    price=st.sampled_from(["2600", "2950", "3000", "3012.5", "3099", "3500"]),
    side=st.sampled_from(SIDES),
)
def test_clmm_curve_fields_are_correctly_rounded(price: str, side: str) -> None:
    adapter = make_clmm(price=price)
    pool = adapter.pool
    curve = adapter.depth_curve(side)
    # the exact walk, in Fractions, as the adapter did before floats
    ticks = pool.initialized_ticks()
    above = [(t, n) for t, n in ticks if t > pool.tick]
    below = [(t, -n) for t, n in reversed(ticks) if t <= pool.tick]
    liquidity, sqrt_x96, expected = pool.liquidity, pool.sqrt_price_x96, []
    for tick, delta in above if side == "buy" else below:
        boundary = get_sqrt_ratio_at_tick(tick)
        if liquidity > 0 and boundary != sqrt_x96:
            lo, hi = sorted((sqrt_x96, boundary))
            qty = Fraction(liquidity * Q96 * (hi - lo), hi * lo) / 10**ETH
            if side == "sell":
                qty /= 1 - Fraction(adapter.fee_pips, PIPS)
            expected.append(
                (
                    float(qty),
                    float(Fraction(liquidity * Q96, sqrt_x96) / 10**ETH),
                    float(Fraction(liquidity * sqrt_x96, Q96) / 10**USDC),
                )
            )
        liquidity += delta
        sqrt_x96 = boundary
    assert expected
    assert [(s.qty, s.base_reserve, s.quote_reserve) for s in curve.segments] == expected


@settings(max_examples=20, deadline=None)
@given(
    fee_pips=st.sampled_from([0, 1, 500, 1000, 2500]),
    min_notional=st.sampled_from(["0", "10", "1234.567"]),
    side=st.sampled_from(SIDES),
)
def test_book_curve_fields_are_correctly_rounded(
    fee_pips: int, min_notional: str, side: str
) -> None:
    adapter = make_book(taker_fee_pips=fee_pips, min_notional=min_notional)
    book = adapter.book
    curve = adapter.depth_curve(side)
    factor = 1 + Fraction(fee_pips, PIPS) if side == "buy" else 1 - Fraction(fee_pips, PIPS)
    expected = [
        (
            float(Fraction(book.lots_to_qty(lots))),
            float(Fraction(book.ticks_to_price(ticks)) * factor),
        )
        for ticks, lots in book.depth("asks" if side == "buy" else "bids")
    ]
    assert [(s.qty, s.price) for s in curve.segments] == expected
    assert curve.min_qty == float(adapter.min_qty())
    # min_qty by the exact definition: the fewest lots reaching the minimum notional at the lower best price
    low = Fraction(min(book.ticks_to_price(book.best_bid()), book.ticks_to_price(book.best_ask())))
    lot = Fraction(adapter.base_quantum())
    lots = max(-(-Fraction(min_notional) // (low * lot)), 1)
    assert Fraction(adapter.min_qty()) == lots * lot


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_last_true_finds_the_threshold_from_any_guess(data) -> None:
    lo = data.draw(st.integers(0, 50))
    hi = data.draw(st.integers(lo, lo + 5000))
    answer = data.draw(st.integers(lo, hi))
    guess = data.draw(st.integers(lo - 100, hi + 100))
    calls: list[int] = []

    def predicate(n: int) -> bool:
        assert lo < n <= hi, "never asked outside (lo, hi]"
        calls.append(n)
        return n <= answer

    assert _last_true(predicate, lo, hi, guess) == answer
    # galloping: about 2 log2 of the distance from the guess, never more than two full bisections
    assert len(calls) <= 2 * (abs(answer - min(max(guess, lo), hi)) + 1).bit_length() + 2
