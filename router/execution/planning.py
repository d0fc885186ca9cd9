"""Planning before anything trades: protection, every leg through the splitter, the leg order.

Before the first child, every leg (hedges at their leader's planned size x ratio) is planned
against current depth and limits; a hedge that cannot absorb its leader's size shrinks the leader
or refuses the order (``on_hedge_shortfall``); fixed costs above the allowed share of a leg's
notional refuse it; and the legs are ordered so that margin headroom stays >= 0 after every
child prefix. Legs without a limit get the default price band around their arrival mid first.

Rounding: child limits are the quoted average price moved by ``slippage_bps`` and rounded away
from the trader to 8 decimals (a looser limit, never a tighter one), capped by the leg limit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from router.execution.gate import MarginCheck, MarginLeg
from router.execution.order import OrderLeg
from router.execution.report import PRICE_QUANTUM
from router.execution.state import ZERO, FirstPlan, RunState
from router.model.errors import AdapterError, CrossrouteError, RouteError
from router.model.orders import LegQuote
from router.plan import plan_route
from router.protection import Protection, arrival_mid, band_limit, fixed_cost_finding

__all__ = [
    "Planned",
    "child_limit",
    "default_planner",
    "order_legs",
    "plan_all",
    "plan_leg",
    "plan_round",
    "protect",
    "quote_json",
    "refresh_snapshots",
    "regrid",
    "worst_margin_leg",
]

BPS = Decimal(10_000)


def default_planner(
    adapters: Sequence[Any],
    symbol: str,
    side: str,
    *,
    qty: Decimal | None = None,
    quote_qty: Decimal | None = None,
    limit_price: Decimal | None = None,
) -> Any:
    """Plan one leg with :func:`router.plan.plan_route` (the splitter plus exact re-quotes).

    Returns a RoutePlan; the executor uses its ``legs: tuple[LegQuote, ...]``.
    """
    return plan_route(
        list(adapters), symbol, side, qty, quote_qty=quote_qty, limit_price=limit_price
    )


@dataclass(slots=True)
class Planned:
    """One leg as planned before anything trades: its quotes (on the grid) and their total."""

    leg: OrderLeg
    quotes: tuple[LegQuote, ...]
    qty: Decimal


def protect(run: RunState) -> str:
    """Arrival mids per leg and the default price protection: a leg without a limit gets the
    band around its arrival mid (unless lifted). Returns a rejection reason, or ""."""
    legs = []
    for leg in run.order.legs:
        mid = arrival_mid(run.adapters_for(leg))
        run.arrival[leg.leg_id] = mid
        if leg.limit_price is not None:
            protection = Protection("limit", leg.limit_price, mid)
        elif run.settings.band_bps is None:
            protection = Protection("none", None, mid)
        elif mid is None:
            return (
                f"leg {leg.leg_id}: no arrival mid for the default price band (no venue "
                "quotes both sides); allowed: a limit on the leg, or no default protection"
            )
        else:
            limit = band_limit(mid, leg.side, run.settings.band_bps)
            protection = Protection("band", limit, mid, run.settings.band_bps)
            leg = dataclasses.replace(leg, limit_price=limit)
        run.protection[leg.leg_id] = protection
        legs.append(leg)
    run.order = dataclasses.replace(run.order, legs=tuple(legs))
    run.journal.write(
        "protection",
        client_id=run.order.client_id,
        legs={k: p.to_json_dict() for k, p in run.protection.items()},
    )
    return ""


async def refresh_snapshots(run: RunState, venues: Sequence[str]) -> None:
    """Refresh the snapshot of every venue that reads one over the network (an adapter with
    ``refresh``, e.g. ccxt) before planning on it; one that fails is off for the run."""
    for name in venues:
        adapter = run.settings.adapters[name]
        if name in run.down or not hasattr(adapter, "refresh"):
            continue
        run.epoch += 1  # the snapshot may change whatever the refresh's outcome
        try:
            async with asyncio.timeout(run.settings.child_timeout_secs):
                await adapter.refresh()
        except (TimeoutError, CrossrouteError) as exc:
            run.mark_down(name, f"snapshot refresh failed: {exc or 'timeout'}")


def plan_leg(
    run: RunState, leg: OrderLeg, *, qty: Decimal | None, quote_qty: Decimal | None
) -> Any:
    """Plan through the splitter, dropping venues that fail to answer (marked down)."""
    while True:
        adapters = run.adapters_for(leg)
        if not adapters:
            raise RouteError(f"leg {leg.leg_id}: no venue available (down: {sorted(run.down)})")
        try:
            return run.settings.planner(
                adapters,
                leg.symbol,
                leg.side,
                qty=qty,
                quote_qty=quote_qty,
                limit_price=leg.limit_price,
            )
        except AdapterError as exc:
            run.mark_down(exc.venue, f"planning: {exc}")


def regrid(run: RunState, leg: OrderLeg, quotes: list[LegQuote]) -> list[LegQuote]:
    """Put every child on the ledger's quantity grid (1e-8 base by default) without changing
    the total when the total is on that grid: floor each child, give the remainder to the
    largest child whose grid takes it, and re-quote changed children exactly (read-only).
    A remainder no child can take stays unrouted and is re-routed in the next round.
    O(children)."""
    floored: list[Decimal] = []
    for q in quotes:
        grid = run.grid(q.venue)
        floored.append((q.qty / grid).to_integral_value(rounding=ROUND_FLOOR) * grid)
    remainder = sum((q.qty for q in quotes), ZERO) - sum(floored, ZERO)
    if remainder > 0:
        for i in sorted(range(len(quotes)), key=lambda i: (-floored[i], quotes[i].venue)):
            grid = run.grid(quotes[i].venue)
            take = (remainder / grid).to_integral_value(rounding=ROUND_FLOOR) * grid
            if take == remainder:
                floored[i] += take
                break
    result: list[LegQuote] = []
    for q, qty in zip(quotes, floored):
        if qty <= 0:
            continue
        if qty == q.qty:
            result.append(q)
            continue
        try:
            result.append(run.settings.adapters[q.venue].quote(leg.side, qty))
        except CrossrouteError:
            continue  # the venue cannot take the regridded size; the residual is re-routed
    return result


def plan_round(
    run: RunState, leg: OrderLeg, *, qty: Decimal | None, quote_qty: Decimal | None
) -> list[LegQuote]:
    """A round's quotes on the grid for ``qty`` base (or ``quote_qty`` quote) of ``leg``: the
    leg's first plan when nothing it depends on changed since (same leg and request, same venue
    epoch), else a new plan (:func:`plan_leg`, :func:`regrid`). The first plan serves one round
    at most. Raises what the planner raises."""
    first = run.first_plans.pop(leg.leg_id, None)
    if (
        first is not None
        and first.epoch == run.epoch
        and first.leg == leg
        and _same(first.qty, qty)
        and _same(first.quote_qty, quote_qty)
    ):
        return list(first.quotes)
    plan = plan_leg(run, leg, qty=qty, quote_qty=quote_qty)
    return regrid(run, leg, [q for q in plan.legs if q.qty > 0])


def _same(a: Decimal | None, b: Decimal | None) -> bool:
    """Equal to the digit: the planner's output keeps its input's exponent (10 vs 10.000)."""
    return (a is None and b is None) or (
        a is not None and b is not None and a.as_tuple() == b.as_tuple()
    )


def plan_all(run: RunState) -> tuple[dict[str, Planned] | None, str]:
    """Plan every leg, hedges included, before anything trades (:func:`plan_legs`); when a
    hedge cannot absorb its leader's planned size within its limit, refuse or shrink the
    leader by the order's ``on_hedge_shortfall``; refuse fixed costs above the allowed share
    of a leg's notional. Returns the plan, or None and the reason (nothing traded)."""
    planned, reason = plan_legs(run)
    if planned is None:
        return None, reason
    short = hedge_shortfalls(run, planned)
    if short:
        hedge, leader_id, need, capacity = short[0]
        figures = (
            f"hedge {hedge.leg_id} can absorb {capacity} of the {need} its leader {leader_id} "
            f"plans within its limit {hedge.limit_price}"
        )
        if run.order.on_hedge_shortfall == "refuse":
            reason = f"{figures}; on_hedge_shortfall = refuse: nothing traded"
            run.journal.write("plan_refused", client_id=run.order.client_id, reason=reason)
            return None, reason
        reason = shrink_leaders(run, planned, short)
        if reason:
            reason = f"{figures}; on_hedge_shortfall = shrink: {reason}"
            run.journal.write("plan_refused", client_id=run.order.client_id, reason=reason)
            return None, reason
        planned, reason = plan_legs(run)
        if planned is None:
            return None, reason
        if hedge_shortfalls(run, planned):
            reason = f"{figures}; still short after shrinking the leader: nothing traded"
            run.journal.write("plan_refused", client_id=run.order.client_id, reason=reason)
            return None, reason
    if run.settings.max_fixed_cost_share is not None:
        for leg in run.order.legs:
            quotes = planned[leg.leg_id].quotes
            finding = fixed_cost_finding(quotes, leg.side, run.settings.max_fixed_cost_share)
            if finding:
                reason = f"leg {leg.leg_id}: {finding}; nothing traded"
                run.journal.write("plan_refused", client_id=run.order.client_id, reason=reason)
                return None, reason
    return planned, ""


def hedge_shortfalls(
    run: RunState, planned: dict[str, Planned]
) -> list[tuple[OrderLeg, str, Decimal, Decimal]]:
    """Hedges whose plan takes less than their leader's plan x ratio, hedges of hedges included
    (a hedge that cannot follow its own leader leaves that leader unhedged just the same):
    (hedge, leader id, needed, plannable), in order of the order."""
    result = []
    for leg in run.order.legs:
        if leg.hedge is None:
            continue
        need = run.hedge_target(leg, planned[leg.hedge.follows].qty)
        capacity = planned[leg.leg_id].qty
        if capacity < need:
            result.append((leg, leg.hedge.follows, need, capacity))
    return result


def _root(run: RunState, hedge: OrderLeg, capacity: Decimal) -> tuple[str, Decimal]:
    """The sized leader at the top of ``hedge``'s chain and the most it may trade for ``hedge``
    to absorb its share: ``capacity`` divided by every ratio on the way up (exact Decimal)."""
    leg, qty = hedge, capacity
    while leg.hedge is not None:
        qty /= leg.hedge.ratio
        leg = run.order.leg(leg.hedge.follows)
    return leg.leg_id, qty


def shrink_leaders(
    run: RunState,
    planned: dict[str, Planned],
    short: list[tuple[OrderLeg, str, Decimal, Decimal]],
) -> str:
    """Resize each short chain's sized leader (in base, at the top of the chain: a hedge's size
    follows its leader) to what every hedge below can absorb; "" or why not."""
    sizes: dict[str, Decimal] = {}
    because: dict[str, list[str]] = {}
    for hedge, _leader_id, _need, capacity in short:
        root_id, most = _root(run, hedge, capacity)
        fits = run.floor_to_grid(most, run.venues[root_id])
        sizes[root_id] = min(sizes.get(root_id, fits), fits)
        because.setdefault(root_id, []).append(hedge.leg_id)
    legs = []
    for leg in run.order.legs:
        if leg.leg_id in sizes:
            if sizes[leg.leg_id] <= 0:
                return f"the hedges of {leg.leg_id} can absorb nothing: nothing traded"
            adjustment = {
                "leg": leg.leg_id,
                "policy": "shrink",
                "planned_qty": planned[leg.leg_id].qty,
                "qty": sizes[leg.leg_id],
                "because": because[leg.leg_id],
            }
            run.adjustments.append(adjustment)
            run.journal.write("plan_adjusted", client_id=run.order.client_id, **adjustment)
            leg = dataclasses.replace(leg, qty=sizes[leg.leg_id], quote_qty=None)
        legs.append(leg)
    run.order = dataclasses.replace(run.order, legs=tuple(legs))
    return ""


def plan_legs(run: RunState) -> tuple[dict[str, Planned] | None, str]:
    """Plan every leg at its planned size; hedges at leader planned qty x ratio."""
    planned: dict[str, Planned] = {}
    pending = list(run.order.legs)
    while pending:  # leaders before followers (the order model forbids cycles)
        for leg in list(pending):
            if leg.hedge is not None and leg.hedge.follows not in planned:
                continue
            pending.remove(leg)
            try:
                if leg.hedge is None:
                    plan = plan_leg(run, leg, qty=leg.qty, quote_qty=leg.quote_qty)
                else:
                    qty = run.hedge_target(leg, planned[leg.hedge.follows].qty)
                    if qty <= 0:
                        planned[leg.leg_id] = Planned(leg, (), ZERO)
                        continue
                    plan = plan_leg(run, leg, qty=qty, quote_qty=None)
            except CrossrouteError as exc:
                reason = f"leg {leg.leg_id} cannot be planned: {exc}"
                run.journal.write(
                    "plan_failed",
                    client_id=run.order.client_id,
                    leg=leg.leg_id,
                    reason=str(exc),
                )
                return None, reason
            quotes = tuple(regrid(run, leg, [q for q in plan.legs if q.qty > 0]))
            total = sum((q.qty for q in quotes), ZERO)
            if total <= 0:
                reason = f"leg {leg.leg_id}: nothing fillable within the limit"
                run.journal.write(
                    "plan_failed", client_id=run.order.client_id, leg=leg.leg_id, reason=reason
                )
                return None, reason
            planned[leg.leg_id] = Planned(leg, quotes, total)
            run.first_plans[leg.leg_id] = FirstPlan(
                leg,
                leg.qty if leg.hedge is None else qty,
                leg.quote_qty if leg.hedge is None else None,
                run.epoch,
                quotes,
            )
            run.journal.write(
                "plan",
                client_id=run.order.client_id,
                leg=leg.leg_id,
                stage="initial",
                qty=total,
                legs=[quote_json(q) for q in quotes],
            )
    return planned, ""


def margin_legs(run: RunState, planned: Planned) -> list[MarginLeg]:
    slip = run.order.slippage_bps
    return [
        worst_margin_leg(planned.leg, q.qty, child_limit(planned.leg, q, slip), q.fee + q.leg_cost)
        for q in planned.quotes
    ]


def order_legs(
    run: RunState, planned: dict[str, Planned]
) -> tuple[list[str] | None, MarginCheck | None]:
    """The first leg order (hedges after leaders; the given order first, then lexicographic
    permutations) whose every child prefix keeps headroom >= 0. O(n! x check) for n <= 8."""
    ids = [leg.leg_id for leg in run.order.legs]
    follows = {leg.leg_id: leg.hedge.follows for leg in run.order.legs if leg.hedge is not None}
    first_check: MarginCheck | None = None
    first_perm: list[str] = []
    tried = 0
    for perm in itertools.permutations(ids):
        position = {leg_id: i for i, leg_id in enumerate(perm)}
        if any(position[f] < position[leader] for f, leader in follows.items()):
            continue
        sequence: list[MarginLeg] = []
        for leg_id in perm:
            sequence += margin_legs(run, planned[leg_id])
        check = run.margin.check(sequence)
        tried += 1
        if first_check is None:
            first_check, first_perm = check, list(perm)
            if not check.accepted:
                run.journal.write(
                    "margin_check",
                    client_id=run.order.client_id,
                    stage="leg_order",
                    legs=list(perm),
                    check=check.to_json_dict(),
                )
        if check.accepted:
            return list(perm), check
    assert first_check is not None
    failed = first_check.failed_index
    leg_at = None
    if failed is not None:
        leg_at = leg_holding_child(first_perm, planned, failed)
    reason = (
        f"no leg order keeps margin headroom >= 0 ({tried} orders tried); in the given order "
        f"leg {leg_at} fails: {first_check.reason or 'headroom below zero'}"
    )
    return None, MarginCheck(
        False,
        first_check.headroom_before,
        first_check.headroom_after,
        first_check.failed_index,
        reason,
        first_check.asset,
    )


def child_limit(leg: OrderLeg, quote: LegQuote, slippage_bps: int) -> Decimal:
    """Worst all-in average price for one child: the quoted price moved by the slippage, rounded
    away from the trader (looser), capped by the leg limit. O(1)."""
    avg = quote.quote_amount / quote.qty
    move = Decimal(slippage_bps) / BPS
    if leg.side == "buy":
        price = (avg * (1 + move)).quantize(PRICE_QUANTUM, rounding=ROUND_CEILING)
        return price if leg.limit_price is None else min(price, leg.limit_price)
    price = (avg * (1 - move)).quantize(PRICE_QUANTUM, rounding=ROUND_FLOOR)
    return price if leg.limit_price is None else max(price, leg.limit_price)


def worst_margin_leg(leg: OrderLeg, qty: Decimal, limit: Decimal, fee: Decimal) -> MarginLeg:
    """The child at its worst allowed price: a buy pays qty x limit, a sell receives qty x limit."""
    return MarginLeg(leg.instrument, leg.symbol, leg.side, qty, qty * limit, fee)


def quote_json(q: LegQuote) -> dict[str, Any]:
    return {
        "venue": q.venue,
        "qty": q.qty,
        "quote_amount": q.quote_amount,
        "fee": q.fee,
        "leg_cost": q.leg_cost,
    }


def leg_holding_child(
    sequence: list[str], planned: dict[str, Planned], child_index: int
) -> str | None:
    """The leg holding the ``child_index``-th child of the flattened sequence."""
    count = 0
    for leg_id in sequence:
        count += len(planned[leg_id].quotes)
        if child_index < count:
            return leg_id
    return None
