"""Replays every step-by-step scenario of v3_pool_scenarios.json (UniswapV3Pool.spec.ts) exactly."""

from __future__ import annotations

import pytest

from .scenario_golden import run_scenario
from .swap_golden import load

SCENARIOS = load("v3_pool_scenarios.json")["scenarios"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_scenario_matches_upstream_to_the_wei(scenario: dict) -> None:
    run_scenario(scenario)


def test_scenario_file_has_all_34_scenarios() -> None:
    assert len(SCENARIOS) == 34
