"""venues.amm against the Uniswap v2 golden vectors in tests/golden/v2_swaps.json, every case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from venues import amm
from venues.amm import ZERO_ADDRESS, ConstantProductPool, PoolRevert
from venues.errors import VenueError

GOLDEN = json.loads((Path(__file__).parents[2] / "golden" / "v2_swaps.json").read_text())
CASES = {case["id"]: case for case in GOLDEN["cases"]}
EXTRAS = {extra["id"]: extra for extra in GOLDEN["extras"]}
E18 = 10**18


def _int(value: object) -> int:
    # The vectors store large integers as decimal strings and small ones as JSON numbers.
    assert isinstance(value, (int, str)) and not isinstance(value, bool)
    return int(value)


def _cases(*kinds: str) -> list:
    return [pytest.param(case, id=case["id"]) for case in GOLDEN["cases"] if case["kind"] in kinds]


def test_every_case_kind_is_covered_by_a_test():
    covered = {
        "pair_swap_exact_in",
        "pair_flash_same_token",
        "router_exact_in",
        "router_exact_out",
        "library",
        "library_path",
    }
    assert {case["kind"] for case in GOLDEN["cases"]} <= covered
    assert len(GOLDEN["cases"]) == 30


@pytest.mark.parametrize("case", _cases("pair_swap_exact_in"))
def test_pair_swap_largest_passing_output_matches_vector_and_one_more_reverts_k(case):
    reserve0, reserve1 = _int(case["reserve0"]), _int(case["reserve1"])
    amount_in = _int(case["amountIn"])
    outs = (_int(case["amount0Out"]), _int(case["amount1Out"]))
    ins = (amount_in, 0) if case["tokenIn"] == "token0" else (0, amount_in)
    expected = _int(case["expectedOutputAmount"])
    assert max(outs) == expected

    # One more wei out fails the K check on a fresh pair.
    bumped = (outs[0] + 1, outs[1]) if outs[0] else (outs[0], outs[1] + 1)
    pool = ConstantProductPool(reserve0, reserve1)
    before = pool.state()
    with pytest.raises(PoolRevert) as err:
        pool.pair_swap(*bumped, *ins)
    assert err.value.code == "UniswapV2: K"
    assert pool.state() == before

    pool.pair_swap(*outs, *ins)
    pool._check()
    zero_for_one = case["tokenIn"] == "token0"
    reserve_in, reserve_out = (reserve0, reserve1) if zero_for_one else (reserve1, reserve0)
    assert amm.get_amount_out(amount_in, reserve_in, reserve_out) == expected
    assert (
        ConstantProductPool(reserve0, reserve1).get_amount_out(amount_in, zero_for_one) == expected
    )
    if "reserve0After" in case:
        assert pool.reserves == (_int(case["reserve0After"]), _int(case["reserve1After"]))
        event = case["swapEvent"]
        assert (ins, outs) == (
            (_int(event["amount0In"]), _int(event["amount1In"])),
            (_int(event["amount0Out"]), _int(event["amount1Out"])),
        )
        # The router-level swap reaches the same reserves.
        routed = ConstantProductPool(reserve0, reserve1)
        assert routed.swap(amount_in, zero_for_one) == expected
        assert routed.state() == pool.state()


@pytest.mark.parametrize("case", _cases("pair_flash_same_token"))
def test_flash_swap_repaid_in_same_token_passes_at_vector_and_reverts_k_one_above(case):
    reserve0, reserve1 = _int(case["reserve0"]), _int(case["reserve1"])
    amount_in, amount0_out = _int(case["amountIn"]), _int(case["amount0Out"])
    assert _int(case["amount1Out"]) == 0
    pool = ConstantProductPool(reserve0, reserve1)
    before = pool.state()
    with pytest.raises(PoolRevert) as err:
        pool.pair_swap(amount0_out + 1, 0, amount_in, 0)
    assert err.value.code == "UniswapV2: K"
    assert pool.state() == before
    pool.pair_swap(amount0_out, 0, amount_in, 0)
    pool._check()
    assert pool.reserves == (reserve0 - amount0_out + amount_in, reserve1)
    # The K check reduces to 997*amountIn >= 1000*amount0Out.
    assert 997 * amount_in >= 1000 * amount0_out
    assert 997 * amount_in < 1000 * (amount0_out + 1)


@pytest.mark.parametrize("case", _cases("router_exact_in"))
def test_router_exact_in_returns_vector_in_both_token_orders(case):
    reserve_in, reserve_out = _int(case["reserveIn"]), _int(case["reserveOut"])
    amount_in, expected = _int(case["amountIn"]), _int(case["expectedAmountOut"])
    assert amm.get_amount_out(amount_in, reserve_in, reserve_out) == expected
    forward = ConstantProductPool(reserve_in, reserve_out)
    assert forward.swap(amount_in, True, expected) == expected
    assert forward.reserves == (reserve_in + amount_in, reserve_out - expected)
    backward = ConstantProductPool(reserve_out, reserve_in)
    assert backward.swap(amount_in, False, expected) == expected
    assert backward.reserves == (reserve_out - expected, reserve_in + amount_in)


@pytest.mark.parametrize("case", _cases("router_exact_out"))
def test_router_exact_out_charges_vector_in_both_token_orders(case):
    reserve_in, reserve_out = _int(case["reserveIn"]), _int(case["reserveOut"])
    amount_out, expected = _int(case["amountOut"]), _int(case["expectedAmountIn"])
    assert amm.get_amount_in(amount_out, reserve_in, reserve_out) == expected
    forward = ConstantProductPool(reserve_in, reserve_out)
    assert forward.swap_exact_out(amount_out, True, expected) == expected
    assert forward.reserves == (reserve_in + expected, reserve_out - amount_out)
    backward = ConstantProductPool(reserve_out, reserve_in)
    assert backward.swap_exact_out(amount_out, False, expected) == expected
    assert backward.reserves == (reserve_out - amount_out, reserve_in + expected)


LIBRARY = {"quote": amm.quote, "getAmountOut": amm.get_amount_out, "getAmountIn": amm.get_amount_in}


@pytest.mark.parametrize("case", _cases("library"))
def test_library_function_returns_vector_or_reverts_with_its_reason(case):
    function = LIBRARY[case["function"]]
    args = [_int(arg) for arg in case["args"]]
    if case["revert"] is None:
        assert function(*args) == _int(case["expected"])
    else:
        with pytest.raises(VenueError) as err:
            function(*args)
        assert err.value.code == case["revert"]


@pytest.mark.parametrize("case", _cases("library_path"))
def test_library_path_returns_vector_and_empty_path_reverts_invalid_path(case):
    hops = [(_int(a), _int(b)) for a, b in case["reserves"]]
    if case["function"] == "getAmountsOut":
        result = amm.get_amounts_out(_int(case["amountIn"]), hops)
        function = amm.get_amounts_out
    else:
        result = amm.get_amounts_in(_int(case["amountOut"]), hops)
        function = amm.get_amounts_in
    assert result == [_int(x) for x in case["expected"]]
    with pytest.raises(VenueError) as err:
        function(1, [])
    assert err.value.code == case["revertIfPathLengthLt2"]


# ---- extras: liquidity, protocol fee and oracle scenarios -----------------------------------


def test_extra_mint_first_deposit_locks_minimum_liquidity():
    expected = EXTRAS["mint"]["expected"]
    pool = ConstantProductPool(0, 0)
    liquidity = pool.mint("wallet", 1 * E18, 4 * E18)
    pool._check()
    assert liquidity == _int(expected["liquidityToMinter"]) == pool.balance_of("wallet")
    assert pool.total_supply == _int(expected["totalSupply"])
    assert pool.balance_of(ZERO_ADDRESS) == _int(expected["lockedToZeroAddress"])
    assert pool.reserves == (1 * E18, 4 * E18)


@pytest.mark.parametrize(
    "extra_id, deposit",
    [("burn", (3 * E18, 3 * E18)), ("Router:removeLiquidity", (1 * E18, 4 * E18))],
)
def test_extra_burn_all_minter_liquidity_pays_pro_rata_rounded_down(extra_id, deposit):
    expected = EXTRAS[extra_id]["expected"]
    pool = ConstantProductPool(0, 0)
    liquidity = pool.mint("wallet", *deposit)
    amounts = pool.burn("wallet", liquidity)
    pool._check()
    assert amounts == (_int(expected["amount0"]), _int(expected["amount1"]))
    assert pool.reserves == (_int(expected["reserve0After"]), _int(expected["reserve1After"]))
    assert pool.total_supply == _int(expected.get("totalSupplyAfter", 1000)) == 1000
    assert pool.balance_of("wallet") == 0


def _fee_scenario(fee_to: str | None) -> ConstantProductPool:
    pool = ConstantProductPool(0, 0, fee_to=fee_to)
    liquidity = pool.mint("wallet", 1000 * E18, 1000 * E18)
    pool.pair_swap(996006981039903216, 0, 0, 1 * E18)
    pool._check()
    pool.burn("wallet", liquidity)
    pool._check()
    return pool


def test_extra_fee_to_off_burn_leaves_only_locked_supply():
    pool = _fee_scenario(None)
    assert pool.total_supply == _int(EXTRAS["feeTo:off"]["expected"]["totalSupplyAfter"])
    assert pool.k_last == 0


def test_extra_fee_to_on_mints_one_sixth_of_root_k_growth_to_fee_to():
    expected = EXTRAS["feeTo:on"]["expected"]
    pool = _fee_scenario("other")
    assert pool.balance_of("other") == _int(expected["feeToLiquidity"])
    assert pool.total_supply == _int(expected["totalSupplyAfter"])
    assert pool.reserves == (
        _int(expected["pairBalance0After"]),
        _int(expected["pairBalance1After"]),
    )
    assert pool.k_last == pool.reserve0 * pool.reserve1


@pytest.mark.parametrize("t0", [1_600_000_000, 2**32 - 15], ids=["plain", "uint32-wrap"])
def test_extra_price_cumulatives_accrue_pre_update_price_times_elapsed(t0):
    expected = EXTRAS["price{0,1}CumulativeLast"]["expected"]
    pool = ConstantProductPool(3 * E18, 3 * E18, timestamp=t0)

    def assert_step(label: str, offset: int) -> None:
        step = expected[label]
        assert pool.price0_cumulative_last == _int(step["price0CumulativeLast"])
        assert pool.price1_cumulative_last == _int(step["price1CumulativeLast"])
        assert step["blockTimestampLast"] == f"t0+{offset}"
        assert pool.block_timestamp_last == (t0 + offset) % 2**32

    pool.sync(timestamp=t0 + 1)
    assert_step("after sync at t0+1", 1)
    pool.pair_swap(0, 1 * E18, 3 * E18, 0, timestamp=t0 + 10)
    assert pool.reserves == (6 * E18, 2 * E18)
    assert_step("after swap at t0+10", 10)
    # The oracle library's counterfactual read equals what the next sync stores.
    ahead = pool.current_cumulative_prices(t0 + 20)
    pool.sync(timestamp=t0 + 20)
    assert_step("after sync at t0+20", 20)
    assert ahead == (pool.price0_cumulative_last, pool.price1_cumulative_last)
    pool._check()


def test_every_extra_has_a_test():
    assert set(EXTRAS) == {
        "mint",
        "burn",
        "Router:removeLiquidity",
        "feeTo:off",
        "feeTo:on",
        "price{0,1}CumulativeLast",
    }
