"""Properties of the executor on random markets, random orders and random injected faults:

- no state with negative headroom: every booked fill leaves headroom >= 0 and the margin core
  never disagrees with a checked fill;
- no unreported position: the report's residual exposure equals what the venues themselves
  hold for the router, and the margin ledger holds exactly the venues' spot and perp positions;
- nothing missing from the journal: every child order sent has its fill record.
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exec_harness import (
    PERP,
    SPOT,
    Faulty,
    amm_adapter,
    book_adapter,
    executor,
    ledger_gate,
    markets,
    orders,
)

from router.execution.order import Hedge, MultiLegOrder, OrderLeg
from router.margin.quantities import SCALE
from router.model.errors import ExecutionError

D = Decimal
STATUSES = {"filled", "partial", "rejected", "unwound", "stopped"}


def venue_positions(venues: list[Faulty]) -> tuple[Decimal, Decimal]:
    """(spot base, perp base) the router holds according to the venues themselves."""
    spot = perp = D(0)
    for v in venues:
        inner = v.inner
        if hasattr(inner, "book"):
            held = inner.book.lots_to_qty(inner.book.position_lots("router"))
            if inner.symbol == PERP:
                perp += held
            else:
                spot += held
        else:
            spot += (v.inner_start - inner.pool.reserve0) / D(10**18) - v.mover_base
    return spot, perp


def assert_consistent(ex, venues: list[Faulty], report, eth_start: Decimal) -> None:
    records = ex.journal.records()
    assert not [r for r in records if r["event"] == "invariant_violation"]
    for r in records:
        if r["event"] == "margin_booked":
            assert D(r["headroom"]) >= 0, r
    sent = [r["client_order_id"] for r in records if r["event"] == "child_order"]
    assert sent == [r["client_order_id"] for r in records if r["event"] == "fill"]
    ex.journal._check()
    assert report.status in STATUSES
    spot, perp = venue_positions(venues)
    assert report.residual_exposure.get("ETH", D(0)) == spot + perp
    ledger, sub = ex.margin.ledger, ex.margin.sub_id
    assert ledger.balance(sub, "ETH") == eth_start + spot
    position = ledger.position(sub, "ETH-PERP")
    assert (D(position.size_units) / SCALE if position else D(0)) == perp
    assert ledger.headroom(sub) >= 0
    ledger._check()
    if report.status in ("filled", "unwound"):
        assert report.hedged


@settings(max_examples=60, deadline=None)
@given(
    venues=markets(),
    order=orders(),
    usdc=st.sampled_from(["2000", "20000", "200000"]),
    eth=st.sampled_from(["0", "5", "30"]),
)
def test_random_orders_never_breach_headroom_nor_hide_a_position(venues, order, usdc, eth) -> None:
    for v in venues:
        v.inner_start = getattr(v.inner, "pool", None) and v.inner.pool.reserve0
    ex = executor(venues, ledger_gate(usdc=usdc, eth=eth))
    report = asyncio.run(ex.execute(order))
    assert_consistent(ex, venues, report, D(eth))


class ExecutorMachine(RuleBasedStateMachine):
    """One executor serving a stream of orders, duplicates and conflicting client ids."""

    def __init__(self) -> None:
        super().__init__()
        self.venues = [
            Faulty(book_adapter("book", size="20")),
            Faulty(amm_adapter("pool")),
            Faulty(book_adapter("perp", symbol=PERP, kind="perp", size="20")),
        ]
        for v in self.venues:
            v.inner_start = getattr(v.inner, "pool", None) and v.inner.pool.reserve0
        self.ex = executor(self.venues, ledger_gate(usdc="300000"))
        self.done: dict[str, MultiLegOrder] = {}
        self.counter = 0
        self.last_report = None

    @rule(
        qty=st.integers(1, 30),
        side=st.sampled_from(["buy", "sell"]),
        hedged=st.booleans(),
        faults=st.lists(st.sampled_from(["ok", "reject", "partial", "timeout"]), max_size=2),
    )
    def new_order(self, qty: int, side: str, hedged: bool, faults: list[str]) -> None:
        self.counter += 1
        legs = [OrderLeg("lead", "spot", SPOT, side, qty=D(qty) / 10)]
        if hedged:
            legs.append(
                OrderLeg(
                    "hedge", "perp", PERP, "sell" if side == "buy" else "buy", hedge=Hedge("lead")
                )
            )
        order = MultiLegOrder(f"o{self.counter}", tuple(legs))
        self.venues[0].script[:] = faults
        self.last_report = asyncio.run(self.ex.execute(order))
        self.done[order.client_id] = order

    @rule()
    def duplicate(self) -> None:
        if not self.done:
            return
        client_id = sorted(self.done)[0]
        calls = sum(len(v.calls) for v in self.venues)
        asyncio.run(self.ex.execute(self.done[client_id]))
        assert sum(len(v.calls) for v in self.venues) == calls

    @rule()
    def conflicting_client_id(self) -> None:
        if not self.done:
            return
        client_id = sorted(self.done)[-1]
        lines = self.ex.journal.lines()
        with pytest.raises(ExecutionError):
            asyncio.run(
                self.ex.execute(
                    MultiLegOrder(client_id, (OrderLeg("x", "spot", SPOT, "buy", qty=D(7)),))
                )
            )
        assert self.ex.journal.lines() == lines

    @invariant()
    def consistent(self) -> None:
        if self.last_report is not None:
            records = self.ex.journal.records()
            assert not [r for r in records if r["event"] == "invariant_violation"]
            self.ex.journal._check()
            ledger, sub = self.ex.margin.ledger, self.ex.margin.sub_id
            assert ledger.headroom(sub) >= 0
            ledger._check()
            spot, _perp = venue_positions(self.venues)
            assert ledger.balance(sub, "ETH") == spot


ExecutorMachine.TestCase.settings = settings(max_examples=10, stateful_step_count=8, deadline=None)
TestExecutorMachine = ExecutorMachine.TestCase
