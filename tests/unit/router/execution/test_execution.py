"""Hedged multi-leg execution: happy paths, injected faults, margin ordering, idempotency, journal."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exec_harness import (
    PERP,
    SPOT,
    Faulty,
    amm_adapter,
    book_adapter,
    executor,
    ledger_gate,
    standard_venues,
)

from router.execution.executor import Executor
from router.execution.order import Hedge, MultiLegOrder, OrderLeg
from router.margin.checks import LedgerLeg
from router.margin.quantities import SCALE
from router.model.errors import ExecutionError

D = Decimal


def basis(
    client_id: str = "b1",
    *,
    qty: str = "10",
    policy: str = "unwind",
    spot_venues: tuple = (),
    perp_limit: str | None = None,
    **order_kwargs,
) -> MultiLegOrder:
    return MultiLegOrder(
        client_id,
        (
            OrderLeg("spot", "spot", SPOT, "buy", qty=D(qty), venues=spot_venues),
            OrderLeg(
                "hedge",
                "perp",
                PERP,
                "sell",
                hedge=Hedge("spot"),
                limit_price=None if perp_limit is None else D(perp_limit),
            ),
        ),
        on_hedge_failure=policy,
        **order_kwargs,
    )


def venue_exposure(venues: list[Faulty]) -> dict[str, Decimal]:
    """The router's net base bought, read from the venues' own state (independent of the report)."""
    total = D(0)
    for v in venues:
        inner = v.inner
        if hasattr(inner, "book"):
            total += inner.book.lots_to_qty(inner.book.position_lots("router"))
        else:
            start = D(1000) * 10**18
            total += (start - inner.pool.reserve0) / D(10**18) - v.mover_base
    return {"ETH": total}


def children_all_answered(journal) -> None:
    """Nothing missing from the journal: every child order sent has exactly one fill record."""
    records = journal.records()
    sent = [r["client_order_id"] for r in records if r["event"] == "child_order"]
    answered = [r["client_order_id"] for r in records if r["event"] == "fill"]
    assert sent == answered
    assert len(set(sent)) == len(sent)
    assert not [r for r in records if r["event"] == "invariant_violation"]
    for r in records:
        if r["event"] == "margin_booked":
            assert D(r["headroom"]) >= 0
    journal._check()


# -- happy paths ---------------------------------------------------------------------------------


async def test_basis_trade_fills_hedges_and_books_margin() -> None:
    venues = standard_venues()
    ex = executor(venues)
    report = await ex.execute(basis())
    assert report.status == "filled" and report.hedged
    assert report.residual_exposure == {"ETH": 0}
    spot, hedge = report.legs
    assert spot.filled_qty == 10 and hedge.filled_qty == 10
    assert venue_exposure(venues) == {"ETH": 0}
    ledger = ex.margin.ledger
    assert ledger.balance(ex.margin.sub_id, "ETH") == 10
    assert ledger.position(ex.margin.sub_id, "ETH-PERP").size_units == -10 * SCALE
    # spot cash booked exactly as the venues charged it
    assert ledger.balance(ex.margin.sub_id, "USDC") == D(1_000_000) - spot.quote_amount - hedge.fee
    assert report.margin_after["headroom"] < report.margin_before["headroom"]
    eff = report.capital_efficiency
    assert eff["saved"] == eff["isolated_requirement"] - eff["cross_requirement"] > 0
    children_all_answered(ex.journal)


async def test_same_inputs_give_byte_identical_journals() -> None:
    texts = []
    for _ in range(2):
        ex = executor(standard_venues(book_a=["partial"], pool=["reject"]))
        await ex.execute(basis())
        texts.append(ex.journal.text())
    assert texts[0] == texts[1]
    assert '"t_ns":' in texts[0] and "e-" not in texts[0].lower().replace("one-", "")


async def test_quote_sized_leg_spends_budget_and_hedge_rounding_is_reported() -> None:
    venues = standard_venues()
    ex = executor(venues)
    order = MultiLegOrder(
        "q1",
        (
            OrderLeg("buy", "spot", SPOT, "buy", quote_qty=D("20000.5")),
            OrderLeg("hedge", "perp", PERP, "sell", hedge=Hedge("buy")),
        ),
    )
    report = await ex.execute(order)
    buy, hedge = report.legs
    assert buy.quote_amount <= D("20000.5")
    assert hedge.filled_qty == (buy.filled_qty / D("0.0001")).to_integral_value(
        rounding="ROUND_FLOOR"
    ) * D("0.0001")
    (relation,) = report.hedges
    assert relation.unhedged_qty == buy.filled_qty - hedge.filled_qty
    assert report.residual_exposure["ETH"] == relation.unhedged_qty
    assert report.status == ("filled" if relation.unhedged_qty == 0 else "partial")
    assert venue_exposure(venues) == report.residual_exposure
    children_all_answered(ex.journal)


# -- faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["reject", "timeout", "partial", "down", "boom"])
async def test_spot_fault_is_rerouted_and_order_completes(fault: str) -> None:
    venues = standard_venues(book_a=[fault])
    # unprotected spot leg: with book-a off after the fault, the pool alone fills past the
    # default 100 bps band (test_execution_plan.py covers the band)
    ex = executor(venues, band_bps=None)
    report = await ex.execute(basis(spot_venues=("book-a", "pool")))
    assert report.status == "filled" and report.hedged, report.reason
    spot = report.legs[0]
    assert spot.filled_qty == 10 and spot.rounds >= 2
    first = spot.children[0]
    assert first.order.venue == "book-a"
    expected = {  # (status after reconciliation, what went wrong in transit)
        "reject": ("rejected", ""),
        "timeout": ("not_received", "timeout"),
        "partial": ("partial", ""),
        "down": ("not_received", "error"),
        "boom": ("not_received", "error"),
    }[fault]
    assert (first.status, first.fault) == expected
    assert report.venue_holdings["perp"] == {"ETH": D(-10)} and not report.unknown_exposure
    spot_held = [report.venue_holdings.get(v, {"ETH": D(0)})["ETH"] for v in ("book-a", "pool")]
    assert sum(spot_held) == 10 == report.residual_exposure["ETH"] + 10
    events = [r["event"] for r in ex.journal.records()]
    assert ("venue_down" in events) == (fault in ("timeout", "down", "boom"))
    assert venue_exposure(venues) == {"ETH": 0}
    children_all_answered(ex.journal)


async def test_hanging_venue_is_cut_by_the_child_timeout() -> None:
    venues = standard_venues(book_a=["hang"])
    ex = executor(venues, child_timeout_secs=D("0.05"), band_bps=None)
    report = await ex.execute(basis(spot_venues=("book-a", "pool")))
    assert report.status == "filled"
    first = report.legs[0].children[0]
    assert (first.status, first.fault) == ("not_received", "timeout") and first.queries == 1
    children_all_answered(ex.journal)


async def test_price_moved_beyond_limit_on_hedge_unwinds_the_leader() -> None:
    # Another trader sells 24 ETH (three bid levels) just before our short arrives: what is left
    # (2998 and below, less the 0.02% fee) is under the leg limit, so the hedge cannot complete.
    venues = standard_venues(perp=["move"])
    venues[3].move_qty = D("24")
    ex = executor(venues)
    report = await ex.execute(basis(perp_limit="2998.3"))
    assert report.status == "unwound", report.reason
    assert "hedge hedge incomplete" in report.reason
    roles = [(leg.leg_id, leg.role, leg.side) for leg in report.legs]
    assert roles == [("spot", "leg", "buy"), ("hedge", "leg", "sell"), ("spot", "unwind", "sell")]
    assert report.legs[1].children[0].status == "rejected"
    assert "beyond the limit" in report.legs[1].children[0].reason
    assert report.residual_exposure == {"ETH": 0} and report.hedged
    assert venue_exposure(venues) == {"ETH": 0}
    children_all_answered(ex.journal)


async def test_hedge_venue_down_with_stop_policy_reports_the_exposure() -> None:
    venues = standard_venues(perp=["down"])
    ex = executor(venues)
    report = await ex.execute(basis(policy="stop"))
    assert report.status == "stopped"
    assert not report.hedged
    (relation,) = report.hedges
    assert relation.unhedged_qty == 10
    assert report.residual_exposure == {"ETH": D(10)}
    assert venue_exposure(venues) == {"ETH": D(10)}
    events = [r["event"] for r in ex.journal.records()]
    assert "venue_down" in events and events[-1] == "order_done"
    children_all_answered(ex.journal)


async def test_hedge_partial_fill_is_rerouted_to_completion() -> None:
    venues = standard_venues(perp=["partial"])
    ex = executor(venues)
    report = await ex.execute(basis())
    assert report.status == "filled" and report.hedged
    assert [c.status for c in report.legs[1].children] == ["partial", "filled"]
    children_all_answered(ex.journal)


async def test_time_limit_spent_before_trading_leaves_nothing_unreported() -> None:
    ex = executor(standard_venues())
    report = await ex.execute(basis(time_limit_secs=D("1e-9")))
    assert report.status == "partial"
    assert report.legs[0].reason == "time limit reached"
    assert report.residual_exposure == {"ETH": 0} and report.hedged


async def test_planner_bug_mid_order_ends_in_a_reported_state() -> None:
    from router.execution.executor import default_planner

    calls = []

    def planner(*args, **kwargs):
        calls.append(args[1])
        # initial plans for both legs (the spot leg's first round reuses its plan: nothing
        # changed in between), then the hedge's round after the spot traded
        if len(calls) == 3:
            raise RuntimeError("planner bug")
        return default_planner(*args, **kwargs)

    venues = standard_venues()
    ex = executor(venues, planner=planner)
    report = await ex.execute(basis())
    assert (
        report.status == "stopped" and "internal error: RuntimeError: planner bug" in report.reason
    )
    assert report.residual_exposure == {"ETH": D(10)} and not report.hedged
    assert venue_exposure(venues) == {"ETH": D(10)}
    assert ex.journal.records()[-1]["event"] == "order_done"


async def test_child_whose_fixed_cost_breaks_the_limit_is_not_sent() -> None:
    venues = [Faulty(amm_adapter("pool", leg_cost="500"))]
    ex = executor(venues)
    order = MultiLegOrder(
        "f1", (OrderLeg("buy", "spot", SPOT, "buy", qty=D(1), limit_price=D(3100)),)
    )
    report = await ex.execute(order)
    if report.status == "rejected":  # the planner itself refused the leg: nothing sent either
        assert "cannot be planned" in report.reason or "nothing fillable" in report.reason
    else:
        assert (
            report.status == "partial"
            and "nothing fillable within the limit" in report.legs[0].reason
        )
        assert "child_skipped" in [r["event"] for r in ex.journal.records()]
    assert not venues[0].calls


# -- margin --------------------------------------------------------------------------------------


async def test_order_no_leg_order_can_carry_is_rejected_before_any_trade() -> None:
    venues = standard_venues()
    ex = executor(venues, ledger_gate(usdc="1000"))
    report = await ex.execute(basis())
    assert report.status == "rejected"
    assert "no leg order keeps margin headroom >= 0" in report.reason
    assert "headroom limit" in report.reason
    assert all(not v.calls for v in venues)
    events = [r["event"] for r in ex.journal.records()]
    assert "order_rejected" in events and "child_order" not in events
    assert report.margin_before == report.margin_after
    assert report.residual_exposure == {"ETH": 0}


async def test_legs_are_reordered_so_headroom_stays_non_negative() -> None:
    gate = ledger_gate(usdc="1700")
    gate.ledger.apply_leg(gate.sub_id, LedgerLeg("perp", "ETH-PERP", "sell", "5", "3000", "0"))
    venues = [Faulty(book_adapter("perp", symbol=PERP, kind="perp", size="8", fee_pips=0))]
    ex = executor(venues, gate)
    order = MultiLegOrder(
        "r1",
        (
            OrderLeg("more-short", "perp", PERP, "sell", qty=D(5)),
            OrderLeg("close", "perp", PERP, "buy", qty=D(5)),
        ),
    )
    report = await ex.execute(order)
    assert report.leg_order == ["close", "more-short"]
    assert report.status == "filled"
    children_all_answered(ex.journal)


async def test_child_failing_margin_is_not_sent() -> None:
    # Headroom carries the planned worst case, but the ledger mark moves before the leg runs:
    # the per-child check catches it and nothing is sent.
    gate = ledger_gate(usdc="400")
    venues = [Faulty(book_adapter("perp", symbol=PERP, kind="perp", size="8", fee_pips=0))]
    ex = executor(venues, gate)

    real_check = gate.check
    calls = []

    def check(legs):
        calls.append(len(legs))
        if len(calls) == 2:
            gate.ledger.set_mark("ETH-PERP", "3100")  # the short is now under water
        return real_check(legs)

    gate.check = check  # type: ignore[method-assign]
    report = await ex.execute(MultiLegOrder("m1", (OrderLeg("s", "perp", PERP, "sell", qty=D(1)),)))
    assert report.status == "partial"
    assert report.legs[0].children[0].status == "margin_rejected"
    assert "margin check failed" in report.legs[0].reason
    assert not venues[0].calls


# -- idempotency and bad requests ----------------------------------------------------------------


async def test_same_client_id_same_order_returns_the_first_report_without_trading() -> None:
    venues = standard_venues()
    ex = executor(venues)
    first = await ex.execute(basis())
    calls = sum(len(v.calls) for v in venues)
    again = await ex.execute(basis())
    assert again is first
    assert sum(len(v.calls) for v in venues) == calls
    assert ex.journal.records()[-1]["event"] == "duplicate"


async def test_same_client_id_other_order_is_refused_and_changes_nothing() -> None:
    ex = executor(standard_venues())
    await ex.execute(basis())
    lines = ex.journal.lines()
    with pytest.raises(ExecutionError) as info:
        await ex.execute(basis(qty="5"))
    assert info.value.details["field"] == "client_id"
    assert ex.journal.lines() == lines


@pytest.mark.parametrize(
    "order, field",
    [
        (
            MultiLegOrder(
                "u1", (OrderLeg("a", "spot", SPOT, "buy", qty=D(1), venues=("nowhere",)),)
            ),
            "venues",
        ),
        (
            MultiLegOrder("u2", (OrderLeg("a", "spot", SPOT, "buy", qty=D(1), venues=("perp",)),)),
            "venues",
        ),
        (MultiLegOrder("u3", (OrderLeg("a", "spot", "BTC/USDC", "buy", qty=D(1)),)), "symbol"),
        ("not an order", "order"),
    ],
)
async def test_invalid_request_raises_before_journal_or_trade(order, field: str) -> None:
    venues = standard_venues()
    ex = executor(venues)
    before = ex.margin.ledger.snapshot()
    with pytest.raises(ExecutionError) as info:
        await ex.execute(order)
    assert info.value.details["field"] == field
    assert len(ex.journal) == 0 and all(not v.calls for v in venues)
    assert ex.margin.ledger.snapshot() == before


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"adapters": {}}, "adapters"),
        ({"adapters": {"x": amm_adapter("pool")}}, "adapters[x]"),
        ({"child_timeout_secs": D(0)}, "child_timeout_secs"),
        ({"child_timeout_secs": 5}, "child_timeout_secs"),
        ({"qty_quantum": D("-1")}, "qty_quantum"),
        ({"instruments": {"pool": "option"}}, "instruments[pool]"),
        ({"qty_quantum": D("NaN")}, "qty_quantum"),
        ({"clock": 12.5}, "clock"),
    ],
)
def test_executor_construction_validates(kwargs: dict, field: str) -> None:
    args = {"adapters": {"pool": amm_adapter("pool")}, "margin": ledger_gate()}
    args.update(kwargs)
    adapters = args.pop("adapters")
    with pytest.raises(ExecutionError) as info:
        Executor(adapters, **args)
    assert info.value.details["field"] == field
