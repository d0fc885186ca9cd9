"""Reconciliation under scheduled venue faults: the report says what the venues' own books hold.

Every run wraps real in-process venues in :class:`FaultInjectingVenue` with a seeded random
schedule; the venues' own books (their ``account``, behind the wrapper) are the truth the report is
held to: ``residual_exposure`` is the sum of ``venue_holdings``, each known holding equals the
venue's books, a silent venue is reported as unknown exposure (never as zero), and no fill is
missing from the journal.
"""

from __future__ import annotations

import asyncio
import random
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from exec_harness import PERP, SPOT, amm_adapter, book_adapter, executor, ledger_gate

from router.config import parse_toml
from router.execution.faults import (
    FAULT_KINDS,
    Fault,
    MarketMoves,
    faults_from_dict,
    inject_faults,
    move_book,
)
from router.execution.order import Hedge, MultiLegOrder, OrderLeg
from router.model.errors import ConfigError

D = Decimal
VENUES = ("book-a", "book-b", "pool", "perp")
BOOKS = ("book-a", "book-b", "perp")


def market() -> list[Any]:
    return [
        book_adapter("book-a", size="3"),
        book_adapter("book-b", mid="3000.5", fee_pips=1000, size="3"),
        amm_adapter("pool"),
        book_adapter("perp", symbol=PERP, kind="perp", size="4", fee_pips=200),
    ]


def basis(qty: str, policy: str, side: str = "buy") -> MultiLegOrder:
    hedge_side = "sell" if side == "buy" else "buy"
    return MultiLegOrder(
        "f1",
        (
            OrderLeg("spot", "spot", SPOT, side, qty=D(qty)),
            OrderLeg("hedge", "perp", PERP, hedge_side, hedge=Hedge("spot")),
        ),
        on_hedge_failure=policy,
        max_rounds=3,
    )


def run(faults: list[Fault], order: MultiLegOrder) -> tuple[Any, Any, dict[str, Any]]:
    inner = {a.name: a for a in market()}
    wrapped = list(inject_faults(inner, faults).values())
    ex = executor(
        wrapped,
        ledger_gate(usdc="400000"),
        child_timeout_secs=D("0.002"),
        reconcile_attempts=2,
        reconcile_backoff_secs=D(0),
    )
    report = asyncio.run(ex.execute(order))
    return ex, report, inner


def check_truthful(ex: Any, report: Any, inner: dict[str, Any]) -> None:
    """The report against the venues' own books (behind the fault wrapper)."""
    truth = {name: asyncio.run(a.holdings())["ETH"] for name, a in inner.items()}
    # residual_exposure is exactly the sum of the known venue holdings
    known = [h for h in report.venue_holdings.values() if h is not None]
    assert report.residual_exposure["ETH"] == sum((h["ETH"] for h in known), D(0))
    unknown = {entry["venue"]: entry for entry in report.unknown_exposure}
    for name, held in truth.items():
        if name not in report.venue_holdings:
            assert held == 0, (name, held)  # never sent a child: nothing can have changed
            continue
        reported = report.venue_holdings[name]
        if reported is not None:
            assert reported["ETH"] == held, (name, reported, held)
        else:  # silent: unknown, never zero, and the truth lies within what is unanswered
            entry = unknown[name]
            bound = sum((D(c["qty"]) for c in entry["unanswered"]), D(0))
            assert entry["unanswered"], entry
            assert abs(held - entry["confirmed_qty"]) <= bound
    if report.unknown_exposure:
        assert report.status in ("unreconciled", "liquidated", "rejected")
    # no fill is missing from the journal: every order the venues' books filled is journaled
    # with the same quantity, or listed as unanswered in the unknown exposure
    fills = {
        r["client_order_id"]: D(r["filled_qty"])
        for r in ex.journal.records()
        if r["event"] == "fill"
    }
    unanswered = {c["client_order_id"] for e in report.unknown_exposure for c in e["unanswered"]}
    for name, adapter in inner.items():
        for coid, fill in adapter.account._orders.items():
            if fill.filled_qty > 0 and coid not in unanswered:
                assert fills.get(coid) == fill.filled_qty, (name, coid, fill, fills.get(coid))
    ex.journal._check()


def random_schedule(rng: random.Random) -> list[Fault]:
    faults = []
    for _ in range(rng.randint(0, 4)):
        kind = rng.choice(FAULT_KINDS)
        share = D(rng.randint(1, 9)) / 10 if kind == "partial" else None
        if kind == "move":  # the market moves under the order (order books only)
            venue, bps = rng.choice(BOOKS), rng.choice([-800, -300, 200, 600])
            faults.append(Fault(venue, kind, rng.randint(0, 3), bps=bps))
            continue
        faults.append(Fault(rng.choice(VENUES), kind, rng.randint(0, 3), share))
    return faults


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    qty=st.sampled_from(["0.5", "2", "7.5", "14"]),
    policy=st.sampled_from(["unwind", "stop"]),
    side=st.sampled_from(["buy", "sell"]),
)
def test_random_fault_schedules_report_what_the_venues_hold(seed, qty, policy, side) -> None:
    faults = random_schedule(random.Random(seed))
    ex, report, inner = run(faults, basis(qty, policy, side))
    check_truthful(ex, report, inner)


def test_two_thousand_seeded_schedules_report_what_the_venues_hold() -> None:
    rng = random.Random(20261202)
    statuses: dict[str, int] = {}
    for _ in range(2000):
        faults = random_schedule(rng)
        order = basis(
            rng.choice(["0.5", "2", "7.5", "14"]),
            rng.choice(["unwind", "stop"]),
            rng.choice(["buy", "sell"]),
        )
        ex, report, inner = run(faults, order)
        check_truthful(ex, report, inner)
        statuses[report.status] = statuses.get(report.status, 0) + 1
    # the sweep reaches the outcomes it is meant to test, the silent venue among them
    assert {"filled", "unreconciled", "unwound"} <= set(statuses), statuses


def test_lost_reply_is_reconciled_and_the_hedge_sized_to_it() -> None:
    ex, report, inner = run(
        [Fault("pool", "lost_reply"), Fault("book-a", "lost_reply")], basis("7.5", "unwind")
    )
    assert report.status == "filled" and report.hedged, report.reason
    children = [c for leg in report.legs for c in leg.children if c.fault]
    assert children and all(c.status in ("filled", "partial") and c.queries == 1 for c in children)
    assert report.residual_exposure == {"ETH": 0}
    assert report.venue_holdings["perp"] == {"ETH": D("-7.5")}
    check_truthful(ex, report, inner)


def test_silent_hedge_venue_is_unknown_exposure_not_zero_and_not_unwound() -> None:
    ex, report, inner = run([Fault("perp", "hang")], basis("2", "unwind"))
    assert report.status == "unreconciled"
    assert report.venue_holdings["perp"] is None
    (entry,) = report.unknown_exposure
    assert entry["venue"] == "perp" and not entry["holdings_known"]
    assert D(entry["unanswered"][0]["qty"]) == 2
    assert [leg.role for leg in report.legs] == ["leg", "leg"]  # no blind unwind
    assert asyncio.run(inner["perp"].holdings()) == {"ETH": D(-2)}  # it did fill
    check_truthful(ex, report, inner)


def test_timeout_is_reconciled_as_never_received_and_the_policy_applies() -> None:
    ex, report, inner = run([Fault("perp", "timeout")], basis("2", "unwind"))
    first = report.legs[1].children[0]
    assert (first.status, first.fault, first.queries) == ("not_received", "timeout", 1)
    # the only perp venue timed out, so it is off for the run: the leader is traded back
    assert report.status == "unwound" and report.hedged and not report.unknown_exposure
    assert report.residual_exposure == {"ETH": 0} and report.venue_holdings["perp"] == {"ETH": 0}
    check_truthful(ex, report, inner)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[[faults]]\nvenue = "nope"\nkind = "hang"', "faults[0].venue"),
        ('[[faults]]\nvenue = "pool"\nkind = "explode"', "faults[0].kind"),
        ('[[faults]]\nvenue = "pool"\nkind = "hang"\nafter = -1', "faults[0].after"),
        ('[[faults]]\nvenue = "pool"\nkind = "partial"\nshare = "1.5"', "faults[0].share"),
        ('[[faults]]\nvenue = "pool"\nkind = "partial"\nshare = 0.5', "faults[0].share"),
        ('[[faults]]\nvenue = "pool"\nkind = "partial"\nshare = "1"', "faults[0].share"),
        ('[[faults]]\nvenue = "pool"\nkind = "hang"\nshare = "0.5"', "faults[0].share"),
        ('[[faults]]\nvenue = "pool"\nkind = "hang"\nwhen = 1', "faults[0].when"),
        ('[[fault]]\nvenue = "pool"', "fault"),
    ],
)
def test_bad_fault_files_name_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        faults_from_dict(parse_toml(text), "f.toml", VENUES)
    assert info.value.key.endswith(key), info.value


# -- move: the market moves under the order -------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    bps=st.integers(-5000, 5000).filter(bool),
    step=st.sampled_from(["0.02", "0.5", "3"]),
    levels=st.integers(1, 6),
)
def test_a_moved_book_moves_every_order_by_bps_and_never_crosses(bps, step, levels) -> None:
    adapter = book_adapter("book", step=step, levels=levels)
    book = adapter.book
    before = {o.order_id: o for o in book.open_orders()}
    mid_before = adapter.mid_price()
    move_book(book, bps)
    book._check()
    factor = 1 + D(bps) / 10_000
    for order in book.open_orders():
        exact = before[order.order_id].price_ticks * factor
        # bids rounded down, asks up, to the tick: never more than one tick from the exact move
        if order.side == "buy":
            assert exact - 1 < order.price_ticks <= exact
        else:
            assert exact <= order.price_ticks < exact + 1
        assert order.qty_lots == before[order.order_id].qty_lots
    best_bid, best_ask = book.best_bid(), book.best_ask()
    assert best_bid is None or best_ask is None or best_bid < best_ask
    tick = D("0.01")
    assert abs(adapter.mid_price() - mid_before * factor) <= tick


def test_a_move_after_the_leaders_child_moves_the_hedge_venue_away() -> None:
    # The spot child (on a book) is the order's first; then the perp market falls 5%, beyond the
    # hedge's default band around its arrival mid: the hedge cannot fill and the spot is unwound.
    ex, report, inner = run([Fault("perp", "move", 1, bps=-500)], basis("2", "unwind"))
    perp_mid = D(report.protection["hedge"]["arrival_mid"])
    assert inner["perp"].mid_price() < perp_mid * D("0.951")
    first = next(r for r in ex.journal.records() if r["event"] == "child_order")
    assert first["venue"] != "perp"
    hedge = next(leg for leg in report.legs if leg.leg_id == "hedge" and leg.role == "leg")
    assert hedge.filled_qty == 0
    check_truthful(ex, report, inner)


def test_a_move_due_after_zero_children_happens_before_anything() -> None:
    adapters = {a.name: a for a in market()}
    mid = adapters["book-a"].mid_price()
    MarketMoves([(Fault("book-a", "move", 0, bps=100), adapters["book-a"])])
    assert adapters["book-a"].mid_price() > mid * D("1.009")


def test_a_move_on_a_pool_is_refused_and_changes_nothing() -> None:
    adapters = {a.name: a for a in market()}
    reserves = adapters["pool"].pool.reserve0
    with pytest.raises(ConfigError, match="order-book venue"):
        inject_faults(adapters, [Fault("book-a", "move", 0, bps=100), Fault("pool", "move", bps=5)])
    assert adapters["pool"].pool.reserve0 == reserves
    with pytest.raises(ConfigError, match="order-book venue"):
        faults_from_dict(
            {"faults": [{"venue": "pool", "kind": "move", "bps": 5}]}, "f.toml", adapters
        )
