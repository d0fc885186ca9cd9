"""Every public method of ConcentratedLiquidityPool refuses bad input with a clear error and
leaves the pool exactly as it was."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from venues.clmm import ConcentratedLiquidityPool
from venues.clmm.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from venues.errors import InvalidArgument, VenueError

Q96 = 1 << 96
MAX_UINT128 = (1 << 128) - 1
E18 = 10**18


def _pool() -> ConcentratedLiquidityPool:
    pool = ConcentratedLiquidityPool(3000, 60, Q96)
    pool.mint("lp", -887220, 887220, 2 * E18)
    pool.mint("lp", -600, 600, 5 * E18)
    pool.set_fee_protocol(6, 8)
    pool.swap(True, E18 // 10, MIN_SQRT_RATIO + 1)
    pool.swap(False, E18 // 7, MAX_SQRT_RATIO - 1)
    pool.burn("lp", -600, 600, E18)
    return pool


# (method, args, expected error class, expected code, expected field or None)
BAD_CALLS = [
    ("mint", ("", -60, 60, 1), InvalidArgument, "ARG", "owner"),
    ("mint", (7, -60, 60, 1), InvalidArgument, "ARG", "owner"),
    ("mint", ("lp", -60.0, 60, 1), InvalidArgument, "ARG", "tick_lower"),
    ("mint", ("lp", -60, True, 1), InvalidArgument, "ARG", "tick_upper"),
    ("mint", ("lp", -60, 1 << 23, 1), InvalidArgument, "ARG", "tick_upper"),
    ("mint", ("lp", -60, 60, 0), InvalidArgument, "ARG", "liquidity"),
    ("mint", ("lp", -60, 60, -1), InvalidArgument, "ARG", "liquidity"),
    ("mint", ("lp", -60, 60, 1.5), InvalidArgument, "ARG", "liquidity"),
    ("mint", ("lp", -60, 60, 1 << 127), InvalidArgument, "ARG", "liquidity"),
    ("mint", ("lp", 60, -60, 1), VenueError, "TLU", None),
    ("mint", ("lp", 60, 60, 1), VenueError, "TLU", None),
    ("mint", ("lp", -887273, 60, 1), VenueError, "TLM", None),
    ("mint", ("lp", -60, 887273, 1), VenueError, "TUM", None),
    ("mint", ("lp", -30, 60, 1), VenueError, "TS", None),
    ("mint", ("lp", -60, 90, 1), VenueError, "TS", None),
    ("mint", ("lp", -60, 60, 11505743598341114571880798222544995), VenueError, "LO", None),
    ("burn", ("lp", -600, 600, 5 * E18), VenueError, "LS", None),
    ("burn", ("nobody", -600, 600, 0), VenueError, "NP", None),
    ("burn", ("nobody", -600, 600, 1), VenueError, "LS", None),
    ("burn", ("lp", 600, -600, 1), VenueError, "TLU", None),
    ("burn", ("lp", -600, 600, -1), InvalidArgument, "ARG", "liquidity"),
    ("burn", ("lp", -600, 600, False), InvalidArgument, "ARG", "liquidity"),
    ("burn", (None, -600, 600, 1), InvalidArgument, "ARG", "owner"),
    ("collect", ("lp", -600, 600, -1, 0), InvalidArgument, "ARG", "amount0_requested"),
    ("collect", ("lp", -600, 600, 0, MAX_UINT128 + 1), InvalidArgument, "ARG", "amount1_requested"),
    ("collect", ("lp", -600, 600, 1.0, 0), InvalidArgument, "ARG", "amount0_requested"),
    ("collect", ("lp", "x", 600, 1, 0), InvalidArgument, "ARG", "tick_lower"),
    ("collect", (b"lp", -600, 600, 1, 1), InvalidArgument, "ARG", "owner"),
    ("swap", (True, 0, MIN_SQRT_RATIO + 1), VenueError, "AS", None),
    ("swap", (1, E18, MIN_SQRT_RATIO + 1), InvalidArgument, "ARG", "zero_for_one"),
    ("swap", (True, 1e18, MIN_SQRT_RATIO + 1), InvalidArgument, "ARG", "amount_specified"),
    ("swap", (True, True, MIN_SQRT_RATIO + 1), InvalidArgument, "ARG", "amount_specified"),
    ("swap", (True, 1 << 255, MIN_SQRT_RATIO + 1), InvalidArgument, "ARG", "amount_specified"),
    ("swap", (True, E18, -1), InvalidArgument, "ARG", "sqrt_price_limit_x96"),
    ("swap", (True, E18, 1 << 160), InvalidArgument, "ARG", "sqrt_price_limit_x96"),
    ("swap", (True, E18, MIN_SQRT_RATIO), VenueError, "SPL", None),
    ("swap", (True, E18, MAX_SQRT_RATIO - 1), VenueError, "SPL", None),
    ("swap", (False, E18, MAX_SQRT_RATIO), VenueError, "SPL", None),
    ("swap", (False, E18, MIN_SQRT_RATIO + 1), VenueError, "SPL", None),
    ("quote_swap", (True, 0, MIN_SQRT_RATIO + 1), VenueError, "AS", None),
    ("quote_swap", (False, E18, 0), VenueError, "SPL", None),
    ("quote_swap", ("yes", E18, MIN_SQRT_RATIO + 1), InvalidArgument, "ARG", "zero_for_one"),
    ("set_fee_protocol", (3, 0), InvalidArgument, "ARG", "fee_protocol0"),
    ("set_fee_protocol", (0, 11), InvalidArgument, "ARG", "fee_protocol1"),
    ("set_fee_protocol", (4, 1), InvalidArgument, "ARG", "fee_protocol1"),
    ("set_fee_protocol", (4.0, 4), InvalidArgument, "ARG", "fee_protocol0"),
    ("set_fee_protocol", (-4, 4), InvalidArgument, "ARG", "fee_protocol0"),
    ("collect_protocol", (-1, 0), InvalidArgument, "ARG", "amount0_requested"),
    ("collect_protocol", (0, None), InvalidArgument, "ARG", "amount1_requested"),
    ("collect_protocol", (MAX_UINT128 + 1, 0), InvalidArgument, "ARG", "amount0_requested"),
    ("ticks", (1.0,), InvalidArgument, "ARG", "tick"),
    ("positions", ("lp", -600, "600"), InvalidArgument, "ARG", "tick_upper"),
    ("tick_bitmap", (1 << 15,), InvalidArgument, "ARG", "word_pos"),
]


@pytest.mark.parametrize(
    "method,args,error,code,field",
    BAD_CALLS,
    ids=[f"{m}-{i}" for i, (m, *_rest) in enumerate(BAD_CALLS)],
)
def test_bad_call_raises_and_changes_nothing(method, args, error, code, field) -> None:
    pool = _pool()
    before = copy.deepcopy(pool.__dict__)
    with pytest.raises(error) as raised:
        getattr(pool, method)(*args)
    assert raised.value.code == code
    if field is not None:
        assert raised.value.field == field
        assert field in str(raised.value) and "allowed" in str(raised.value)
    assert pool.__dict__ == before
    pool._check()


@pytest.mark.parametrize(
    "args,code",
    [
        ((3000, 60, MIN_SQRT_RATIO - 1), "R"),
        ((3000, 60, MAX_SQRT_RATIO), "R"),
        ((3000, 60, 0), "R"),
        ((3000, 0, Q96), "ARG"),
        ((3000, 16384, Q96), "ARG"),
        ((1_000_000, 60, Q96), "ARG"),
        ((-1, 60, Q96), "ARG"),
        ((3000.0, 60, Q96), "ARG"),
        ((3000, 60, float(Q96)), "ARG"),
        ((3000, True, Q96), "ARG"),
    ],
)
def test_constructor_rejects_bad_arguments(args, code) -> None:
    with pytest.raises(VenueError) as raised:
        ConcentratedLiquidityPool(*args)
    assert raised.value.code == code


def test_collect_more_than_the_pool_holds_raises_tf_and_changes_nothing() -> None:
    pool = _pool()
    pool.burn("lp", -887220, 887220, 0)
    pool.balance0 = 0  # simulate a pool drained behind our back
    before = copy.deepcopy(pool.__dict__)
    with pytest.raises(VenueError) as raised:
        pool.collect("lp", -887220, 887220, MAX_UINT128, MAX_UINT128)
    assert raised.value.code == "TF"
    assert pool.__dict__ == before


def test_collect_of_unknown_position_pays_nothing_and_creates_nothing() -> None:
    pool = _pool()
    before = copy.deepcopy(pool.__dict__)
    assert pool.collect("stranger", -60, 60, MAX_UINT128, MAX_UINT128) == (0, 0)
    assert pool.__dict__ == before


def test_collect_protocol_leaves_one_wei_and_respects_requests() -> None:
    pool = _pool()
    fees0, fees1 = pool.protocol_fees
    assert fees0 > 1 and fees1 > 1
    assert pool.collect_protocol(1, 0) == (1, 0)
    assert pool.collect_protocol(MAX_UINT128, MAX_UINT128) == (fees0 - 2, fees1 - 1)
    assert pool.protocol_fees == (1, 1)
    assert pool.collect_protocol(MAX_UINT128, MAX_UINT128) == (0, 0)
    pool._check()


@given(
    st.booleans(),
    st.integers(-(10**22), 10**22).filter(bool),
    st.integers(MIN_SQRT_RATIO, MAX_SQRT_RATIO),
)
@settings(max_examples=150)
def test_quote_swap_never_mutates_and_equals_swap(zero_for_one, amount, limit) -> None:
    pool = _pool()
    before = copy.deepcopy(pool.__dict__)
    try:
        quote = pool.quote_swap(zero_for_one, amount, limit)
    except VenueError as error:
        assert pool.__dict__ == before
        with pytest.raises(VenueError) as again:
            pool.swap(zero_for_one, amount, limit)
        assert again.value.code == error.code
        assert pool.__dict__ == before
        return
    assert pool.__dict__ == before
    assert pool.swap(zero_for_one, amount, limit) == (quote.amount0, quote.amount1)
    assert (pool.sqrt_price_x96, pool.tick, pool.liquidity) == (
        quote.sqrt_price_x96_after,
        quote.tick_after,
        quote.liquidity_after,
    )
    pool._check()


def test_initialized_ticks_sorted_with_net_liquidity() -> None:
    pool = _pool()
    assert pool.initialized_ticks() == [
        (-887220, 2 * E18),
        (-600, 4 * E18),
        (600, -4 * E18),
        (887220, -2 * E18),
    ]
    assert pool.ticks(-600).liquidity_gross == 4 * E18
    assert pool.ticks(0) == pool.ticks(0).__class__()
    assert pool.positions("lp", -600, 600).liquidity == 4 * E18
