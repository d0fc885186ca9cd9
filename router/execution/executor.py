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

Every decision goes to the :class:`~router.execution.journal.DecisionJournal`. Venues are seen only through the
VenueAdapter protocol (duck typed); margin only through :class:`MarginGate`. The executor core
imports neither venues nor adapters nor a concrete margin ledger: ``router.execution.margin_gate`` bridges
to ``router.margin`` and the ``execute`` command wires concrete things together.

Where each part lives (functions over one run's :class:`~router.execution.state.RunState`):
:mod:`~router.execution.planning` (protection, the plan before anyone trades, the leg order),
:mod:`~router.execution.children` (a leg's rounds of children), :mod:`~router.execution.reconcile`
(what the venues say), :mod:`~router.execution.maintenance` (marks, the maintenance check, the
netting window), :mod:`~router.execution.unwind` (hedge reports, unwinds) and
:mod:`~router.execution.run` (one order from received to done). This module is the public face:
validation, idempotency by client id, and the venues each leg may use.

Rounding: hedge targets are rounded down to the coarsest base quantum of the hedge's venues, and
the remainder is reported as residual exposure, never hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from router.execution.gate import MarginGate, invalid
from router.execution.journal import DecisionJournal, encode_record
from router.execution.order import MultiLegOrder
from router.execution.planning import default_planner
from router.execution.report import ExecutionReport
from router.execution.run import run_order
from router.execution.state import Planner, RunState, Settings
from router.model.errors import ExecutionError
from router.protection import DEFAULT_BAND_BPS, DEFAULT_MAX_FIXED_COST_SHARE, MAX_BAND_BPS

__all__ = ["DEFAULT_CHILD_TIMEOUT_SECS", "Executor", "Planner", "default_planner"]

DEFAULT_CHILD_TIMEOUT_SECS = Decimal(5)


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
        adapters = dict(adapters)
        kinds = {
            name: (instruments or {}).get(name, "perp" if ":" in a.symbol else "spot")
            for name, a in adapters.items()
        }
        bad = sorted(n for n, kind in kinds.items() if kind not in ("spot", "perp"))
        if bad:
            invalid(f"instruments[{bad[0]}]", kinds[bad[0]], "spot | perp")
        self._settings = Settings(
            adapters=adapters,
            instruments=kinds,
            planner=planner if planner is not None else default_planner,
            child_timeout_secs=float(child_timeout_secs),  # asyncio's clock is float seconds
            qty_quantum=qty_quantum,
            clock=clock,
            reconcile_attempts=reconcile_attempts,
            reconcile_backoff_secs=float(reconcile_backoff_secs),  # asyncio sleeps in float s
            band_bps=band_bps,
            max_fixed_cost_share=max_fixed_cost_share,
            marks=marks,
        )
        self.margin = margin
        self.journal = journal if journal is not None else DecisionJournal()
        self._done: dict[str, tuple[MultiLegOrder, ExecutionReport]] = {}
        self._running: set[str] = set()
        self._sent_ids: set[str] = set()

    # -- public ------------------------------------------------------------------------------

    @property
    def qty_quantum(self) -> Decimal:
        """The ledger's base quantity grid: every child's size is a multiple of it."""
        return self._settings.qty_quantum

    async def execute(self, order: MultiLegOrder) -> ExecutionReport:
        """Run ``order`` to a defined end state and return its report (never raises for venue
        or margin trouble: that ends in the report). Invalid requests (unknown venue, a venue of
        another symbol, a client id reused for another order) raise ExecutionError before
        anything is journaled or traded."""
        if not isinstance(order, MultiLegOrder):
            invalid("order", order, "a MultiLegOrder")
        if any(leg.multihop for leg in order.legs):
            invalid("order", order.client_id, "legs with a symbol (run from/to legs with multihop)")
        if order.client_id in self._done:
            seen, report = self._done[order.client_id]
            # compared only on a repeat (an order is frozen): not encoded for every new order
            if encode_record(seen.to_json_dict()) != encode_record(order.to_json_dict()):
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
            state = RunState(
                self._settings, self.margin, self.journal, self._sent_ids, order, venues
            )
            report = await run_order(state)
        finally:
            self._running.discard(order.client_id)
        self._done[order.client_id] = (order, report)
        return report

    # -- helpers shared with _Run ------------------------------------------------------------

    def _resolve_venues(self, order: MultiLegOrder) -> dict[str, tuple[str, ...]]:
        """Allowed venue names per leg, validated against the adapters (read-only)."""
        result: dict[str, tuple[str, ...]] = {}
        for leg in order.legs:
            if leg.venues:
                for name in leg.venues:
                    if name not in self._settings.adapters:
                        raise ExecutionError(
                            f"legs[{leg.leg_id}].venues: {name!r} is unknown; allowed: "
                            f"{sorted(self._settings.adapters)}",
                            field="venues",
                            value=name,
                            allowed=str(sorted(self._settings.adapters)),
                        )
                    adapter = self._settings.adapters[name]
                    if (
                        adapter.symbol != leg.symbol
                        or self._settings.instruments[name] != leg.instrument
                    ):
                        raise ExecutionError(
                            f"legs[{leg.leg_id}].venues: {name!r} trades {self._settings.instruments[name]} "
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
                        for n, a in self._settings.adapters.items()
                        if a.symbol == leg.symbol
                        and self._settings.instruments[n] == leg.instrument
                    )
                )
                if not names:
                    raise ExecutionError(
                        f"legs[{leg.leg_id}]: no {leg.instrument} venue trades {leg.symbol}; "
                        f"allowed symbols: {sorted({a.symbol for a in self._settings.adapters.values()})}",
                        field="symbol",
                        value=leg.symbol,
                        allowed="a symbol with a venue",
                    )
                result[leg.leg_id] = names
        return result
