"""The CLMM fast paths give exactly the results of the straightforward upstream formulations.

Each optimisation is checked against a reference written the way Uniswap's Solidity computes it:
the table-driven tick lookup against the log2 algorithm, the inlined swap step against SwapMath
over SqrtPriceMath's two-division getAmount0Delta, and the swap memo against a pool whose memo
is emptied before every call.
"""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from venues.clmm import ConcentratedLiquidityPool, swap_math
from venues.clmm.pool import _SwapMemo, _Tick
from venues.clmm.sqrt_price_math import _next_sqrt_price_from_input, _next_sqrt_price_from_output
from venues.clmm.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    _tick_at_sqrt_ratio_log2,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)
from venues.errors import InvalidArgument, VenueError

MAX_UINT128 = (1 << 128) - 1
MAX_UINT160 = (1 << 160) - 1
MAX_INT256 = (1 << 255) - 1
PIPS = 1_000_000

# ----------------------------------------------------------------------------- tick lookup

TICKS = st.integers(MIN_TICK, MAX_TICK)
# Prices spread evenly in log space (uniform integers would all sit near the top of the range).
LOG_PRICES = st.integers(32, 160).flatmap(
    lambda bits: st.integers(1 << (bits - 1), (1 << bits) - 1)
)


@settings(max_examples=300)
@given(tick=TICKS, offset=st.integers(-3, 3))
def test_tick_at_sqrt_ratio_matches_upstream_log2_next_to_every_tick_price(tick, offset) -> None:
    price = get_sqrt_ratio_at_tick(tick) + offset
    if MIN_SQRT_RATIO <= price < MAX_SQRT_RATIO:
        assert get_tick_at_sqrt_ratio(price) == _tick_at_sqrt_ratio_log2(price)


@settings(max_examples=300)
@given(price=LOG_PRICES)
def test_tick_at_sqrt_ratio_matches_upstream_log2_anywhere(price) -> None:
    if MIN_SQRT_RATIO <= price < MAX_SQRT_RATIO:
        tick = get_tick_at_sqrt_ratio(price)
        assert tick == _tick_at_sqrt_ratio_log2(price)
        assert get_sqrt_ratio_at_tick(tick) <= price < get_sqrt_ratio_at_tick(tick + 1)


@pytest.mark.parametrize(
    "price",
    [
        MIN_SQRT_RATIO,
        MIN_SQRT_RATIO + 1,
        MAX_SQRT_RATIO - 1,
        get_sqrt_ratio_at_tick(MAX_TICK - 1),
        get_sqrt_ratio_at_tick(MAX_TICK - 1) - 1,
        1 << 96,
    ],
)
def test_tick_at_sqrt_ratio_matches_upstream_log2_at_the_edges(price) -> None:
    assert get_tick_at_sqrt_ratio(price) == _tick_at_sqrt_ratio_log2(price)


# ----------------------------------------------------------------------------- swap step


def _ref_amount0(a: int, b: int, liquidity: int, round_up: bool) -> int:
    """getAmount0Delta as upstream: divide by the larger price, then by the smaller one."""
    if a > b:
        a, b = b, a
    if a == 0:
        raise InvalidArgument("sqrt_ratio_a_x96", a, "an integer in [1, 2**160-1]")
    numerator = (liquidity << 96) * (b - a)
    if round_up:
        first = -(-numerator // b)
        return -(-first // a)
    return numerator // b // a


def _ref_amount1(a: int, b: int, liquidity: int, round_up: bool) -> int:
    if a > b:
        a, b = b, a
    numerator = liquidity * (b - a)
    return -(-numerator // (1 << 96)) if round_up else numerator // (1 << 96)


def _ref_step(current: int, target: int, liquidity: int, remaining: int, fee_pips: int):
    """SwapMath.computeSwapStep line by line, as before the fast path."""
    zero_for_one = current >= target
    exact_in = remaining >= 0
    amount_in = amount_out = 0
    if exact_in:
        less_fee = remaining * (PIPS - fee_pips) // PIPS
        amount_in = (
            _ref_amount0(target, current, liquidity, True)
            if zero_for_one
            else _ref_amount1(current, target, liquidity, True)
        )
        if less_fee >= amount_in:
            nxt = target
        else:
            nxt = _next_sqrt_price_from_input(current, liquidity, less_fee, zero_for_one)
    else:
        amount_out = (
            _ref_amount1(target, current, liquidity, False)
            if zero_for_one
            else _ref_amount0(current, target, liquidity, False)
        )
        if -remaining >= amount_out:
            nxt = target
        else:
            nxt = _next_sqrt_price_from_output(current, liquidity, -remaining, zero_for_one)
    reached = nxt == target
    if zero_for_one:
        if not (reached and exact_in):
            amount_in = _ref_amount0(nxt, current, liquidity, True)
        if not (reached and not exact_in):
            amount_out = _ref_amount1(nxt, current, liquidity, False)
    else:
        if not (reached and exact_in):
            amount_in = _ref_amount1(current, nxt, liquidity, True)
        if not (reached and not exact_in):
            amount_out = _ref_amount0(current, nxt, liquidity, False)
    if not exact_in and amount_out > -remaining:
        amount_out = -remaining
    if exact_in and nxt != target:
        fee = remaining - amount_in
    else:
        fee = -(-amount_in * fee_pips // (PIPS - fee_pips))
    return nxt, amount_in, amount_out, fee


def _outcome(fn, *args):
    try:
        return ("ok", tuple(fn(*args)))
    except VenueError as error:
        return ("error", type(error), error.code, str(error))


PRICES = st.one_of(
    st.integers(0, MAX_UINT160),
    TICKS.map(get_sqrt_ratio_at_tick),
    LOG_PRICES,
    st.just(0),
    st.just(1 << 96),
)
LIQUIDITIES = st.one_of(
    st.integers(0, MAX_UINT128), st.integers(0, 10**6), st.integers(10**15, 10**24)
)
REMAINING = st.one_of(
    st.integers(-MAX_INT256 - 1, MAX_INT256),
    st.integers(-(10**6), 10**6),
    st.integers(-(10**24), 10**24),
    st.just(MAX_INT256),
)
FEES = st.one_of(st.sampled_from([0, 100, 500, 3000, 10000, 999999]), st.integers(0, PIPS - 1))


@settings(max_examples=400)
@given(current=PRICES, target=PRICES, liquidity=LIQUIDITIES, remaining=REMAINING, fee=FEES)
def test_compute_swap_step_matches_the_upstream_formulation(
    current, target, liquidity, remaining, fee
) -> None:
    assert _outcome(
        swap_math.compute_swap_step, current, target, liquidity, remaining, fee
    ) == _outcome(_ref_step, current, target, liquidity, remaining, fee)


@settings(max_examples=200)
@given(
    current=TICKS,
    width=st.integers(1, 3000),
    liquidity=LIQUIDITIES,
    remaining=REMAINING,
    fee=FEES,
    down=st.booleans(),
)
def test_compute_swap_step_matches_upstream_between_nearby_prices(
    current, width, liquidity, remaining, fee, down
) -> None:
    target = max(MIN_TICK, min(MAX_TICK, current - width if down else current + width))
    a, b = get_sqrt_ratio_at_tick(current), get_sqrt_ratio_at_tick(target)
    assert _outcome(swap_math.compute_swap_step, a, b, liquidity, remaining, fee) == _outcome(
        _ref_step, a, b, liquidity, remaining, fee
    )


@settings(max_examples=200)
@given(x=st.integers(0, 1 << 400), a=st.integers(1, MAX_UINT160), b=st.integers(1, MAX_UINT160))
def test_nested_roundings_equal_one_rounding_by_the_product(x, a, b) -> None:
    # The identity the inlined getAmount0Delta relies on.
    def ceil_div(n: int, d: int) -> int:
        return -(-n // d)

    assert ceil_div(ceil_div(x, b), a) == ceil_div(x, a * b)
    assert x // b // a == x // (a * b)


# ----------------------------------------------------------------------------- swap memo

SPACING = 60


def _pool() -> ConcentratedLiquidityPool:
    pool = ConcentratedLiquidityPool(3000, SPACING, get_sqrt_ratio_at_tick(30))
    pool.mint("full", -887220, 887220, 10**21)
    for j in range(-6, 6):
        pool.mint("ladder", j * 120, j * 120 + 180, 3 * 10**19)
    return pool


OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("swap"),
            st.booleans(),
            st.one_of(st.integers(1, 10**20), st.integers(-(10**19), -1), st.just(2**255 - 1)),
            st.integers(-1500, 1500),
        ),
        st.tuples(
            st.just("mint"), st.integers(-12, 11), st.integers(1, 6), st.integers(10**17, 10**20)
        ),
        st.tuples(st.just("burn"), st.integers(-6, 5)),
        st.tuples(
            st.just("fee_protocol"), st.sampled_from([0, 4, 7, 10]), st.sampled_from([0, 5, 10])
        ),
    ),
    min_size=1,
    max_size=25,
)


def _apply(pool: ConcentratedLiquidityPool, op: tuple, cold: bool):
    if cold:
        pool._memo = _SwapMemo()
    kind = op[0]
    try:
        if kind == "swap":
            _, zero_for_one, amount, limit_tick = op
            limit = get_sqrt_ratio_at_tick(limit_tick)
            quote = pool.quote_swap(zero_for_one, amount, limit)
            return quote, pool.swap(zero_for_one, amount, limit)
        if kind == "mint":
            _, lower, width, liquidity = op
            return pool.mint("m", lower * SPACING, (lower + width) * SPACING, liquidity)
        if kind == "burn":
            j = op[1]
            return pool.burn("ladder", j * 120, j * 120 + 180, 10**19)
        return pool.set_fee_protocol(op[1], op[2])
    except VenueError as error:
        return error.code


@settings(max_examples=40)
@given(ops=OPS)
def test_memoised_swaps_equal_swaps_computed_from_scratch(ops) -> None:
    warm, cold = _pool(), _pool()
    for op in ops:
        # Run each operation twice on the warm pool's memo state (quote then swap reuse it).
        assert _apply(warm, op, cold=False) == _apply(cold, op, cold=True), op
        assert warm.__dict__ == cold.__dict__
        assert [warm.ticks(t) for t in range(-900, 901, SPACING)] == [
            cold.ticks(t) for t in range(-900, 901, SPACING)
        ]
    warm._check()


@settings(max_examples=60)
@given(
    zero_for_one=st.booleans(),
    amounts=st.lists(
        st.one_of(st.integers(1, 10**21), st.integers(-(10**20), -1)), min_size=1, max_size=8
    ),
    start_tick=st.sampled_from([30, 0, 60, -120, 180, 7]),
)
def test_memoised_quotes_of_many_sizes_equal_cold_quotes(zero_for_one, amounts, start_tick) -> None:
    # The router's pattern: one pool state, many sizes. A big quote first fills the memo with
    # every full step; smaller quotes then end inside ranges whose full steps are memoised.
    warm = ConcentratedLiquidityPool(3000, SPACING, get_sqrt_ratio_at_tick(start_tick))
    warm.mint("full", -887220, 887220, 10**21)
    for j in range(-6, 6):
        warm.mint("ladder", j * 120, j * 120 + 180, 3 * 10**19)
    limit = get_sqrt_ratio_at_tick(-1500 if zero_for_one else 1500)
    warm.quote_swap(zero_for_one, 2**255 - 1, limit)
    for amount in amounts:
        cold = copy.deepcopy(warm)  # same state, empty memo
        assert not cold._memo.steps_down and not cold._memo.steps_up
        assert _outcome(lambda: (warm.quote_swap(zero_for_one, amount, limit),)) == _outcome(
            lambda: (cold.quote_swap(zero_for_one, amount, limit),)
        )


def test_memo_is_not_pool_state() -> None:
    pool = _pool()
    before = copy.deepcopy(pool.__dict__)
    pool.quote_swap(True, 10**19, get_sqrt_ratio_at_tick(-700))
    assert len(pool._memo.steps_down) > 0 and len(pool._memo.down) > 0
    assert pool.__dict__ == before  # a quote changes nothing observable
    clone = copy.deepcopy(pool)
    assert len(clone._memo.steps_down) == 0 and clone.__dict__ == pool.__dict__
    restored = pickle.loads(pickle.dumps(pool))
    assert len(restored._memo.down) == 0
    assert restored.quote_swap(True, 10**19, get_sqrt_ratio_at_tick(-700)) == pool.quote_swap(
        True, 10**19, get_sqrt_ratio_at_tick(-700)
    )


def test_mint_clears_the_next_tick_memo() -> None:
    pool = _pool()
    pool.quote_swap(True, 10**19, get_sqrt_ratio_at_tick(-700))
    assert pool._memo.down
    pool.mint("x", -60, 0, 10**18)
    assert not pool._memo.down and not pool._memo.up


def test_internal_tick_record_equality_and_snapshot() -> None:
    a, b = _Tick(1, -1, 2, 3), _Tick(1, -1, 2, 3)
    assert a == b and a != _Tick(1, -1, 2, 4) and a.__eq__(object()) is NotImplemented
    assert a.snapshot().liquidity_net == -1 and "_Tick" in repr(a)
