"""Hedged multi-leg execution with a margin check before every child order.

The executor takes a :class:`~router.execution.order.MultiLegOrder` and

1. plans every leg with the splitter (hedge legs at their leader's planned size x ratio);
2. orders the legs so that margin headroom stays >= 0 after every prefix, checking each
   candidate order (hedges always after their leaders, because a hedge is sized from its
   leader's actual fills) with the margin gate, and rejects the whole order with the reason and
   the numbers when no order works;
3. runs the legs in that order; within a leg, re-quotes, checks margin for each child order at
   its worst allowed price (fees inside), sends the passing children concurrently (different
   venues cannot interact: ``asyncio.TaskGroup``, one ``asyncio.timeout`` per child), books the
   actual fills in the margin gate, and re-routes the residual until the leg is done, the round
   budget or the time limit is spent, or nothing more is fillable within the limit;
4. sizes each hedge to its leader's actual fills; when a hedge cannot complete, applies the
   order's policy: ``unwind`` (trade the leader back by the unhedged size) or ``stop``;
5. reports every leg, every fill, margin before and after, the capital saved by cross margin,
   and the residual exposure per asset and per hedge relation (zero when hedged).

Maintenance during execution: before sending each round's children and after every round of
fills, the executor asks the gate (when it offers ``maintenance``) whether the account is below
maintenance. With a netting window
(``order.netting_window_ms``) still open, the order's unfilled hedge legs count as pending at
their limit prices (all-in, the worst they may fill at), so a move while the hedge is on its way
does not liquidate the position it hedges; without a window, or after it, they do not count.
Below maintenance, the gate liquidates (the margin core's deterministic engine) and the order
ends ``liquidated``. Hedge legs must fill within the window; when it expires with hedge legs
unfilled, the order's policy (unwind or stop) applies, then the check runs without pending legs.
Initial margin is checked before every child as always: the window never admits new risk.

Every decision goes to the :class:`~router.execution.journal.DecisionJournal`. Venues are seen only through the
VenueAdapter protocol (duck typed); margin only through :class:`MarginGate`. The executor core
imports neither venues nor adapters nor a concrete margin ledger: ``router.execution.margin_gate`` bridges
to ``router.margin`` and the ``execute`` command wires concrete things together.

Rounding: child limits are the quoted average price moved by ``slippage_bps`` and rounded away
from the trader to 8 decimals (a looser limit, never a tighter one), capped by the leg limit;
hedge targets are rounded down to the coarsest base quantum of the hedge's venues, and the
remainder is reported as residual exposure, never hidden.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from router.execution.gate import MarginCheck, MarginGate, MarginLeg, invalid
from router.execution.journal import DecisionJournal, encode_record
from router.execution.order import MultiLegOrder, OrderLeg, base_asset
from router.execution.report import (
    PRICE_QUANTUM,
    ChildResult,
    ExecutionReport,
    HedgeReport,
    LegReport,
)
from router.model.errors import AdapterError, CrossrouteError, ExecutionError, RouteError
from router.model.orders import LegFill, LegOrder, LegQuote
from router.plan import plan_route
from router.protection import (
    DEFAULT_BAND_BPS,
    DEFAULT_MAX_FIXED_COST_SHARE,
    MAX_BAND_BPS,
    Protection,
    arrival_mid,
    band_limit,
    fixed_cost_finding,
)

__all__ = ["DEFAULT_CHILD_TIMEOUT_SECS", "Executor", "Planner", "default_planner"]

BPS = Decimal(10_000)
ZERO = Decimal(0)
DEFAULT_CHILD_TIMEOUT_SECS = Decimal(5)


# --------------------------------------------------------------------------------------------
# Planning through the splitter.
# --------------------------------------------------------------------------------------------

Planner = Callable[..., Any]


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


# --------------------------------------------------------------------------------------------
# The executor.
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Planned:
    leg: OrderLeg
    quotes: tuple[LegQuote, ...]
    qty: Decimal


class Executor:
    """Runs multi-leg orders for one account against a set of venue adapters.

    ``adapters`` maps venue name -> adapter (VenueAdapter protocol); ``instruments`` maps venue
    name -> "spot" | "perp" (default: a symbol with ``:SETTLE`` is a perp). ``margin`` is the
    account's :class:`MarginGate`. ``child_timeout_secs`` bounds each child order and each
    status query. A child without a definite venue answer is reconciled by its client order id:
    up to ``reconcile_attempts`` queries, ``reconcile_backoff_secs`` before the second and doubling
    after. ``band_bps`` is the default price protection of legs without a limit (a band around
    the leg's arrival mid, :mod:`router.protection`; None lifts it); ``max_fixed_cost_share``
    refuses an order whose planned fixed costs exceed that share of a leg's notional (None: no
    check). ``marks`` (optional) reads the margin marks from their configured sources; the gate's
    marks are refreshed from it before every child's margin check. ``clock``
    (seconds, float, monotonic; default the event loop's) drives the time limit and the netting
    window, so that tests can move time without sleeping. One executor
    remembers the client ids it has run: re-running the same order returns the same report
    without trading again; reusing a client id for a different order is an error.
    """

    def __init__(
        self,
        adapters: Mapping[str, Any],
        margin: MarginGate,
        *,
        journal: DecisionJournal | None = None,
        planner: Planner | None = None,
        instruments: Mapping[str, str] | None = None,
        child_timeout_secs: Decimal = DEFAULT_CHILD_TIMEOUT_SECS,
        qty_quantum: Decimal = Decimal("1e-8"),
        clock: Callable[[], float] | None = None,
        reconcile_attempts: int = 4,
        reconcile_backoff_secs: Decimal = Decimal("0.05"),
        band_bps: int | None = DEFAULT_BAND_BPS,
        max_fixed_cost_share: Decimal | None = DEFAULT_MAX_FIXED_COST_SHARE,
        marks: Callable[[], Mapping[str, Decimal]] | None = None,
    ) -> None:
        if not isinstance(adapters, Mapping) or not adapters:
            invalid("adapters", adapters, "a non-empty mapping name -> adapter")
        for name, adapter in adapters.items():
            if getattr(adapter, "name", None) != name:
                raise ExecutionError(
                    f"adapters[{name!r}] is named {getattr(adapter, 'name', None)!r}; "
                    "allowed: the adapter's own name as key",
                    field=f"adapters[{name}]",
                    value=name,
                    allowed="the adapter's name",
                )
        for name, value in (
            ("child_timeout_secs", child_timeout_secs),
            ("qty_quantum", qty_quantum),
        ):
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                invalid(name, value, "a Decimal > 0")
        if clock is not None and not callable(clock):
            invalid("clock", clock, "a callable returning seconds")
        if (
            isinstance(reconcile_attempts, bool)
            or not isinstance(reconcile_attempts, int)
            or not 1 <= reconcile_attempts <= 20
        ):
            invalid("reconcile_attempts", reconcile_attempts, "an integer in [1, 20]")
        if (
            not isinstance(reconcile_backoff_secs, Decimal)
            or not reconcile_backoff_secs.is_finite()
            or not 0 <= reconcile_backoff_secs <= 60
        ):
            invalid("reconcile_backoff_secs", reconcile_backoff_secs, "a Decimal in [0, 60]")
        if band_bps is not None and (
            isinstance(band_bps, bool)
            or not isinstance(band_bps, int)
            or not 1 <= band_bps <= MAX_BAND_BPS
        ):
            invalid("band_bps", band_bps, f"an integer in [1, {MAX_BAND_BPS}] or None")
        if max_fixed_cost_share is not None and (
            not isinstance(max_fixed_cost_share, Decimal)
            or not max_fixed_cost_share.is_finite()
            or not 0 <= max_fixed_cost_share <= 1
        ):
            invalid("max_fixed_cost_share", max_fixed_cost_share, "a Decimal in [0, 1] or None")
        if marks is not None and not callable(marks):
            invalid("marks", marks, "a callable returning name -> mark")
        self._band_bps = band_bps
        self._max_fixed_cost_share = max_fixed_cost_share
        self._marks = marks
        self._reconcile_attempts = reconcile_attempts
        self._reconcile_backoff = float(reconcile_backoff_secs)  # asyncio sleeps in float seconds
        self._clock = clock
        self._adapters = dict(adapters)
        self._qty_quantum = qty_quantum
        self._instruments = {
            name: (instruments or {}).get(name, "perp" if ":" in a.symbol else "spot")
            for name, a in self._adapters.items()
        }
        bad = sorted(n for n, kind in self._instruments.items() if kind not in ("spot", "perp"))
        if bad:
            invalid(f"instruments[{bad[0]}]", self._instruments[bad[0]], "spot | perp")
        self.margin = margin
        self.journal = journal if journal is not None else DecisionJournal()
        self._planner = planner if planner is not None else default_planner
        self._child_timeout = float(child_timeout_secs)  # asyncio's clock is float seconds
        self._done: dict[str, tuple[str, ExecutionReport]] = {}
        self._running: set[str] = set()
        self._sent_ids: set[str] = set()

    # -- public ------------------------------------------------------------------------------

    @property
    def qty_quantum(self) -> Decimal:
        """The ledger's base quantity grid: every child's size is a multiple of it."""
        return self._qty_quantum

    async def execute(self, order: MultiLegOrder) -> ExecutionReport:
        """Run ``order`` to a defined end state and return its report (never raises for venue
        or margin trouble: that ends in the report). Invalid requests (unknown venue, a venue of
        another symbol, a client id reused for another order) raise ExecutionError before
        anything is journaled or traded."""
        if not isinstance(order, MultiLegOrder):
            invalid("order", order, "a MultiLegOrder")
        if any(leg.multihop for leg in order.legs):
            invalid("order", order.client_id, "legs with a symbol (run from/to legs with multihop)")
        fingerprint = encode_record(order.to_json_dict())
        if order.client_id in self._done:
            seen, report = self._done[order.client_id]
            if seen != fingerprint:
                raise ExecutionError(
                    f"client_id={order.client_id!r} was already used for a different order; "
                    "allowed: a new client id",
                    field="client_id",
                    value=order.client_id,
                    allowed="a client id not used for another order",
                )
            self.journal.write("duplicate", client_id=order.client_id, status=report.status)
            return report
        if order.client_id in self._running:
            raise ExecutionError(
                f"client_id={order.client_id!r} is running; allowed: a new client id",
                field="client_id",
                value=order.client_id,
                allowed="a client id not running",
            )
        venues = self._resolve_venues(order)
        self._running.add(order.client_id)
        try:
            report = await _Run(self, order, venues).run()
        finally:
            self._running.discard(order.client_id)
        self._done[order.client_id] = (fingerprint, report)
        return report

    # -- helpers shared with _Run ------------------------------------------------------------

    def _resolve_venues(self, order: MultiLegOrder) -> dict[str, tuple[str, ...]]:
        """Allowed venue names per leg, validated against the adapters (read-only)."""
        result: dict[str, tuple[str, ...]] = {}
        for leg in order.legs:
            if leg.venues:
                for name in leg.venues:
                    if name not in self._adapters:
                        raise ExecutionError(
                            f"legs[{leg.leg_id}].venues: {name!r} is unknown; allowed: "
                            f"{sorted(self._adapters)}",
                            field="venues",
                            value=name,
                            allowed=str(sorted(self._adapters)),
                        )
                    adapter = self._adapters[name]
                    if adapter.symbol != leg.symbol or self._instruments[name] != leg.instrument:
                        raise ExecutionError(
                            f"legs[{leg.leg_id}].venues: {name!r} trades {self._instruments[name]} "
                            f"{adapter.symbol}; allowed: venues trading {leg.instrument} {leg.symbol}",
                            field="venues",
                            value=name,
                            allowed=f"{leg.instrument} {leg.symbol} venues",
                        )
                result[leg.leg_id] = leg.venues
            else:
                names = tuple(
                    sorted(
                        n
                        for n, a in self._adapters.items()
                        if a.symbol == leg.symbol and self._instruments[n] == leg.instrument
                    )
                )
                if not names:
                    raise ExecutionError(
                        f"legs[{leg.leg_id}]: no {leg.instrument} venue trades {leg.symbol}; "
                        f"allowed symbols: {sorted({a.symbol for a in self._adapters.values()})}",
                        field="symbol",
                        value=leg.symbol,
                        allowed="a symbol with a venue",
                    )
                result[leg.leg_id] = names
        return result


def _child_limit(leg: OrderLeg, quote: LegQuote, slippage_bps: int) -> Decimal:
    """Worst all-in average price for one child: the quoted price moved by the slippage, rounded
    away from the trader (looser), capped by the leg limit. O(1)."""
    avg = quote.quote_amount / quote.qty
    move = Decimal(slippage_bps) / BPS
    if leg.side == "buy":
        price = (avg * (1 + move)).quantize(PRICE_QUANTUM, rounding=ROUND_CEILING)
        return price if leg.limit_price is None else min(price, leg.limit_price)
    price = (avg * (1 - move)).quantize(PRICE_QUANTUM, rounding=ROUND_FLOOR)
    return price if leg.limit_price is None else max(price, leg.limit_price)


def _beyond_limit(leg: OrderLeg, quote: LegQuote) -> bool:
    """True when the quoted all-in average is already worse than the leg limit (a fixed leg cost
    can do that to a leg whose marginal price is within the limit): such a child is not sent."""
    if leg.limit_price is None:
        return False
    avg = quote.quote_amount / quote.qty
    return avg > leg.limit_price if leg.side == "buy" else avg < leg.limit_price


def _worst_margin_leg(leg: OrderLeg, qty: Decimal, limit: Decimal, fee: Decimal) -> MarginLeg:
    """The child at its worst allowed price: a buy pays qty x limit, a sell receives qty x limit."""
    return MarginLeg(leg.instrument, leg.symbol, leg.side, qty, qty * limit, fee)


class _Liquidated(Exception):
    """Raised inside a run when the account was liquidated during execution (internal)."""


class _Run:
    """The state of one order's execution (one per ``Executor.execute`` call)."""

    def __init__(
        self, executor: Executor, order: MultiLegOrder, venues: dict[str, tuple[str, ...]]
    ) -> None:
        self.ex = executor
        self.given = order  # as the user gave it; self.order carries the effective limits/sizes
        self.order = order
        self.venues = venues
        self.protection: dict[str, Protection] = {}
        self.arrival: dict[str, Decimal | None] = {}
        self.adjustments: list[dict[str, Any]] = []
        self.last_marks: dict[str, Decimal] = {}
        self.journal = executor.journal
        self.down: set[str] = set()
        self.reports: dict[str, LegReport] = {}
        self.unwinds: list[LegReport] = []
        # Each venue's own account of our holdings when the run started (None: it did not answer).
        self.holdings_before: dict[str, dict[str, Decimal] | None] = {}
        self.loop = asyncio.get_running_loop()
        self.now: Callable[[], float] = executor._clock or self.loop.time
        start = self.now()
        self.deadline = start + float(order.time_limit_secs)
        self.window_end = (
            start + order.netting_window_ms / 1000 if order.netting_window_ms else None
        )

    # -- the whole order ---------------------------------------------------------------------

    async def run(self) -> ExecutionReport:
        order, journal, gate = self.order, self.journal, self.ex.margin
        journal.write("order_received", client_id=order.client_id, order=order.to_json_dict())
        margin_before = dict(gate.summary())
        journal.write("margin_state", client_id=order.client_id, stage="before", **margin_before)
        venues = sorted({n for names in self.venues.values() for n in names})
        for name in venues:
            self.holdings_before[name] = await self._holdings(name)
        await self._refresh_snapshots(venues)
        reason = self._protect()
        if reason:
            return await self._finish("rejected", reason, [], margin_before, None)
        planned, reason = self._plan_all()
        order = self.order  # the effective order: protected limits, leaders shrunk by the plan
        if planned is None:
            return await self._finish("rejected", reason, [], margin_before, None)
        sequence, check = self._order_legs(planned)
        if sequence is None:
            return await self._finish(
                "rejected", check.reason if check else "no leg order", [], margin_before, check
            )
        journal.write(
            "leg_order",
            client_id=order.client_id,
            legs=sequence,
            check=check.to_json_dict() if check else None,
        )

        status, reason = "filled", ""
        hedge_failed: LegReport | None = None
        liquidated: _Liquidated | None = None
        for leg_id in sequence:
            leg = order.leg(leg_id)
            report = self._new_report(leg)
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
                await self._run_leg(leg, report)
            except _Liquidated as exc:
                liquidated = exc
                report.status = "partial" if report.filled_qty else "unfilled"
                report.reason = "account liquidated"
                self._leg_done(leg_id, report)
                continue
            except Exception as exc:
                report.status = "partial" if report.filled_qty else "unfilled"
                report.reason = f"internal error: {type(exc).__name__}: {exc}"
                journal.write(
                    "internal_error", client_id=order.client_id, leg=leg_id, error=report.reason
                )
                return await self._finish(
                    "stopped", f"leg {leg_id}: {report.reason}", sequence, margin_before, check
                )
            if report.status != "filled" and leg.hedge is not None:
                hedge_failed = report
            elif report.status != "filled" and status == "filled":
                status, reason = "partial", f"leg {leg_id}: {report.reason}"
        if liquidated is not None:
            return await self._finish("liquidated", str(liquidated), sequence, margin_before, check)
        if hedge_failed is not None:
            reason = f"hedge {hedge_failed.leg_id} incomplete: {hedge_failed.reason}"
            if hedge_failed.status == "unknown":
                # The hedge may have filled: trading the leader back could double the exposure
                # instead of removing it. Stop and report the unknown exposure.
                status = "stopped"
                reason += "; not unwound: the hedge may have filled"
            elif order.on_hedge_failure == "unwind":
                try:
                    await self._unwind()
                except Exception as exc:
                    journal.write(
                        "internal_error",
                        client_id=order.client_id,
                        leg="unwind",
                        error=f"{type(exc).__name__}: {exc}",
                    )
                status = (
                    "unwound" if all(h.unhedged_qty == 0 for h in self._hedges()) else "stopped"
                )
                if status == "stopped":
                    reason += "; unwind incomplete"
            else:
                status = "stopped"
        if status == "filled" and not all(h.unhedged_qty == 0 for h in self._hedges()):
            status, reason = "partial", "hedge rounding left a residual"
        try:
            # The window is over (or never was): what is left is checked as it stands.
            self._guard("final", pending_allowed=False)
        except _Liquidated as exc:
            return await self._finish(
                "liquidated",
                f"{reason + '; ' if reason else ''}{exc}",
                sequence,
                margin_before,
                check,
            )
        return await self._finish(status, reason, sequence, margin_before, check)

    # -- maintenance during execution ----------------------------------------------------------

    def _window_open(self) -> bool:
        return self.window_end is not None and self.now() < self.window_end

    def _pending_hedges(self) -> list[MarginLeg]:
        """Unfilled hedge legs at their limit prices (all-in): target from the leader's net fill
        so far, minus what the hedge has filled. A hedge without a limit has no price to count
        at and is not counted."""
        pending: list[MarginLeg] = []
        for leg in self.order.legs:
            if leg.hedge is None or leg.limit_price is None:
                continue
            target = self._hedge_target(leg, self._net_filled(leg.hedge.follows))
            unfilled = target - self._net_filled(leg.leg_id)
            if unfilled > 0:
                pending.append(
                    MarginLeg(
                        leg.instrument, leg.symbol, leg.side, unfilled, unfilled * leg.limit_price
                    )
                )
        return pending

    def _guard(self, tag: str, *, pending_allowed: bool = True) -> None:
        """The maintenance check during execution; raises _Liquidated after liquidating."""
        gate = self.ex.margin
        if not hasattr(gate, "maintenance") or not hasattr(gate, "liquidate"):
            return
        counted = self._pending_hedges() if pending_allowed and self._window_open() else []
        result = gate.maintenance(counted)
        if result.excess >= 0 and not result.breached:
            return
        fields = dict(
            client_id=self.order.client_id,
            leg=tag,
            check=result.to_json_dict(),
            pending=[p.to_json_dict() for p in counted],
            window_ms_left=None
            if self.window_end is None
            else max(0, int((self.window_end - self.now()) * 1000)),
        )
        if not result.breached:
            self.journal.write("maintenance_netted", **fields)
            return
        self.journal.write("maintenance_breach", **fields)
        outcome = gate.liquidate()
        self.journal.write("liquidated", client_id=self.order.client_id, leg=tag, outcome=outcome)
        raise _Liquidated(
            f"below maintenance during execution (excess {result.excess}, with pending "
            f"hedges {result.excess_with_pending}): liquidated"
        )

    async def _finish(
        self,
        status: str,
        reason: str,
        sequence: list[str],
        margin_before: dict[str, Decimal],
        check: MarginCheck | None,
    ) -> ExecutionReport:
        order, journal, gate = self.order, self.journal, self.ex.margin
        margin_after = dict(gate.summary())
        journal.write("margin_state", client_id=order.client_id, stage="after", **margin_after)
        efficiency = dict(gate.capital_efficiency())
        legs = [
            self.reports[leg_id] for leg_id in sequence if leg_id in self.reports
        ] + self.unwinds
        hedges = self._hedges()
        holdings, unknown = await self._venue_holdings(legs)
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
            protection={k: p.to_json_dict() for k, p in self.protection.items()},
            plan_adjustments=list(self.adjustments),
        )
        if status == "rejected":
            journal.write(
                "order_rejected",
                client_id=order.client_id,
                reason=reason,
                check=None if check is None else check.to_json_dict(),
            )
        journal.write(
            "order_done",
            client_id=order.client_id,
            status=status,
            reason=reason,
            residual_exposure=dict(sorted(exposure.items())),
            venue_holdings=result.to_json_dict()["venue_holdings"],
            unknown_exposure=unknown,
            hedges=[h.to_json_dict() for h in hedges],
            capital_efficiency=efficiency,
            report=result.to_json_dict(),
        )
        return result

    # -- protection and marks ------------------------------------------------------------------

    def _protect(self) -> str:
        """Arrival mids per leg and the default price protection: a leg without a limit gets the
        band around its arrival mid (unless lifted). Returns a rejection reason, or ""."""
        legs = []
        for leg in self.order.legs:
            mid = arrival_mid(self._adapters_for(leg))
            self.arrival[leg.leg_id] = mid
            if leg.limit_price is not None:
                protection = Protection("limit", leg.limit_price, mid)
            elif self.ex._band_bps is None:
                protection = Protection("none", None, mid)
            elif mid is None:
                return (
                    f"leg {leg.leg_id}: no arrival mid for the default price band (no venue "
                    "quotes both sides); allowed: a limit on the leg, or no default protection"
                )
            else:
                limit = band_limit(mid, leg.side, self.ex._band_bps)
                protection = Protection("band", limit, mid, self.ex._band_bps)
                leg = dataclasses.replace(leg, limit_price=limit)
            self.protection[leg.leg_id] = protection
            legs.append(leg)
        self.order = dataclasses.replace(self.order, legs=tuple(legs))
        self.journal.write(
            "protection",
            client_id=self.order.client_id,
            legs={k: p.to_json_dict() for k, p in self.protection.items()},
        )
        return ""

    def _refresh_marks(self, tag: str) -> None:
        """Marks from their configured sources into the gate, journaled when they changed."""
        if self.ex._marks is None or not hasattr(self.ex.margin, "set_marks"):
            return
        marks = dict(self.ex._marks())
        changed = {name: mark for name, mark in marks.items() if self.last_marks.get(name) != mark}
        self.last_marks = marks
        if not changed:
            return
        self.ex.margin.set_marks(changed)
        self.journal.write("marks", client_id=self.order.client_id, leg=tag, marks=changed)

    async def _refresh_snapshots(self, venues: Sequence[str]) -> None:
        """Refresh the snapshot of every venue that reads one over the network (an adapter with
        ``refresh``, e.g. ccxt) before planning on it; one that fails is off for the run."""
        for name in venues:
            adapter = self.ex._adapters[name]
            if name in self.down or not hasattr(adapter, "refresh"):
                continue
            try:
                async with asyncio.timeout(self.ex._child_timeout):
                    await adapter.refresh()
            except (TimeoutError, CrossrouteError) as exc:
                self._mark_down(name, f"snapshot refresh failed: {exc or 'timeout'}")

    # -- what the venues say -------------------------------------------------------------------

    async def _ask(
        self, venue: str, question: Callable[[Any], Awaitable[Any]]
    ) -> tuple[bool, Any, int]:
        """Ask a venue one question with bounded retries: ``(answered, answer, queries)``.

        Each query is bounded by the child timeout; a failed one is retried after the backoff
        (doubling), at most ``reconcile_attempts`` queries in all. Never raises."""
        adapter = self.ex._adapters[venue]
        delay = self.ex._reconcile_backoff
        for attempt in range(self.ex._reconcile_attempts):
            if attempt:
                await asyncio.sleep(delay)
                delay *= 2
            try:
                async with asyncio.timeout(self.ex._child_timeout):
                    return True, await question(adapter), attempt + 1
            except Exception:  # a venue that cannot answer now may answer the next query
                continue
        return False, None, self.ex._reconcile_attempts

    async def _holdings(self, venue: str) -> dict[str, Decimal] | None:
        """The venue's own report of the account's holdings, or None when it stays silent."""
        answered, held, _ = await self._ask(venue, lambda adapter: adapter.holdings())
        if not answered or not isinstance(held, Mapping):
            return None
        if not all(isinstance(q, Decimal) and q.is_finite() for q in held.values()):
            return None
        return dict(held)

    async def _venue_holdings(
        self, legs: list[LegReport]
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
            asset = base_asset(self.ex._adapters[venue].symbol)
            before, after = self.holdings_before.get(venue), await self._holdings(venue)
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
        self.journal.write(
            "venue_holdings",
            client_id=self.order.client_id,
            holdings={v: h for v, h in holdings.items()},
            unknown=unknown,
        )
        return holdings, unknown

    # -- planning and leg order --------------------------------------------------------------

    def _adapters_for(self, leg: OrderLeg) -> list[Any]:
        return [self.ex._adapters[n] for n in self.venues[leg.leg_id] if n not in self.down]

    def _plan(self, leg: OrderLeg, *, qty: Decimal | None, quote_qty: Decimal | None) -> Any:
        """Plan through the splitter, dropping venues that fail to answer (marked down)."""
        while True:
            adapters = self._adapters_for(leg)
            if not adapters:
                raise RouteError(
                    f"leg {leg.leg_id}: no venue available (down: {sorted(self.down)})"
                )
            try:
                return self.ex._planner(
                    adapters,
                    leg.symbol,
                    leg.side,
                    qty=qty,
                    quote_qty=quote_qty,
                    limit_price=leg.limit_price,
                )
            except AdapterError as exc:
                self._mark_down(exc.venue, f"planning: {exc}")

    def _grid(self, venue: str) -> Decimal:
        """The coarser of the venue's base quantum and the ledger's quantity quantum."""
        return max(self.ex._adapters[venue].base_quantum(), self.ex._qty_quantum)

    def _regrid(self, leg: OrderLeg, quotes: list[LegQuote]) -> list[LegQuote]:
        """Put every child on the ledger's quantity grid (1e-8 base by default) without changing
        the total when the total is on that grid: floor each child, give the remainder to the
        largest child whose grid takes it, and re-quote changed children exactly (read-only).
        A remainder no child can take stays unrouted and is re-routed in the next round.
        O(children)."""
        floored: list[Decimal] = []
        for q in quotes:
            grid = self._grid(q.venue)
            floored.append((q.qty / grid).to_integral_value(rounding=ROUND_FLOOR) * grid)
        remainder = sum((q.qty for q in quotes), ZERO) - sum(floored, ZERO)
        if remainder > 0:
            for i in sorted(range(len(quotes)), key=lambda i: (-floored[i], quotes[i].venue)):
                grid = self._grid(quotes[i].venue)
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
                result.append(self.ex._adapters[q.venue].quote(leg.side, qty))
            except CrossrouteError:
                continue  # the venue cannot take the regridded size; the residual is re-routed
        return result

    def _mark_down(self, venue: str, reason: str) -> None:
        if venue not in self.down:
            self.down.add(venue)
            self.journal.write(
                "venue_down", client_id=self.order.client_id, venue=venue, reason=reason
            )

    def _plan_all(self) -> tuple[dict[str, _Planned] | None, str]:
        """Plan every leg, hedges included, before anything trades (:meth:`_plan_legs`); when a
        hedge cannot absorb its leader's planned size within its limit, refuse or shrink the
        leader by the order's ``on_hedge_shortfall``; refuse fixed costs above the allowed share
        of a leg's notional. Returns the plan, or None and the reason (nothing traded)."""
        planned, reason = self._plan_legs()
        if planned is None:
            return None, reason
        short = self._hedge_shortfalls(planned)
        if short:
            hedge, leader_id, need, capacity = short[0]
            figures = (
                f"hedge {hedge.leg_id} can absorb {capacity} of the {need} its leader {leader_id} "
                f"plans within its limit {hedge.limit_price}"
            )
            if self.order.on_hedge_shortfall == "refuse":
                reason = f"{figures}; on_hedge_shortfall = refuse: nothing traded"
                self.journal.write("plan_refused", client_id=self.order.client_id, reason=reason)
                return None, reason
            reason = self._shrink_leaders(planned, short)
            if reason:
                reason = f"{figures}; on_hedge_shortfall = shrink: {reason}"
                self.journal.write("plan_refused", client_id=self.order.client_id, reason=reason)
                return None, reason
            planned, reason = self._plan_legs()
            if planned is None:
                return None, reason
            if self._hedge_shortfalls(planned):
                reason = f"{figures}; still short after shrinking the leader: nothing traded"
                self.journal.write("plan_refused", client_id=self.order.client_id, reason=reason)
                return None, reason
        if self.ex._max_fixed_cost_share is not None:
            for leg in self.order.legs:
                quotes = planned[leg.leg_id].quotes
                finding = fixed_cost_finding(quotes, leg.side, self.ex._max_fixed_cost_share)
                if finding:
                    reason = f"leg {leg.leg_id}: {finding}; nothing traded"
                    self.journal.write(
                        "plan_refused", client_id=self.order.client_id, reason=reason
                    )
                    return None, reason
        return planned, ""

    def _hedge_shortfalls(
        self, planned: dict[str, _Planned]
    ) -> list[tuple[OrderLeg, str, Decimal, Decimal]]:
        """Hedges of sized leaders whose plan takes less than leader plan x ratio:
        (hedge, leader id, needed, plannable), in order of the order."""
        result = []
        for leg in self.order.legs:
            if leg.hedge is None or self.order.leg(leg.hedge.follows).hedge is not None:
                continue
            need = self._hedge_target(leg, planned[leg.hedge.follows].qty)
            capacity = planned[leg.leg_id].qty
            if capacity < need:
                result.append((leg, leg.hedge.follows, need, capacity))
        return result

    def _shrink_leaders(
        self,
        planned: dict[str, _Planned],
        short: list[tuple[OrderLeg, str, Decimal, Decimal]],
    ) -> str:
        """Resize each short leader (in base) to what its hedges can absorb; "" or why not."""
        sizes: dict[str, Decimal] = {}
        for hedge, leader_id, _need, capacity in short:
            assert hedge.hedge is not None
            fits = self._floor_to_grid(capacity / hedge.hedge.ratio, self.venues[leader_id])
            sizes[leader_id] = min(sizes.get(leader_id, fits), fits)
        legs = []
        for leg in self.order.legs:
            if leg.leg_id in sizes:
                if sizes[leg.leg_id] <= 0:
                    return f"the hedges of {leg.leg_id} can absorb nothing: nothing traded"
                adjustment = {
                    "leg": leg.leg_id,
                    "policy": "shrink",
                    "planned_qty": planned[leg.leg_id].qty,
                    "qty": sizes[leg.leg_id],
                    "because": [h.leg_id for h, lid, _, _ in short if lid == leg.leg_id],
                }
                self.adjustments.append(adjustment)
                self.journal.write("plan_adjusted", client_id=self.order.client_id, **adjustment)
                leg = dataclasses.replace(leg, qty=sizes[leg.leg_id], quote_qty=None)
            legs.append(leg)
        self.order = dataclasses.replace(self.order, legs=tuple(legs))
        return ""

    def _plan_legs(self) -> tuple[dict[str, _Planned] | None, str]:
        """Plan every leg at its planned size; hedges at leader planned qty x ratio."""
        planned: dict[str, _Planned] = {}
        pending = list(self.order.legs)
        while pending:  # leaders before followers (the order model forbids cycles)
            for leg in list(pending):
                if leg.hedge is not None and leg.hedge.follows not in planned:
                    continue
                pending.remove(leg)
                try:
                    if leg.hedge is None:
                        plan = self._plan(leg, qty=leg.qty, quote_qty=leg.quote_qty)
                    else:
                        qty = self._hedge_target(leg, planned[leg.hedge.follows].qty)
                        if qty <= 0:
                            planned[leg.leg_id] = _Planned(leg, (), ZERO)
                            continue
                        plan = self._plan(leg, qty=qty, quote_qty=None)
                except CrossrouteError as exc:
                    reason = f"leg {leg.leg_id} cannot be planned: {exc}"
                    self.journal.write(
                        "plan_failed",
                        client_id=self.order.client_id,
                        leg=leg.leg_id,
                        reason=str(exc),
                    )
                    return None, reason
                quotes = tuple(self._regrid(leg, [q for q in plan.legs if q.qty > 0]))
                total = sum((q.qty for q in quotes), ZERO)
                if total <= 0:
                    reason = f"leg {leg.leg_id}: nothing fillable within the limit"
                    self.journal.write(
                        "plan_failed", client_id=self.order.client_id, leg=leg.leg_id, reason=reason
                    )
                    return None, reason
                planned[leg.leg_id] = _Planned(leg, quotes, total)
                self.journal.write(
                    "plan",
                    client_id=self.order.client_id,
                    leg=leg.leg_id,
                    stage="initial",
                    qty=total,
                    legs=[_quote_json(q) for q in quotes],
                )
        return planned, ""

    def _margin_legs(self, planned: _Planned) -> list[MarginLeg]:
        slip = self.order.slippage_bps
        return [
            _worst_margin_leg(
                planned.leg, q.qty, _child_limit(planned.leg, q, slip), q.fee + q.leg_cost
            )
            for q in planned.quotes
        ]

    def _order_legs(
        self, planned: dict[str, _Planned]
    ) -> tuple[list[str] | None, MarginCheck | None]:
        """The first leg order (hedges after leaders; the given order first, then lexicographic
        permutations) whose every child prefix keeps headroom >= 0. O(n! x check) for n <= 8."""
        ids = [leg.leg_id for leg in self.order.legs]
        follows = {
            leg.leg_id: leg.hedge.follows for leg in self.order.legs if leg.hedge is not None
        }
        first_check: MarginCheck | None = None
        first_perm: list[str] = []
        tried = 0
        for perm in itertools.permutations(ids):
            position = {leg_id: i for i, leg_id in enumerate(perm)}
            if any(position[f] < position[leader] for f, leader in follows.items()):
                continue
            sequence: list[MarginLeg] = []
            for leg_id in perm:
                sequence += self._margin_legs(planned[leg_id])
            check = self.ex.margin.check(sequence)
            tried += 1
            if first_check is None:
                first_check, first_perm = check, list(perm)
                if not check.accepted:
                    self.journal.write(
                        "margin_check",
                        client_id=self.order.client_id,
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
            leg_at = _leg_at(first_perm, planned, failed)
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

    # -- one leg -----------------------------------------------------------------------------

    def _new_report(self, leg: OrderLeg, role: str = "leg") -> LegReport:
        report = LegReport(
            leg.leg_id, leg.instrument, leg.symbol, leg.side, leg.qty, leg.quote_qty, role=role
        )
        self.reports[leg.leg_id] = report
        return report

    def _hedge_target(self, leg: OrderLeg, leader_qty: Decimal) -> Decimal:
        """Leader qty x ratio rounded down to the coarsest base quantum of the hedge's venues."""
        assert leg.hedge is not None
        return self._floor_to_grid(leader_qty * leg.hedge.ratio, self.venues[leg.leg_id])

    def _floor_to_grid(self, qty: Decimal, venues: Sequence[str]) -> Decimal:
        """``qty`` rounded down to the coarsest grid (venue quantum or ledger quantum) of ``venues``."""
        quantum = max((self._grid(n) for n in venues), default=self.ex._qty_quantum)
        return (qty / quantum).to_integral_value(rounding=ROUND_FLOOR) * quantum

    def _net_filled(self, leg_id: str) -> Decimal:
        """Filled base of a leg net of its unwinds (unsigned, in the leg's direction)."""
        report = self.reports.get(leg_id)
        net = report.filled_qty if report else ZERO
        for unwind in self.unwinds:
            if unwind.leg_id == leg_id:
                net -= unwind.filled_qty
        return net

    async def _run_leg(self, leg: OrderLeg, report: LegReport) -> None:
        if leg.hedge is not None:
            report.target_qty = self._hedge_target(leg, self._net_filled(leg.hedge.follows))
            self.journal.write(
                "hedge_sized",
                client_id=self.order.client_id,
                leg=leg.leg_id,
                follows=leg.hedge.follows,
                ratio=leg.hedge.ratio,
                leader_filled=self._net_filled(leg.hedge.follows),
                target_qty=report.target_qty,
            )
        deadline = self.deadline
        if leg.hedge is not None and self.window_end is not None:
            deadline = min(deadline, self.window_end)  # the hedge must arrive within the window
        await self._fill(leg, report, tag=leg.leg_id, deadline=deadline)

    async def _fill(
        self, leg: OrderLeg, report: LegReport, *, tag: str, deadline: float | None
    ) -> None:
        """Rounds of: plan the residual, margin-check each child, send concurrently, book fills."""
        order, journal = self.order, self.journal
        by_quote = report.target_qty is None
        budget_spent = False
        for round_no in range(order.max_rounds):
            remaining = _remaining(report)
            if remaining <= 0:
                break
            if deadline is not None and self.now() >= deadline:
                report.reason = (
                    "netting window expired"
                    if deadline == self.window_end and leg.hedge is not None
                    else "time limit reached"
                )
                break
            report.rounds = round_no + 1
            await self._refresh_snapshots(self.venues[leg.leg_id])
            try:
                plan = self._plan(
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
            quotes = self._regrid(leg, [q for q in plan.legs if q.qty > 0])
            journal.write(
                "plan",
                client_id=order.client_id,
                leg=tag,
                stage="round",
                round=round_no,
                remaining=remaining,
                legs=[_quote_json(q) for q in quotes],
            )
            if not quotes:
                report.reason = "nothing fillable within the limit"
                break
            children: list[LegOrder] = []
            margin_legs: list[MarginLeg] = []
            for q in [q for q in quotes if _beyond_limit(leg, q)]:
                journal.write(
                    "child_skipped",
                    client_id=order.client_id,
                    leg=tag,
                    venue=q.venue,
                    qty=q.qty,
                    quote_amount=q.quote_amount,
                    reason=f"quoted average beyond the limit {leg.limit_price}",
                )
            quotes = [q for q in quotes if not _beyond_limit(leg, q)]
            if not quotes:
                report.reason = "nothing fillable within the limit (fixed costs included)"
                break
            for q in quotes:
                limit = _child_limit(leg, q, order.slippage_bps)
                coid = f"{order.client_id}.{tag}.r{round_no}.{q.venue}"
                if coid in self.ex._sent_ids:  # idempotency: a child id is never sent twice
                    raise ExecutionError(
                        f"client order id {coid!r} was already sent",
                        field="client_order_id",
                        value=coid,
                        allowed="a new id",
                    )
                children.append(LegOrder(q.venue, leg.side, q.qty, coid, limit))
                margin_legs.append(_worst_margin_leg(leg, q.qty, limit, q.fee + q.leg_cost))
            self._refresh_marks(tag)
            if report.role == "leg":
                self._guard(tag)  # the market may have moved since the last fills
            check = self.ex.margin.check(margin_legs)
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
                    headroom_before=check.headroom_before
                    if i == 0
                    else check.headroom_after[i - 1],
                    headroom_after=check.headroom_after[i]
                    if i < len(check.headroom_after)
                    else None,
                    accepted=ok,
                    reason="" if ok else check.reason,
                )
            for child in children[passing:]:
                report.children.append(ChildResult(child, "margin_rejected", None, check.reason))
            send = children[:passing]
            for child in send:
                self.ex._sent_ids.add(child.client_order_id)
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
            results = await self._send(send) if send else []
            for result in results:
                self._book(leg, report, result, tag)
            if report.role == "leg" and any(r.filled_qty > 0 for r in results):
                self._refresh_marks(tag)
                self._guard(tag)
            if passing < len(children):
                report.reason = f"margin check failed: {check.reason}"
                break
            if by_quote and all(r.status == "filled" for r in results):
                # The planner spent what the budget buys on the venues' grids; what is left is
                # below one quantum's price and is not a residual to chase.
                budget_spent = True
                break
        remaining = _remaining(report)
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
        self._leg_done(tag, report)

    def _leg_done(self, tag: str, report: LegReport) -> None:
        """Journal a leg's end: its status, what it filled, and why not more."""
        self.journal.write(
            "leg_done",
            client_id=self.order.client_id,
            leg=tag,
            role=report.role,
            status=report.status,
            filled_qty=report.filled_qty,
            quote_amount=report.quote_amount,
            fee=report.fee,
            reason=report.reason,
        )

    def _book(self, leg: OrderLeg, report: LegReport, result: ChildResult, tag: str) -> None:
        journal = self.journal
        report.children.append(result)
        journal.write("fill", client_id=self.order.client_id, leg=tag, **result.to_json_dict())
        if result.fault:
            self._mark_down(result.order.venue, f"{result.fault}: {result.reason}")
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
                self.ex.margin.apply(actual)
            except CrossrouteError as exc:
                # The fill happened at the venue whatever the ledger says: keep it in the report
                # and the exposure, and record the disagreement loudly.
                journal.write(
                    "invariant_violation",
                    client_id=self.order.client_id,
                    leg=tag,
                    what="the margin core refused to book a fill",
                    error=str(exc),
                    fill=actual.to_json_dict(),
                )
            state = dict(self.ex.margin.summary())
            journal.write(
                "margin_booked",
                client_id=self.order.client_id,
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
                    client_id=self.order.client_id,
                    leg=tag,
                    what="negative headroom after a checked fill",
                    headroom=state["headroom"],
                )

    async def _send(self, children: list[LegOrder]) -> list[ChildResult]:
        """Send children concurrently; results come back in child order (deterministic journal)."""
        results: list[ChildResult | None] = [None] * len(children)

        async def one(i: int, child: LegOrder) -> None:
            results[i] = await self._send_one(child)

        async with asyncio.TaskGroup() as group:
            for i, child in enumerate(children):
                group.create_task(one(i, child))
        return [r for r in results if r is not None]

    async def _send_one(self, child: LegOrder) -> ChildResult:
        """Send one child; any outcome but a definite venue answer is reconciled by asking the
        venue for the child's client order id (:meth:`_reconcile`)."""
        adapter = self.ex._adapters[child.venue]
        try:
            async with asyncio.timeout(self.ex._child_timeout):
                fill = await adapter.execute(child)
        except TimeoutError:
            return await self._reconcile(
                child, "timeout", f"no answer within {self.ex._child_timeout} s"
            )
        except AdapterError as exc:
            if exc.details.get("not_sent"):  # refused before it left: the venue never saw it
                return ChildResult(child, "not_received", None, str(exc), fault="error")
            return await self._reconcile(child, "error", str(exc))
        except Exception as exc:
            # Anything else (TaskGroup would cancel the siblings mid-flight and lose their fills)
            # is a reply we cannot read: the venue's books say what happened.
            return await self._reconcile(child, "error", f"{type(exc).__name__}: {exc}")
        if not _consistent(child, fill):
            return await self._reconcile(
                child, "inconsistent", f"inconsistent fill from {child.venue}: {fill!r}"
            )
        return _answered(child, fill, fill.reason)

    async def _reconcile(self, child: LegOrder, fault: str, why: str) -> ChildResult:
        """What happened to ``child`` according to the venue's own books, asked by client order
        id with bounded backoff: its fill, "not_received" when the venue has no such id, or
        "unknown" when it stays silent (never counted as unfilled)."""
        answered, fill, queries = await self._ask(
            child.venue, lambda adapter: adapter.order_status(child.client_order_id)
        )
        if answered and fill is None:
            reason = f"{why}; the venue's books have no such order"
            return ChildResult(child, "not_received", None, reason, fault, queries)
        if answered and _consistent(child, fill):
            result = _answered(child, fill, f"{why}; reconciled from the venue's books")
            return ChildResult(child, result.status, fill, result.reason, fault, queries)
        reason = f"{why}; the venue gave no usable answer to {queries} status queries"
        return ChildResult(child, "unknown", None, reason, fault, queries)

    # -- hedges and unwinds ------------------------------------------------------------------

    def _hedges(self) -> list[HedgeReport]:
        result = []
        for leg in self.order.legs:
            if leg.hedge is None:
                continue
            leader_net = self._net_filled(leg.hedge.follows)
            hedge_net = self._net_filled(leg.leg_id)
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

    async def _unwind(self) -> None:
        """Trade leaders back by their unhedged size (opposite side), after the order's time limit
        if need be: an unwind reduces risk, so it gets its own chance. Its limit is the order's
        ``unwind_band_bps`` around the leader's arrival mid (or, without one, its average fill)."""
        for hedge in self._hedges():
            if hedge.unhedged_qty <= 0:
                continue
            leader = self.order.leg(hedge.follows)
            qty = self._floor_to_grid(hedge.unhedged_qty / hedge.ratio, self.venues[leader.leg_id])
            if qty <= 0:
                continue
            side = "sell" if leader.side == "buy" else "buy"
            reference = self.arrival.get(leader.leg_id) or self.reports[leader.leg_id].avg_price
            limit = (
                None
                if reference is None
                else band_limit(reference, side, self.order.unwind_band_bps)
            )
            back = OrderLeg(
                leader.leg_id,
                leader.instrument,
                leader.symbol,
                side,
                qty=qty,
                limit_price=limit,
                venues=self.venues[leader.leg_id],
            )
            report = LegReport(
                leader.leg_id, back.instrument, back.symbol, back.side, qty, None, role="unwind"
            )
            self.unwinds.append(report)
            self.journal.write(
                "unwind",
                client_id=self.order.client_id,
                leg=leader.leg_id,
                hedge=hedge.leg_id,
                side=back.side,
                qty=qty,
                limit_price=limit,
            )
            await self._fill(back, report, tag=f"{leader.leg_id}-unwind", deadline=None)


def _remaining(report: LegReport) -> Decimal:
    """What a leg still has to fill: quote for a leg sized in quote, else base. Exact, O(1).
    Children the venue never answered for count as filled (at their limit for quote): re-routing
    them could fill the same quantity twice."""
    if report.target_qty is None:
        return report.target_quote - report.quote_amount - report.unknown_quote
    return report.target_qty - report.filled_qty - report.unknown_qty


def _consistent(child: LegOrder, fill: Any) -> bool:
    """A venue answer that belongs to ``child`` and fills between nothing and all of it."""
    return (
        isinstance(fill, LegFill)
        and fill.client_order_id == child.client_order_id
        and ZERO <= fill.filled_qty <= child.qty
    )


def _answered(child: LegOrder, fill: LegFill, reason: str) -> ChildResult:
    """The ChildResult of a definite venue answer."""
    if fill.status == "rejected" or fill.filled_qty == 0:
        return ChildResult(child, "rejected", fill, reason or fill.reason or "rejected")
    return ChildResult(child, "filled" if fill.filled_qty == child.qty else "partial", fill, reason)


def _quote_json(q: LegQuote) -> dict[str, Any]:
    return {
        "venue": q.venue,
        "qty": q.qty,
        "quote_amount": q.quote_amount,
        "fee": q.fee,
        "leg_cost": q.leg_cost,
    }


def _leg_at(sequence: list[str], planned: dict[str, _Planned], child_index: int) -> str | None:
    """The leg holding the ``child_index``-th child of the flattened sequence."""
    count = 0
    for leg_id in sequence:
        count += len(planned[leg_id].quotes)
        if child_index < count:
            return leg_id
    return None
