"""All 160 swap cases of v3_pool_swaps.json, plus the derived per-step trace, to the wei."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from venues.clmm import ConcentratedLiquidityPool
from venues.errors import VenueError

GOLDEN = Path(__file__).resolve().parents[3] / "golden"
SWAPS = json.loads((GOLDEN / "v3_pool_swaps.json").read_text())
STEPS = {c["case_id"]: c["steps"]
         for c in json.loads((GOLDEN / "v3_pool_swaps_steps_derived.json").read_text())["cases"]}
POOLS = {p["pool_id"]: p for p in SWAPS["pools"]}
_BUILT: dict[int, ConcentratedLiquidityPool] = {}


def _fresh_pool(pool_id: int) -> ConcentratedLiquidityPool:
    """The fixture pool of ``pool_id``; built once, then deep-copied (like the fixture revert)."""
    if pool_id not in _BUILT:
        spec = POOLS[pool_id]
        pool = ConcentratedLiquidityPool(spec["feeAmount"], spec["tickSpacing"],
                                         int(spec["startingSqrtPriceX96"]))
        assert pool.tick == spec["initialTick"]
        for position in spec["positions"]:
            paid = pool.mint("wallet", position["tickLower"], position["tickUpper"],
                             int(position["liquidity"]))
            assert paid == (int(position["derived_mintAmount0"]), int(position["derived_mintAmount1"]))
        assert (pool.balance0, pool.balance1) == (int(spec["poolBalance0"]), int(spec["poolBalance1"]))
        assert pool.liquidity == int(spec["derived_activeLiquidity"])
        pool._check()
        _BUILT[pool_id] = pool
    return copy.deepcopy(_BUILT[pool_id])


def _args(case: dict) -> tuple[bool, int, int]:
    swap = case["swap"]
    return swap["zeroForOne"], int(swap["amountSpecified"]), int(swap["sqrtPriceLimitX96"])


@pytest.mark.parametrize("case", SWAPS["cases"], ids=[c["case_id"] for c in SWAPS["cases"]])
def test_swap_case_matches_snapshot(case: dict) -> None:
    pool = _fresh_pool(case["pool_id"])
    expected = case["expected"]
    if "swapError" in expected:
        assert expected["swapError"].endswith("revert SPL")
        assert (pool.balance0, pool.balance1) == (int(expected["poolBalance0"]), int(expected["poolBalance1"]))
        assert pool.tick == expected["tickBefore"]
        before = copy.deepcopy(pool.__dict__)
        with pytest.raises(VenueError) as raised:
            pool.swap(*_args(case))
        assert raised.value.code == "SPL"
        assert pool.__dict__ == before
        return
    assert (pool.balance0, pool.balance1) == (int(expected["amount0Before"]), int(expected["amount1Before"]))
    assert pool.tick == expected["tickBefore"]
    quote = pool.quote_swap(*_args(case))
    amount0, amount1 = pool.swap(*_args(case))
    derived = case["derived"]
    assert (amount0, amount1) == (int(expected["amount0Delta"]), int(expected["amount1Delta"]))
    assert (quote.amount0, quote.amount1) == (amount0, amount1)
    assert pool.fee_growth_global0_x128 == int(expected["feeGrowthGlobal0X128Delta"])
    assert pool.fee_growth_global1_x128 == int(expected["feeGrowthGlobal1X128Delta"])
    assert pool.tick == expected["tickAfter"] == quote.tick_after
    assert pool.sqrt_price_x96 == int(derived["sqrtPriceX96After"]) == quote.sqrt_price_x96_after
    assert pool.liquidity == int(derived["liquidityAfter"]) == quote.liquidity_after
    assert quote.steps == derived["numSteps"]
    assert (pool.balance0, pool.balance1) == (int(expected["amount0Before"]) + amount0,
                                              int(expected["amount1Before"]) + amount1)
    pool._check()


@pytest.mark.parametrize("case_id", sorted(STEPS), ids=sorted(STEPS))
def test_swap_loop_steps_match_derived_trace(case_id: str) -> None:
    case = next(c for c in SWAPS["cases"] if c["case_id"] == case_id)
    pool = _fresh_pool(case["pool_id"])
    trace: list[dict] = []
    pool._compute_swap(*_args(case), trace=trace)
    expected = [{k: v if isinstance(v, (bool, int)) else int(v) for k, v in step.items()}
                for step in STEPS[case_id]]
    assert trace == expected


def test_vector_counts() -> None:
    cases = SWAPS["cases"]
    assert len(cases) == 160
    # 24 of upstream's 50 SPL reverts fall in pools 0-9; every other case has a derived trace.
    assert sum("swapError" in c["expected"] for c in cases) == 24
    assert len(STEPS) == 136
