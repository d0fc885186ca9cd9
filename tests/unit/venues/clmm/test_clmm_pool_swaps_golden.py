"""All 160 swap cases of v3_pool_swaps.json, plus the derived per-step trace, to the wei."""

from __future__ import annotations

import pytest

from .swap_golden import FixturePools, load, run_case, swap_args

SWAPS = load("v3_pool_swaps.json")
STEPS = {c["case_id"]: c["steps"] for c in load("v3_pool_swaps_steps_derived.json")["cases"]}
POOLS = FixturePools(SWAPS)


@pytest.mark.parametrize("case", SWAPS["cases"], ids=[c["case_id"] for c in SWAPS["cases"]])
def test_swap_case_matches_snapshot(case: dict) -> None:
    run_case(POOLS, case)


@pytest.mark.parametrize("case_id", sorted(STEPS), ids=sorted(STEPS))
def test_swap_loop_steps_match_derived_trace(case_id: str) -> None:
    case = next(c for c in SWAPS["cases"] if c["case_id"] == case_id)
    pool = POOLS.fresh(case["pool_id"])
    trace: list[dict] = []
    pool._compute_swap(*swap_args(case), trace=trace)
    expected = [
        {k: v if isinstance(v, (bool, int)) else int(v) for k, v in step.items()}
        for step in STEPS[case_id]
    ]
    assert trace == expected


def test_vector_counts() -> None:
    cases = SWAPS["cases"]
    assert len(cases) == 160
    # 24 of upstream's 50 SPL reverts fall in pools 0-9; every other case has a derived trace.
    assert sum("swapError" in c["expected"] for c in cases) == 24
    assert len(STEPS) == 136
