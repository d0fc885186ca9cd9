"""The executor's margin gate over the cross-margin ledger: checks, bookings, bad input."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exec_harness import PERP, SPOT, ledger_gate

from router.execution.gate import MarginLeg
from router.execution.journal import StepClock
from router.execution.margin_gate import LedgerGate
from router.margin.ledger import MarginLedger
from router.margin.quantities import QUANTUM, SCALE
from router.model.errors import ExecutionError

D = Decimal


def test_check_reports_every_prefix_and_changes_nothing() -> None:
    gate = ledger_gate(usdc="10000")
    before = gate.ledger.snapshot()
    legs = [
        MarginLeg("perp", PERP, "sell", D(10), D(30000), D(6)),  # IM 3000
        MarginLeg("perp", PERP, "sell", D(30), D(90000), D(18)),
    ]  # IM +9000: over
    check = gate.check(legs)
    assert not check.accepted and check.failed_index == 1
    assert check.headroom_before == D(10000)
    assert len(check.headroom_after) == 2 and check.headroom_after[0] >= 0 > check.headroom_after[1]
    assert "headroom limit" in check.reason and "USDC" in check.reason
    assert gate.ledger.snapshot() == before
    assert gate.check([]).accepted


def test_spot_booking_is_exact_in_quote_cash() -> None:
    gate = ledger_gate(usdc="10000")
    gate.apply(MarginLeg("spot", SPOT, "buy", D("0.33333333"), D("1000.000007"), D("1.5")))
    assert gate.ledger.balance(gate.sub_id, "USDC") == D("8999.999993")
    assert gate.ledger.balance(gate.sub_id, "ETH") == D("0.33333333")
    gate.apply(MarginLeg("spot", SPOT, "sell", D("0.33333333"), D("999.123457"), D("1.5")))
    assert gate.ledger.balance(gate.sub_id, "USDC") == D("8999.999993") + D("999.123457")
    gate.ledger._check()


@settings(max_examples=40)
@given(
    qty=st.integers(1, 10**19),  # wei of ETH: any size a pool can fill
    price=st.integers(2_000_000_000, 4_000_000_000),
    side=st.sampled_from(["buy", "sell"]),
)
def test_perp_entry_is_rounded_against_the_account(qty: int, price: int, side: str) -> None:
    gate = ledger_gate(usdc="1000000")
    size = D(qty) / SCALE
    notional = (size * D(price) / 10**6).quantize(D("1e-6"))
    if notional <= 0:
        return
    fee = D("0.5")
    quote_amount = notional + fee if side == "buy" else notional - fee
    if quote_amount <= 0:
        return
    gate.apply(MarginLeg("perp", PERP, side, size, quote_amount, fee))
    position = gate.ledger.position(gate.sub_id, "ETH-PERP")
    entry = position.cost16 / D(position.size_units) / SCALE
    true_entry = notional / size
    assert (entry >= true_entry) if side == "buy" else (entry <= true_entry)
    assert abs(entry - true_entry) <= QUANTUM


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"instrument": "option"}, "instrument"),
        ({"symbol": "ETHUSDC"}, "symbol"),
        ({"side": "hold"}, "side"),
        ({"qty": D(0)}, "qty"),
        ({"qty": 1}, "qty"),
        ({"quote_amount": D("-1")}, "quote_amount"),
        ({"fee": D("NaN")}, "fee"),
    ],
)
def test_margin_leg_validates(kwargs: dict, field: str) -> None:
    args = {
        "instrument": "spot",
        "symbol": SPOT,
        "side": "buy",
        "qty": D(1),
        "quote_amount": D(3000),
        "fee": D(0),
    }
    args.update(kwargs)
    with pytest.raises(ExecutionError) as info:
        MarginLeg(**args)
    assert info.value.details["field"] == field


def test_gate_construction_validates() -> None:
    ledger = MarginLedger("USDC")
    sub = ledger.open_subaccount("a", "main")
    with pytest.raises(ExecutionError) as info:
        LedgerGate("ledger", sub)  # type: ignore[arg-type]
    assert info.value.details["field"] == "ledger"
    with pytest.raises(ExecutionError) as info:
        LedgerGate(ledger, "a/other")
    assert info.value.details["field"] == "sub_id"
    with pytest.raises(ExecutionError) as info:
        LedgerGate(ledger, sub, {PERP: "NOPE-PERP"})
    assert info.value.details["field"] == f"perp_markets[{PERP}]"


def test_unknown_perp_is_refused_by_check_and_apply_without_change() -> None:
    gate = ledger_gate()
    before = gate.ledger.snapshot()
    leg = MarginLeg("perp", "BTC/USDC:USDC", "sell", D(1), D(60000), D(1))
    check = gate.check([leg])
    assert not check.accepted and "BTC/USDC:USDC" in check.reason
    with pytest.raises(ExecutionError):
        gate.apply(leg)
    assert gate.ledger.snapshot() == before


def test_maintenance_refuses_a_pending_leg_that_is_not_a_margin_leg_and_changes_nothing() -> None:
    gate = ledger_gate()
    before = gate.ledger.snapshot()
    good = MarginLeg("perp", PERP, "sell", D(1), D(3000), D(1))
    with pytest.raises(ExecutionError) as info:
        gate.maintenance([good, ("perp", PERP, "sell", D(1), D(3000))])  # type: ignore[list-item]
    assert info.value.details["field"] == "pending"
    assert gate.ledger.snapshot() == before


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"step_ns": -1}, "step_ns"),
        ({"start_ns": True}, "start_ns"),
        ({"start_ns": 1.5}, "start_ns"),
    ],
)
def test_step_clock_validates(kwargs: dict, field: str) -> None:
    with pytest.raises(ExecutionError) as info:
        StepClock(**kwargs)
    assert info.value.details["field"] == field
    clock = StepClock(start_ns=3, step_ns=2)
    assert [clock(), clock(), clock()] == [3, 5, 7]
