"""The executor plans each leg once when nothing changed between the plan before trading and the
leg's first round: the first round reuses that plan. Reuse must never change an outcome: the
same order on the same market gives the same report and the same journal, record for record, as
a run in which every round plans afresh (venues with a snapshot ``refresh`` may change between
any two plans, so nothing is ever reused for them)."""

from __future__ import annotations

import asyncio
import copy
import sys
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exec_harness import (
    PERP,
    SPOT,
    Faulty,
    executor,
    ledger_gate,
    markets,
    orders,
    standard_venues,
)

from router.execution.executor import default_planner
from router.execution.order import Hedge, MultiLegOrder, OrderLeg

D = Decimal


@dataclass
class Refreshing(Faulty):
    """A venue whose snapshot is refreshed before every round (as a ccxt venue's is): the
    executor cannot know it did not change, so it plans every round afresh."""

    refreshes: int = 0

    async def refresh(self) -> None:
        self.refreshes += 1


def refreshing(venue: Faulty) -> Refreshing:
    return Refreshing(**{f.name: getattr(venue, f.name) for f in fields(Faulty)})


def counting_planner(calls: list[str]) -> Any:
    def planner(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1])
        return default_planner(*args, **kwargs)

    return planner


def test_one_leg_filled_in_one_round_is_planned_once() -> None:
    calls: list[str] = []
    ex = executor(standard_venues(), planner=counting_planner(calls))
    order = MultiLegOrder("once", (OrderLeg("buy", "spot", SPOT, "buy", qty=D(3)),))
    report = asyncio.run(ex.execute(order))
    assert report.status == "filled" and report.legs[0].rounds == 1
    assert calls == [SPOT]
    plans = [r["stage"] for r in ex.journal.records() if r["event"] == "plan"]
    assert plans == ["initial", "round"]  # the journal still shows both, as before


def test_hedge_is_planned_again_after_its_leader_traded() -> None:
    calls: list[str] = []
    ex = executor(standard_venues(), planner=counting_planner(calls))
    order = MultiLegOrder(
        "basis",
        (
            OrderLeg("spot", "spot", SPOT, "buy", qty=D(3)),
            OrderLeg("perp", "perp", PERP, "sell", hedge=Hedge("spot")),
        ),
    )
    report = asyncio.run(ex.execute(order))
    assert report.status == "filled"
    # initial plans for both legs; the spot round reuses its plan; the perp round plans anew
    assert calls == [SPOT, PERP, PERP]


def test_a_refreshed_venue_is_never_planned_on_a_stale_plan() -> None:
    calls: list[str] = []
    venues = [refreshing(v) for v in standard_venues()]
    ex = executor(venues, planner=counting_planner(calls))
    order = MultiLegOrder("fresh", (OrderLeg("buy", "spot", SPOT, "buy", qty=D(3)),))
    report = asyncio.run(ex.execute(order))
    assert report.status == "filled"
    assert calls == [SPOT, SPOT]
    assert all(v.refreshes >= 2 for v in venues if v.symbol == SPOT)


@settings(max_examples=40, deadline=None)
@given(
    venues=markets(),
    order=orders(),
    usdc=st.sampled_from(["2000", "20000", "200000"]),
    eth=st.sampled_from(["0", "5", "30"]),
)
def test_reusing_the_first_plan_never_changes_an_outcome(venues, order, usdc, eth) -> None:
    fresh_venues = [refreshing(v) for v in copy.deepcopy(venues)]
    reused_calls: list[str] = []
    fresh_calls: list[str] = []
    reused = executor(
        venues, ledger_gate(usdc=usdc, eth=eth), planner=counting_planner(reused_calls)
    )
    fresh = executor(
        fresh_venues, ledger_gate(usdc=usdc, eth=eth), planner=counting_planner(fresh_calls)
    )
    reused_report = asyncio.run(reused.execute(order))
    fresh_report = asyncio.run(fresh.execute(order))
    assert reused_report.to_json_dict() == fresh_report.to_json_dict()
    assert reused.journal.records() == fresh.journal.records()
    assert len(reused_calls) <= len(fresh_calls)
    if reused_report.legs and reused_report.legs[0].rounds >= 1:
        assert len(reused_calls) < len(fresh_calls)  # the first leg's round did not plan again
