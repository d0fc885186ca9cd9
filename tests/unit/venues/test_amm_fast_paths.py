"""The pool's fast paths (get_amount_out and swap on well-formed calls) equal the general path.

The general path is forced by passing an explicit ``timestamp`` equal to the pool's own (no time
passes, so the outcome must be identical) and, for quotes, by the library function over the same
reserves.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from venues import amm
from venues.amm import MAX_UINT112, ConstantProductPool
from venues.errors import VenueError

RESERVES = st.one_of(
    st.integers(1, 10**6),
    st.integers(10**15, 10**27),
    st.integers(MAX_UINT112 - 10**20, MAX_UINT112),
)
AMOUNTS = st.one_of(
    st.integers(1, 10**4),
    st.integers(10**15, 10**26),
    st.integers(MAX_UINT112 - 10**20, MAX_UINT112),
    st.integers(-5, 0),
    st.sampled_from([True, 1.0, "5", None]),
)
MINIMUMS = st.one_of(
    st.just(0), st.integers(-3, -1), st.integers(0, 10**25), st.sampled_from([None, 2.5, False])
)
FEES = st.sampled_from([0, 500, 3000, 10000, 999_999])
DIRECTIONS = st.sampled_from([True, False, 1, 0, None])


def _outcome(call, *args, **kwargs):
    try:
        return "ok", call(*args, **kwargs)
    except VenueError as error:
        return "error", type(error), error.code, str(error)


@settings(max_examples=300)
@given(
    reserve0=RESERVES,
    reserve1=RESERVES,
    fee=FEES,
    amount=AMOUNTS,
    minimum=MINIMUMS,
    zero_for_one=DIRECTIONS,
)
def test_swap_fast_path_equals_the_general_path(
    reserve0, reserve1, fee, amount, minimum, zero_for_one
) -> None:
    fast = ConstantProductPool(reserve0, reserve1, fee, timestamp=7)
    general = ConstantProductPool(reserve0, reserve1, fee, timestamp=7)
    assert _outcome(fast.swap, amount, zero_for_one, minimum) == _outcome(
        general.swap, amount, zero_for_one, minimum, timestamp=7
    )
    assert fast.state() == general.state()
    fast._check()


@settings(max_examples=300)
@given(reserve0=RESERVES, reserve1=RESERVES, fee=FEES, amount=AMOUNTS, zero_for_one=DIRECTIONS)
def test_get_amount_out_fast_path_equals_the_library_function(
    reserve0, reserve1, fee, amount, zero_for_one
) -> None:
    pool = ConstantProductPool(reserve0, reserve1, fee)
    before = pool.state()
    got = _outcome(pool.get_amount_out, amount, zero_for_one)
    if zero_for_one is True or zero_for_one is False:
        reserve_in, reserve_out = (reserve0, reserve1) if zero_for_one else (reserve1, reserve0)
        expected = _outcome(amm.get_amount_out, amount, reserve_in, reserve_out, fee)
        if expected[0] == "ok" or got[0] == "ok":
            assert got == expected
    else:
        assert got[0] == "error" and got[2] in ("ARG", amm.LIB_INSUFFICIENT_INPUT_AMOUNT)
    assert pool.state() == before


@pytest.mark.parametrize("zero_for_one", [True, False])
@pytest.mark.parametrize(
    "headroom, amount",
    [(10**30, 10**30), (10**30, 10**30 + 1), (0, 1), (10**18, 10**18), (10**18, 10**18 + 1)],
)
def test_swap_fast_path_at_the_uint112_bound(zero_for_one, headroom, amount) -> None:
    # The input side lands exactly on, or one past, uint112: the second must revert OVERFLOW.
    big, other = MAX_UINT112 - headroom, MAX_UINT112 // 2
    reserves = (big, other) if zero_for_one else (other, big)
    fast, general = ConstantProductPool(*reserves), ConstantProductPool(*reserves)
    got = _outcome(fast.swap, amount, zero_for_one)
    assert got == _outcome(general.swap, amount, zero_for_one, timestamp=0)
    assert (got[0] == "ok") == (amount <= headroom)
    assert fast.state() == general.state()


def test_swap_fast_path_refuses_a_negative_minimum_like_the_general_path() -> None:
    pool = ConstantProductPool(10**21, 10**21)
    got = _outcome(pool.swap, 10**18, True, -1)
    assert got == _outcome(ConstantProductPool(10**21, 10**21).swap, 10**18, True, -1, timestamp=0)
    assert got[0] == "error" and pool.reserves == (10**21, 10**21)


def test_swap_on_an_empty_pair_still_refuses() -> None:
    pool = ConstantProductPool(0, 0)
    assert _outcome(pool.swap, 10, True)[2] == amm.LIB_INSUFFICIENT_LIQUIDITY
    assert _outcome(pool.get_amount_out, 10, True)[2] == amm.LIB_INSUFFICIENT_LIQUIDITY
