"""Upstream pools 10-14 of UniswapV3Pool.swaps.spec.ts (80 snapshot cases), run like pools 0-9.

The extreme pools: prices near and at MIN/MAX_SQRT_RATIO and the maximum full-range liquidity.
With v3_pool_swaps.json this covers all 240 upstream swap cases.
"""

from __future__ import annotations

import pytest

from .swap_golden import FixturePools, load, run_case

EXTRA = load("v3_pool_swaps_upstream_extra.json")
POOLS = FixturePools(EXTRA)


@pytest.mark.parametrize("case", EXTRA["cases"], ids=[c["case_id"] for c in EXTRA["cases"]])
def test_extreme_pool_swap_matches_upstream_snapshot(case: dict) -> None:
    run_case(POOLS, case)


def test_extra_file_completes_upstream_240_cases_and_50_reverts() -> None:
    base = load("v3_pool_swaps.json")
    assert sorted(p["pool_id"] for p in EXTRA["pools"]) == list(range(10, 15))
    assert len(EXTRA["cases"]) == 80
    assert len({c["snapshot_key"] for c in EXTRA["cases"] + base["cases"]}) == 240
    assert sum("swapError" in c["expected"] for c in EXTRA["cases"] + base["cases"]) == 50
    # Same 16 swap tests, same arguments, in every pool.
    titles = [(c["test_title"], c["swap"]) for c in base["cases"] if c["pool_id"] == 0]
    for pool_id in range(10, 15):
        assert [
            (c["test_title"], c["swap"]) for c in EXTRA["cases"] if c["pool_id"] == pool_id
        ] == titles
