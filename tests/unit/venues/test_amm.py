"""venues.amm: behaviour, reverts and argument validation; every failure leaves the pool unchanged."""

from __future__ import annotations

from collections.abc import Callable
from math import isqrt

import pytest

from venues import amm
from venues.amm import (
    MAX_UINT112,
    MINIMUM_LIQUIDITY,
    ZERO_ADDRESS,
    ConstantProductPool,
    PoolRevert,
    SlippageExceeded,
)
from venues.errors import CrossrouteError, InvalidArgument, VenueError

E18 = 10**18


def busy_pool() -> ConstantProductPool:
    """A pool with history: two LPs, fee on, swaps both ways, non-zero accumulators."""
    pool = ConstantProductPool(
        100 * E18, 300_000 * 10**6, lp_owner="alice", fee_to="treasury", timestamp=1_000
    )
    pool.mint("bob", 10 * E18, 30_000 * 10**6, timestamp=1_010)
    pool.swap(E18, True, timestamp=1_020)
    pool.swap(5_000 * 10**6, False, timestamp=1_030)
    pool.burn("bob", pool.balance_of("bob") // 2, timestamp=1_040)
    pool._check()
    return pool


# ---- quoting ----------------------------------------------------------------------------------


def test_default_fee_equals_uniswap_997_over_1000_formulas():
    pool = ConstantProductPool(5 * E18, 10 * E18)
    amount_in = 123_456_789_012_345_678
    assert pool.get_amount_out(amount_in, True) == (
        amount_in * 997 * 10 * E18 // (5 * E18 * 1000 + amount_in * 997)
    )
    # zero_for_one=False: token1 in, token0 out.
    assert pool.get_amount_in(amount_in, False) == (
        10 * E18 * amount_in * 1000 // ((5 * E18 - amount_in) * 997) + 1
    )


def test_get_amount_in_adds_one_even_when_division_is_exact():
    pool = ConstantProductPool(100, 100, fee_pips=0)
    # 100*1*1e6 / (99*1e6) is not exact, but 100*50 / 50 is: still +1.
    assert pool.get_amount_in(50, True) == 100 * 50 // 50 + 1 == 101


def test_zero_fee_pool_out_is_plain_constant_product_floor():
    pool = ConstantProductPool(1_000_000, 2_000_000, fee_pips=0)
    assert pool.get_amount_out(1_000_000, True) == 1_000_000


def test_tiny_reserves_are_quotable_with_only_the_locked_supply():
    pool = ConstantProductPool(100, 100)
    pool._check()
    assert pool.total_supply == MINIMUM_LIQUIDITY == pool.balance_of(ZERO_ADDRESS)
    assert pool.get_amount_out(2, True) == 1
    assert pool.get_amount_in(1, True) == 2


def test_seeding_mints_isqrt_minus_locked_to_lp_owner():
    pool = ConstantProductPool(2 * E18, 8 * E18, lp_owner="seed")
    assert pool.balance_of("seed") == isqrt(16 * E18 * E18) - MINIMUM_LIQUIDITY
    assert pool.total_supply == 4 * E18


def test_quote_is_fee_free_ratio_rounded_down():
    pool = ConstantProductPool(3 * E18, 7 * E18)
    assert pool.quote(E18, True) == 7 * E18 // 3
    assert pool.quote(E18, False) == 3 * E18 // 7


# ---- router-level swaps -----------------------------------------------------------------------


def test_swap_moves_reserves_by_input_and_output():
    pool = ConstantProductPool(5 * E18, 10 * E18)
    quoted = pool.get_amount_out(E18, False)
    assert pool.swap(E18, False) == quoted
    assert pool.reserves == (5 * E18 - quoted, 11 * E18)


def test_swap_below_min_amount_out_raises_slippage_and_changes_nothing():
    pool = busy_pool()
    before = pool.state()
    quoted = pool.get_amount_out(E18, True)
    with pytest.raises(SlippageExceeded) as err:
        pool.swap(E18, True, quoted + 1)
    assert err.value.code == "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"
    assert err.value.details["amount_out"] == quoted
    assert err.value.details["min_amount_out"] == quoted + 1
    assert pool.state() == before
    assert pool.swap(E18, True, quoted) == quoted


def test_swap_exact_out_above_max_amount_in_raises_slippage_and_changes_nothing():
    pool = busy_pool()
    before = pool.state()
    needed = pool.get_amount_in(E18, False)
    with pytest.raises(SlippageExceeded) as err:
        pool.swap_exact_out(E18, False, needed - 1)
    assert err.value.code == "UniswapV2Router: EXCESSIVE_INPUT_AMOUNT"
    assert pool.state() == before
    assert pool.swap_exact_out(E18, False, needed) == needed
    assert pool.swap_exact_out(E18, False) > needed  # the price moved against the buyer


def test_dust_swap_that_buys_nothing_reverts_insufficient_output():
    pool = ConstantProductPool(10**30, 10**6)
    before = pool.state()
    assert pool.get_amount_out(1, True) == 0
    with pytest.raises(PoolRevert) as err:
        pool.swap(1, True)
    assert err.value.code == "UniswapV2: INSUFFICIENT_OUTPUT_AMOUNT"
    assert pool.state() == before


def test_swap_that_would_overflow_uint112_reserve_reverts_overflow():
    pool = ConstantProductPool(MAX_UINT112 - 10, MAX_UINT112 // 2)
    before = pool.state()
    with pytest.raises(PoolRevert) as err:
        pool.swap(11, True)
    assert err.value.code == "UniswapV2: OVERFLOW"
    assert pool.state() == before
    pool.swap(10, True)
    assert pool.reserve0 == MAX_UINT112


def test_exact_out_of_whole_reserve_is_refused_as_insufficient_liquidity():
    pool = ConstantProductPool(5 * E18, 10 * E18)
    with pytest.raises(InvalidArgument) as err:
        pool.swap_exact_out(10 * E18, True)
    assert err.value.code == "UniswapV2: INSUFFICIENT_LIQUIDITY"
    assert err.value.field == "amount_out"


def test_empty_pool_quotes_revert_insufficient_liquidity():
    pool = ConstantProductPool(0, 0)
    for call in (
        lambda: pool.get_amount_out(1, True),
        lambda: pool.get_amount_in(1, False),
        lambda: pool.swap(1, True),
        lambda: pool.quote(1, True),
    ):
        with pytest.raises(PoolRevert) as err:
            call()
        assert err.value.code == "UniswapV2Library: INSUFFICIENT_LIQUIDITY"


# ---- pair_swap --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "outs, ins, code",
    [
        ((0, 0), (E18, 0), "UniswapV2: INSUFFICIENT_OUTPUT_AMOUNT"),
        ((5 * E18, 0), (10 * E18, 0), "UniswapV2: INSUFFICIENT_LIQUIDITY"),
        ((0, 10 * E18), (10**30, 0), "UniswapV2: INSUFFICIENT_LIQUIDITY"),
        ((0, 1), (0, 0), "UniswapV2: INSUFFICIENT_INPUT_AMOUNT"),
        ((0, 2), (1, 0), "UniswapV2: K"),
    ],
)
def test_pair_swap_reverts_with_uniswap_reason_and_changes_nothing(outs, ins, code):
    pool = ConstantProductPool(5 * E18, 10 * E18)
    before = pool.state()
    with pytest.raises(PoolRevert) as err:
        pool.pair_swap(*outs, *ins)
    assert err.value.code == code
    assert pool.state() == before


def test_pair_swap_fee_applies_to_input_side_only_for_both_sided_payment():
    # Paying in both tokens: each side's payment is fee-discounted, outputs are not.
    pool = ConstantProductPool(10**12, 10**12)
    pool.pair_swap(0, 10**9 - 10**7, 10**9, 10**6)
    pool._check()
    assert pool.reserves == (10**12 + 10**9, 10**12 - 10**9 + 10**7 + 10**6)


def test_donation_only_pair_swap_with_same_token_in_and_out_grows_k():
    pool = ConstantProductPool(5 * E18, 5 * E18)
    k_before = pool.reserve0 * pool.reserve1
    pool.pair_swap(997, 0, 1000, 0)
    assert pool.reserve0 * pool.reserve1 > k_before


# ---- liquidity --------------------------------------------------------------------------------


def test_later_mint_gives_min_of_proportional_shares_and_keeps_excess_as_donation():
    pool = ConstantProductPool(E18, 4 * E18)
    supply = pool.total_supply
    minted = pool.mint("bob", E18, 8 * E18)  # twice the token1 needed
    assert minted == min(E18 * supply // E18, 8 * E18 * supply // (4 * E18)) == supply
    assert pool.reserves == (2 * E18, 12 * E18)
    pool._check()


def test_first_mint_at_or_below_minimum_liquidity_reverts_minted():
    pool = ConstantProductPool(0, 0)
    before = pool.state()
    for amounts in ((1000, 1000), (999, 1000), (0, 10**6)):
        with pytest.raises(PoolRevert) as err:
            pool.mint("bob", *amounts)
        assert err.value.code == "UniswapV2: INSUFFICIENT_LIQUIDITY_MINTED"
        assert pool.state() == before
    assert pool.mint("bob", 1001, 1001) == 1


def test_mint_of_one_sided_dust_reverts_minted():
    pool = busy_pool()
    before = pool.state()
    with pytest.raises(PoolRevert) as err:
        pool.mint("carol", 1, 0)
    assert err.value.code == "UniswapV2: INSUFFICIENT_LIQUIDITY_MINTED"
    assert pool.state() == before


def test_mint_that_would_overflow_uint112_reverts_overflow():
    pool = ConstantProductPool(MAX_UINT112 - 5, MAX_UINT112 - 5)
    before = pool.state()
    with pytest.raises(PoolRevert) as err:
        pool.mint("bob", 6, 6)
    assert err.value.code == "UniswapV2: OVERFLOW"
    assert pool.state() == before


def test_burn_of_dust_that_pays_nothing_reverts_burned():
    pool = ConstantProductPool(10**30, 10**6, lp_owner="alice")
    before = pool.state()
    with pytest.raises(PoolRevert) as err:
        pool.burn("alice", 1)
    assert err.value.code == "UniswapV2: INSUFFICIENT_LIQUIDITY_BURNED"
    assert pool.state() == before


def test_protocol_fee_is_zero_without_swaps_and_k_last_clears_after_fee_turns_off():
    pool = ConstantProductPool(10 * E18, 10 * E18, fee_to="treasury")
    assert pool.k_last == 100 * E18 * E18
    pool.mint("bob", E18, E18)
    assert pool.balance_of("treasury") == 0
    pool.set_fee_to(None)
    assert pool.k_last != 0  # cleared lazily, at the next liquidity event
    pool.burn("bob", pool.balance_of("bob"))
    assert pool.k_last == 0 and not pool.fee_to_on
    pool._check()


def test_protocol_fee_accrued_while_off_is_not_charged_after_turning_on():
    pool = ConstantProductPool(1000 * E18, 1000 * E18)
    pool.swap(10 * E18, True)
    pool.set_fee_to("treasury")
    pool.mint("bob", E18, E18)  # k_last was 0: nothing to charge yet
    assert pool.balance_of("treasury") == 0
    pool.swap(10 * E18, False)
    pool.burn("bob", pool.balance_of("bob"))
    assert pool.balance_of("treasury") > 0
    pool._check()


# ---- time -------------------------------------------------------------------------------------


def test_timestamp_none_accrues_nothing_and_going_back_in_time_is_refused():
    pool = ConstantProductPool(E18, 2 * E18, timestamp=50)
    pool.sync()
    assert pool.price0_cumulative_last == 0
    before = pool.state()
    with pytest.raises(InvalidArgument) as err:
        pool.sync(timestamp=49)
    assert err.value.field == "timestamp" and err.value.value == 49
    assert pool.state() == before
    pool.sync(timestamp=52)
    assert pool.price0_cumulative_last == 2 * E18 * 2**112 // E18 * 2


def test_copy_is_independent():
    pool = busy_pool()
    twin = pool.copy()
    twin.swap(E18, True)
    assert twin.state() != pool.state()
    assert pool.copy().state() == pool.state()


# ---- validation: every public method, bad input, nothing changes ------------------------------

BAD_INPUTS: list[tuple[str, Callable[[ConstantProductPool], object], str, str]] = [
    # (id, call, expected field (or "" for a revert), expected code)
    ("get_amount_out float", lambda p: p.get_amount_out(1.5, True), "amount_in", "ARG"),
    ("get_amount_out bool", lambda p: p.get_amount_out(True, True), "amount_in", "ARG"),
    (
        "get_amount_out zero",
        lambda p: p.get_amount_out(0, True),
        "amount_in",
        "UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT",
    ),
    (
        "get_amount_out negative",
        lambda p: p.get_amount_out(-1, True),
        "amount_in",
        "UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT",
    ),
    ("get_amount_out direction int", lambda p: p.get_amount_out(1, 1), "zero_for_one", "ARG"),
    (
        "get_amount_in zero",
        lambda p: p.get_amount_in(0, True),
        "amount_out",
        "UniswapV2Library: INSUFFICIENT_OUTPUT_AMOUNT",
    ),
    ("get_amount_in str", lambda p: p.get_amount_in("5", True), "amount_out", "ARG"),
    (
        "get_amount_in whole reserve",
        lambda p: p.get_amount_in(p.reserve1, True),
        "amount_out",
        "UniswapV2: INSUFFICIENT_LIQUIDITY",
    ),
    ("get_amount_in direction None", lambda p: p.get_amount_in(1, None), "zero_for_one", "ARG"),
    ("quote zero", lambda p: p.quote(0, True), "amount", "UniswapV2Library: INSUFFICIENT_AMOUNT"),
    (
        "swap zero",
        lambda p: p.swap(0, True),
        "amount_in",
        "UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT",
    ),
    ("swap float", lambda p: p.swap(1e18, True), "amount_in", "ARG"),
    ("swap direction str", lambda p: p.swap(10, "yes"), "zero_for_one", "ARG"),
    ("swap negative min", lambda p: p.swap(10**12, True, -1), "min_amount_out", "ARG"),
    ("swap past timestamp", lambda p: p.swap(10**12, True, timestamp=0), "timestamp", "ARG"),
    ("swap huge", lambda p: p.swap(MAX_UINT112 + 1, True), "", "UniswapV2: OVERFLOW"),
    ("mint huge", lambda p: p.mint("carol", MAX_UINT112, MAX_UINT112), "", "UniswapV2: OVERFLOW"),
    (
        "swap slippage",
        lambda p: p.swap(10**12, True, 10**30),
        "",
        "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT",
    ),
    (
        "swap_exact_out zero",
        lambda p: p.swap_exact_out(0, False),
        "amount_out",
        "UniswapV2Library: INSUFFICIENT_OUTPUT_AMOUNT",
    ),
    (
        "swap_exact_out too much",
        lambda p: p.swap_exact_out(10**40, False),
        "amount_out",
        "UniswapV2: INSUFFICIENT_LIQUIDITY",
    ),
    ("swap_exact_out bad max", lambda p: p.swap_exact_out(10, False, 2.0), "max_amount_in", "ARG"),
    (
        "swap_exact_out slippage",
        lambda p: p.swap_exact_out(10**9, False, 1),
        "",
        "UniswapV2Router: EXCESSIVE_INPUT_AMOUNT",
    ),
    ("pair_swap negative out", lambda p: p.pair_swap(-1, 0, 1, 0), "amount0_out", "ARG"),
    ("pair_swap float in", lambda p: p.pair_swap(0, 1, 0.5, 0), "amount0_in", "ARG"),
    ("pair_swap k", lambda p: p.pair_swap(0, 10**6, 1, 0), "", "UniswapV2: K"),
    ("mint empty to", lambda p: p.mint("", E18, E18), "to", "ARG"),
    ("mint to zero address", lambda p: p.mint(ZERO_ADDRESS, E18, E18), "to", "ARG"),
    ("mint negative", lambda p: p.mint("carol", -1, E18), "amount0", "ARG"),
    ("mint float", lambda p: p.mint("carol", E18, 1e18), "amount1", "ARG"),
    (
        "mint nothing",
        lambda p: p.mint("carol", 0, 0),
        "",
        "UniswapV2: INSUFFICIENT_LIQUIDITY_MINTED",
    ),
    ("burn unknown owner", lambda p: p.burn("mallory", 1), "owner", "ARG"),
    ("burn locked", lambda p: p.burn(ZERO_ADDRESS, 1), "owner", "ARG"),
    ("burn more than held", lambda p: p.burn("bob", p.balance_of("bob") + 1), "liquidity", "ARG"),
    ("burn zero", lambda p: p.burn("bob", 0), "liquidity", "ARG"),
    ("burn bool", lambda p: p.burn("bob", True), "liquidity", "ARG"),
    ("sync past", lambda p: p.sync(timestamp=999), "timestamp", "ARG"),
    ("sync float", lambda p: p.sync(timestamp=2000.0), "timestamp", "ARG"),
    ("set_fee_to int", lambda p: p.set_fee_to(5), "fee_to", "ARG"),
    ("set_fee_to zero address", lambda p: p.set_fee_to(ZERO_ADDRESS), "fee_to", "ARG"),
    (
        "current_cumulative_prices past",
        lambda p: p.current_cumulative_prices(0),
        "timestamp",
        "ARG",
    ),
    (
        "current_cumulative_prices None",
        lambda p: p.current_cumulative_prices(None),
        "timestamp",
        "ARG",
    ),
    ("balance_of int", lambda p: p.balance_of(0), "owner", "ARG"),
]


@pytest.mark.parametrize(
    "call, field, code", [pytest.param(*row[1:], id=row[0]) for row in BAD_INPUTS]
)
def test_bad_input_raises_named_error_and_leaves_pool_unchanged(call, field, code):
    pool = busy_pool()
    before = pool.state()
    with pytest.raises(VenueError) as err:
        call(pool)
    assert err.value.code == code
    if field:
        assert isinstance(err.value, InvalidArgument)
        assert err.value.field == field
        assert field in str(err.value) and "allowed" in str(err.value)
    else:
        assert isinstance(err.value, PoolRevert) and not isinstance(err.value, InvalidArgument)
    assert isinstance(err.value, CrossrouteError)
    assert pool.state() == before
    pool._check()


@pytest.mark.parametrize(
    "args, kwargs, field, code",
    [
        ((-1, 10), {}, "reserve0", "ARG"),
        ((10, MAX_UINT112 + 1), {}, "reserve1", "UniswapV2: OVERFLOW"),
        ((10.0, 10), {}, "reserve0", "ARG"),
        ((True, 10), {}, "reserve0", "ARG"),
        ((0, 10), {}, "reserve0/reserve1", "ARG"),
        ((10, 10, 1_000_000), {}, "fee_pips", "ARG"),
        ((10, 10, -1), {}, "fee_pips", "ARG"),
        ((10, 10, 30.0), {}, "fee_pips", "ARG"),
        ((10, 10), {"lp_owner": ZERO_ADDRESS}, "lp_owner", "ARG"),
        ((10, 10), {"fee_to": ""}, "fee_to", "ARG"),
        ((10, 10), {"timestamp": -1}, "timestamp", "ARG"),
    ],
)
def test_constructor_rejects_bad_arguments_naming_the_field(args, kwargs, field, code):
    with pytest.raises(InvalidArgument) as err:
        ConstantProductPool(*args, **kwargs)
    assert err.value.field == field
    assert err.value.code == code


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: amm.get_amount_out(1, -5, 10), "reserve_in"),
        (lambda: amm.get_amount_out(1, 10, 10, fee_pips=10**6), "fee_pips"),
        (lambda: amm.get_amount_in(10, 10, 10), "amount_out"),
        (lambda: amm.quote(1, 10, "10"), "reserve_b"),
        (lambda: amm.get_amounts_out(1, "ab"), "hops"),
        (lambda: amm.get_amounts_in(1, [(1, 2, 3)]), "hops"),
    ],
)
def test_library_functions_reject_bad_arguments_naming_the_field(call, field):
    with pytest.raises(InvalidArgument) as err:
        call()
    assert err.value.field == field


def test_get_amounts_out_chains_hops_and_get_amounts_in_walks_back():
    hops = [(10**6, 2 * 10**6), (3 * 10**6, 10**6)]
    forward = amm.get_amounts_out(10**4, hops)
    assert forward[1] == amm.get_amount_out(10**4, *hops[0])
    assert forward[2] == amm.get_amount_out(forward[1], *hops[1])
    backward = amm.get_amounts_in(forward[2], hops)
    assert backward[-1] == forward[2]
    assert backward[0] <= forward[0] + 2  # each hop's +1 may cost one wei
