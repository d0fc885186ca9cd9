"""The order lifecycle of the paper service: place, work (gtc), amend, cancel, fills and routes.

An order arrives validated (:class:`router.paper.requests.OrderRequest`); the desk runs it through
:class:`router.execution.Executor` with the margin check before every child, records its legs,
fills and route, and keeps a gtc order's residual working: it is retried after every tick in which
a venue of the order quotes within the limit, until filled, cancelled or amended. Only open orders
stay in memory (:class:`DeskState`); a finished order never changes again and lives in the store's
``orders`` table alone, committed with the command that finished it.

What a command produced for the store and the stream (changed order docs, new fills, events) is
collected in an :class:`Outbox` that the service drains after the durable commit.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from router.execution.executor import Executor
from router.execution.liquidation import VenueFiller, liquidate_through_venues
from router.execution.margin_gate import LedgerGate
from router.execution.multihop import run_multihop
from router.execution.order import MultiLegOrder, OrderLeg
from router.execution.report import ExecutionReport
from router.model.errors import CrossrouteError
from router.paper.errors import PaperError
from router.paper.requests import OrderRequest

__all__ = [
    "MAX_WORKING_ORDERS",
    "DeskState",
    "OrderDesk",
    "Outbox",
    "Working",
    "dec",
]

MAX_WORKING_ORDERS = 200  # gtc orders are re-checked every tick: bound the per-tick work
ROUTES_KEPT = 50
ZERO = Decimal(0)


def dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def canonical(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


@dataclass(slots=True)
class Working:
    """A gtc order's residual: a single leg retried after ticks until done or cancelled."""

    client_id: str
    sub_id: str
    leg: OrderLeg
    remaining: Decimal
    slippage_bps: int
    attempts: int = 0


@dataclass(slots=True)
class DeskState:
    """The desk's state (all of it; snapshots save exactly these fields)."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # open orders only
    working: dict[str, Working] = field(default_factory=dict)
    routes: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=ROUTES_KEPT))
    next_fill_id: int = 1
    order_count: int = 0


@dataclass(slots=True)
class Outbox:
    """What the current command produced, until the service commits and publishes it."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def clear(self) -> None:
        self.orders.clear()
        self.fills.clear()
        self.events.clear()


class OrderDesk:
    """Orders of the paper accounts. ``clock()`` gives (tick, t_ns) of simulated time;
    ``on_account(sub_id)`` is told when a subaccount's balances or margin changed."""

    def __init__(
        self,
        market: Any,
        adapters: dict[str, Any],
        child_timeout_secs: Decimal,
        ledger: Any,
        perp_markets: dict[str, str],
        journal: Any,
        store: Any,
        clock: Any,
        outbox: Outbox,
        on_account: Any,
    ) -> None:
        self.market = market
        self.adapters = adapters  # the market's venues as the executor reaches them (faults)
        self.child_timeout_secs = child_timeout_secs
        self.ledger = ledger
        self.perp_markets = perp_markets
        self.journal = journal
        self.store = store
        self.clock = clock
        self.outbox = outbox
        self.on_account = on_account
        self.state = DeskState()

    def _executor(self, sub_id: str, no_limit: bool = False) -> Executor:
        # One executor (and gate) per execution: its idempotency maps (client ids and child ids it
        # has seen) would otherwise grow with the history. The desk checks client ids itself,
        # against the open orders and the store (:meth:`_check_client_id`). Legs without a limit
        # get the market's [protection] band (lifted by the order's no_limit), and fixed costs
        # above its max_fixed_cost_share refuse the order.
        protection = self.market.config.protection
        gate = LedgerGate(self.ledger, sub_id, self.perp_markets)
        return Executor(
            self.adapters,
            gate,
            journal=self.journal,
            instruments=self.market.instruments(),
            child_timeout_secs=self.child_timeout_secs,
            band_bps=None if no_limit else protection.band_bps,
            max_fixed_cost_share=protection.max_fixed_cost_share,
        )

    # -- liquidation -------------------------------------------------------------------------------

    async def liquidate_due(self, refresh_marks: Callable[[], None] | None = None) -> list[Any]:
        """Liquidate every subaccount now below maintenance (sorted by id) with the margin core's
        loop, each step routed through the venues at the prices they show and booked as filled,
        ``refresh_marks`` (the simulator's perp marks) called after each fill so the next step is
        decided where the liquidation left the books; the venues' child fills are recorded as
        fills with role ``liquidation``, and the working orders the liquidation cancelled are
        finished. Returns the LiquidationResults."""
        tick, _ = self.clock()
        names = {name: symbol for symbol, name in self.perp_markets.items()}
        instruments = self.market.instruments()
        results = []
        for sub_id in self.ledger.liquidatable():
            tag = f"liq-{tick}-{sub_id.replace('/', '-')}"
            filler = VenueFiller(self.market.adapters, names, self.ledger.quote_asset, tag)
            result = await liquidate_through_venues(self.ledger, sub_id, filler, refresh_marks)
            account = sub_id.split("/", 1)[0]
            for child in filler.sent:
                if child.filled_qty <= 0:
                    continue
                fill = self.new_fill(
                    client_id=tag,
                    account=account,
                    sub_id=sub_id,
                    venue=child.venue,
                    instrument=instruments[child.venue],
                    symbol=self.market.adapters[child.venue].symbol,
                    side=child.side,
                    qty=child.filled_qty,
                    quote_amount=child.quote_amount,
                    fee=child.fee,
                    role="liquidation",
                    child_id=child.client_order_id,
                )
                self.outbox.events.append({"type": "fill", "fill": fill})
            for order_id in result.cancelled_orders:
                if order_id in self.state.working:
                    self.finish(order_id, "cancelled", "liquidation cancelled the order")
            results.append(result)
        return results

    # -- reads -----------------------------------------------------------------------------------

    def order_doc(self, client_id: str) -> dict[str, Any] | None:
        """The order doc of ``client_id`` as of now, or None: the open order in memory, else the
        finished one from the store. During a replay the store already holds later orders, so
        only those placed so far count (``seq`` <= ``order_count``; finished docs are final).
        O(1) plus one indexed SQLite read."""
        doc = self.state.orders.get(client_id)
        if doc is not None:
            return doc
        return self.store.order(client_id, max_seq=self.state.order_count)

    # -- place -----------------------------------------------------------------------------------

    async def place(self, request: OrderRequest) -> dict[str, Any]:
        state = self.state
        known = self.order_doc(request.client_id)
        if known is not None:
            if canonical(known["request"]) != canonical(request.body):
                raise PaperError(
                    409, "client_id", request.client_id, "a client id not used for another order"
                )
            return known  # idempotent retry: the same acknowledgement, nothing traded
        order = request.order
        self._check_client_id(order.client_id, request.tif)
        if request.tif == "gtc" and len(state.working) >= MAX_WORKING_ORDERS:
            raise PaperError(
                409, "tif", request.tif, f"at most {MAX_WORKING_ORDERS} working gtc orders"
            )
        _, t_ns = self.clock()
        doc: dict[str, Any] = {
            "client_id": order.client_id,
            "account": request.account,
            "subaccount": request.sub_id,
            "kind": "conversion"
            if order.legs[0].multihop
            else "multi_leg"
            if request.multi
            else "routed",
            "tif": request.tif,
            "seq": state.order_count + 1,
            "created_t_ns": t_ns,
            "updated_t_ns": t_ns,
            "request": request.body,
            "status": "new",
            "reason": "",
            "legs": [],
            "fill_ids": [],
            "attempts": 1,
            "remaining_qty": None,
        }
        try:
            executor = self._executor(request.sub_id, request.no_limit)
            if order.legs[0].multihop:
                report = await run_multihop(
                    executor,
                    self.market.spot_adapters(self.adapters),
                    self.market.asset_decimals(),
                    order,
                )
            else:
                report = await executor.execute(order)
        except CrossrouteError as exc:  # refused before anything traded (the executor's contract)
            raise PaperError(
                400,
                str(exc.details.get("field", "order")),
                exc.details.get("value"),
                str(exc.details.get("allowed", "")),
                message=str(exc),
            ) from None
        state.order_count += 1
        state.orders[order.client_id] = doc
        self._absorb(doc, report)
        doc["status"] = report.status
        doc["reason"] = report.reason
        doc["protection"] = dict(report.protection)  # per leg: limit, default band, or none
        doc["margin_before"] = {k: dec(v) for k, v in report.margin_before.items()}
        doc["margin_after"] = {k: dec(v) for k, v in report.margin_after.items()}
        doc["residual_exposure"] = {k: dec(v) for k, v in sorted(report.residual_exposure.items())}
        if report.multihop is not None:  # the plan, every hop as planned and as done, inventory
            doc["multihop"] = canonical(report.to_json_dict()["multihop"])
        if request.tif == "gtc":
            leg = order.legs[0]
            remaining = leg.qty - report.legs[0].filled_qty if report.legs else leg.qty
            margin_refused = report.margin_check is not None and not report.margin_check.accepted
            if remaining > 0 and not margin_refused:
                state.working[order.client_id] = Working(
                    order.client_id, request.sub_id, leg, remaining, order.slippage_bps
                )
                doc["status"] = "open" if remaining == leg.qty else "partially_filled"
            doc["remaining_qty"] = dec(remaining)
        self._order_changed(doc)
        if order.client_id not in state.working:
            del state.orders[
                order.client_id
            ]  # finished: the store keeps it (this command's commit)
        self.on_account(request.sub_id)
        return doc

    def _check_client_id(self, client_id: str, tif: str) -> None:
        """Refuse a new client id that collides with the executor ids of a gtc order's retries
        (``<id>.<n>``): both ways, whether or not the retry has run yet. Read-only."""
        head, dot, tail = client_id.rpartition(".")
        if dot and tail.isdigit():
            parent = self.order_doc(head)
            if parent is not None and parent["tif"] == "gtc":
                raise PaperError(
                    409,
                    "client_id",
                    client_id,
                    f"a client id other than '<gtc order id>.<n>' (retries of gtc order {head} use it)",
                )
        if tif == "gtc":
            taken = [
                c
                for c in self.state.orders
                if c.startswith(client_id + ".") and c[len(client_id) + 1 :].isdigit()
            ]
            taken += self.store.retry_ids(client_id, max_seq=self.state.order_count)
            if taken:
                raise PaperError(
                    409,
                    "client_id",
                    client_id,
                    f"a gtc client id whose retry ids '<id>.<n>' are unused (taken: {sorted(taken)[0]})",
                )

    # -- fills and routes ------------------------------------------------------------------------

    def _absorb(self, doc: dict[str, Any], report: ExecutionReport) -> None:
        """Add a report's legs and fills to an order doc."""
        route = []
        for leg in report.legs:
            legs = [x for x in doc["legs"] if x["id"] == leg.leg_id and x["role"] == leg.role]
            entry = legs[0] if legs else None
            if entry is None:
                entry = {
                    "id": leg.leg_id,
                    "role": leg.role,
                    "instrument": leg.instrument,
                    "symbol": leg.symbol,
                    "side": leg.side,
                    "target_qty": dec(leg.target_qty),
                    "target_quote": dec(leg.target_quote),
                    "filled_qty": "0",
                    "quote_amount": "0",
                    "fee": "0",
                    "avg_price": None,
                    "route": [],
                }
                doc["legs"].append(entry)
            filled = Decimal(entry["filled_qty"]) + leg.filled_qty
            quote = Decimal(entry["quote_amount"]) + leg.quote_amount
            entry["filled_qty"] = dec(filled)
            entry["quote_amount"] = dec(quote)
            entry["fee"] = dec(Decimal(entry["fee"]) + leg.fee)
            entry["avg_price"] = dec((quote / filled).quantize(Decimal("1e-8"))) if filled else None
            entry["status"] = leg.status
            for child in leg.children:
                if child.filled_qty <= 0:
                    continue
                fill = self.new_fill(
                    client_id=doc["client_id"],
                    account=doc["account"],
                    sub_id=doc["subaccount"],
                    venue=child.order.venue,
                    instrument=leg.instrument,
                    symbol=leg.symbol,
                    side=child.order.side,
                    qty=child.filled_qty,
                    quote_amount=child.quote_amount,
                    fee=child.fee,
                    role=leg.role,
                    child_id=child.order.client_order_id,
                )
                doc["fill_ids"].append(fill["fill_id"])
                part = {
                    "venue": fill["venue"],
                    "qty": fill["qty"],
                    "quote_amount": fill["quote_amount"],
                }
                entry["route"].append(part)
                route.append(dict(part))
                self.outbox.events.append({"type": "fill", "fill": fill})
        if route:
            _, t_ns = self.clock()
            summary = {
                "client_id": doc["client_id"],
                "account": doc["account"],
                "t_ns": t_ns,
                "legs": [
                    {
                        "id": e["id"],
                        "symbol": e["symbol"],
                        "side": e["side"],
                        "filled_qty": e["filled_qty"],
                        "avg_price": e["avg_price"],
                        "route": e["route"],
                    }
                    for e in doc["legs"]
                ],
            }
            self.state.routes.appendleft(summary)
            self.outbox.events.append({"type": "route", "route": summary})

    def new_fill(
        self,
        *,
        client_id: str,
        account: str,
        sub_id: str,
        venue: str,
        instrument: str,
        symbol: str,
        side: str,
        qty: Decimal,
        quote_amount: Decimal,
        fee: Decimal,
        role: str,
        child_id: str = "",
    ) -> dict[str, Any]:
        tick, t_ns = self.clock()
        fill = {
            "fill_id": self.state.next_fill_id,
            "client_id": client_id,
            "child_id": child_id,
            "account": account,
            "subaccount": sub_id,
            "venue": venue,
            "instrument": instrument,
            "symbol": symbol,
            "side": side,
            "qty": dec(qty),
            "quote_amount": dec(quote_amount),
            "fee": dec(fee),
            "avg_price": dec((quote_amount / qty).quantize(Decimal("1e-8"))) if qty else None,
            "role": role,
            "t_ns": t_ns,
            "tick": tick,
        }
        self.state.next_fill_id += 1
        self.outbox.fills.append(fill)
        return fill

    def _order_changed(self, doc: dict[str, Any]) -> None:
        _, doc["updated_t_ns"] = self.clock()
        self.outbox.orders[doc["client_id"]] = doc
        self.outbox.events.append(
            {
                "type": "order",
                "order": {
                    k: doc[k]
                    for k in (
                        "client_id",
                        "account",
                        "status",
                        "remaining_qty",
                        "fill_ids",
                        "updated_t_ns",
                    )
                }
                | {
                    "limit": doc.get("amended", doc["request"]).get("limit"),
                    "side": doc["request"].get("side"),
                },
            }
        )

    # -- working gtc orders ----------------------------------------------------------------------

    def _could_fill(self, work: Working) -> bool:
        """True when a venue of the order quotes its first unit within the limit (read-only)."""
        leg = work.leg
        limit = float(leg.limit_price)  # a screen only; the executor decides on exact quotes
        for venue in self.market.adapters_for(leg.symbol, list(leg.venues) or None):
            adapter = self.adapters[venue.name]  # as the executor sees it: a down venue refuses
            try:
                price = adapter.depth_curve(leg.side).marginal_price(0.0)
            except CrossrouteError:
                continue
            if (leg.side == "buy" and price <= limit) or (leg.side == "sell" and price >= limit):
                return True
        return False

    async def work_all(self) -> None:
        """Retry every working order that a venue now quotes within its limit (after a tick)."""
        for client_id in list(self.state.working):
            await self._work(client_id)

    async def _work(self, client_id: str) -> None:
        work = self.state.working[client_id]
        if not self._could_fill(work):
            return
        work.attempts += 1
        doc = self.state.orders[client_id]
        leg = work.leg
        retry = MultiLegOrder(
            client_id=f"{client_id}.{work.attempts}",
            account=doc["account"],
            slippage_bps=work.slippage_bps,
            legs=(
                OrderLeg(
                    leg.leg_id,
                    leg.instrument,
                    leg.symbol,
                    leg.side,
                    qty=work.remaining,
                    limit_price=leg.limit_price,
                    venues=leg.venues,
                ),
            ),
        )
        report = await self._executor(work.sub_id).execute(retry)
        doc["attempts"] = work.attempts
        self._absorb(doc, report)
        filled = report.legs[0].filled_qty if report.legs else ZERO
        work.remaining -= filled
        doc["remaining_qty"] = dec(work.remaining)
        if work.remaining <= 0:
            self.finish(client_id, "filled", "")
        elif filled > 0:
            doc["status"] = "partially_filled"
            self._order_changed(doc)
        if filled > 0:
            doc["margin_after"] = {k: dec(v) for k, v in report.margin_after.items()}
            self.on_account(work.sub_id)

    def finish(self, client_id: str, status: str, reason: str) -> None:
        """End a working order (filled, cancelled); from now on the store's row is the order."""
        self.state.working.pop(client_id, None)
        doc = self.state.orders.pop(client_id)
        doc["status"] = status
        doc["reason"] = reason
        self._order_changed(doc)

    def _open(self, client_id: str) -> Working:
        doc = self.order_doc(client_id)
        if doc is None:
            raise PaperError(404, "client_id", client_id, "the client id of an order")
        work = self.state.working.get(client_id)
        if work is None:
            raise PaperError(
                409, "client_id", client_id, f"an open gtc order (this one is {doc['status']})"
            )
        return work

    def cancel(self, client_id: str) -> dict[str, Any]:
        self._open(client_id)
        doc = self.state.orders[client_id]
        self.finish(client_id, "cancelled", "cancelled by the client")
        return doc

    def amend(self, client_id: str, limit: Decimal | None, qty: Decimal | None) -> dict[str, Any]:
        """Change a working order's limit and/or total quantity (not below what already filled).
        The order keeps its id and its fills; it is retried at the next tick."""
        work = self._open(client_id)
        doc = self.state.orders[client_id]
        leg = work.leg
        filled = leg.qty - work.remaining
        new_qty = leg.qty if qty is None else qty
        if new_qty <= filled:
            raise PaperError(
                409, "qty", dec(qty), f"a quantity above the {dec(filled)} already filled"
            )
        work.leg = OrderLeg(
            leg.leg_id,
            leg.instrument,
            leg.symbol,
            leg.side,
            qty=new_qty,
            limit_price=leg.limit_price if limit is None else limit,
            venues=leg.venues,
        )
        work.remaining = new_qty - filled
        doc["amended"] = {"limit": dec(work.leg.limit_price), "qty": dec(new_qty)}
        doc["remaining_qty"] = dec(work.remaining)
        self._order_changed(doc)
        return doc

    def check(self) -> None:
        """Assert: working orders open with a positive residual; only open orders in memory."""
        state = self.state
        for client_id, work in state.working.items():
            assert work.remaining > 0, (client_id, work.remaining)
            assert state.orders[client_id]["status"] in ("open", "partially_filled"), client_id
        assert state.orders.keys() == state.working.keys(), "only open orders stay in memory"
        assert state.next_fill_id >= 1
        assert state.order_count >= len(state.orders)
