"""The Binance-compatible venue server inside the paper service, over the same venue objects.

Three explicit pieces, no run-time patching:

- :class:`RecordedEngine`, the venue server's engine (``router.server``, built with
  ``engine_factory``): every ``place`` and ``cancel`` it completes is handed to a recorder, the
  paper service, which logs it as a ``venue`` command and makes it durable before the response is
  written; :meth:`RecordedEngine.replay` re-runs a logged call at its logged time;
- :class:`VenueClock`, the engine's market clock: the simulated time, or a logged time while a
  call is replayed;
- :class:`SharedBook`, the order book as the router's adapters and the makers see it: it passes
  every call to the book and settles, in the venue server's balances, the fills that the router's
  child orders took from resting venue-server orders (maker side only: the taker is settled by the
  margin ledger). So a venue-server account pays or receives exactly each fill's notional and its
  maker fee, whoever took its order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from router.server.engine import Engine, OrderRecord

__all__ = ["RecordedEngine", "SharedBook", "VenueClock", "engine_digest"]

Recorder = Callable[[dict[str, Any], dict[str, Any]], None]


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": format(value, "f")}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$decimal"}:
        return Decimal(value["$decimal"])
    return value


def _result(record: OrderRecord) -> dict[str, Any]:
    return {
        "order_id": record.order_id,
        "status": record.status,
        "executed_base_units": record.executed_base_units,
    }


class VenueClock:
    """Milliseconds of simulated time for the venue server: ``sim_ms()``, or the logged time of
    a replayed call (:meth:`at`), so replayed orders and trades carry their original stamps."""

    def __init__(self, sim_ms: Callable[[], int]) -> None:
        self._sim_ms = sim_ms
        self._fixed_ms: int | None = None

    def now_ms(self) -> int:
        return self._sim_ms() if self._fixed_ms is None else self._fixed_ms

    @contextlib.contextmanager
    def at(self, t_ms: int) -> Iterator[None]:
        self._fixed_ms = t_ms
        try:
            yield
        finally:
            self._fixed_ms = None


class RecordedEngine(Engine):
    """The venue server's engine, each completed ``place`` and ``cancel`` handed to ``recorder``
    as (body, result). A call that raises records nothing (the engine's calls are all or nothing);
    a recorder that raises propagates (the service then rolls the applied call back)."""

    def __init__(self, *args: Any, recorder: Recorder, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorder = recorder

    def place(self, *args: Any, **kwargs: Any) -> OrderRecord:
        t_ms = self.clock_ms()
        record = super().place(*args, **kwargs)
        self.recorder(self._body("place", args, kwargs, t_ms), _result(record))
        return record

    def cancel(self, *args: Any, **kwargs: Any) -> OrderRecord:
        t_ms = self.clock_ms()
        record = super().cancel(*args, **kwargs)
        self.recorder(self._body("cancel", args, kwargs, t_ms), _result(record))
        return record

    @staticmethod
    def _body(call: str, args: Any, kwargs: dict[str, Any], t_ms: int) -> dict[str, Any]:
        return {
            "call": call,
            "args": [_encode(a) for a in args],
            "kwargs": {k: _encode(v) for k, v in sorted(kwargs.items())},
            "t_ms": t_ms,
        }

    def replay(self, body: dict[str, Any]) -> dict[str, Any]:
        """Re-run a logged call (the caller fixes the clock at ``body["t_ms"]``), unrecorded."""
        run = {"place": Engine.place, "cancel": Engine.cancel}[body["call"]]
        record = run(
            self,
            *[_decode(a) for a in body["args"]],
            **{k: _decode(v) for k, v in body["kwargs"].items()},
        )
        return _result(record)

    def rests_here(self, kind: str, market_name: str, book_order_id: str) -> bool:
        """True when ``book_order_id`` on that book is an open order placed through this engine."""
        return (kind, market_name, book_order_id) in self._by_book_id


def engine_digest(engine: Engine) -> str:
    """The venue server's balances, positions and orders as text (part of the state digest)."""
    ledger = engine.ledger
    balances = [
        (a, s, ledger.free(a, s), ledger.locked(a, s))
        for a in ledger.accounts
        for s in ledger.assets
    ]
    positions = sorted((k, v.size_lots, v.entry_quanta) for k, v in ledger.positions.items())
    orders = sorted(
        (r.order_id, r.status, r.executed_base_units, r.cum_quote_units, r.reserved_units)
        for r in engine.orders.values()
    )
    return repr((balances, positions, orders))


class SharedBook:
    """An order book shared by the router's adapters and the venue server (module docstring).

    It exposes exactly the book API the adapters and the simulator's makers use, each call passed
    to the book; ``place_market`` and ``place_limit`` then settle the fills against venue-server
    orders. O(fills) per call.
    """

    __slots__ = ("_book", "_engine", "_market")

    def __init__(self, book: Any, market: Any, engine: RecordedEngine) -> None:
        self._book = book
        self._market = market
        self._engine = engine

    def _settle(self, result: Any) -> Any:
        if result.fills:
            kind, name = self._market.kind, self._market.name
            ours = [
                fill
                for fill in result.fills
                if self._engine.rests_here(kind, name, fill.maker_order_id)
            ]
            if ours:
                self._engine.settle_book_fills(self._market, None, ours, kind)
        return result

    def place_market(self, *args: Any, **kwargs: Any) -> Any:
        return self._settle(self._book.place_market(*args, **kwargs))

    def place_limit(self, *args: Any, **kwargs: Any) -> Any:
        return self._settle(self._book.place_limit(*args, **kwargs))

    # -- passed through unchanged --

    def cancel(self, order_id: str) -> Any:
        return self._book.cancel(order_id)

    def amend(self, order_id: str, **changes: Any) -> Any:
        return self._book.amend(order_id, **changes)

    def quote(self, *args: Any, **kwargs: Any) -> Any:
        return self._book.quote(*args, **kwargs)

    def depth(self, side: str, levels: int | None = None) -> list[tuple[int, int]]:
        return self._book.depth(side, levels)

    def best_bid(self) -> int | None:
        return self._book.best_bid()

    def best_ask(self) -> int | None:
        return self._book.best_ask()

    def order(self, order_id: str) -> Any:
        return self._book.order(order_id)

    def open_orders(self, owner: str | None = None) -> list[Any]:
        return self._book.open_orders(owner)

    def position_lots(self, owner: str) -> int:
        return self._book.position_lots(owner)

    def cash_quanta(self, owner: str) -> int:
        return self._book.cash_quanta(owner)

    def price_to_ticks(self, price: Any) -> int:
        return self._book.price_to_ticks(price)

    def ticks_to_price(self, price_ticks: int) -> Decimal:
        return self._book.ticks_to_price(price_ticks)

    def qty_to_lots(self, qty: Any) -> int:
        return self._book.qty_to_lots(qty)

    def lots_to_qty(self, qty_lots: int) -> Decimal:
        return self._book.lots_to_qty(qty_lots)

    def quanta_to_quote(self, quanta: int) -> Decimal:
        return self._book.quanta_to_quote(quanta)

    def _check(self) -> None:
        self._book._check()

    symbol = property(lambda self: self._book.symbol)
    tick_size = property(lambda self: self._book.tick_size)
    lot_size = property(lambda self: self._book.lot_size)
    min_notional = property(lambda self: self._book.min_notional)
    min_notional_quanta = property(lambda self: self._book.min_notional_quanta)
    maker_fee_pips = property(lambda self: self._book.maker_fee_pips)
    taker_fee_pips = property(lambda self: self._book.taker_fee_pips)
    fees_quanta = property(lambda self: self._book.fees_quanta)
    kind = property(lambda self: self._book.kind)
    stp = property(lambda self: self._book.stp)
