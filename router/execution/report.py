"""What an execution reports: each child order, each leg, each hedge relation, the whole order.

Plain data with ``to_json_dict`` (decimal strings in the JSON); the executor fills them in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from router.execution.gate import MarginCheck
from router.model.orders import LegFill, LegOrder

__all__ = ["PRICE_QUANTUM", "ChildResult", "ExecutionReport", "HedgeReport", "LegReport"]

PRICE_QUANTUM = Decimal("1e-8")
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ChildResult:
    """One child order and what became of it, as the venue answered.

    ``status``: filled | partial | rejected (the venue's answer, direct or from its books) |
    not_received (the venue's books have no such client order id, or the transport refused it
    before sending) | unknown (the venue stayed silent: anything up to ``qty`` may have filled) |
    margin_rejected (not sent). ``fault`` is what went wrong in transit before the venue's books
    were asked (timeout | error | inconsistent; "" when the venue answered directly) and
    ``queries`` how many status queries that took. ``fill`` is None when nothing is known filled.
    """

    order: LegOrder
    status: str
    fill: LegFill | None
    reason: str = ""
    fault: str = ""
    queries: int = 0

    @property
    def filled_qty(self) -> Decimal:
        return (
            self.fill.filled_qty
            if self.fill is not None and self.status in ("filled", "partial")
            else ZERO
        )

    @property
    def quote_amount(self) -> Decimal:
        return (
            self.fill.quote_amount
            if self.fill is not None and self.status in ("filled", "partial")
            else ZERO
        )

    @property
    def unknown_qty(self) -> Decimal:
        """Base that may have filled without the venue saying so (the whole child when silent)."""
        return self.order.qty if self.status == "unknown" else ZERO

    @property
    def fee(self) -> Decimal:
        if self.fill is None or self.status not in ("filled", "partial"):
            return ZERO
        return self.fill.fee + self.fill.leg_cost

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "client_order_id": self.order.client_order_id,
            "venue": self.order.venue,
            "side": self.order.side,
            "qty": self.order.qty,
            "limit_price": self.order.limit_price,
            "status": self.status,
            "filled_qty": self.filled_qty,
            "quote_amount": self.quote_amount,
            "fee": self.fee,
            "reason": self.reason,
            "fault": self.fault,
            "queries": self.queries,
            "unknown_qty": self.unknown_qty,
        }


@dataclass(slots=True)
class LegReport:
    """What one leg did: its target, its fills (children), and whether it completed."""

    leg_id: str
    instrument: str
    symbol: str
    side: str
    target_qty: Decimal | None
    target_quote: Decimal | None
    role: str = "leg"  # leg | unwind | liquidation
    filled_qty: Decimal = ZERO
    quote_amount: Decimal = ZERO
    fee: Decimal = ZERO
    # Children the venue never confirmed nor denied: base, and quote at their limits (worst case).
    unknown_qty: Decimal = ZERO
    unknown_quote: Decimal = ZERO
    status: str = "pending"  # pending | filled | partial | unfilled | unknown | skipped
    reason: str = ""
    rounds: int = 0
    children: list[ChildResult] = field(default_factory=list)

    @property
    def avg_price(self) -> Decimal | None:
        return (
            (self.quote_amount / self.filled_qty).quantize(PRICE_QUANTUM)
            if self.filled_qty
            else None
        )

    @property
    def signed_qty(self) -> Decimal:
        return self.filled_qty if self.side == "buy" else -self.filled_qty

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "id": self.leg_id,
            "role": self.role,
            "instrument": self.instrument,
            "symbol": self.symbol,
            "side": self.side,
            "target_qty": self.target_qty,
            "target_quote": self.target_quote,
            "filled_qty": self.filled_qty,
            "quote_amount": self.quote_amount,
            "fee": self.fee,
            "avg_price": self.avg_price,
            "unknown_qty": self.unknown_qty,
            "status": self.status,
            "reason": self.reason,
            "rounds": self.rounds,
            "children": [c.to_json_dict() for c in self.children],
        }


@dataclass(frozen=True, slots=True)
class HedgeReport:
    """One hedge relation at the end: ``unhedged`` = leader net fill x ratio - hedge net fill,
    in the hedge's base units after unwinds (zero when hedged)."""

    leg_id: str
    follows: str
    ratio: Decimal
    leader_net_qty: Decimal
    hedge_net_qty: Decimal
    unhedged_qty: Decimal

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "leg": self.leg_id,
            "follows": self.follows,
            "ratio": self.ratio,
            "leader_net_qty": self.leader_net_qty,
            "hedge_net_qty": self.hedge_net_qty,
            "unhedged_qty": self.unhedged_qty,
        }


@dataclass(slots=True)
class ExecutionReport:
    """The end state of an order. ``status``: filled | partial | rejected | unwound | stopped |
    liquidated (the account fell below maintenance during execution and the margin core
    liquidated it; see the executor's docstring on netting windows) | unreconciled (a venue stayed
    silent or reported holdings that differ from its confirmed fills: see ``unknown_exposure``).

    ``venue_holdings`` maps each venue the order sent children to to the account's signed change
    per asset over the run *as the venue itself reports it* (spot: base balance; perp: position
    in base), or None when the venue did not answer. ``residual_exposure`` maps each base asset
    to the sum of the known ``venue_holdings`` (exactly). ``unknown_exposure`` lists, per venue
    whose holdings are unknown or disagree with its confirmed fills, what it confirmed and the
    children it never answered for: exposure that is not known, never counted as zero.
    ``hedges`` gives each hedge relation's unhedged size from the reconciled fills.
    ``protection`` says per leg which price protection applied (its limit, the default band
    around the arrival mid, or none); ``plan_adjustments`` lists leaders shrunk before trading
    because a hedge could not absorb their size within its limit.
    """

    client_id: str
    status: str
    reason: str
    legs: list[LegReport]
    leg_order: list[str]
    hedges: list[HedgeReport]
    residual_exposure: dict[str, Decimal]
    margin_before: dict[str, Decimal]
    margin_after: dict[str, Decimal]
    capital_efficiency: dict[str, Decimal]
    margin_check: MarginCheck | None = None
    venue_holdings: dict[str, dict[str, Decimal] | None] = field(default_factory=dict)
    unknown_exposure: list[dict[str, Any]] = field(default_factory=list)
    protection: dict[str, dict[str, Any]] = field(default_factory=dict)
    plan_adjustments: list[dict[str, Any]] = field(default_factory=list)
    # a multi-hop order's plan, hops (planned and done) and inventory (router.execution.multihop)
    multihop: dict[str, Any] | None = None

    @property
    def hedged(self) -> bool:
        """True when every hedge relation is exactly hedged."""
        return all(h.unhedged_qty == 0 for h in self.hedges)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "status": self.status,
            "reason": self.reason,
            "leg_order": list(self.leg_order),
            "legs": [leg.to_json_dict() for leg in self.legs],
            "hedges": [h.to_json_dict() for h in self.hedges],
            "hedged": self.hedged,
            "residual_exposure": dict(sorted(self.residual_exposure.items())),
            "venue_holdings": {
                venue: None if held is None else dict(sorted(held.items()))
                for venue, held in sorted(self.venue_holdings.items())
            },
            "unknown_exposure": list(self.unknown_exposure),
            "protection": dict(self.protection),
            "plan_adjustments": list(self.plan_adjustments),
            "margin_before": dict(self.margin_before),
            "margin_after": dict(self.margin_after),
            "capital_efficiency": dict(self.capital_efficiency),
            "margin_check": None if self.margin_check is None else self.margin_check.to_json_dict(),
            **({} if self.multihop is None else {"multihop": self.multihop}),
        }
