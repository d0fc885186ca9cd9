"""Hedge relations after the fact: what each hedge left unhedged, and unwinding the leaders.

Hedges are sized to their leader's actual fills; when a hedge cannot complete and the order's
policy is ``unwind``, the leader is traded back by the unhedged size, with a limit of the order's
``unwind_band_bps`` around the leader's arrival mid (or, without one, its average fill).
"""

from __future__ import annotations

from router.execution.children import fill_leg
from router.execution.order import OrderLeg
from router.execution.report import HedgeReport, LegReport
from router.execution.state import RunState
from router.protection import band_limit

__all__ = ["hedge_reports", "unwind_leaders"]


def hedge_reports(run: RunState) -> list[HedgeReport]:
    result = []
    for leg in run.order.legs:
        if leg.hedge is None:
            continue
        leader_net = run.net_filled(leg.hedge.follows)
        hedge_net = run.net_filled(leg.leg_id)
        result.append(
            HedgeReport(
                leg.leg_id,
                leg.hedge.follows,
                leg.hedge.ratio,
                leader_net,
                hedge_net,
                leader_net * leg.hedge.ratio - hedge_net,
            )
        )
    return result


async def unwind_leaders(run: RunState) -> None:
    """Trade leaders back by their unhedged size (opposite side), after the order's time limit
    if need be: an unwind reduces risk, so it gets its own chance. Its limit is the order's
    ``unwind_band_bps`` around the leader's arrival mid (or, without one, its average fill)."""
    for hedge in hedge_reports(run):
        if hedge.unhedged_qty <= 0:
            continue
        leader = run.order.leg(hedge.follows)
        qty = run.floor_to_grid(hedge.unhedged_qty / hedge.ratio, run.venues[leader.leg_id])
        if qty <= 0:
            continue
        side = "sell" if leader.side == "buy" else "buy"
        reference = run.arrival.get(leader.leg_id) or run.reports[leader.leg_id].avg_price
        limit = (
            None if reference is None else band_limit(reference, side, run.order.unwind_band_bps)
        )
        back = OrderLeg(
            leader.leg_id,
            leader.instrument,
            leader.symbol,
            side,
            qty=qty,
            limit_price=limit,
            venues=run.venues[leader.leg_id],
        )
        report = LegReport(
            leader.leg_id, back.instrument, back.symbol, back.side, qty, None, role="unwind"
        )
        run.unwinds.append(report)
        run.journal.write(
            "unwind",
            client_id=run.order.client_id,
            leg=leader.leg_id,
            hedge=hedge.leg_id,
            side=back.side,
            qty=qty,
            limit_price=limit,
        )
        await fill_leg(run, back, report, tag=f"{leader.leg_id}-unwind", deadline=None)
