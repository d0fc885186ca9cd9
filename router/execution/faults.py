"""Scheduled venue faults for users and tests: a fault-injecting VenueAdapter wrapper.

A faults file (``crossroute execute --faults FILE``) holds ``[[faults]]`` tables::

    [[faults]]
    venue = "book"
    kind = "lost_reply"   # reject | timeout | lost_reply | partial | hang | down | move
    after = 0             # children this venue handles normally first (move: the order's)
    share = "0.4"         # partial only: the share of the child that fills, in (0, 1)
    bps = -600            # move only: how far the venue's prices move, in basis points

What each kind does to the child at index ``after`` (0-based, counted per venue):

- ``reject``: the venue refuses the child (nothing fills) and says so.
- ``timeout``: the child never reaches the venue and no answer comes (nothing fills).
- ``lost_reply``: the venue fills the child, then the reply is lost in transit (an adapter error
  that says the order may or may not have reached the venue).
- ``partial``: the venue fills ``share`` of the child (rounded down to its base quantum), answers.
- ``hang``: the venue fills the child and from then on never answers anything (orders, status
  queries, holdings) and its reads fail: a silent venue.
- ``down``: from then on the venue refuses every call before anything is sent (reads included).
- ``move``: the market moves. Once the order has had ``after`` children answered (all venues
  together: a market move is not one venue's doing; 0: before anything), every resting order on
  the venue's book moves by ``bps`` basis points (a whole number in [-5000, 5000], not 0; bids
  rounded down and asks up to the tick, so the book never crosses; an order the move would take
  below the book's minimum notional is cancelled). Its mid moves with it, so the marks read from
  it move during ``execute`` (what a netting window is for). Order-book venues only.

One-shot kinds (reject, timeout, lost_reply, partial) hit exactly one child; ``hang`` and ``down``
last for the rest of the run; a ``move`` happens once. The wrapper only changes what travels between the executor and the
venue; the venue's own books (:class:`adapters.account.VenueAccount`) record what really happened,
which is what reconciliation asks and what property tests compare the report with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

from router.config import read_toml
from router.model.depth import DepthCurve
from router.model.errors import AdapterError, ConfigError
from router.model.orders import LegFill, LegOrder, LegQuote
from router.protection import venue_mid
from venues.values import parse_decimal, parse_int

__all__ = [
    "FAULT_KINDS",
    "Fault",
    "FaultInjectingVenue",
    "MarketMoves",
    "faults_from_dict",
    "inject_faults",
    "load_faults",
]

FAULT_KINDS: tuple[str, ...] = (
    "reject",
    "timeout",
    "lost_reply",
    "partial",
    "hang",
    "down",
    "move",
)
LASTING_KINDS: tuple[str, ...] = ("hang", "down")
_FAULT_KEYS = ("venue", "kind", "after", "share", "bps")
MAX_AFTER = 1_000_000
MAX_MOVE_BPS = 5_000  # half the price at most: a bigger move is no longer a move of this market


@dataclass(frozen=True, slots=True)
class Fault:
    """One scheduled fault: ``kind`` hits ``venue``'s child number ``after`` (0-based); a
    ``move`` of ``bps`` happens once the order has had ``after`` children answered."""

    venue: str
    kind: str
    after: int = 0
    share: Decimal | None = None
    bps: int | None = None

    def to_json_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"venue": self.venue, "kind": self.kind, "after": self.after}
        if self.share is not None:
            data["share"] = self.share
        if self.bps is not None:
            data["bps"] = self.bps
        return data


def faults_from_dict(
    data: Any,
    source: str = "<faults>",
    venues: Sequence[str] | Mapping[str, Any] | None = None,
) -> tuple[Fault, ...]:
    """The validated schedule of a parsed faults file; ConfigError naming the key otherwise.

    ``venues`` (optional) are the market's venue names a fault may name; given as a mapping
    name -> adapter, a ``move`` must also name an order-book venue. O(faults)."""
    if not isinstance(data, dict) or set(data) - {"faults"}:
        extra = sorted(set(data) - {"faults"}) if isinstance(data, dict) else ["<root>"]
        raise ConfigError(source, extra[0], "...", "only [[faults]] tables")
    raw_faults = data.get("faults", [])
    if not isinstance(raw_faults, list):
        raise ConfigError(source, "faults", raw_faults, "[[faults]] tables")
    faults = []
    for index, raw in enumerate(raw_faults):
        where = f"faults[{index}]"

        def error(field: str, value: Any, allowed: str, where: str = where) -> ConfigError:
            return ConfigError(source, f"{where}.{field}", value, allowed)

        if not isinstance(raw, dict):
            raise ConfigError(source, where, raw, "a table")
        unknown = sorted(set(raw) - set(_FAULT_KEYS))
        if unknown:
            raise error(unknown[0], raw[unknown[0]], f"keys {list(_FAULT_KEYS)}")
        venue = raw.get("venue")
        if not isinstance(venue, str) or not venue or (venues is not None and venue not in venues):
            allowed = "a venue name" if venues is None else f"one of {', '.join(sorted(venues))}"
            raise error("venue", venue, allowed)
        kind = raw.get("kind")
        if kind not in FAULT_KINDS:
            raise error("kind", kind, " | ".join(FAULT_KINDS))
        after = parse_int("after", raw.get("after", 0), minimum=0, maximum=MAX_AFTER, error=error)
        share = None
        if kind == "partial":
            share = parse_decimal(
                "share",
                raw.get("share"),
                minimum=0,
                maximum=1,
                exclusive_minimum=True,
                kind="a share",
                error=error,
            )
            if share == 1:
                raise error("share", raw.get("share"), "a share in (0, 1)")
        elif "share" in raw:
            raise error("share", raw["share"], "only with kind = partial")
        bps = None
        if kind == "move":
            if isinstance(venues, Mapping) and not _movable(venues[venue]):
                raise error("venue", venue, "an order-book venue for kind = move")
            bps = parse_int(
                "bps", raw.get("bps"), minimum=-MAX_MOVE_BPS, maximum=MAX_MOVE_BPS, error=error
            )
            if bps == 0:
                raise error(
                    "bps",
                    raw.get("bps"),
                    f"a whole number of bps in [-{MAX_MOVE_BPS}, {MAX_MOVE_BPS}], not 0",
                )
        elif "bps" in raw:
            raise error("bps", raw["bps"], "only with kind = move")
        faults.append(Fault(venue, kind, after, share, bps))
    return tuple(faults)


def load_faults(
    path: str | Path, venues: Sequence[str] | Mapping[str, Any] | None = None
) -> tuple[Fault, ...]:
    """Read a faults TOML file; ConfigError for an unreadable or invalid one."""
    return faults_from_dict(read_toml(path), str(path), venues)


def inject_faults(adapters: Mapping[str, Any], faults: Sequence[Fault]) -> dict[str, Any]:
    """``adapters`` with every venue named in ``faults`` wrapped in a FaultInjectingVenue; with a
    ``move`` among them, every venue is wrapped, all sharing one :class:`MarketMoves` (a move
    counts the order's children on every venue). A move due after 0 children happens now.
    ConfigError, changing nothing, for a move on a venue that is not an order book."""
    moves = [f for f in faults if f.kind == "move"]
    for fault in moves:
        if fault.venue not in adapters or not _movable(adapters[fault.venue]):
            raise ConfigError(
                "<faults>", "faults.venue", fault.venue, "an order-book venue for kind = move"
            )
    market = MarketMoves([(f, adapters[f.venue]) for f in moves]) if moves else None
    return {
        name: FaultInjectingVenue(adapter, [f for f in faults if f.venue == name], market)
        if market is not None or any(f.venue == name for f in faults)
        else adapter
        for name, adapter in adapters.items()
    }


def _movable(adapter: Any) -> bool:
    """A venue whose prices a ``move`` can shift: one with an order book (duck typed: the
    execution layer sees venues only through their adapters)."""
    return hasattr(getattr(adapter, "inner", adapter), "book")


def move_book(book: Any, bps: int) -> None:
    """Move every resting order of ``book`` by ``bps`` basis points: bids rounded down and asks
    up to the tick, the side moving away from the other first, so the book never crosses (a
    bid b < ask a stays floor(b f) < ceil(a f)). An order the move would take below the book's
    minimum notional (or to a price below one tick) is cancelled. O(orders)."""
    factor = 1 + Decimal(bps) / 10_000
    first, second = ("sell", "buy") if bps > 0 else ("buy", "sell")
    for side in (first, second):
        rounding = ROUND_FLOOR if side == "buy" else ROUND_CEILING
        for order in [o for o in book.open_orders() if o.side == side]:
            ticks = int((order.price_ticks * factor).to_integral_value(rounding=rounding))
            try:
                if ticks < 1:
                    raise ValueError("below one tick")
                book.amend(order.order_id, price_ticks=ticks)
            except Exception:  # the book refuses the moved order: it leaves the market
                book.cancel(order.order_id)


class MarketMoves:
    """The market moves of a fault schedule: counts the order's answered children over every
    venue and moves each ``move`` fault's book once its ``after`` count is reached. O(moves)
    per child."""

    def __init__(self, moves: Sequence[tuple[Fault, Any]]) -> None:
        self.children = 0
        self._due = sorted(moves, key=lambda move: move[0].after)
        self._move_due()

    def child_answered(self) -> None:
        self.children += 1
        self._move_due()

    def _move_due(self) -> None:
        while self._due and self._due[0][0].after <= self.children:
            fault, adapter = self._due.pop(0)
            assert fault.bps is not None  # a move always has its bps (faults_from_dict)
            move_book(getattr(adapter, "inner", adapter).book, fault.bps)


class FaultInjectingVenue:
    """A VenueAdapter around a real one that applies a fault schedule (see the module docstring).

    Reads and answers pass through unchanged unless a fault is active. O(1) per call."""

    def __init__(
        self, inner: Any, faults: Sequence[Fault], market: MarketMoves | None = None
    ) -> None:
        self.inner = inner
        self._market = market  # the schedule's market moves, counting every venue's children
        self.name: str = inner.name
        self.symbol: str = inner.symbol
        self.leg_cost: Decimal = inner.leg_cost
        self._by_child: dict[int, Fault] = {}
        self._lasting_from: dict[str, int] = {}
        for fault in faults:
            if fault.kind == "move":
                continue  # the market's doing, not this venue's: MarketMoves applies it
            if fault.kind in LASTING_KINDS:
                start = self._lasting_from.get(fault.kind, fault.after)
                self._lasting_from[fault.kind] = min(start, fault.after)
            else:
                self._by_child.setdefault(fault.after, fault)
        self.children = 0  # children this venue was sent (the schedule's counter)
        self._silent = False  # a hang has happened: nothing answers any more

    # -- state --

    def _down(self) -> bool:
        return self.children >= self._lasting_from.get("down", MAX_AFTER + 1)

    def _check_reachable(self) -> None:
        if self._down():
            raise AdapterError(
                self.name, "injected fault: venue down", retryable=True, not_sent=True
            )
        if self._silent:
            raise AdapterError(self.name, "injected fault: venue silent (hang)", retryable=True)

    async def _silence(self) -> None:
        """Never answer: the caller's own timeout must end the wait."""
        await asyncio.Event().wait()

    # -- reads --

    def base_quantum(self) -> Decimal:
        return self.inner.base_quantum()

    def min_qty(self) -> Decimal:
        return self.inner.min_qty()

    def depth_curve(self, side: str) -> DepthCurve:
        self._check_reachable()
        return self.inner.depth_curve(side)

    def quote(self, side: str, qty: Decimal) -> LegQuote:
        self._check_reachable()
        return self.inner.quote(side, qty)

    def quote_for_quote(self, side: str, quote_amount: Decimal) -> LegQuote:
        self._check_reachable()
        return self.inner.quote_for_quote(side, quote_amount)

    def mid_price(self) -> Decimal | None:
        self._check_reachable()
        return venue_mid(self.inner)

    # -- orders and what the venue says about them --

    async def execute(self, order: LegOrder) -> LegFill:
        self._check_reachable()  # a down venue refuses before the child counts
        try:
            return await self._execute(order)
        finally:
            if self._market is not None:  # answered or failed: either way the child is over
                self._market.child_answered()

    async def _execute(self, order: LegOrder) -> LegFill:
        index = self.children
        self.children += 1
        if index >= self._lasting_from.get("hang", MAX_AFTER + 1):
            await self.inner.execute(order)  # it reaches the venue, which then goes silent
            self._silent = True
            await self._silence()
        fault = self._by_child.get(index)
        if fault is None:
            return await self.inner.execute(order)
        if fault.kind == "reject":
            return LegFill(
                self.name, order.side, order.client_order_id, order.qty, Decimal(0),
                Decimal(0), Decimal(0), Decimal(0), "rejected", "injected fault: reject",
            )  # fmt: skip
        if fault.kind == "timeout":
            await self._silence()
        if fault.kind == "lost_reply":
            await self.inner.execute(order)
            raise AdapterError(
                self.name,
                "injected fault: reply lost; the order may or may not have reached the venue",
                retryable=True,
            )
        assert fault.kind == "partial" and fault.share is not None
        quantum = self.inner.base_quantum()
        part = (order.qty * fault.share / quantum).to_integral_value(rounding=ROUND_FLOOR) * quantum
        if part <= 0:
            return await self.inner.execute(order)
        fill = await self.inner.execute(
            LegOrder(order.venue, order.side, part, order.client_order_id, order.limit_price)
        )
        return LegFill(
            fill.venue, fill.side, order.client_order_id, order.qty, fill.filled_qty,
            fill.quote_amount, fill.fee, fill.leg_cost,
            "partial" if fill.filled_qty else "rejected", f"injected fault: partial {fault.share}",
        )  # fmt: skip

    async def order_status(self, client_order_id: str) -> LegFill | None:
        if self._silent:
            await self._silence()
        self._check_reachable()
        return await self.inner.order_status(client_order_id)

    async def holdings(self) -> dict[str, Decimal]:
        if self._silent:
            await self._silence()
        self._check_reachable()
        return await self.inner.holdings()
