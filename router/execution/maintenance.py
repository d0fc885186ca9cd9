"""Maintenance during execution: marks from their sources, the check, the netting window.

Before sending each round's children and after every round of fills, the executor asks the gate
(when it offers ``maintenance``) whether the account is below maintenance. With a netting window
(``order.netting_window_ms``) still open, the order's unfilled hedge legs count as pending at
their limit prices (all-in, the worst they may fill at), so a move while the hedge is on its way
does not liquidate the position it hedges; without a window, or after it, they do not count.
Below maintenance, the gate liquidates and the order ends ``liquidated``: a gate with
``liquidate_through`` runs the margin core's liquidation loop with each step routed through the
executor's venues at the prices they then show (marks refreshed from their sources after each
fill), and the venues' fills join the report as legs with role ``liquidation`` (so the venues'
holdings reconcile); a gate with only ``liquidate`` liquidates at the marks. Initial margin is checked before every child as always: the window never
admits new risk.
"""

from __future__ import annotations

from router.execution.gate import MarginLeg
from router.execution.report import ChildResult, LegReport
from router.execution.state import Liquidated, RunState
from router.model.orders import LegOrder

__all__ = ["guard", "pending_hedges", "refresh_marks", "window_open"]


def window_open(run: RunState) -> bool:
    return run.window_end is not None and run.now() < run.window_end


def pending_hedges(run: RunState) -> list[MarginLeg]:
    """Unfilled hedge legs at their limit prices (all-in): target from the leader's net fill
    so far, minus what the hedge has filled. A hedge without a limit has no price to count
    at and is not counted."""
    pending: list[MarginLeg] = []
    for leg in run.order.legs:
        if leg.hedge is None or leg.limit_price is None:
            continue
        target = run.hedge_target(leg, run.net_filled(leg.hedge.follows))
        unfilled = target - run.net_filled(leg.leg_id)
        if unfilled > 0:
            pending.append(
                MarginLeg(
                    leg.instrument, leg.symbol, leg.side, unfilled, unfilled * leg.limit_price
                )
            )
    return pending


async def guard(run: RunState, tag: str, *, pending_allowed: bool = True) -> None:
    """The maintenance check during execution; raises Liquidated after liquidating."""
    gate = run.margin
    if not hasattr(gate, "maintenance") or not hasattr(gate, "liquidate"):
        return
    is_open = window_open(run)
    counted = pending_hedges(run) if pending_allowed and is_open else []
    result = gate.maintenance(counted)
    if result.excess >= 0 and not result.breached:
        return
    fields = dict(
        client_id=run.order.client_id,
        leg=tag,
        check=result.to_json_dict(),
        pending=[p.to_json_dict() for p in counted],
        # The window as configured and whether it was open, not the time left in it: that is
        # the wall clock's, and a journal must replay byte for byte (crossroute audit).
        window_ms=run.order.netting_window_ms,
        window_open=is_open,
    )
    if not result.breached:
        run.journal.write("maintenance_netted", **fields)
        return
    run.journal.write("maintenance_breach", **fields)
    if hasattr(gate, "liquidate_through"):
        outcome = await _liquidate_through_venues(run, tag)
    else:
        outcome = gate.liquidate()
    run.journal.write("liquidated", client_id=run.order.client_id, leg=tag, outcome=outcome)
    raise Liquidated(
        f"below maintenance during execution (excess {result.excess}, with pending "
        f"hedges {result.excess_with_pending}): liquidated"
    )


async def _liquidate_through_venues(run: RunState, tag: str) -> dict[str, object]:
    """The gate's venue-routed liquidation; its child fills become ``liquidation`` legs."""
    prefix = f"{run.order.client_id}-liq-{tag}"
    run.epoch += 1  # the liquidation trades on the venues: no plan made before it still holds
    outcome, fills = await run.margin.liquidate_through(  # type: ignore[attr-defined]
        run.settings.adapters, prefix, lambda: refresh_marks(run, f"liquidation-{tag}")
    )
    for n, fill in enumerate(fills, 1):
        venue = fill.venue
        symbol = run.settings.adapters[venue].symbol
        run.sent_ids.add(fill.client_order_id)
        child = LegOrder(venue, fill.side, fill.requested_qty, fill.client_order_id)
        report = LegReport(
            f"liquidation-{tag}-{n}",
            run.settings.instruments[venue],
            symbol,
            fill.side,
            fill.requested_qty,
            None,
            role="liquidation",
            filled_qty=fill.filled_qty,
            quote_amount=fill.quote_amount,
            fee=fill.fee,
            status=fill.status,
            children=[ChildResult(child, fill.status, fill)],
        )
        run.unwinds.append(report)
    return outcome


def refresh_marks(run: RunState, tag: str) -> None:
    """Marks from their configured sources into the gate, journaled when they changed."""
    if run.settings.marks is None or not hasattr(run.margin, "set_marks"):
        return
    marks = dict(run.settings.marks())
    changed = {name: mark for name, mark in marks.items() if run.last_marks.get(name) != mark}
    run.last_marks = marks
    if not changed:
        return
    run.margin.set_marks(changed)
    run.journal.write("marks", client_id=run.order.client_id, leg=tag, marks=changed)
