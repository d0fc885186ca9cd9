"""Filling one leg: rounds of plan the residual, margin-check each child, send, book the fills.

Within a leg, each round re-quotes the residual, checks margin for each child at its worst
allowed price (fees inside), sends the passing children concurrently (different venues cannot
interact: ``asyncio.TaskGroup``, one ``asyncio.timeout`` per child), books the actual fills in
the margin gate, and goes again until the leg is done, the round budget or the time limit is
spent, or nothing more is fillable within the limit. A child without a definite venue answer is
reconciled by its client order id (:mod:`router.execution.reconcile`).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from router.execution.gate import MarginLeg
from router.execution.maintenance import guard, refresh_marks
from router.execution.order import OrderLeg
from router.execution.planning import (
    child_limit,
    plan_round,
    quote_json,
    refresh_snapshots,
    worst_margin_leg,
)
from router.execution.reconcile import answer_result, consistent, reconcile_child
from router.execution.report import ChildResult, LegReport
from router.execution.state import ZERO, RunState
from router.model.errors import AdapterError, CrossrouteError, ExecutionError
from router.model.orders import LegOrder, LegQuote

__all__ = ["fill_leg", "remaining_of", "run_leg"]


async def run_leg(run: RunState, leg: OrderLeg, report: LegReport) -> None:
    if leg.hedge is not None:
        report.target_qty = run.hedge_target(leg, run.net_filled(leg.hedge.follows))
        run.journal.write(
            "hedge_sized",
            client_id=run.order.client_id,
            leg=leg.leg_id,
            follows=leg.hedge.follows,
            ratio=leg.hedge.ratio,
            leader_filled=run.net_filled(leg.hedge.follows),
            target_qty=report.target_qty,
        )
    deadline = run.deadline
    if leg.hedge is not None and run.window_end is not None:
        deadline = min(deadline, run.window_end)  # the hedge must arrive within the window
    await fill_leg(run, leg, report, tag=leg.leg_id, deadline=deadline)


async def fill_leg(
    run: RunState, leg: OrderLeg, report: LegReport, *, tag: str, deadline: float | None
) -> None:
    """Rounds of: plan the residual, margin-check each child, send concurrently, book fills."""
    order, journal = run.order, run.journal
    by_quote = report.target_qty is None
    budget_spent = False
    for round_no in range(order.max_rounds):
        remaining = remaining_of(report)
        if remaining <= 0:
            break
        if deadline is not None and run.now() >= deadline:
            report.reason = (
                "netting window expired"
                if deadline == run.window_end and leg.hedge is not None
                else "time limit reached"
            )
            break
        report.rounds = round_no + 1
        await refresh_snapshots(run, run.venues[leg.leg_id])
        try:
            quotes = plan_round(
                run,
                leg,
                qty=None if by_quote else remaining,
                quote_qty=remaining if by_quote else None,
            )
        except CrossrouteError as exc:
            report.reason = f"cannot route the residual {remaining}: {exc}"
            journal.write(
                "plan_failed",
                client_id=order.client_id,
                leg=tag,
                round=round_no,
                remaining=remaining,
                reason=str(exc),
            )
            break
        journal.write(
            "plan",
            client_id=order.client_id,
            leg=tag,
            stage="round",
            round=round_no,
            remaining=remaining,
            legs=[quote_json(q) for q in quotes],
        )
        if not quotes:
            report.reason = "nothing fillable within the limit"
            break
        children: list[LegOrder] = []
        margin_legs: list[MarginLeg] = []
        for q in [q for q in quotes if beyond_limit(leg, q)]:
            journal.write(
                "child_skipped",
                client_id=order.client_id,
                leg=tag,
                venue=q.venue,
                qty=q.qty,
                quote_amount=q.quote_amount,
                reason=f"quoted average beyond the limit {leg.limit_price}",
            )
        quotes = [q for q in quotes if not beyond_limit(leg, q)]
        if not quotes:
            report.reason = "nothing fillable within the limit (fixed costs included)"
            break
        for q in quotes:
            limit = child_limit(leg, q, order.slippage_bps)
            coid = f"{order.client_id}.{tag}.r{round_no}.{q.venue}"
            if coid in run.sent_ids:  # idempotency: a child id is never sent twice
                raise ExecutionError(
                    f"client order id {coid!r} was already sent",
                    field="client_order_id",
                    value=coid,
                    allowed="a new id",
                )
            children.append(LegOrder(q.venue, leg.side, q.qty, coid, limit))
            margin_legs.append(worst_margin_leg(leg, q.qty, limit, q.fee + q.leg_cost))
        refresh_marks(run, tag)
        if report.role == "leg":
            await guard(run, tag)  # the market may have moved since the last fills
        check = run.margin.check(margin_legs)
        passing = len(children) if check.accepted else (check.failed_index or 0)
        for i, child in enumerate(children):
            ok = i < passing
            journal.write(
                "margin_check",
                client_id=order.client_id,
                leg=tag,
                stage="child",
                client_order_id=child.client_order_id,
                worst=margin_legs[i].to_json_dict(),
                headroom_before=check.headroom_before if i == 0 else check.headroom_after[i - 1],
                headroom_after=check.headroom_after[i] if i < len(check.headroom_after) else None,
                accepted=ok,
                reason="" if ok else check.reason,
            )
        for child in children[passing:]:
            report.children.append(ChildResult(child, "margin_rejected", None, check.reason))
        send = children[:passing]
        for child in send:
            run.sent_ids.add(child.client_order_id)
            journal.write(
                "child_order",
                client_id=order.client_id,
                leg=tag,
                client_order_id=child.client_order_id,
                venue=child.venue,
                side=child.side,
                qty=child.qty,
                limit_price=child.limit_price,
            )
        if send:
            run.epoch += 1  # the venues trade: later plans must see them as they are now
        results = await send_children(run, send) if send else []
        for result in results:
            book_fill(run, leg, report, result, tag)
        if report.role == "leg" and any(r.filled_qty > 0 for r in results):
            refresh_marks(run, tag)
            await guard(run, tag)
        if passing < len(children):
            report.reason = f"margin check failed: {check.reason}"
            break
        if by_quote and all(r.status == "filled" for r in results):
            # The planner spent what the budget buys on the venues' grids; what is left is
            # below one quantum's price and is not a residual to chase.
            budget_spent = True
            break
    remaining = remaining_of(report)
    if report.unknown_qty > 0:
        # Some children were never answered for: the leg is neither filled nor unfilled.
        report.status = "unknown"
        report.reason = f"{report.unknown_qty} base sent but never answered for by the venue"
    elif remaining <= 0 or budget_spent:
        report.status = "filled"
        report.reason = ""
    else:
        report.status = "partial" if report.filled_qty > 0 else "unfilled"
        if not report.reason:
            report.reason = f"residual {remaining} after {report.rounds} rounds"
    run.leg_done(tag, report)


def book_fill(
    run: RunState, leg: OrderLeg, report: LegReport, result: ChildResult, tag: str
) -> None:
    journal = run.journal
    report.children.append(result)
    journal.write("fill", client_id=run.order.client_id, leg=tag, **result.to_json_dict())
    if result.fault:
        run.mark_down(result.order.venue, f"{result.fault}: {result.reason}")
    if result.status == "unknown":
        report.unknown_qty += result.order.qty
        assert result.order.limit_price is not None  # every child carries its limit
        report.unknown_quote += result.order.qty * result.order.limit_price
    if result.filled_qty > 0:
        report.filled_qty += result.filled_qty
        report.quote_amount += result.quote_amount
        report.fee += result.fee
        actual = MarginLeg(
            leg.instrument,
            leg.symbol,
            leg.side,
            result.filled_qty,
            result.quote_amount,
            result.fee,
        )
        try:
            run.margin.apply(actual)
        except CrossrouteError as exc:
            # The fill happened at the venue whatever the ledger says: keep it in the report
            # and the exposure, and record the disagreement loudly.
            journal.write(
                "invariant_violation",
                client_id=run.order.client_id,
                leg=tag,
                what="the margin core refused to book a fill",
                error=str(exc),
                fill=actual.to_json_dict(),
            )
        state = dict(run.margin.summary())
        journal.write(
            "margin_booked",
            client_id=run.order.client_id,
            leg=tag,
            client_order_id=result.order.client_order_id,
            fill=actual.to_json_dict(),
            **state,
        )
        if state.get("headroom", ZERO) < 0:
            # The check used the worst allowed price, so this means a venue filled outside
            # its limit or the gate is inconsistent: record it loudly, never hide it.
            journal.write(
                "invariant_violation",
                client_id=run.order.client_id,
                leg=tag,
                what="negative headroom after a checked fill",
                headroom=state["headroom"],
            )


async def send_children(run: RunState, children: list[LegOrder]) -> list[ChildResult]:
    """Send children concurrently; results come back in child order (deterministic journal)."""
    results: list[ChildResult | None] = [None] * len(children)

    async def one(i: int, child: LegOrder) -> None:
        results[i] = await send_child(run, child)

    async with asyncio.TaskGroup() as group:
        for i, child in enumerate(children):
            group.create_task(one(i, child))
    return [r for r in results if r is not None]


async def send_child(run: RunState, child: LegOrder) -> ChildResult:
    """Send one child; any outcome but a definite venue answer is reconciled by asking the
    venue for the child's client order id (:func:`~router.execution.reconcile.reconcile_child`)."""
    adapter = run.settings.adapters[child.venue]
    try:
        async with asyncio.timeout(run.settings.child_timeout_secs):
            fill = await adapter.execute(child)
    except TimeoutError:
        return await reconcile_child(
            run, child, "timeout", f"no answer within {run.settings.child_timeout_secs} s"
        )
    except AdapterError as exc:
        if exc.details.get("not_sent"):  # refused before it left: the venue never saw it
            return ChildResult(child, "not_received", None, str(exc), fault="error")
        return await reconcile_child(run, child, "error", str(exc))
    except Exception as exc:
        # Anything else (TaskGroup would cancel the siblings mid-flight and lose their fills)
        # is a reply we cannot read: the venue's books say what happened.
        return await reconcile_child(run, child, "error", f"{type(exc).__name__}: {exc}")
    if not consistent(child, fill):
        return await reconcile_child(
            run, child, "inconsistent", f"inconsistent fill from {child.venue}: {fill!r}"
        )
    return answer_result(child, fill, fill.reason)


def beyond_limit(leg: OrderLeg, quote: LegQuote) -> bool:
    """True when the quoted all-in average is already worse than the leg limit (a fixed leg cost
    can do that to a leg whose marginal price is within the limit): such a child is not sent."""
    if leg.limit_price is None:
        return False
    avg = quote.quote_amount / quote.qty
    return avg > leg.limit_price if leg.side == "buy" else avg < leg.limit_price


def remaining_of(report: LegReport) -> Decimal:
    """What a leg still has to fill: quote for a leg sized in quote, else base. Exact, O(1).
    Children the venue never answered for count as filled (at their limit for quote): re-routing
    them could fill the same quantity twice."""
    if report.target_qty is None:
        return report.target_quote - report.quote_amount - report.unknown_quote
    return report.target_qty - report.filled_qty - report.unknown_qty
