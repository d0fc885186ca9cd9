"""What the venues say: bounded queries, reconciliation by client order id, holdings.

Any outcome of a child other than a definite venue answer (timeout, lost reply, adapter error,
hang, an answer that does not fit the child) is resolved by asking the venue for the child's
client order id, with bounded backoff; a venue that stays silent is reported as unknown
exposure, never as zero. At the end of a run, each venue's own report of the account's change
is compared with the fills it confirmed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from router.execution.order import base_asset
from router.execution.report import ChildResult, LegReport
from router.execution.state import ZERO, RunState
from router.model.orders import LegFill, LegOrder

__all__ = [
    "answer_result",
    "ask",
    "ask_holdings",
    "consistent",
    "reconcile_child",
    "venue_holdings",
]


async def ask(
    run: RunState, venue: str, question: Callable[[Any], Awaitable[Any]]
) -> tuple[bool, Any, int]:
    """Ask a venue one question with bounded retries: ``(answered, answer, queries)``.

    Each query is bounded by the child timeout; a failed one is retried after the backoff
    (doubling), at most ``reconcile_attempts`` queries in all. Never raises."""
    adapter = run.settings.adapters[venue]
    delay = run.settings.reconcile_backoff_secs
    for attempt in range(run.settings.reconcile_attempts):
        if attempt:
            await asyncio.sleep(delay)
            delay *= 2
        try:
            async with asyncio.timeout(run.settings.child_timeout_secs):
                return True, await question(adapter), attempt + 1
        except Exception:  # a venue that cannot answer now may answer the next query
            continue
    return False, None, run.settings.reconcile_attempts


async def ask_holdings(run: RunState, venue: str) -> dict[str, Decimal] | None:
    """The venue's own report of the account's holdings, or None when it stays silent."""
    answered, held, _ = await ask(run, venue, lambda adapter: adapter.holdings())
    if not answered or not isinstance(held, Mapping):
        return None
    if not all(isinstance(q, Decimal) and q.is_finite() for q in held.values()):
        return None
    return dict(held)


async def venue_holdings(
    run: RunState, legs: list[LegReport]
) -> tuple[dict[str, dict[str, Decimal] | None], list[dict[str, Any]]]:
    """Each venue the order sent children to: the change of its holdings over the run as the
    venue reports it, and the unknown exposure (venues silent, or whose holdings differ from
    the fills they confirmed), with what they confirmed and the children left unanswered."""
    confirmed: dict[str, Decimal] = {}
    unanswered: dict[str, list[ChildResult]] = {}
    for report in legs:
        for child in report.children:
            if child.status == "margin_rejected":
                continue
            venue = child.order.venue
            sign = 1 if child.order.side == "buy" else -1
            confirmed[venue] = confirmed.get(venue, ZERO) + sign * child.filled_qty
            if child.status == "unknown":
                unanswered.setdefault(venue, []).append(child)
    holdings: dict[str, dict[str, Decimal] | None] = {}
    unknown: list[dict[str, Any]] = []
    for venue in sorted(confirmed):
        asset = base_asset(run.settings.adapters[venue].symbol)
        before, after = run.holdings_before.get(venue), await ask_holdings(run, venue)
        change: dict[str, Decimal] | None = None
        if before is not None and after is not None:
            change = {
                a: after.get(a, ZERO) - before.get(a, ZERO) for a in sorted({*before, *after})
            }
            change = {a: q for a, q in change.items() if q != 0 or a == asset}
        elif venue not in unanswered:
            # The venue cannot be asked for its holdings now, but it answered for every child
            # this run sent it: its own answers are what it holds for this order.
            change = {asset: confirmed[venue]}
        holdings[venue] = change
        if change is not None and change.get(asset, ZERO) == confirmed[venue]:
            continue
        unknown.append(
            {
                "venue": venue,
                "asset": asset,
                "holdings_known": change is not None,
                "confirmed_qty": confirmed[venue],
                "unanswered": [
                    {
                        "client_order_id": c.order.client_order_id,
                        "side": c.order.side,
                        "qty": c.order.qty,
                    }
                    for c in unanswered.get(venue, [])
                ],
            }
        )
    run.journal.write(
        "venue_holdings",
        client_id=run.order.client_id,
        holdings={v: h for v, h in holdings.items()},
        unknown=unknown,
    )
    return holdings, unknown


async def reconcile_child(run: RunState, child: LegOrder, fault: str, why: str) -> ChildResult:
    """What happened to ``child`` according to the venue's own books, asked by client order
    id with bounded backoff: its fill, "not_received" when the venue has no such id, or
    "unknown" when it stays silent (never counted as unfilled)."""
    answered, fill, queries = await ask(
        run, child.venue, lambda adapter: adapter.order_status(child.client_order_id)
    )
    if answered and fill is None:
        reason = f"{why}; the venue's books have no such order"
        return ChildResult(child, "not_received", None, reason, fault, queries)
    if answered and consistent(child, fill):
        result = answer_result(child, fill, f"{why}; reconciled from the venue's books")
        return ChildResult(child, result.status, fill, result.reason, fault, queries)
    reason = f"{why}; the venue gave no usable answer to {queries} status queries"
    return ChildResult(child, "unknown", None, reason, fault, queries)


def consistent(child: LegOrder, fill: Any) -> bool:
    """A venue answer that belongs to ``child`` and fills between nothing and all of it."""
    return (
        isinstance(fill, LegFill)
        and fill.client_order_id == child.client_order_id
        and ZERO <= fill.filled_qty <= child.qty
    )


def answer_result(child: LegOrder, fill: LegFill, reason: str) -> ChildResult:
    """The ChildResult of a definite venue answer."""
    if fill.status == "rejected" or fill.filled_qty == 0:
        return ChildResult(child, "rejected", fill, reason or fill.reason or "rejected")
    return ChildResult(child, "filled" if fill.filled_qty == child.qty else "partial", fill, reason)
