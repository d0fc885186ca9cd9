"""Test harness for the executor: real in-process venues and adapters, a real margin ledger, and a
fault-injecting adapter wrapper (a stub implementing the VenueAdapter protocol around a real one).

Imported by the execution tests through ``sys.path`` (pytest runs with --import-mode=importlib).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from hypothesis import strategies as st

from adapters.amm import AmmAdapter
from adapters.orderbook import OrderBookAdapter
from router.execution.executor import Executor
from router.execution.journal import DecisionJournal, StepClock
from router.execution.margin_gate import LedgerGate
from router.execution.order import Hedge, MultiLegOrder, OrderLeg
from router.margin.ledger import MarginLedger
from router.model.errors import AdapterError
from router.model.orders import LegFill, LegOrder
from venues.amm import ConstantProductPool
from venues.orderbook import OrderBook

D = Decimal
SPOT = "ETH/USDC"
PERP = "ETH/USDC:USDC"


def book_adapter(
    name: str,
    *,
    symbol: str = SPOT,
    kind: str = "spot",
    mid: str = "3000",
    levels: int = 6,
    step: str = "1",
    size: str = "4",
    fee_pips: int = 500,
    lot: str = "0.0001",
    leg_cost: str = "0",
) -> OrderBookAdapter:
    """A book with ``levels`` levels each side around ``mid``, ``size`` base per level."""
    book = OrderBook(symbol, tick_size="0.01", lot_size=lot, taker_fee_pips=fee_pips, kind=kind)
    mid_d, step_d = D(mid), D(step)
    for i in range(levels):
        ask = mid_d + step_d * (i + 1) / 2
        bid = mid_d - step_d * (i + 1) / 2
        book.place_limit(
            f"seed-ask-{i}", "maker", "sell", book.price_to_ticks(ask), book.qty_to_lots(D(size))
        )
        book.place_limit(
            f"seed-bid-{i}", "maker", "buy", book.price_to_ticks(bid), book.qty_to_lots(D(size))
        )
    return OrderBookAdapter(
        name, symbol, book, quote_decimals=6, taker_fee_pips=fee_pips, leg_cost=D(leg_cost)
    )


def amm_adapter(
    name: str,
    *,
    base: str = "1000",
    quote: str = "3000000",
    fee_pips: int = 3000,
    leg_cost: str = "4",
) -> AmmAdapter:
    pool = ConstantProductPool(int(D(base) * 10**18), int(D(quote) * 10**6), fee_pips)
    return AmmAdapter(name, SPOT, pool, base_decimals=18, quote_decimals=6, leg_cost=D(leg_cost))


@dataclass
class Faulty:
    """A VenueAdapter stub around a real adapter that injects scripted faults on ``execute``.

    ``script`` is consumed one entry per execute call (then "ok"): "ok", "reject", "timeout"
    (raises TimeoutError at once, as a transport would), "hang" (never answers: the executor's
    own asyncio.timeout must fire), "partial" (fills half, rounded down to the lot), "move"
    (another trader sweeps ``move_qty`` first, so the price has moved when the order arrives),
    "down" (AdapterError now and on every later call, reads included), "boom" (a plain
    ValueError, as a buggy adapter would raise). ``down_reads`` makes the
    venue fail reads too from the start.
    """

    inner: Any
    script: list[str] = field(default_factory=list)
    move_qty: Decimal = Decimal("6")
    down: bool = False
    calls: list[LegOrder] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)
    mover_base: Decimal = Decimal(0)  # base another trader bought on a pool (not ours)

    def __post_init__(self) -> None:
        self.name = self.inner.name
        self.symbol = self.inner.symbol
        self.leg_cost = self.inner.leg_cost
        self._moves = 0

    def _alive(self) -> None:
        if self.down:  # a refused connection: nothing left for the venue
            raise AdapterError(self.name, "venue down", retryable=True, not_sent=True)

    async def order_status(self, client_order_id: str) -> LegFill | None:
        self._alive()
        return await self.inner.order_status(client_order_id)

    async def holdings(self) -> dict[str, Decimal]:
        self._alive()
        return await self.inner.holdings()

    def base_quantum(self) -> Decimal:
        return self.inner.base_quantum()

    def min_qty(self) -> Decimal:
        return self.inner.min_qty()

    def depth_curve(self, side: str):
        self._alive()
        return self.inner.depth_curve(side)

    def quote(self, side: str, qty: Decimal):
        self._alive()
        return self.inner.quote(side, qty)

    def quote_for_quote(self, side: str, quote_amount: Decimal):
        self._alive()
        return self.inner.quote_for_quote(side, quote_amount)

    async def execute(self, order: LegOrder) -> LegFill:
        self.calls.append(order)
        # Idempotency as a venue enforces it: the same client order id is never filled twice.
        assert order.client_order_id not in self.seen_ids, order.client_order_id
        self.seen_ids.add(order.client_order_id)
        self._alive()
        action = self.script.pop(0) if self.script else "ok"
        if action == "ok":
            return await self.inner.execute(order)
        if action == "reject":
            return LegFill(
                self.name,
                order.side,
                order.client_order_id,
                order.qty,
                D(0),
                D(0),
                D(0),
                D(0),
                "rejected",
                "injected reject",
            )
        if action == "timeout":
            raise TimeoutError("injected timeout")
        if action == "boom":  # a bug in an adapter, not a venue answer
            raise ValueError("injected adapter bug")
        if action == "hang":
            await asyncio.Event().wait()
        if action == "down":
            self.down = True
            raise AdapterError(self.name, "venue went down", retryable=True, not_sent=True)
        if action == "move":
            self._moves += 1
            mover_id = f"mover-{self._moves}-{order.client_order_id}"
            if hasattr(self.inner, "book"):  # another owner takes liquidity on our side first
                book = self.inner.book
                book.place_market(mover_id, "mover", order.side, book.qty_to_lots(self.move_qty))
            else:  # another trader swaps on the pool itself, not through our account
                pool, base_units = self.inner.pool, int(self.move_qty * 10**18)
                if order.side == "buy":
                    bought = pool.swap(pool.get_amount_in(base_units, False), False)
                    self.mover_base += D(bought) / 10**18
                else:
                    pool.swap(base_units, True)
                    self.mover_base -= self.move_qty
            return await self.inner.execute(order)
        if action == "partial":
            quantum = self.inner.base_quantum()
            half = (order.qty / 2 / quantum).to_integral_value(rounding=ROUND_FLOOR) * quantum
            if half <= 0:
                return await self.inner.execute(order)
            fill = await self.inner.execute(
                LegOrder(order.venue, order.side, half, order.client_order_id, order.limit_price)
            )
            return LegFill(
                fill.venue,
                fill.side,
                order.client_order_id,
                order.qty,
                fill.filled_qty,
                fill.quote_amount,
                fill.fee,
                fill.leg_cost,
                "partial" if fill.filled_qty else "rejected",
                "injected partial",
            )
        raise AssertionError(action)


def ledger_gate(
    *,
    usdc: str = "1000000",
    eth: str = "0",
    eth_mark: str = "3000",
    max_leverage: int = 10,
    eth_weight: str = "0.9",
) -> LedgerGate:
    ledger = MarginLedger("USDC")
    ledger.add_asset("ETH", eth_weight, eth_weight)
    ledger.set_mark("ETH", eth_mark)
    ledger.add_market("ETH-PERP", "ETH", max_leverage=max_leverage)
    ledger.set_mark("ETH-PERP", eth_mark)
    sub = ledger.open_subaccount("desk", "main")
    if D(usdc) > 0:
        ledger.deposit(sub, "USDC", usdc)
    if D(eth) > 0:
        ledger.deposit(sub, "ETH", eth)
    return LedgerGate(ledger, sub, {PERP: "ETH-PERP"})


def executor(adapters: Iterable[Any], gate: Any | None = None, **kwargs: Any) -> Executor:
    gate = gate if gate is not None else ledger_gate()
    journal = kwargs.pop("journal", None) or DecisionJournal(clock=StepClock())
    return Executor({a.name: a for a in adapters}, gate, journal=journal, **kwargs)


def standard_venues(**faults: Sequence[str]) -> list[Faulty]:
    """Two spot books, one spot pool and one perp book, each wrapped (script per venue name)."""
    inner = [
        book_adapter("book-a"),
        book_adapter("book-b", mid="3000.5", fee_pips=1000),
        amm_adapter("pool"),
        book_adapter("perp", symbol=PERP, kind="perp", size="8", fee_pips=200),
    ]
    return [Faulty(a, list(faults.get(a.name.replace("-", "_"), ()))) for a in inner]


# -- random markets and orders (hypothesis) ----------------------------------------------------

FAULTS = ["ok", "ok", "ok", "reject", "timeout", "partial", "down", "move"]


@st.composite
def markets(draw) -> list[Faulty]:
    venues = []
    for i in range(draw(st.integers(1, 2))):
        venues.append(
            book_adapter(
                f"book-{i}",
                mid=str(draw(st.integers(2950, 3050))),
                step=draw(st.sampled_from(["0.5", "1", "3"])),
                size=draw(st.sampled_from(["1", "2.5", "6"])),
                levels=draw(st.integers(2, 6)),
                fee_pips=draw(st.sampled_from([0, 500, 1000])),
            )
        )
    if draw(st.booleans()):
        base = draw(st.integers(50, 2000))
        venues.append(
            amm_adapter(
                "pool",
                base=str(base),
                quote=str(base * draw(st.integers(2950, 3050))),
                leg_cost=draw(st.sampled_from(["0", "4"])),
            )
        )
    venues.append(
        book_adapter(
            "perp",
            symbol=PERP,
            kind="perp",
            mid=str(draw(st.integers(2950, 3050))),
            size=draw(st.sampled_from(["2", "5", "10"])),
            levels=draw(st.integers(2, 6)),
            fee_pips=draw(st.sampled_from([0, 200])),
        )
    )
    wrapped = []
    for v in venues:
        script = draw(st.lists(st.sampled_from(FAULTS), max_size=3))
        wrapped.append(Faulty(v, script, move_qty=D(draw(st.sampled_from(["1", "4", "10"])))))
    return wrapped


@st.composite
def orders(draw) -> MultiLegOrder:
    side = draw(st.sampled_from(["buy", "sell"]))
    qty = D(draw(st.integers(1, 200))) / 10
    limit = None
    if draw(st.booleans()):
        limit = D(draw(st.integers(2980, 3030) if side == "buy" else st.integers(2970, 3020)))
    legs = [OrderLeg("lead", "spot", SPOT, side, qty=qty, limit_price=limit)]
    if draw(st.booleans()):
        legs.append(
            OrderLeg(
                "hedge",
                "perp",
                PERP,
                "sell" if side == "buy" else "buy",
                hedge=Hedge("lead", D(draw(st.sampled_from(["0.5", "1", "2"])))),
            )
        )
    if draw(st.booleans()):
        legs.append(
            OrderLeg(
                "extra",
                "perp",
                PERP,
                draw(st.sampled_from(["buy", "sell"])),
                qty=D(draw(st.integers(1, 50))) / 10,
            )
        )
    return MultiLegOrder(
        "p1",
        tuple(legs),
        on_hedge_failure=draw(st.sampled_from(["unwind", "stop"])),
        max_rounds=draw(st.integers(1, 4)),
    )
