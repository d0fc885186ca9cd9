"""Shared runner for step-by-step UniswapV3Pool.spec.ts scenarios (golden files of that shape).

Each scenario is an ordered list of operations on one fresh pool; expectations are checked right
after each step, a step marked ``expectRevert`` must raise that code and leave the pool unchanged.
"""

from __future__ import annotations

import copy
import re

import pytest

from venues.clmm import ConcentratedLiquidityPool
from venues.clmm.swap_math import compute_swap_step
from venues.clmm.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from venues.errors import VenueError

MAX_UINT128 = (1 << 128) - 1
OWNER = "wallet"

# Reverts whose upstream require() has no reason string map to our codes.
REVERT_CODES = {
    "(require amount > 0)": "ARG",
    "(TickBitmap.flipTick require tick % tickSpacing == 0)": "TS",
    "(require feeProtocol == 0 || 4 <= feeProtocol <= 10)": "ARG",
}
_TICK_FIELDS = {
    "liquidityGross": "liquidity_gross",
    "liquidityNet": "liquidity_net",
    "feeGrowthOutside0X128": "fee_growth_outside0_x128",
    "feeGrowthOutside1X128": "fee_growth_outside1_x128",
}
_POSITION_FIELDS = {
    "liquidity": "liquidity",
    "tokensOwed0": "tokens_owed0",
    "tokensOwed1": "tokens_owed1",
    "feeGrowthInside0LastX128": "fee_growth_inside0_last_x128",
    "feeGrowthInside1LastX128": "fee_growth_inside1_last_x128",
}


def _state(pool: ConcentratedLiquidityPool | None) -> dict | None:
    return None if pool is None else copy.deepcopy(pool.__dict__)


def _read(pool: ConcentratedLiquidityPool, key: str, result: dict, owner: str) -> int:
    if key in result:
        return result[key]
    simple = {
        "balance0": lambda: pool.balance0,
        "balance1": lambda: pool.balance1,
        "slot0.tick": lambda: pool.tick,
        "slot0.sqrtPriceX96": lambda: pool.sqrt_price_x96,
        "slot0.feeProtocol": lambda: pool.fee_protocol,
        "liquidity": lambda: pool.liquidity,
        "maxLiquidityPerTick": lambda: pool.max_liquidity_per_tick,
        "protocolFees.token0": lambda: pool.protocol_fees[0],
        "protocolFees.token1": lambda: pool.protocol_fees[1],
    }
    if key in simple:
        return simple[key]()
    if match := re.fullmatch(r"ticks\[(-?\d+)\]\.(\w+)", key):
        return getattr(pool.ticks(int(match[1])), _TICK_FIELDS[match[2]])
    if match := re.fullmatch(r"positions\[(-?\d+),(-?\d+)\]\.(\w+)", key):
        position = pool.positions(owner, int(match[1]), int(match[2]))
        return getattr(position, _POSITION_FIELDS[match[3]])
    raise AssertionError(f"unknown expectation key {key}")


def _check_expect(pool: ConcentratedLiquidityPool, step: dict, result: dict) -> None:
    owner = step.get("owner", OWNER)
    for key, want in step.get("expect", {}).items():
        if key == "tickGte":
            assert pool.tick >= int(want), (pool.tick, want)
        elif key == "tickLt":
            assert pool.tick < int(want), (pool.tick, want)
        elif key.startswith("gt:"):
            got = _read(pool, key[3:], result, owner)
            assert got > int(want), (key, got, want, step)
        else:
            assert _read(pool, key, result, owner) == int(want), (key, want, step)


def _run_step(pool: ConcentratedLiquidityPool | None, create: dict, step: dict):
    op = step["op"]
    owner = step.get("owner", OWNER)
    result: dict = {}
    if op == "initialize":
        pool = ConcentratedLiquidityPool(
            create["fee"], create["tickSpacing"], int(step["sqrtPriceX96"])
        )
    elif op == "mint":
        result["amount0"], result["amount1"] = pool.mint(
            owner, step["tickLower"], step["tickUpper"], int(step["liquidity"])
        )
    elif op == "burn":
        result["amount0"], result["amount1"] = pool.burn(
            owner, step["tickLower"], step["tickUpper"], int(step["liquidity"])
        )
    elif op == "collect":
        target = copy.deepcopy(pool) if step.get("static") else pool
        result["amount0"], result["amount1"] = target.collect(
            owner, step["tickLower"], step["tickUpper"], MAX_UINT128, MAX_UINT128
        )
    elif op == "swap":
        default = MIN_SQRT_RATIO + 1 if step["zeroForOne"] else MAX_SQRT_RATIO - 1
        limit = int(step.get("sqrtPriceLimitX96", default))
        result["amount0"], result["amount1"] = pool.swap(
            step["zeroForOne"], int(step["amountSpecified"]), limit
        )
    elif op == "setFeeProtocol":
        pool.set_fee_protocol(step["feeProtocol0"], step["feeProtocol1"])
    elif op == "collectProtocol":
        result["amount0"], result["amount1"] = pool.collect_protocol(MAX_UINT128, MAX_UINT128)
    elif op == "setFeeGrowthGlobal0X128":
        pool.fee_growth_global0_x128 = int(step["value"])  # MockTimeUniswapV3Pool test hook
    elif op == "setFeeGrowthGlobal1X128":
        pool.fee_growth_global1_x128 = int(step["value"])
    elif op == "computeSwapStep":
        out = compute_swap_step(*(int(a) for a in step["args"]))
        result.update(
            sqrtRatioNextX96=out.sqrt_ratio_next_x96,
            amountIn=out.amount_in,
            amountOut=out.amount_out,
            feeAmount=out.fee_amount,
        )
    elif op != "check":
        raise AssertionError(f"unknown op {op}")
    return pool, result


def run_scenario(scenario: dict) -> None:
    """Replay every step of ``scenario`` on one fresh pool, asserting each expectation."""
    create = scenario["steps"][0]
    assert create["op"] == "createPool"
    pool = None
    for step in scenario["steps"][1:]:
        if "expectRevert" in step:
            before = _state(pool)
            with pytest.raises(VenueError) as raised:
                _run_step(pool, create, step)
            want = REVERT_CODES.get(step["expectRevert"], step["expectRevert"])
            assert raised.value.code == want, (raised.value, step)
            assert _state(pool) == before, "a refused operation changed the pool"
            continue
        before = _state(pool) if step.get("static") else None
        pool, result = _run_step(pool, create, step)
        if before is not None:
            assert pool.__dict__ == before, "a static call changed the pool"
        _check_expect(pool, step, result)
    # The fee-growth hooks plant unreachable values, so only structural invariants apply there.
    if not any(s["op"].startswith("setFeeGrowthGlobal") for s in scenario["steps"]):
        pool._check()
