"""Netting windows: the story of a near-liquidation while the hedge had not yet offset.

A relative-value order buys 1 BTC perp and sells 30 ETH perps as its hedge (ratio 30, limit 2990).
The account has 7,500 USDC. After the BTC leg fills and before the hedge is sent, both markets
fall 6% (the move is armed by the BTC fill and happens at the next venue read). Alone, the BTC
long is then below maintenance (equity about 1,485 < MM 2,350). With a netting window the ETH
short on its way counts at its limit price and nets the loss (excess about +3,389): the hedge
still passes its initial-margin check and fills, and the order ends hedged. Without a window the
account is liquidated before the hedge arrives. When the window expires with the hedge unfilled,
the order's policy applies: unwind (the BTC is sold back) or stop (then the plain maintenance
check liquidates).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from exec_harness import Faulty, book_adapter

from router.execution.executor import Executor
from router.execution.gate import MarginLeg
from router.execution.journal import DecisionJournal, StepClock
from router.execution.margin_gate import LedgerGate
from router.execution.order import (
    MAX_NETTING_WINDOW_MS,
    Hedge,
    MultiLegOrder,
    OrderError,
    OrderLeg,
    order_from_dict,
)
from router.margin.ledger import MarginLedger
from router.margin.quantities import QUANTUM, SCALE
from router.model.errors import ConfigError, ExecutionError
from router.model.orders import LegFill, LegOrder

D = Decimal
BTC, ETH = "BTC/USDC:USDC", "ETH/USDC:USDC"


@dataclass
class Clock:
    """Seconds; every venue call takes one second (no sleeping)."""

    t: float = 0.0

    def __call__(self) -> float:
        return self.t


@dataclass
class World:
    """The market outside the order: a move armed by a fill happens at the next venue read (time
    passes between the leader's fill and the hedge's routing); each execute takes one second."""

    clock: Clock = field(default_factory=Clock)
    armed: Callable[[], None] | None = None

    def tick(self) -> None:
        if self.armed is not None:
            move, self.armed = self.armed, None
            move()


@dataclass
class Moving:
    """A VenueAdapter stub around a real adapter: its first fill arms ``move`` in ``world``."""

    inner: Any
    world: World
    move: Callable[[], None] | None = None
    calls: list[LegOrder] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.name, self.symbol, self.leg_cost = (
            self.inner.name,
            self.inner.symbol,
            self.inner.leg_cost,
        )

    def base_quantum(self) -> Decimal:
        return self.inner.base_quantum()

    def min_qty(self) -> Decimal:
        return self.inner.min_qty()

    def depth_curve(self, side: str) -> Any:
        self.world.tick()
        return self.inner.depth_curve(side)

    def quote(self, side: str, qty: Decimal) -> Any:
        self.world.tick()
        return self.inner.quote(side, qty)

    def quote_for_quote(self, side: str, amount: Decimal) -> Any:
        self.world.tick()
        return self.inner.quote_for_quote(side, amount)

    async def execute(self, order: LegOrder) -> LegFill:
        self.calls.append(order)
        self.world.clock.t += 1.0
        fill = await self.inner.execute(order)
        if self.move is not None and fill.filled_qty > 0:
            self.world.armed, self.move = self.move, None
        return fill


def story(
    *, window_ms: int, policy: str = "unwind", eth_script: tuple[str, ...] = ()
) -> tuple[Executor, Any, MarginLedger]:
    ledger = MarginLedger("USDC")
    ledger.add_market("BTC-PERP", "BTC", max_leverage=20)
    ledger.add_market("ETH-PERP", "ETH", max_leverage=50)
    ledger.set_mark("BTC-PERP", "100000")
    ledger.set_mark("ETH-PERP", "3000")
    sub = ledger.open_subaccount("desk", "main")
    ledger.deposit(sub, "USDC", "7500")
    gate = LedgerGate(ledger, sub, {BTC: "BTC-PERP", ETH: "ETH-PERP"})
    world = World()

    def crash() -> None:  # both markets fall 6% while the order executes
        ledger.set_mark("BTC-PERP", "94000")
        ledger.set_mark("ETH-PERP", "2820")

    btc = Moving(
        book_adapter(
            "btc-perp",
            symbol=BTC,
            kind="perp",
            mid="100000",
            step="10",
            size="1",
            levels=3,
            fee_pips=100,
            lot="0.001",
        ),
        world,
        crash,
    )
    eth = Moving(
        Faulty(
            book_adapter(
                "eth-perp",
                symbol=ETH,
                kind="perp",
                mid="3000",
                step="1",
                size="10",
                levels=4,
                fee_pips=100,
                lot="0.001",
            ),
            list(eth_script),
        ),
        world,
    )
    executor = Executor(
        {btc.name: btc, eth.name: eth},
        gate,
        journal=DecisionJournal(clock=StepClock()),
        clock=world.clock,
    )
    order = MultiLegOrder(
        "rv-1",
        (
            OrderLeg("long", "perp", BTC, "buy", qty=D("1"), limit_price=D("100200")),
            OrderLeg(
                "hedge", "perp", ETH, "sell", limit_price=D("2990"), hedge=Hedge("long", D("30"))
            ),
        ),
        on_hedge_failure=policy,
        netting_window_ms=window_ms,
    )
    return executor, order, ledger


def events(executor: Executor) -> list[str]:
    return [r["event"] for r in executor.journal.records()]


async def test_without_a_window_the_move_liquidates_before_the_hedge_arrives() -> None:
    executor, order, ledger = story(window_ms=0)
    report = await executor.execute(order)
    assert report.status == "liquidated"
    assert [
        (leg.leg_id, leg.status, leg.filled_qty) for leg in report.legs if leg.role == "leg"
    ] == [
        ("long", "filled", D("1.000")),
        ("hedge", "unfilled", D(0)),
    ]
    records = executor.journal.records()
    breach = next(r for r in records if r["event"] == "maintenance_breach")
    assert D(breach["check"]["excess"]) < 0 and breach["pending"] == []
    outcome = next(r for r in records if r["event"] == "liquidated")["outcome"]
    assert outcome["triggered"] and outcome["steps"][0]["symbol"] == "BTC-PERP"
    sub = ledger.subs[executor.margin.sub_id]
    # the margin core cut the long, sized at the crashed mark, and sold it on the BTC perp venue
    # at the price the venue showed (the crash here moved the marks, not the book)
    (sold,) = [leg for leg in report.legs if leg.role == "liquidation"]
    assert sold.symbol == BTC and sold.side == "sell" and 0 < sold.filled_qty < 1
    assert 0 < sub.positions["BTC-PERP"].size_units < SCALE
    assert "ETH-PERP" not in sub.positions
    steps = [e for e in ledger.journal.events() if e["event"] == "liquidation_step"]
    assert steps and all(e["mark"] == "94000.00000000" for e in steps)
    assert D(steps[0]["price"]) == (sold.quote_amount / sold.filled_qty).quantize(
        QUANTUM, "ROUND_FLOOR"
    )
    assert D(steps[0]["closed"]) == -sold.filled_qty
    # the venue's own holdings reconcile with what the report says was traded there
    assert report.residual_exposure["BTC"] == D(1) - sold.filled_qty
    ledger._check()


async def test_with_a_window_the_hedge_on_its_way_nets_the_move_and_fills() -> None:
    executor, order, ledger = story(window_ms=5000)
    report = await executor.execute(order)
    assert report.status == "filled" and report.hedged
    records = executor.journal.records()
    netted = [r for r in records if r["event"] == "maintenance_netted"]
    assert len(netted) == 1
    check = netted[0]["check"]
    assert D(check["excess"]) < 0 < D(check["excess_with_pending"])
    assert netted[0]["pending"] == [
        {
            "instrument": "perp",
            "symbol": ETH,
            "side": "sell",
            "qty": "30.000",
            "quote_amount": "89700.000",
            "fee": "0",
        }
    ]
    sub = ledger.subs[executor.margin.sub_id]
    assert (
        sub.positions["BTC-PERP"].size_units == SCALE
        and sub.positions["ETH-PERP"].size_units == -30 * SCALE
    )
    assert not ledger.liquidatable()
    assert executor.journal.verify() is None
    ledger._check()


async def test_window_expiry_applies_the_unwind_policy() -> None:
    executor, order, ledger = story(window_ms=1500, eth_script=("reject", "reject", "reject"))
    report = await executor.execute(order)
    assert report.status == "unwound"
    hedge = next(leg for leg in report.legs if leg.leg_id == "hedge")
    assert hedge.status == "unfilled" and hedge.reason == "netting window expired"
    assert "maintenance_netted" in events(executor) and "maintenance_breach" not in events(executor)
    assert "BTC-PERP" not in ledger.subs[executor.margin.sub_id].positions


async def test_window_expiry_with_stop_policy_then_liquidates() -> None:
    executor, order, _ledger = story(
        window_ms=1500, policy="stop", eth_script=("reject", "reject", "reject")
    )
    report = await executor.execute(order)
    assert report.status == "liquidated" and "hedge hedge incomplete" in report.reason
    names = events(executor)
    assert names.index("maintenance_netted") < names.index("maintenance_breach")


async def test_the_window_never_admits_new_risk_beyond_initial_margin() -> None:
    """Inside the window the hedge child is still checked against initial margin (after the
    netting decision), and a hedge too large for initial margin is refused outright."""
    executor, order, _ = story(window_ms=5000)
    await executor.execute(order)
    records = executor.journal.records()
    netted_at = next(i for i, r in enumerate(records) if r["event"] == "maintenance_netted")
    im_checks = [
        r for r in records[netted_at:] if r["event"] == "margin_check" and r.get("stage") == "child"
    ]
    assert im_checks and all(r["accepted"] and D(r["headroom_after"]) >= 0 for r in im_checks)
    executor, order, _ = story(window_ms=5000)
    huge = MultiLegOrder(
        "rv-2",
        (
            order.legs[0],
            OrderLeg(
                "hedge", "perp", ETH, "sell", limit_price=D("2990"), hedge=Hedge("long", D("39"))
            ),
        ),
        netting_window_ms=5000,
    )
    report = await executor.execute(huge)
    assert report.status == "rejected" and "headroom limit" in report.reason


def test_maintenance_check_is_read_only_and_validates() -> None:
    executor, _, ledger = story(window_ms=0)
    gate = executor.margin
    before = ledger.snapshot()
    check = gate.maintenance([MarginLeg("perp", ETH, "sell", D("30"), D("89700"))])
    assert (
        check.excess == check.excess_with_pending - 0 or check.excess_with_pending != check.excess
    )
    assert ledger.snapshot() == before
    with pytest.raises(ExecutionError):
        gate.maintenance(["not a leg"])  # type: ignore[list-item]
    assert ledger.snapshot() == before


@settings(max_examples=30)
@given(st.one_of(st.integers(), st.booleans(), st.text(max_size=3), st.floats(allow_nan=False)))
def test_netting_window_is_bounded(value: Any) -> None:
    leg = OrderLeg("a", "spot", "ETH/USDC", "buy", qty=D("1"))
    try:
        order = MultiLegOrder("x", (leg,), netting_window_ms=value)
    except OrderError as exc:
        assert exc.field == "netting_window_ms"
        assert (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 0 <= value <= MAX_NETTING_WINDOW_MS
        )
        return
    assert 0 <= order.netting_window_ms <= MAX_NETTING_WINDOW_MS
    assert ("netting_window_ms" in order.to_json_dict()) == (value != 0)


def test_netting_window_from_toml() -> None:
    data = {
        "order": {"client_id": "n1", "netting_window_ms": 2500},
        "legs": [{"id": "a", "symbol": "ETH/USDC", "side": "buy", "qty": "1"}],
    }
    assert order_from_dict(data).netting_window_ms == 2500
    data["order"]["netting_window_ms"] = 60_001
    with pytest.raises(ConfigError, match="order.netting_window_ms"):
        order_from_dict(data)
