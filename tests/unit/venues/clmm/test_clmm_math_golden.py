"""Leaf libraries (TickMath, SqrtPriceMath, SwapMath, FullMath, LiquidityMath) against golden
vectors, plus properties that tie them together."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from venues.clmm import full_math, liquidity_math, sqrt_price_math, swap_math
from venues.clmm.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)
from venues.errors import InvalidArgument, VenueError

GOLDEN = Path(__file__).resolve().parents[3] / "golden"
TICKMATH = json.loads((GOLDEN / "v3_tickmath.json").read_text())
SQRTPRICEMATH = json.loads((GOLDEN / "v3_sqrtpricemath.json").read_text())
SWAPMATH = json.loads((GOLDEN / "v3_swapmath.json").read_text())

Q96 = 1 << 96
MAX_UINT128 = (1 << 128) - 1


def _arg(value):
    return value if isinstance(value, bool) else int(value)


@pytest.mark.parametrize(
    "case", TICKMATH["cases"], ids=[f"{c['function']}:{c['inputExpr']}" for c in TICKMATH["cases"]]
)
def test_tick_math_vector(case: dict) -> None:
    function = (
        get_sqrt_ratio_at_tick
        if case["function"] == "getSqrtRatioAtTick"
        else get_tick_at_sqrt_ratio
    )
    if case["revert"]:
        with pytest.raises(VenueError) as raised:
            function(int(case["input"]))
        assert raised.value.code == case["revert"]
    else:
        assert function(int(case["input"])) == int(case["expected"])


def test_tick_math_constants_and_extra_properties() -> None:
    assert get_sqrt_ratio_at_tick(MIN_TICK) == MIN_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(MAX_TICK) == MAX_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(MIN_TICK) < 6085630636
    assert get_sqrt_ratio_at_tick(MAX_TICK) > 1033437718471923706666374484006904511252097097914
    for case in TICKMATH["cases"]:
        if case["function"] == "getTickAtSqrtRatio" and not case["revert"]:
            tick, ratio = case["expected"], int(case["input"])
            assert get_sqrt_ratio_at_tick(tick) <= ratio < get_sqrt_ratio_at_tick(tick + 1)


@pytest.mark.parametrize("bad", [True, 1.0, "1", None])
def test_tick_math_rejects_non_integers(bad) -> None:
    with pytest.raises(InvalidArgument):
        get_sqrt_ratio_at_tick(bad)
    with pytest.raises(InvalidArgument):
        get_tick_at_sqrt_ratio(bad)


@given(st.integers(MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1))
@settings(max_examples=300)
def test_get_tick_at_sqrt_ratio_is_the_greatest_tick_at_or_below(ratio: int) -> None:
    tick = get_tick_at_sqrt_ratio(ratio)
    assert get_sqrt_ratio_at_tick(tick) <= ratio < get_sqrt_ratio_at_tick(tick + 1)


@given(st.integers(MIN_TICK, MAX_TICK - 1))
@settings(max_examples=300)
def test_tick_round_trips_and_prices_increase(tick: int) -> None:
    ratio = get_sqrt_ratio_at_tick(tick)
    assert get_tick_at_sqrt_ratio(ratio) == tick
    assert ratio < get_sqrt_ratio_at_tick(tick + 1)


SQRT_FUNCTIONS = {
    "getNextSqrtPriceFromInput": sqrt_price_math.get_next_sqrt_price_from_input,
    "getNextSqrtPriceFromOutput": sqrt_price_math.get_next_sqrt_price_from_output,
    "getAmount0Delta": sqrt_price_math.get_amount0_delta,
    "getAmount1Delta": sqrt_price_math.get_amount1_delta,
}


@pytest.mark.parametrize(
    "case",
    SQRTPRICEMATH["cases"],
    ids=[f"{c['function']}:{c['title']}" for c in SQRTPRICEMATH["cases"]],
)
def test_sqrt_price_math_vector(case: dict) -> None:
    function = SQRT_FUNCTIONS[case["function"]]
    args = [_arg(a) for a in case["args"]]
    if case["reverts"]:
        with pytest.raises(VenueError):
            function(*args)
        return
    expected = case["expected"] if case["expected"] is not None else case.get("derived_result")
    assert expected is not None, case
    assert function(*args) == int(expected)


def test_sqrt_price_math_relation_only_cases_hold() -> None:
    # Upstream asserts roundUp == roundDown + 1 for these two getAmount0Delta cases.
    for case in SQRTPRICEMATH["cases"]:
        if (
            case["function"] == "getAmount0Delta"
            and case["expected"] is None
            and not case["reverts"]
        ):
            a, b, liquidity, _round_up = (_arg(x) for x in case["args"])
            up = sqrt_price_math.get_amount0_delta(a, b, liquidity, True)
            down = sqrt_price_math.get_amount0_delta(a, b, liquidity, False)
            assert up == down + 1


@pytest.mark.parametrize("case", SWAPMATH["cases"], ids=[c["title"] for c in SWAPMATH["cases"]])
def test_swap_math_vector(case: dict) -> None:
    step = swap_math.compute_swap_step(*(int(a) for a in case["args"]))
    got = {
        "sqrtRatioNextX96": step.sqrt_ratio_next_x96,
        "amountIn": step.amount_in,
        "amountOut": step.amount_out,
        "feeAmount": step.fee_amount,
    }
    for key, value in case["expected"].items():
        assert got[key] == int(value), key
    assert got == {k: int(v) for k, v in case["derived_full_result"].items()}
    current, target, _, amount_remaining, _ = (int(a) for a in case["args"])
    assert (current >= target) == case["zeroForOne_implied"]
    if amount_remaining >= 0:
        assert step.amount_in + step.fee_amount <= amount_remaining
    else:
        assert step.amount_out <= -amount_remaining


prices = st.integers(MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1)
liquidities = st.integers(1, MAX_UINT128)
amounts = st.integers(-(1 << 128), 1 << 128).filter(lambda a: a != 0)
fees = st.sampled_from([0, 1, 100, 500, 3000, 10000, 999_999])


@given(prices, prices, liquidities, amounts, fees)
@settings(max_examples=300)
def test_swap_step_never_overspends_and_moves_toward_target(
    current, target, liquidity, amount, fee
) -> None:
    try:
        step = swap_math.compute_swap_step(current, target, liquidity, amount, fee)
    except VenueError:
        return  # an exact-output beyond the virtual reserves reverts, as upstream
    zero_for_one = current >= target
    if zero_for_one:
        assert target <= step.sqrt_ratio_next_x96 <= current
    else:
        assert current <= step.sqrt_ratio_next_x96 <= target
    if amount > 0:
        assert step.amount_in + step.fee_amount <= amount
    else:
        assert step.amount_out <= -amount
    # Input rounds up / output down: the trader never gets more than the exact curve.
    if zero_for_one:
        exact_out = liquidity * (current - step.sqrt_ratio_next_x96) // Q96
        assert step.amount_out <= exact_out
    else:
        exact_in = -(-liquidity * (step.sqrt_ratio_next_x96 - current) // Q96)
        assert step.amount_in >= exact_in


@given(prices, prices, liquidities)
@settings(max_examples=200)
def test_amount_deltas_round_up_by_at_most_one(a: int, b: int, liquidity: int) -> None:
    for function in (sqrt_price_math.get_amount0_delta, sqrt_price_math.get_amount1_delta):
        up, down = function(a, b, liquidity, True), function(a, b, liquidity, False)
        assert down <= up <= down + 2  # amount0 rounds twice


def test_full_math_reverts_and_rounding() -> None:
    assert full_math.mul_div(7, 3, 2) == 10
    assert full_math.mul_div_rounding_up(7, 3, 2) == 11
    assert full_math.mul_div_rounding_up(6, 3, 2) == 9
    with pytest.raises(VenueError):
        full_math.mul_div(1, 1, 0)
    with pytest.raises(VenueError):
        full_math.mul_div(1 << 255, 4, 1)
    with pytest.raises(VenueError):
        full_math.mul_div_rounding_up(
            full_math.MAX_UINT256, full_math.MAX_UINT256, full_math.MAX_UINT256 - 1
        )
    assert full_math.div_rounding_up(5, 0) == 0


def test_liquidity_math_add_delta_codes() -> None:
    assert liquidity_math.add_delta(1, 0) == 1
    assert liquidity_math.add_delta(1, -1) == 0
    with pytest.raises(VenueError) as raised:
        liquidity_math.add_delta(0, -1)
    assert raised.value.code == "LS"
    with pytest.raises(VenueError) as raised:
        liquidity_math.add_delta(MAX_UINT128, 1)
    assert raised.value.code == "LA"


@pytest.mark.parametrize("function", list(SQRT_FUNCTIONS.values()))
def test_sqrt_price_math_rejects_bad_types(function) -> None:
    good = [Q96, 10**18, 10**17, True]
    for index, bad in enumerate([1.5, -1, "1", 1 << 300]):
        args = list(good)
        args[index if index < 3 else 0] = bad
        with pytest.raises(InvalidArgument):
            function(*args)
    with pytest.raises(InvalidArgument):
        function(Q96, 10**18, 10**17, 1)
