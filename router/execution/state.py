"""The state of one order's execution, and what an executor fixes for all its runs.

:class:`Settings` is what :class:`~router.execution.executor.Executor` validated once;
:class:`RunState` is one ``execute`` call: the effective order (protected limits, leaders shrunk
by the plan), the venues marked down, the leg reports so far, the clock and the deadlines. The
modules of this package (planning, children, reconcile, maintenance, unwind, run) are functions
over a RunState; the small helpers they all need (grids, hedge targets, net fills) live here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from router.execution.gate import MarginGate
from router.execution.journal import DecisionJournal
from router.execution.order import MultiLegOrder, OrderLeg
from router.execution.report import LegReport
from router.model.orders import LegQuote
from router.protection import Protection

__all__ = ["ZERO", "FirstPlan", "Liquidated", "Planner", "RunState", "Settings"]

ZERO = Decimal(0)

Planner = Callable[..., Any]


class Liquidated(Exception):
    """Raised inside a run when the account was liquidated during execution (internal)."""


@dataclass(frozen=True, slots=True)
class FirstPlan:
    """A leg's plan from before anything traded, kept for the leg's first round: the request it
    answered (base ``qty`` or ``quote_qty``), the venues' :attr:`RunState.epoch` it was made at,
    and its quotes on the grid. The first round uses it instead of planning again when the leg,
    the request and the epoch are unchanged (the planner is a pure function of those)."""

    leg: OrderLeg
    qty: Decimal | None
    quote_qty: Decimal | None
    epoch: int
    quotes: tuple[LegQuote, ...]


@dataclass(frozen=True, slots=True)
class Settings:
    """An executor's validated configuration, shared by all its runs (see ``Executor``).

    ``child_timeout_secs`` and ``reconcile_backoff_secs`` are float seconds because asyncio's
    clock is; ``clock`` None means the event loop's."""

    adapters: Mapping[str, Any]
    instruments: Mapping[str, str]
    planner: Planner
    child_timeout_secs: float
    qty_quantum: Decimal
    clock: Callable[[], float] | None
    reconcile_attempts: int
    reconcile_backoff_secs: float
    band_bps: int | None
    max_fixed_cost_share: Decimal | None
    marks: Callable[[], Mapping[str, Decimal]] | None


class RunState:
    """The state of one order's execution (one per ``Executor.execute`` call)."""

    def __init__(
        self,
        settings: Settings,
        margin: MarginGate,
        journal: DecisionJournal,
        sent_ids: set[str],
        order: MultiLegOrder,
        venues: dict[str, tuple[str, ...]],
    ) -> None:
        self.settings = settings
        self.margin = margin
        self.journal = journal
        # Every child id the executor ever sent (shared by its runs: an id is never sent twice).
        self.sent_ids = sent_ids
        self.given = order  # as the user gave it; self.order carries the effective limits/sizes
        self.order = order
        self.venues = venues
        self.protection: dict[str, Protection] = {}
        self.arrival: dict[str, Decimal | None] = {}
        self.adjustments: list[dict[str, Any]] = []
        self.last_marks: dict[str, Decimal] = {}
        self.down: set[str] = set()
        # Bumped whenever the venues may have changed under the run (children sent, snapshots
        # refreshed, a venue marked down): a plan made at another epoch is stale.
        self.epoch = 0
        self.first_plans: dict[str, FirstPlan] = {}
        self.reports: dict[str, LegReport] = {}
        self.unwinds: list[LegReport] = []
        # Each venue's own account of our holdings when the run started (None: it did not answer).
        self.holdings_before: dict[str, dict[str, Decimal] | None] = {}
        self.loop = asyncio.get_running_loop()
        self.now: Callable[[], float] = settings.clock or self.loop.time
        start = self.now()
        self.deadline = start + float(order.time_limit_secs)
        self.window_end = (
            start + order.netting_window_ms / 1000 if order.netting_window_ms else None
        )

    def adapters_for(self, leg: OrderLeg) -> list[Any]:
        return [self.settings.adapters[n] for n in self.venues[leg.leg_id] if n not in self.down]

    def grid(self, venue: str) -> Decimal:
        """The coarser of the venue's base quantum and the ledger's quantity quantum."""
        return max(self.settings.adapters[venue].base_quantum(), self.settings.qty_quantum)

    def mark_down(self, venue: str, reason: str) -> None:
        if venue not in self.down:
            self.down.add(venue)
            self.epoch += 1
            self.journal.write(
                "venue_down", client_id=self.order.client_id, venue=venue, reason=reason
            )

    def new_report(self, leg: OrderLeg, role: str = "leg") -> LegReport:
        report = LegReport(
            leg.leg_id, leg.instrument, leg.symbol, leg.side, leg.qty, leg.quote_qty, role=role
        )
        self.reports[leg.leg_id] = report
        return report

    def hedge_target(self, leg: OrderLeg, leader_qty: Decimal) -> Decimal:
        """Leader qty x ratio rounded down to the coarsest base quantum of the hedge's venues."""
        assert leg.hedge is not None
        return self.floor_to_grid(leader_qty * leg.hedge.ratio, self.venues[leg.leg_id])

    def floor_to_grid(self, qty: Decimal, venues: Sequence[str]) -> Decimal:
        """``qty`` rounded down to the coarsest grid (venue quantum or ledger quantum) of ``venues``."""
        quantum = max((self.grid(n) for n in venues), default=self.settings.qty_quantum)
        return (qty / quantum).to_integral_value(rounding=ROUND_FLOOR) * quantum

    def net_filled(self, leg_id: str) -> Decimal:
        """Filled base of a leg net of its unwinds (unsigned, in the leg's direction)."""
        report = self.reports.get(leg_id)
        net = report.filled_qty if report else ZERO
        for unwind in self.unwinds:
            if unwind.leg_id == leg_id:
                net -= unwind.filled_qty
        return net

    def leg_done(self, tag: str, report: LegReport) -> None:
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
