"""Order-book venues rebuilt from recorded depth: the L2 book and the replayed venue.

:class:`L2Book` is the recorded book: two ``dict`` price_ticks -> qty_lots kept in sync by update
id exactly as Binance documents ("How to manage a local order book correctly"): updates received
before the REST snapshot are buffered, those with ``u <= lastUpdateId`` dropped, the first one
applied must straddle ``lastUpdateId + 1`` (spot) or ``lastUpdateId`` (USD-M perpetual, whose
updates carry ``pu``), and each next one must follow: ``U == previous u + 1`` (spot) or
``pu == previous u`` (perpetual). A gap makes the book unusable until the next REST snapshot in
the data (``on_gap="resync"``: the book empties, updates are buffered, the gap is counted) or
raises :class:`BookSyncError` (``on_gap="error"``).

:class:`ReplayBookVenue` is what the router trades against: a ``venues.orderbook.OrderBook``
(the one matching engine) holding the recorded levels as resting orders of owner ``"market"``,
kept in line with the L2 book lazily (only levels that changed, only when the venue is read or
traded). Rules, decided once:

- Queue position: our resting orders join the back of their level. New recorded liquidity at a
  level joins behind us; how many of the recorded cancellations at our level were ahead of us is
  the queue model's answer (:mod:`router.backtest.queues`; default risk-averse: from the back
  first, a cancellation never moves us forward). Recorded trades are replayed as marketable
  orders of owner ``"tape"`` limited at the trade price, so they consume the level from the front
  and fill us only once the liquidity ahead of us is gone (or at once when our price is better).
- Liquidity consumption: lots our taker orders take at a level are remembered per level and
  subtracted from what the recording shows there afterwards, because those orders are gone in
  the simulated world although the recording (made without us) keeps showing them. The memory
  at a level shrinks with recorded trades there (they would have taken the same orders) and never
  exceeds the recorded size; it ends when the level empties in the recording.
- Lots the tape took from market orders are subtracted until the next depth update of that
  level (which already reflects the trade), so the level is not shown twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal
from itertools import compress
from operator import itemgetter
from operator import not_ as _not
from typing import Any

from adapters.orderbook import OrderBookAdapter
from router.backtest.queues import QueueModel, RiskAverseQueue, cancelled_ahead
from router.model.orders import LegFill, LegOrder
from router.sim.errors import BacktestError, BookSyncError
from router.sim.feed import Grid, Levels
from venues.orderbook import OrderBook

__all__ = ["MARKET_OWNER", "TAPE_OWNER", "L2Book", "ReplayBookAdapter", "ReplayBookVenue"]

MARKET_OWNER = "market"
TAPE_OWNER = "tape"
_MAX_BUFFER = 100_000  # updates kept while waiting for a snapshot (a capture holds ~1 per 50 ms)
_INT = {int}
_price = itemgetter(0)
_drain = deque(maxlen=0).extend  # runs an iterator to its end in C


def _levels(field: str, levels: Any) -> dict[int, int] | Levels:
    """``[(price_ticks, qty_lots), ...]`` checked: the parsers' :class:`~router.sim.feed.Levels`
    as they are (plain ints, prices > 0 and sizes >= 0 by construction: a parsed array with a
    price of 0 is a plain list), any other list as a dict (the last size of a price wins, as
    applying them in order would); BacktestError unless prices are ints > 0 and sizes ints >= 0.
    The checks run in C (``map(type, ...)``): this is on the replay's hot path. O(levels)."""
    if type(levels) is Levels:
        return levels
    try:
        book = dict(levels)
    except (TypeError, ValueError):
        raise BacktestError(
            field, levels, "a list of (price_ticks, qty_lots) integer pairs"
        ) from None
    if book and not (
        set(map(type, book)) == _INT == set(map(type, book.values()))
        and min(book) > 0
        and min(book.values()) >= 0
    ):
        raise BacktestError(field, levels, "(price_ticks > 0, qty_lots >= 0) integer pairs")
    return book


def _update_id(field: str, value: Any) -> None:
    if value is not None and (type(value) is not int or value < 0):
        raise BacktestError(field, value, "an integer >= 0, or None for data without update ids")


class L2Book:
    """The recorded book, synchronised by update id; integer ticks and lots.

    ``bids`` / ``asks``: price_ticks -> qty_lots (> 0). ``state``: ``"waiting"`` (no snapshot
    yet), ``"synced"``, ``"gap"`` (lost sync, waiting for the next snapshot). ``dirty_bids`` /
    ``dirty_asks``: a superset of the prices changed since the owner last called
    :meth:`clear_dirty` (only with ``track_dirty``). Each update is O(levels in it);
    ``best_bid``/``best_ask`` are O(book levels) and meant for reads, not the hot path.

    The changed prices are worked out when read, not per update: an update only appends its two
    level lists; once the unread lists hold more levels than the book, every price of the book
    counts as changed instead (reading the book is then the cheaper superset). A reader after
    every update (a resting order) pays what it always paid; a reader once in a while (the
    router deciding) pays O(book levels), not O(levels of every update since).
    """

    __slots__ = (
        "_all_dirty",
        "_buffer",
        "_dirty",
        "_pending",
        "_pending_levels",
        "applied",
        "asks",
        "bids",
        "dropped",
        "gaps",
        "last_update_id",
        "levels_applied",
        "on_gap",
        "state",
        "track_dirty",
    )

    def __init__(self, on_gap: str = "resync", *, track_dirty: bool = True) -> None:
        if on_gap not in ("resync", "error"):
            raise BacktestError("on_gap", on_gap, "'resync' or 'error'")
        if type(track_dirty) is not bool:
            raise BacktestError("track_dirty", track_dirty, "True or False")
        self.on_gap = on_gap
        self.track_dirty = track_dirty
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.state = "waiting"
        self.last_update_id: int | None = None
        self.gaps = 0  # times sync was lost
        self.dropped = 0  # updates dropped (before the snapshot or while out of sync)
        self.applied = 0  # updates applied
        self.levels_applied = 0
        self._buffer: list[tuple] = []
        self._dirty: tuple[set[int], set[int]] = (set(), set())  # (bids, asks) folded so far
        self._pending: list[tuple[Any, Any]] = []  # (bid levels, ask levels) not folded yet
        self._pending_levels = 0
        self._all_dirty = False  # too many pending: every price of the book counts as changed

    @property
    def dirty_bids(self) -> set[int]:
        """Bid prices changed since :meth:`clear_dirty` (a superset). O(pending levels)."""
        self._fold()
        return self._dirty[0]

    @property
    def dirty_asks(self) -> set[int]:
        """Ask prices changed since :meth:`clear_dirty` (a superset). O(pending levels)."""
        self._fold()
        return self._dirty[1]

    def clear_dirty(self) -> None:
        """Forget the changed prices (the owner has brought its copy up to date). O(1)."""
        self._dirty[0].clear()
        self._dirty[1].clear()
        self._pending.clear()
        self._pending_levels = 0
        self._all_dirty = False

    def _fold(self) -> None:
        bids, asks = self._dirty
        for bid_levels, ask_levels in self._pending:
            for levels, dirty in ((bid_levels, bids), (ask_levels, asks)):
                dirty.update(levels if type(levels) is dict else map(_price, levels))
        self._pending.clear()
        self._pending_levels = 0
        if self._all_dirty:
            # The prices of the book now; the ones deleted since were in the book at the switch.
            # From here on the updates are noted one by one again.
            bids.update(self.bids)
            asks.update(self.asks)
            self._all_dirty = False

    def _changed_all(self) -> None:
        """Every price of the book changes (a snapshot, a gap)."""
        if self.track_dirty:
            self._fold()
            self._dirty[0].update(self.bids)
            self._dirty[1].update(self.asks)

    def _changed(self, bids: Any, asks: Any) -> None:
        """Note an applied update's levels (a dict or a list of pairs per side)."""
        if self._all_dirty or not self.track_dirty:
            return
        self._pending.append((bids, asks))
        self._pending_levels += len(bids) + len(asks)
        if self._pending_levels > len(self.bids) + len(self.asks):
            self._fold()
            self._dirty[0].update(self.bids)
            self._dirty[1].update(self.asks)
            self._all_dirty = True

    def best_bid(self) -> int | None:
        """Highest bid in ticks or None. O(levels)."""
        return max(self.bids) if self.bids else None

    def best_ask(self) -> int | None:
        """Lowest ask in ticks or None. O(levels)."""
        return min(self.asks) if self.asks else None

    def apply_snapshot(self, payload: tuple) -> None:
        """Replace the book by a snapshot ``(last_update_id, bids, asks)`` and replay the buffer.

        ``last_update_id`` None (CSV) resets the book without sequencing. O(levels + buffer).
        """
        if not isinstance(payload, tuple) or len(payload) != 3:
            raise BacktestError("snapshot", payload, "a tuple (last_update_id, bids, asks)")
        last_id, bids, asks = payload
        _update_id("snapshot.last_update_id", last_id)
        bid_levels = dict(_levels("snapshot.bids", bids))
        ask_levels = dict(_levels("snapshot.asks", asks))
        self._changed_all()
        self.bids = {p: q for p, q in bid_levels.items() if q}
        self.asks = {p: q for p, q in ask_levels.items() if q}
        self._changed_all()
        self.last_update_id = last_id
        self.state = "synced" if last_id is None else "fresh"
        buffered, self._buffer = self._buffer, []
        for update in buffered:
            self.apply_depth(update)

    def apply_depth(self, payload: tuple) -> bool:
        """Apply one depth update ``(U, u, pu, bids, asks)``; True when applied, False when dropped
        or buffered. Raises BookSyncError on a gap when ``on_gap == "error"``. O(levels in it).
        """
        if not isinstance(payload, tuple) or len(payload) != 5:
            raise BacktestError(
                "depth",
                payload,
                "a tuple (first_update_id, last_update_id, prev_update_id, bids, asks)",
            )
        first, last, prev, bids, asks = payload
        if not (
            (
                type(first) is int
                and type(last) is int
                and 0 <= first <= last
                and (prev is None or (type(prev) is int and prev >= 0))
            )
            or (first is None and last is None and prev is None)
        ):
            raise BacktestError(
                "depth",
                payload[:3],
                "update ids (U, u, pu): integers 0 <= U <= u and pu >= 0 "
                "or None (spot), or all None for data without ids",
            )
        # Validated before anything changes: a bad update leaves the book as it was.
        bid_levels, ask_levels = _levels("depth.bids", bids), _levels("depth.asks", asks)
        state = self.state
        if first is not None:
            if state == "synced":
                if (
                    (prev != self.last_update_id)
                    if prev is not None
                    else (first != self.last_update_id + 1)
                ):
                    return self._gap(payload)
            elif state == "fresh":
                snap = self.last_update_id
                if prev is not None:  # USD-M: drop u < lastUpdateId; first has U <= id <= u
                    if last < snap:
                        self.dropped += 1
                        return False
                    if first > snap:
                        return self._gap(payload)
                else:  # spot: drop u <= lastUpdateId; first has U <= id + 1 <= u
                    if last <= snap:
                        self.dropped += 1
                        return False
                    if first > snap + 1:
                        return self._gap(payload)
                self.state = "synced"
            else:  # waiting for a snapshot: keep the update for it
                if len(self._buffer) >= _MAX_BUFFER:
                    del self._buffer[0]
                    self.dropped += 1
                self._buffer.append(payload)
                return False
            self.last_update_id = last
        elif state not in ("synced", "fresh"):
            self.dropped += 1
            return False
        # The sizes go in (the last of a price wins, from a dict or from the parsers' pairs alike),
        # then the prices whose size is now 0 come out again.
        for levels, book in ((bid_levels, self.bids), (ask_levels, self.asks)):
            if levels:
                book.update(levels)
                if type(levels) is dict:  # all in C: compress over the sizes' truth values
                    _drain(map(book.__delitem__, compress(levels, map(_not, levels.values()))))
                else:
                    for price in [p for p, q in levels if not q]:
                        if not book.get(price, 1):  # 0 is its last size (and still there)
                            del book[price]
        self._changed(bid_levels, ask_levels)
        self.applied += 1
        self.levels_applied += len(bids) + len(asks)
        return True

    def _gap(self, payload: tuple) -> bool:
        if self.on_gap == "error":
            raise BookSyncError(
                "depth update",
                {"U": payload[0], "u": payload[1], "pu": payload[2]},
                f"an update following last_update_id {self.last_update_id}",
            )
        self.gaps += 1
        self._changed_all()
        self.bids, self.asks = {}, {}
        self.state = "waiting"
        self._buffer = [payload]
        return False

    def _check(self) -> None:
        """Assert the invariants: positive int sizes, and an uncrossed book when synced."""
        for side in (self.bids, self.asks):
            for price, qty in side.items():
                assert type(price) is int and price > 0 and type(qty) is int and qty > 0
        assert self.state in ("waiting", "fresh", "synced", "gap")


class ReplayBookVenue:
    """A venue rebuilt from the recording: the L2 book plus an exact OrderBook we trade against.

    Units: ticks and lots of ``grid``; quote amounts through :class:`ReplayBookAdapter`. Sync is
    O(changed levels); a recorded trade touches the OrderBook only while we rest orders here.
    ``on_fill`` (optional) is called with each fill of our resting orders.
    """

    def __init__(
        self,
        name: str,
        symbol: str,
        grid: Grid,
        *,
        quote_decimals: int = 8,
        taker_fee_pips: int = 0,
        maker_fee_pips: int = 0,
        leg_cost: Decimal = Decimal(0),
        kind: str = "spot",
        owner: str = "router",
        on_gap: str = "resync",
        queue_model: QueueModel | None = None,
    ) -> None:
        for field, value in (("name", name), ("symbol", symbol), ("owner", owner)):
            if not isinstance(value, str) or not value:
                raise BacktestError(field, value, "a non-empty string")
        if owner in (MARKET_OWNER, TAPE_OWNER):
            raise BacktestError(
                "owner", owner, f"a name other than {MARKET_OWNER!r} and {TAPE_OWNER!r}"
            )
        if not isinstance(grid, Grid):
            raise BacktestError("grid", grid, "a router.sim.feed.Grid")
        if kind not in ("spot", "perp"):
            raise BacktestError("kind", kind, "'spot' or 'perp'")
        for field, value, hi in (
            ("quote_decimals", quote_decimals, 36),
            ("taker_fee_pips", taker_fee_pips, 999_999),
            ("maker_fee_pips", maker_fee_pips, 999_999),
        ):
            if type(value) is not int or not 0 <= value <= hi:
                raise BacktestError(field, value, f"an integer in [0, {hi}]")
        if not isinstance(leg_cost, Decimal) or not leg_cost.is_finite() or leg_cost < 0:
            raise BacktestError("leg_cost", leg_cost, "a Decimal >= 0 (quote per leg)")
        self.name = name
        self.symbol = symbol
        self.grid = grid
        self.owner = owner
        self.queue_model: QueueModel = RiskAverseQueue() if queue_model is None else queue_model
        self.l2 = L2Book(on_gap)
        self.book = OrderBook(
            symbol,
            tick_size=grid.tick_size,
            lot_size=grid.lot_size,
            maker_fee_pips=maker_fee_pips,
            taker_fee_pips=taker_fee_pips,
            kind=kind,
        )
        self.adapter = ReplayBookAdapter(
            self, quote_decimals=quote_decimals, taker_fee_pips=taker_fee_pips, leg_cost=leg_cost
        )
        # side ("buy" = bids, "sell" = asks) -> price -> market order ids, front first
        self._market: dict[str, dict[int, list[str]]] = {"buy": {}, "sell": {}}
        self._consumed: dict[str, dict[int, int]] = {"buy": {}, "sell": {}}
        self._tape_taken: dict[str, dict[int, int]] = {"buy": {}, "sell": {}}
        self._seq = 0
        self._ours: list[str] = []  # ids of our orders that may still rest
        self.maker_fills: list[Any] = []  # fills of our resting orders, oldest first
        self.on_fill: Callable[[Any], None] | None = None

    # -- data events --------------------------------------------------------------------------

    def on_snapshot(self, payload: tuple) -> None:
        """A REST snapshot of the recording."""
        self.l2.apply_snapshot(payload)

    def on_depth(self, payload: tuple) -> None:
        """A depth update of the recording; the OrderBook follows lazily. O(levels in it)."""
        l2 = self.l2
        if not l2.apply_depth(payload):
            return
        tape = self._tape_taken
        if tape["buy"] or tape["sell"]:
            for side, levels in (("buy", payload[3]), ("sell", payload[4])):
                taken = tape[side]
                for price, _ in levels:
                    taken.pop(price, None)
        consumed = self._consumed
        if consumed["buy"] or consumed["sell"]:
            for side, recorded in (("buy", l2.bids), ("sell", l2.asks)):
                for price in list(consumed[side]):
                    left = min(consumed[side][price], recorded.get(price, 0))
                    if left:
                        consumed[side][price] = left
                    else:
                        del consumed[side][price]
        if self._ours and self.has_resting():
            # While we rest here every update is applied at once: the queue model must see each
            # change of our level, not the net of several.
            self.sync()

    def on_trade(self, payload: tuple) -> None:
        """A recorded trade: replayed against the OrderBook while we rest orders here."""
        # Unpacked first (one C step), then checked: this runs for every recorded trade.
        try:
            _, price, qty, aggressor = payload if type(payload) is tuple else ()
        except ValueError:
            price = None
        if (
            type(price) is not int
            or type(qty) is not int
            or price <= 0
            or qty <= 0
            or (aggressor != "buy" and aggressor != "sell")
        ):
            raise BacktestError(
                "trade",
                payload,
                "a tuple (trade_id, price_ticks > 0, qty_lots > 0, 'buy' | 'sell')",
            )
        consumed = self._consumed["sell" if aggressor == "buy" else "buy"]
        if consumed and price in consumed:
            left = consumed[price] - qty
            if left > 0:
                consumed[price] = left
            else:
                del consumed[price]
        if not self._ours or not self.has_resting():
            return
        maker_side = "sell" if aggressor == "buy" else "buy"
        self.sync()
        self._seq += 1
        result = self.book.place_market(
            f"tape{self._seq}", TAPE_OWNER, aggressor, qty, protection_price_ticks=price
        )
        taken = self._tape_taken[maker_side]
        for fill in result.fills:
            if fill.maker_owner == MARKET_OWNER:
                taken[fill.price_ticks] = taken.get(fill.price_ticks, 0) + fill.qty_lots
            elif fill.maker_owner == self.owner:
                self._our_fill(fill)

    # -- the simulated book -------------------------------------------------------------------

    def has_resting(self) -> bool:
        """True while one of our orders rests here. O(our orders)."""
        ours = self._ours
        if ours:
            ours[:] = [oid for oid in ours if self.book.order(oid) is not None]
        return bool(ours)

    def sync(self) -> None:
        """Bring the OrderBook's market orders to the recorded levels that changed. O(changed levels)."""
        l2 = self.l2
        if not l2.dirty_bids and not l2.dirty_asks:
            return
        live = l2.state in ("synced", "fresh")
        work = []
        for side, recorded, dirty in (
            ("buy", l2.bids, l2.dirty_bids),
            ("sell", l2.asks, l2.dirty_asks),
        ):
            consumed, taken = self._consumed[side], self._tape_taken[side]
            for price in dirty:
                target = recorded.get(price, 0) if live else 0
                if target:
                    target = max(0, target - consumed.get(price, 0) - taken.get(price, 0))
                work.append((target - self._market_lots(side, price), side, price))
        l2.clear_dirty()
        # Shrinks first, then growth, so that the book never crosses between two levels of one update.
        work.sort(key=lambda w: w[0])
        for delta, side, price in work:
            if delta < 0:
                self._shrink(side, price, -delta)
            elif delta > 0:
                self._grow(side, price, delta)

    def _market_lots(self, side: str, price: int) -> int:
        ids = self._market[side].get(price)
        if not ids:
            return 0
        total = 0
        alive = []
        for oid in ids:
            order = self.book.order(oid)
            if order is not None:
                total += order.qty_lots
                alive.append(oid)
        if alive:
            self._market[side][price] = alive
        else:
            del self._market[side][price]
        return total

    def _shrink(self, side: str, price: int, lots: int) -> None:
        """Take ``lots`` of recorded cancellations off the level: from the back, except that when
        one of our orders rests here the queue model says how many were ahead of it."""
        ids = self._market[side][price]
        ours = self._our_seq(side, price)
        if ours is None:
            self._take(ids, lots)
        else:
            seqs = {oid: self.book.order(oid).seq for oid in ids}
            ahead_ids = [oid for oid in ids if seqs[oid] < ours]
            behind_ids = [oid for oid in ids if seqs[oid] > ours]
            ahead = sum(self.book.order(oid).qty_lots for oid in ahead_ids)
            behind = sum(self.book.order(oid).qty_lots for oid in behind_ids)
            from_ahead = cancelled_ahead(self.queue_model, ahead, behind, lots)
            # The ahead part leaves nearest to us (the back of the orders ahead): only the amount
            # ahead matters to our fills, not which recorded orders they were.
            self._take(ahead_ids, from_ahead)
            self._take(behind_ids, lots - from_ahead)
            ids[:] = ahead_ids + behind_ids
        if not ids:
            del self._market[side][price]

    def _take(self, ids: list[str], lots: int) -> None:
        """Remove ``lots`` from the market orders ``ids``, the last first (cancel or shrink in
        place, which keeps priority); the ids removed leave the list."""
        while lots and ids:
            oid = ids[-1]
            have = self.book.order(oid).qty_lots
            if have <= lots:
                self.book.cancel(oid)
                ids.pop()
                lots -= have
            else:
                self.book.amend(oid, qty_lots=have - lots)
                lots = 0

    def _our_seq(self, side: str, price: int) -> int | None:
        """Time priority of our frontmost open order at the level, or None. O(our orders)."""
        best = None
        for oid in self._ours:
            order = self.book.order(oid)
            if (
                order is not None
                and order.side == side
                and order.price_ticks == price
                and (best is None or order.seq < best)
            ):
                best = order.seq
        return best

    def _grow(self, side: str, price: int, lots: int) -> None:
        self._seq += 1
        oid = f"mkt{self._seq}"
        result = self.book.place_limit(oid, MARKET_OWNER, side, price, lots)
        for fill in result.fills:
            if fill.maker_owner == self.owner:
                self._our_fill(fill)
        if result.resting_lots:
            self._market[side].setdefault(price, []).append(oid)

    def _our_fill(self, fill: Any) -> None:
        self.maker_fills.append(fill)
        if self.on_fill is not None:
            self.on_fill(fill)

    def taker_consumed(self, side: str, before: dict[int, int]) -> None:
        """Record lots our taker order took from market orders (``before``: level -> market lots)."""
        if side not in ("buy", "sell"):
            raise BacktestError("side", side, "'buy' or 'sell' (the book side taken from)")
        if not isinstance(before, dict):
            raise BacktestError("before", before, "a dict price_ticks -> market lots")
        consumed = self._consumed[side]
        for price, lots in before.items():
            took = lots - self._market_lots(side, price)
            if took > 0:
                consumed[price] = consumed.get(price, 0) + took

    # -- our resting orders -------------------------------------------------------------------

    def place_limit(self, order_id: str, side: str, price_ticks: int, qty_lots: int) -> Any:
        """Rest (or take, when marketable) a GTC limit order of ours; returns the OrderResult.

        Arguments are checked before anything moves; the OrderBook's own refusals (a VenueError)
        leave it unchanged too."""
        if not isinstance(order_id, str) or not order_id or self.book.order(order_id) is not None:
            raise BacktestError("order_id", order_id, f"a new non-empty order id on {self.name}")
        if side not in ("buy", "sell"):
            raise BacktestError("side", side, "'buy' or 'sell'")
        for field, value in (("price_ticks", price_ticks), ("qty_lots", qty_lots)):
            if type(value) is not int or value <= 0:
                raise BacktestError(field, value, "an integer > 0")
        self.sync()
        opposite = "sell" if side == "buy" else "buy"
        before = self._levels_through(opposite, side, price_ticks)
        result = self.book.place_limit(order_id, self.owner, side, price_ticks, qty_lots)
        self.taker_consumed(opposite, before)
        if result.resting_lots:
            self._ours.append(order_id)
        return result

    def cancel(self, order_id: str) -> Any:
        """Cancel our resting order; returns its last snapshot."""
        order = self.book.order(order_id) if isinstance(order_id, str) else None
        if order is None or order.owner != self.owner:
            raise BacktestError("order_id", order_id, f"one of our open orders on {self.name}")
        return self.book.cancel(order_id)

    def queue_ahead_lots(self, order_id: str) -> int:
        """Lots resting ahead of our order at its price (time priority). O(orders at the level)."""
        order = self.book.order(order_id) if isinstance(order_id, str) else None
        if order is None:
            raise BacktestError("order_id", order_id, f"an open order on {self.name}")
        self.sync()
        ahead = 0
        for other in self.book.open_orders():
            if (
                other.side == order.side
                and other.price_ticks == order.price_ticks
                and other.seq < order.seq
            ):
                ahead += other.qty_lots
        return ahead

    def _levels_through(self, book_side: str, taker_side: str, limit: int | None) -> dict[int, int]:
        """Market lots at each level a taker on ``taker_side`` could reach up to ``limit``."""
        out = {}
        for price in list(self._market[book_side]):
            if limit is None or (price <= limit if taker_side == "buy" else price >= limit):
                out[price] = self._market_lots(book_side, price)
        return out

    def mid_ticks2(self) -> int | None:
        """bid + ask in ticks (twice the mid, an integer) of the simulated book; None if a side is empty."""
        self.sync()
        bid, ask = self.book.best_bid(), self.book.best_ask()
        return None if bid is None or ask is None else bid + ask

    def touch(self) -> tuple[Decimal, Decimal] | None:
        """(best bid, best ask) of the simulated book in quote per base; None if a side is empty."""
        self.sync()
        bid, ask = self.book.best_bid(), self.book.best_ask()
        if bid is None or ask is None:
            return None
        return self.grid.price(bid), self.grid.price(ask)

    def _check(self) -> None:
        """Invariants: the OrderBook's own, the L2 book's, and market orders never above the recording."""
        self.book._check()
        self.l2._check()
        if (
            not self.l2.dirty_bids
            and not self.l2.dirty_asks
            and self.l2.state in ("synced", "fresh")
        ):
            for side, recorded in (("buy", self.l2.bids), ("sell", self.l2.asks)):
                for price in list(self._market[side]):
                    assert self._market_lots(side, price) <= recorded.get(price, 0)


class ReplayBookAdapter(OrderBookAdapter):
    """The VenueAdapter of a replayed book: syncs before every read and remembers what it takes."""

    def __init__(
        self, venue: ReplayBookVenue, *, quote_decimals: int, taker_fee_pips: int, leg_cost: Decimal
    ) -> None:
        super().__init__(
            venue.name,
            venue.symbol,
            venue.book,
            quote_decimals=quote_decimals,
            taker_fee_pips=taker_fee_pips,
            leg_cost=leg_cost,
            owner=venue.owner,
        )
        self.venue = venue

    def depth_curve(self, side: str):  # type: ignore[override]
        self.venue.sync()
        return super().depth_curve(side)

    def quote(self, side: str, qty: Decimal):  # type: ignore[override]
        self.venue.sync()
        return super().quote(side, qty)

    def quote_for_quote(self, side: str, quote_amount: Decimal):  # type: ignore[override]
        self.venue.sync()
        return super().quote_for_quote(side, quote_amount)

    def best_prices(self):  # type: ignore[override]
        self.venue.sync()
        return super().best_prices()

    async def execute(self, order: LegOrder) -> LegFill:
        """Execute as the plain book adapter does, then remember the market lots taken per level."""
        self.venue.sync()
        book_side = "sell" if getattr(order, "side", None) == "buy" else "buy"
        before = self.venue._levels_through(book_side, getattr(order, "side", "buy"), None)
        fill = await super().execute(order)
        self.venue.taker_consumed(book_side, before)
        return fill
