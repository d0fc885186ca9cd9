"""Planning before the leader trades, default price protection, unwind limits and live marks.

The hedge's capacity within its limit is known before anything trades: the order is refused or
its leader shrunk by ``on_hedge_shortfall``, and the report says which. Legs without a limit get
the default band around their arrival mid; unwinds carry a band too; marks refresh between
children from their source.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exec_harness import (
    PERP,
    SPOT,
    amm_adapter,
    book_adapter,
    executor,
    ledger_gate,
    standard_venues,
)

from router.execution.order import Hedge, MultiLegOrder, OrderLeg
from router.margin.quantities import SCALE
from router.protection import arrival_mid, band_limit

D = Decimal


def order(qty: str, *, shortfall: str, perp_limit: str | None = "2998.3") -> MultiLegOrder:
    return MultiLegOrder(
        "p1",
        (
            OrderLeg("spot", "spot", SPOT, "buy", qty=D(qty), limit_price=D("3100")),
            OrderLeg(
                "hedge",
                "perp",
                PERP,
                "sell",
                hedge=Hedge("spot"),
                limit_price=None if perp_limit is None else D(perp_limit),
            ),
        ),
        on_hedge_shortfall=shortfall,
    )


async def held(venues) -> dict[str, Decimal]:
    return {v.name: (await v.inner.holdings())["ETH"] for v in venues}


async def test_a_thin_hedge_refuses_the_order_before_anything_trades() -> None:
    venues = standard_venues()
    ex = executor(venues)
    report = await ex.execute(order("20", shortfall="refuse"))
    assert report.status == "rejected"
    assert "hedge hedge can absorb 16.0000 of the 20.0000" in report.reason
    assert "on_hedge_shortfall = refuse" in report.reason
    assert all(q == 0 for q in (await held(venues)).values())
    assert not [r for r in ex.journal.records() if r["event"] == "child_order"]


async def test_a_thin_hedge_shrinks_the_leader_when_the_order_says_so() -> None:
    venues = standard_venues()
    ex = executor(venues)
    report = await ex.execute(order("20", shortfall="shrink"))
    assert report.status == "filled" and report.hedged, report.reason
    (adjustment,) = report.plan_adjustments
    assert adjustment["leg"] == "spot" and adjustment["policy"] == "shrink"
    assert adjustment["planned_qty"] == D(20) and adjustment["qty"] == D(16)
    assert report.legs[0].target_qty == 16 == report.legs[0].filled_qty
    assert report.residual_exposure == {"ETH": 0}
    assert (await held(venues))["perp"] == -16


async def test_legs_without_a_limit_get_the_band_around_their_arrival_mid() -> None:
    venues = standard_venues()
    mid = arrival_mid([v for v in venues if v.symbol == PERP])
    ex = executor(venues)
    report = await ex.execute(order("2", shortfall="refuse", perp_limit=None))
    assert report.status == "filled"
    assert report.protection["spot"]["mode"] == "limit"
    perp = report.protection["hedge"]
    assert perp["mode"] == "band" and perp["band_bps"] == 100
    assert D(perp["limit_price"]) == band_limit(mid, "sell", 100)
    for child in report.legs[1].children:
        assert child.order.limit_price >= D(perp["limit_price"])


async def test_without_default_protection_the_report_says_none() -> None:
    ex = executor(standard_venues(), band_bps=None)
    report = await ex.execute(order("2", shortfall="refuse", perp_limit=None))
    assert report.protection["hedge"]["mode"] == "none"


async def test_an_unwind_carries_a_limit_around_the_arrival_mid() -> None:
    # Another trader sweeps the perp bids after planning: the hedge fails and the spot is sold
    # back, at no less than the arrival mid minus the unwind band.
    venues = standard_venues(perp=["move"])
    venues[3].move_qty = D("24")
    ex = executor(venues)
    report = await ex.execute(order("4", shortfall="refuse"))
    assert report.status == "unwound", report.reason
    unwind = report.legs[-1]
    assert unwind.role == "unwind"
    mid = D(report.protection["spot"]["arrival_mid"])
    floor = band_limit(mid, "sell", 100)
    record = next(r for r in ex.journal.records() if r["event"] == "unwind")
    assert D(record["limit_price"]) == floor
    for child in unwind.children:
        assert child.order.limit_price >= floor


async def test_fixed_costs_above_the_share_refuse_the_order_with_the_figures() -> None:
    venues = [amm_adapter("pool", leg_cost="40"), book_adapter("perp", symbol=PERP, kind="perp")]
    ex = executor(venues, band_bps=None)  # the band alone would refuse this leg already
    small = MultiLegOrder("f1", (OrderLeg("spot", "spot", SPOT, "buy", qty=D("0.1")),))
    report = await ex.execute(small)
    assert report.status == "rejected"
    assert "fixed costs 40" in report.reason and "at most 1%" in report.reason
    ex = executor(venues, band_bps=None, max_fixed_cost_share=None)
    assert (await ex.execute(MultiLegOrder("f2", small.legs))).status == "filled"


async def test_marks_refresh_between_children_from_their_source() -> None:
    gate = ledger_gate()
    readings = iter([D(3000), D(3010), D(3020), D(3030), D(3040)])
    seen: list[Decimal] = []

    def marks() -> dict[str, Decimal]:
        price = next(readings, D(3040))
        seen.append(price)
        return {"ETH": price, "ETH-PERP": price}

    ex = executor(standard_venues(), gate, marks=marks)
    report = await ex.execute(order("2", shortfall="refuse"))
    assert report.status == "filled"
    events = [r for r in ex.journal.records() if r["event"] == "marks"]
    assert len(events) >= 2 and events[-1]["marks"]["ETH"] == str(seen[-1])
    # the ledger holds the last reading (price units on its 1e-18 grid)
    assert gate.ledger.marks["ETH-PERP"].price_units == int(seen[-1] * SCALE)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"band_bps": 0}, "band_bps"), ({"max_fixed_cost_share": D(2)}, "max_fixed_cost_share")],
)
def test_bad_protection_settings_are_refused(kwargs, field) -> None:
    from router.model.errors import ExecutionError

    with pytest.raises(ExecutionError) as info:
        executor(standard_venues(), **kwargs)
    assert info.value.details["field"] == field


def chain(qty: str, *, shortfall: str) -> MultiLegOrder:
    """spot -> hedge (perp, ratio 1) -> cover (spot on the pool only, ratio 1, limit 3025): a
    hedge of a hedge, on a pool that cannot take the whole size within its limit."""
    return MultiLegOrder(
        "chain",
        (
            OrderLeg("spot", "spot", SPOT, "buy", qty=D(qty), limit_price=D("3100")),
            OrderLeg("hedge", "perp", PERP, "sell", hedge=Hedge("spot"), limit_price=D("2990")),
            OrderLeg(
                "cover",
                "spot",
                SPOT,
                "buy",
                hedge=Hedge("hedge"),
                limit_price=D("3025"),
                venues=("pool",),
            ),
        ),
        on_hedge_shortfall=shortfall,
    )


async def test_a_hedge_whose_own_hedge_cannot_fill_refuses_before_anything_trades() -> None:
    venues = standard_venues()
    ex = executor(venues)
    report = await ex.execute(chain("6", shortfall="refuse"))
    assert report.status == "rejected", report.reason
    assert "hedge cover can absorb" in report.reason and "its leader hedge" in report.reason
    assert all(q == 0 for q in (await held(venues)).values())
    assert not [r for r in ex.journal.records() if r["event"] == "child_order"]


async def test_a_hedge_whose_own_hedge_is_short_shrinks_the_top_leader() -> None:
    venues = standard_venues()
    ex = executor(venues)
    report = await ex.execute(chain("6", shortfall="shrink"))
    (adjustment,) = report.plan_adjustments
    assert adjustment["leg"] == "spot" and adjustment["because"] == ["cover"]
    assert 0 < adjustment["qty"] < D(6)
    assert report.status == "filled" and report.hedged, report.reason
    filled = {leg.leg_id: leg.filled_qty for leg in report.legs}
    assert filled["spot"] == adjustment["qty"] == filled["hedge"] == filled["cover"]
