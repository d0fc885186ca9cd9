"""Multi-hop legs: spend exactly ``qty`` of one asset for another over paths of spot venues.

The leg is planned with :func:`router.routing.plan_multihop`; its hops (``plan.hops()``: venue,
symbol, side, exact amounts, in execution order) then run one after another, each as a one-leg
order through the same :class:`~router.execution.executor.Executor`, so every hop gets what
every leg gets: a margin check before every child, the default price protection (a band around
the hop venue's arrival mid: :mod:`router.protection`), children sent limit IOC, reconciliation by
client order id, bookings in the margin ledger, the journal. What a hop actually delivered, not
what was planned, is what the next hop of its path may spend (a short fill upstream shrinks
everything after it).

A three-hop plan (``--max-hops 3``: paths share links) is a DAG of trades, each link crossed once
for all its paths: its trades run in execution order (step by step), each spending what earlier
trades delivered of its input asset (the last trade spending an asset takes all that is held of
it), and an intermediate's inventory may feed several next trades.

The intermediate inventory (every asset's signed change over the run) is tracked exactly. When a
hop does not complete, no further hop starts; intermediate assets left over (neither the source
nor the target) are the order's ``residual_exposure``, and the order's ``on_hedge_failure`` policy
applies to them: ``unwind`` converts each back to the source asset (planned the same way, from
what is held), ``stop`` leaves them and says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_DOWN, Decimal
from itertools import groupby
from typing import Any

from router.execution.executor import Executor
from router.execution.order import MultiLegOrder, OrderLeg
from router.execution.report import ExecutionReport, LegReport
from router.model.errors import CrossrouteError, ExecutionError
from router.routing import Hop, MultiHopPlan, plan_multihop

__all__ = ["run_multihop"]

ZERO = Decimal(0)
_TERMINAL = ("liquidated", "unreconciled")  # a sub-order ending so ends the whole order


class _MultiHop:
    def __init__(
        self,
        executor: Executor,
        venues: Sequence[Any],
        decimals: Mapping[str, int],
        order: MultiLegOrder,
    ) -> None:
        self.ex, self.venues, self.decimals, self.order = executor, venues, decimals, order
        self.leg: OrderLeg = order.legs[0]
        self.inventory: dict[str, Decimal] = {}
        self.reports: list[ExecutionReport] = []
        self.legs: list[LegReport] = []
        self.hops: list[dict[str, Any]] = []
        self.count = 0
        self.terminal = ""

    def _plan(self, source: str, amount: Decimal) -> MultiHopPlan:
        assert self.leg.to_asset is not None and self.leg.from_asset is not None
        target = self.leg.to_asset if source == self.leg.from_asset else self.leg.from_asset
        return plan_multihop(
            self.venues,
            self.decimals,
            source,
            target,
            amount_in=amount,
            max_hops=self.leg.max_hops,
        )

    async def run(self) -> ExecutionReport:
        order, leg, journal = self.order, self.leg, self.ex.journal
        assert leg.from_asset is not None and leg.to_asset is not None and leg.qty is not None
        for name, asset in (("from", leg.from_asset), ("to", leg.to_asset)):
            if asset not in self.decimals:  # a bad request: refused before anything is journaled
                raise ExecutionError(
                    f"{name}={asset!r} is invalid; allowed: one of {', '.join(self.decimals)}",
                    field=name,
                    value=asset,
                    allowed=tuple(self.decimals),
                )
        journal.write("order_received", client_id=order.client_id, order=order.to_json_dict())
        margin_before = dict(self.ex.margin.summary())
        try:
            plan = self._plan(leg.from_asset, leg.qty)
        except CrossrouteError as exc:
            return self._finish("rejected", str(exc), None, margin_before)
        journal.write("multihop_planned", client_id=order.client_id, plan=plan.to_json_dict())
        if leg.limit_price is not None and plan.amount_out < leg.limit_price * leg.qty:
            rate = plan.amount_out / leg.qty
            return self._finish(
                "rejected",
                f"the best plan gives {rate:.8f} {leg.to_asset} per {leg.from_asset}, below the "
                f"limit {leg.limit_price}",
                plan,
                margin_before,
            )
        failed = await self._run_plan(plan, role="leg")
        residual = self._intermediates()
        if not failed:
            return self._finish("filled", "", plan, margin_before)
        if self.terminal:
            return self._finish(self.terminal, failed, plan, margin_before)
        if not any(residual.values()):
            traded = any(report.filled_qty for report in self.legs)
            return self._finish("partial" if traded else "rejected", failed, plan, margin_before)
        held = ", ".join(f"{a} {q}" for a, q in residual.items() if q)
        if order.on_hedge_failure == "stop":
            return self._finish(
                "stopped", f"{failed}; left holding {held} (policy stop)", plan, margin_before
            )
        for asset, qty in residual.items():
            if qty <= 0:
                continue
            try:
                back = self._plan(asset, qty)
            except CrossrouteError as exc:
                failed = f"{failed}; unwinding {asset} {qty}: {exc}"
                continue
            journal.write(
                "multihop_unwind_planned", client_id=order.client_id, plan=back.to_json_dict()
            )
            trouble = await self._run_plan(back, role="unwind")
            if trouble:
                failed = f"{failed}; unwind: {trouble}"
        left = {a: q for a, q in self._intermediates().items() if q}
        if self.terminal:
            return self._finish(self.terminal, failed, plan, margin_before)
        if left:
            held = ", ".join(f"{a} {q}" for a, q in left.items())
            return self._finish("stopped", f"{failed}; still holding {held}", plan, margin_before)
        return self._finish("unwound", f"{failed}; intermediates unwound", plan, margin_before)

    def _intermediates(self) -> dict[str, Decimal]:
        ends = (self.leg.from_asset, self.leg.to_asset)
        return {a: q for a, q in sorted(self.inventory.items()) if a not in ends and q}

    async def _run_plan(self, plan: MultiHopPlan, *, role: str) -> str:
        """Run ``plan``'s paths hop by hop; the reason of the first hop that did not complete,
        else ""."""
        if plan.trades:
            return await self._run_trades(plan, role=role)
        for index, path in enumerate(plan.paths, start=1):
            available = path.amount_in
            for _step, grouped in groupby(path.hops, key=lambda hop: hop.step):
                delivered = ZERO
                group = list(grouped)
                for number, hop in enumerate(group, start=1):
                    # the step's last hop takes everything left, so no planning dust stays behind
                    last = number == len(group)
                    spent, received, why = await self._run_hop(hop, available, index, role, last)
                    available -= spent
                    delivered += received
                    if why:
                        return why
                available = delivered
        return ""

    async def _run_trades(self, plan: MultiHopPlan, *, role: str) -> str:
        """Run a three-hop plan's trades (a DAG: a step's trades spend what earlier steps
        delivered) in execution order. Each asset's inventory is what this run holds of it: the
        source starts at the plan's input, an intermediate is what its trades delivered; a trade
        spends its planned input or what is held if less, and the last trade spending an asset
        takes all that is held of it (no planning dust behind). The reason of the first trade
        that did not complete, else ""."""
        held: dict[str, Decimal] = {plan.source: plan.amount_in}
        last_use = {hop.src: n for n, hop in enumerate(plan.trades)}
        for n, hop in enumerate(plan.trades):
            available = held.get(hop.src, ZERO)
            # path 0: a trade of the DAG, crossed for every path that shares it
            spent, received, why = await self._run_hop(
                hop, available, 0, role, last_use[hop.src] == n
            )
            held[hop.src] = available - spent
            held[hop.dst] = held.get(hop.dst, ZERO) + received
            if why:
                return why
        return ""

    async def _run_hop(
        self, hop: Hop, available: Decimal, path: int, role: str, last: bool
    ) -> tuple[Decimal, Decimal, str]:
        """Trade one hop with at most ``available`` of its input (all of it when ``last``):
        (spent, received, why not done)."""
        self.count += 1
        order, leg = self.order, self.leg
        tag = f"h{self.count}" if role == "leg" else f"u{self.count}"
        give = available if last else min(hop.amount_in, available)
        adapter = next(v for v in self.venues if v.name == hop.venue)
        if hop.side == "sell":  # spend base: a base-sized leg on the venue's grid
            grid = max(adapter.base_quantum(), self.ex.qty_quantum)
            qty: Decimal | None = (give / grid).to_integral_value(ROUND_DOWN) * grid
            spend: Decimal | None = None
        else:  # spend quote: a quote-sized leg
            qty, spend = None, give
        entry: dict[str, Any] = {
            "n": self.count,
            "role": role,
            "path": path,
            "step": hop.step,
            "venue": hop.venue,
            "symbol": hop.symbol,
            "side": hop.side,
            "from": hop.src,
            "to": hop.dst,
            "planned_in": hop.amount_in,
            "planned_out": hop.amount_out,
            "amount_in": ZERO,
            "amount_out": ZERO,
            "client_id": f"{order.client_id[:56]}.{tag}",
            "status": "not_sent",
        }
        self.hops.append(entry)
        if (qty is not None and qty <= 0) or (spend is not None and spend <= 0):
            entry["status"] = "skipped"
            return ZERO, ZERO, f"hop {self.count} ({hop.venue}): nothing of {hop.src} to spend"
        sub = MultiLegOrder(
            client_id=entry["client_id"],
            legs=(
                OrderLeg(
                    leg_id=f"{leg.leg_id[:56]}.{tag}",
                    instrument="spot",
                    symbol=hop.symbol,
                    side=hop.side,
                    qty=qty,
                    quote_qty=spend,
                    # no leg limit: a leg limit is a marginal price for routing, which would cut
                    # the tail of a hop planned at its average; the arrival-mid band protects it
                    venues=(hop.venue,),
                ),
            ),
            time_limit_secs=order.time_limit_secs,
            account=order.account,
            max_rounds=order.max_rounds,
            slippage_bps=order.slippage_bps,
        )
        report = await self.ex.execute(sub)
        self.reports.append(report)
        done = report.legs[0] if report.legs else None
        if done is not None:
            done.role = role
            self.legs.append(done)
        base, quote = (done.filled_qty, done.quote_amount) if done is not None else (ZERO, ZERO)
        spent, received = (base, quote) if hop.side == "sell" else (quote, base)
        self.inventory[hop.src] = self.inventory.get(hop.src, ZERO) - spent
        self.inventory[hop.dst] = self.inventory.get(hop.dst, ZERO) + received
        entry.update(amount_in=spent, amount_out=received, status=report.status)
        if report.status in _TERMINAL:
            self.terminal = report.status
        if report.status != "filled":
            why = report.reason or report.status
            return spent, received, f"hop {self.count} ({hop.venue} {hop.side} {hop.symbol}): {why}"
        return spent, received, ""

    def _finish(
        self,
        status: str,
        reason: str,
        plan: MultiHopPlan | None,
        margin_before: dict[str, Decimal],
    ) -> ExecutionReport:
        order, gate, leg = self.order, self.ex.margin, self.leg
        holdings: dict[str, dict[str, Decimal] | None] = {}
        unknown: list[dict[str, Any]] = []
        protection: dict[str, dict[str, Any]] = {}
        for report in self.reports:
            for venue, held in report.venue_holdings.items():
                if venue in holdings and holdings[venue] is None:
                    continue
                if held is None:
                    holdings[venue] = None
                    continue
                into = holdings.setdefault(venue, {})
                assert into is not None
                for asset, qty in held.items():
                    into[asset] = into.get(asset, ZERO) + qty
            unknown.extend(report.unknown_exposure)
            protection.update(report.protection)
        residual = self._intermediates()
        result = ExecutionReport(
            client_id=order.client_id,
            status=status,
            reason=reason,
            legs=list(self.legs),
            leg_order=[report.leg_id for report in self.legs],
            hedges=[],
            residual_exposure=residual,
            margin_before=margin_before,
            margin_after=dict(gate.summary()),
            capital_efficiency=dict(gate.capital_efficiency()),
            venue_holdings=holdings,
            unknown_exposure=unknown,
            protection=protection,
            multihop={
                "from": leg.from_asset,
                "to": leg.to_asset,
                "qty": leg.qty,
                "plan": None if plan is None else plan.to_json_dict(),
                "hops": list(self.hops),
                "inventory": dict(sorted(self.inventory.items())),
            },
        )
        self.ex.journal.write(
            "order_done",
            client_id=order.client_id,
            status=status,
            reason=reason,
            residual_exposure=dict(sorted(residual.items())),
            report=result.to_json_dict(),
        )
        return result


async def run_multihop(
    executor: Executor,
    venues: Sequence[Any],
    decimals: Mapping[str, int],
    order: MultiLegOrder,
) -> ExecutionReport:
    """Run ``order`` (one multi-hop leg) over the spot ``venues`` (the executor's adapters, faults
    included) hop by hop through ``executor``; ``decimals`` per asset. Never raises for venue or
    margin trouble: that ends in the report (``multihop``: the plan, every hop as planned and as
    done, the inventory)."""
    return await _MultiHop(executor, venues, decimals, order).run()
