"""One order from received to done: plan, order the legs, run them, apply the hedge policy.

The sequence: journal the order and margin before; ask every venue for its holdings; refresh
snapshots; protect legs without a limit; plan every leg before anything trades; find a leg order
that keeps headroom >= 0; run the legs in that order (a failed hedge stops the rest); on a failed
hedge apply the order's policy (``unwind`` or ``stop``; never unwind a hedge that may have
filled); run the final maintenance check without pending legs; and report every leg, the hedges,
the venues' own holdings and the residual exposure.
"""

from __future__ import annotations

from decimal import Decimal

from router.execution.children import remaining_of, run_leg
from router.execution.gate import MarginCheck
from router.execution.maintenance import guard
from router.execution.order import base_asset
from router.execution.planning import order_legs, plan_all, protect, refresh_snapshots
from router.execution.reconcile import ask_holdings, venue_holdings
from router.execution.report import ExecutionReport, LegReport
from router.execution.state import ZERO, Liquidated, RunState
from router.execution.unwind import hedge_reports, unwind_leaders

__all__ = ["run_order"]


async def run_order(run: RunState) -> ExecutionReport:
    order, journal, gate = run.order, run.journal, run.margin
    journal.write("order_received", client_id=order.client_id, order=order.to_json_dict())
    margin_before = dict(gate.summary())
    journal.write("margin_state", client_id=order.client_id, stage="before", **margin_before)
    venues = sorted({n for names in run.venues.values() for n in names})
    for name in venues:
        run.holdings_before[name] = await ask_holdings(run, name)
    await refresh_snapshots(run, venues)
    reason = protect(run)
    if reason:
        return await finish(run, "rejected", reason, [], margin_before, None)
    planned, reason = plan_all(run)
    order = run.order  # the effective order: protected limits, leaders shrunk by the plan
    if planned is None:
        return await finish(run, "rejected", reason, [], margin_before, None)
    sequence, check = order_legs(run, planned)
    if sequence is None:
        return await finish(
            run, "rejected", check.reason if check else "no leg order", [], margin_before, check
        )
    journal.write(
        "leg_order",
        client_id=order.client_id,
        legs=sequence,
        check=check.to_json_dict() if check else None,
    )

    status, reason = "filled", ""
    hedge_failed: LegReport | None = None
    liquidated: Liquidated | None = None
    for leg_id in sequence:
        leg = order.leg(leg_id)
        report = run.new_report(leg)
        if hedge_failed is not None or liquidated is not None:
            report.status = "skipped"
            report.reason = (
                f"order stopped after hedge {hedge_failed.leg_id} failed"
                if liquidated is None
                else "account liquidated"
            )
            journal.write(
                "leg_skipped", client_id=order.client_id, leg=leg_id, reason=report.reason
            )
            continue
        try:
            await run_leg(run, leg, report)
        except Liquidated as exc:
            liquidated = exc
            if remaining_of(report) <= 0:  # the leg was done: the check after its fills failed
                report.status = "filled"
            else:
                report.status = "partial" if report.filled_qty else "unfilled"
            report.reason = "account liquidated"
            run.leg_done(leg_id, report)
            continue
        except Exception as exc:
            report.status = "partial" if report.filled_qty else "unfilled"
            report.reason = f"internal error: {type(exc).__name__}: {exc}"
            journal.write(
                "internal_error", client_id=order.client_id, leg=leg_id, error=report.reason
            )
            return await finish(
                run, "stopped", f"leg {leg_id}: {report.reason}", sequence, margin_before, check
            )
        if report.status != "filled" and leg.hedge is not None:
            hedge_failed = report
        elif report.status != "filled" and status == "filled":
            status, reason = "partial", f"leg {leg_id}: {report.reason}"
    if liquidated is not None:
        return await finish(run, "liquidated", str(liquidated), sequence, margin_before, check)
    if hedge_failed is not None:
        reason = f"hedge {hedge_failed.leg_id} incomplete: {hedge_failed.reason}"
        if hedge_failed.status == "unknown":
            # The hedge may have filled: trading the leader back could double the exposure
            # instead of removing it. Stop and report the unknown exposure.
            status = "stopped"
            reason += "; not unwound: the hedge may have filled"
        elif order.on_hedge_failure == "unwind":
            try:
                await unwind_leaders(run)
            except Exception as exc:
                journal.write(
                    "internal_error",
                    client_id=order.client_id,
                    leg="unwind",
                    error=f"{type(exc).__name__}: {exc}",
                )
            status = (
                "unwound" if all(h.unhedged_qty == 0 for h in hedge_reports(run)) else "stopped"
            )
            if status == "stopped":
                reason += "; unwind incomplete"
        else:
            status = "stopped"
    if status == "filled" and not all(h.unhedged_qty == 0 for h in hedge_reports(run)):
        status, reason = "partial", "hedge rounding left a residual"
    try:
        # The window is over (or never was): what is left is checked as it stands.
        await guard(run, "final", pending_allowed=False)
    except Liquidated as exc:
        return await finish(
            run,
            "liquidated",
            f"{reason + '; ' if reason else ''}{exc}",
            sequence,
            margin_before,
            check,
        )
    return await finish(run, status, reason, sequence, margin_before, check)


async def finish(
    run: RunState,
    status: str,
    reason: str,
    sequence: list[str],
    margin_before: dict[str, Decimal],
    check: MarginCheck | None,
) -> ExecutionReport:
    order, journal, gate = run.order, run.journal, run.margin
    margin_after = dict(gate.summary())
    journal.write("margin_state", client_id=order.client_id, stage="after", **margin_after)
    efficiency = dict(gate.capital_efficiency())
    legs = [run.reports[leg_id] for leg_id in sequence if leg_id in run.reports] + run.unwinds
    hedges = hedge_reports(run)
    holdings, unknown = await venue_holdings(run, legs)
    exposure: dict[str, Decimal] = {}
    for leg in order.legs:
        exposure.setdefault(base_asset(leg.symbol), ZERO)
    for held in holdings.values():
        for asset, qty in (held or {}).items():
            exposure[asset] = exposure.get(asset, ZERO) + qty
    if unknown and status not in ("rejected", "liquidated"):
        venues = ", ".join(entry["venue"] for entry in unknown)
        reason = f"{reason + '; ' if reason else ''}exposure unknown on {venues}"
        status = "unreconciled"
    result = ExecutionReport(
        client_id=order.client_id,
        status=status,
        reason=reason,
        legs=legs,
        leg_order=list(sequence),
        hedges=hedges,
        residual_exposure=exposure,
        margin_before=margin_before,
        margin_after=margin_after,
        capital_efficiency=efficiency,
        margin_check=check,
        venue_holdings=holdings,
        unknown_exposure=unknown,
        protection={k: p.to_json_dict() for k, p in run.protection.items()},
        plan_adjustments=list(run.adjustments),
    )
    if status == "rejected":
        journal.write(
            "order_rejected",
            client_id=order.client_id,
            reason=reason,
            check=None if check is None else check.to_json_dict(),
        )
    report = result.to_json_dict()  # once: both fields below are parts of it
    journal.write(
        "order_done",
        client_id=order.client_id,
        status=status,
        reason=reason,
        residual_exposure=dict(sorted(exposure.items())),
        venue_holdings=report["venue_holdings"],
        unknown_exposure=unknown,
        hedges=report["hedges"],
        capital_efficiency=efficiency,
        report=report,
    )
    return result
