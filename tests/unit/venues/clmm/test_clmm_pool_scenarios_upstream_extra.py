"""UniswapV3Pool.spec.ts tests with exact integer assertions that v3_pool_scenarios.json leaves out.

Mint/burn/collect amounts, tick clearing, position fee snapshots, protocol fees, initialize bounds
and revert codes; the file lists the upstream tests it skips and why (oracle, flash, callbacks).
"""

from __future__ import annotations

import pytest

from .scenario_golden import run_scenario
from .swap_golden import load

EXTRA = load("v3_pool_scenarios_upstream_extra.json")
SCENARIOS = EXTRA["scenarios"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_extra_scenario_matches_upstream_to_the_wei(scenario: dict) -> None:
    run_scenario(scenario)


def test_extra_scenarios_do_not_repeat_the_base_file() -> None:
    base = load("v3_pool_scenarios.json")["scenarios"]
    covered = {t for s in base for t in s["upstream_tests"]}
    extra = [t for s in SCENARIOS for t in s["upstream_tests"]]
    assert len(extra) == len(set(extra))
    assert not covered & set(extra)
    assert len(SCENARIOS) == 29 and len(extra) == 42
