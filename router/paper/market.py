"""The paper market simulator: a seeded reference price, makers, arbitrageurs and funding.

One :meth:`MarketSimulator.step` is one tick of simulated time (``tick_ns`` nanoseconds). In a
tick, for every spot symbol:

1. the reference price moves: a seeded random walk on the 1e-8 price grid (integer units), or,
   for the symbol a data file is replayed for (``SimParams.replay_path``), the recorded mid
   (best bid + best ask) / 2 of the last top-of-book event at or before the tick's simulated time
   (exchange time), rounded down to the grid; before the first event the first mid, after the last
   the last one. Only the symbols of a spanning tree of the asset graph move on their own (the
   *driving* symbols: the replayed one first, then those of the ledger's quote asset, then the
   rest, sorted); every other spot symbol is *derived*, its reference the cross of the tree's
   (``ETH/USDT`` = ``ETH/USDC`` x ``USDC/USDT``, rounded down to the grid), so the references of
   a market with several quote assets never offer a triangular arbitrage and a multi-hop route
   sees the same prices as a direct one;
2. makers refresh each order book around it (spot books at the reference, perpetual books at the
   reference plus a small mean-reverting premium): a ladder of POST_ONLY quotes, one order per
   (side, level), amended in place (``OrderBook.amend``: same id, new price and size, queue
   priority lost when the price moves); a level that would take liquidity sits out (its order is
   cancelled, or not placed), so makers never trade. A level's order gets a new id only when it
   is gone (filled by a taker, or cancelled that way): the ids a book remembers grow with fills,
   not with ticks;
3. arbitrageurs trade every pool back towards the reference when that pays, gas (``leg_cost``)
   included: they buy up to the quantity at which the pool's all-in marginal price reaches the
   reference (or sell down to it) and trade only when the exact re-quote shows a profit;
4. the margin ledger's marks follow (spot assets at the reference, perp markets at their book's
   mid) and funding accrues every ``funding_interval_ticks``; the liquidations that are then
   due run at the desk (router/paper/desk.py), through the venues.

Determinism: the random draw of tick ``k`` of symbol ``s`` comes from its own generator seeded
with ``(seed, s, k)``, so a replay that interleaves the same commands between the same ticks
rebuilds the same state bit for bit. Prices are integers (1e-8 quote per base); floats appear only
inside the depth-curve search that sizes an arbitrage, never in an amount that is booked.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction
from typing import Any

from router.margin.funding import PremiumSamples, market_premium_units
from router.model.errors import ConfigError, CrossrouteError
from router.model.orders import LegFill, LegOrder
from router.sim.pools import arbitrage_leg

__all__ = [
    "PRICE_SCALE",
    "MarketSimulator",
    "ReplayPrice",
    "SimParams",
    "TickReport",
    "cross_e8",
    "price_text",
    "price_tree",
]

PRICE_SCALE = 10**8  # reference prices are integers of 1e-8 quote per base (the marks' grid)
# Arbitrage legs are whole 1e-8 base: coarse enough for every pool's base units, fine enough to
# close the gap to the reference.
_ARB_QUANTUM = Decimal("1e-8")
MAKER = "paper-maker"
SEED_OWNER = "config-maker"


def price_text(price_e8: int) -> str:
    """An integer 1e-8 price as a fixed-point decimal string (exact)."""
    return format(Decimal(price_e8).scaleb(-8), "f")


def price_tree(
    symbols: Iterable[str], roots: Iterable[str], preferred: Iterable[str] = ()
) -> dict[str, list[tuple[str, int]]]:
    """How each derived spot symbol's reference follows from the driving ones.

    The driving symbols are the edges of a spanning forest of the asset graph (assets as nodes,
    symbols ``BASE/QUOTE`` as edges), grown breadth-first from the assets ``roots`` (in that
    order), then from any asset left (sorted); the ``preferred`` symbols are taken first, then the
    rest sorted. Returns, per derived symbol (every symbol off the forest), the driving symbols
    whose references multiply (exponent 1) or divide (-1) into its own. O(symbols x assets)."""
    preferred = set(preferred)
    edges = sorted(set(symbols), key=lambda s: (s not in preferred, s))
    pairs = {s: s.split("/", 1) for s in edges}
    # value_of[asset]: the driving symbols whose product is the asset's price in its tree's root
    value_of: dict[str, list[tuple[str, int]]] = {}
    for root in [*roots, *sorted({a for pair in pairs.values() for a in pair})]:
        if root in value_of or not any(root in pair for pair in pairs.values()):
            continue
        value_of[root] = []
        frontier = [root]
        while frontier:
            reached = []
            for asset in frontier:
                for symbol in edges:
                    base, quote = pairs[symbol]
                    if quote == asset and base not in value_of:  # base = quote x price
                        value_of[base] = [*value_of[asset], (symbol, 1)]
                        reached.append(base)
                    elif base == asset and quote not in value_of:  # quote = base / price
                        value_of[quote] = [*value_of[asset], (symbol, -1)]
                        reached.append(quote)
            frontier = reached
    driving = {symbol for path in value_of.values() for symbol, _ in path}
    # Base and quote of a derived symbol are in one tree (breadth-first reaches a whole part of
    # the graph): its price is value(base) / value(quote), the common part cancelling.
    return {
        symbol: [*value_of[pairs[symbol][0]], *((s, -e) for s, e in value_of[pairs[symbol][1]])]
        for symbol in edges
        if symbol not in driving
    }


def cross_e8(refs: dict[str, int], path: list[tuple[str, int]]) -> int:
    """A derived reference (1e-8 units, rounded down) from the driving references on ``path``."""
    price = Fraction(1)
    for symbol, exponent in path:
        price *= Fraction(refs[symbol], PRICE_SCALE) ** exponent
    return max(1, math.floor(price * PRICE_SCALE))


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError("<paper>", name, value, f"an integer >= {minimum}")
    return value


@dataclass(frozen=True, slots=True)
class SimParams:
    """Simulator settings. Units are in the names: ``*_ns`` integer nanoseconds of simulated time,
    ``*_bps`` basis points of the reference price, ``*_ticks`` simulator ticks.

    ``vol_bps``: standard deviation of one tick's reference move (the walk is Gaussian, rounded
    to the 1e-8 grid). ``maker_*``: ladder shape (levels per side, distance of the first level and
    between levels, base quantity of level 0, level k holding (k+1) times that). ``premium_bps``:
    bound of the perpetual premium over the reference.
    """

    seed: int = 7
    tick_ns: int = 1_000_000_000
    start_ns: int = (
        1_723_161_254_000_000_000  # 2024-08-08 23:54:14 UTC, the default book's snapshot
    )
    vol_bps: int = 2
    maker_levels: int = 12
    maker_half_spread_bps: int = 1
    maker_step_bps: int = 1
    maker_qty: str = "0.5"
    premium_bps: int = 5
    funding_interval_ticks: int = 3600
    pnl_every_ticks: int = 10
    replay_path: str = (
        ""  # a Binance capture or CSV file (router/backtest/feed.py): its mid is the reference
    )
    replay_symbol: str = ""  # the spot symbol it drives ("" = the first spot symbol, sorted)

    def __post_init__(self) -> None:
        _positive_int("seed", self.seed, 0)
        _positive_int("tick_ns", self.tick_ns)
        _positive_int("start_ns", self.start_ns, 0)
        _positive_int("vol_bps", self.vol_bps, 0)
        _positive_int("maker_levels", self.maker_levels, 0)
        _positive_int("maker_half_spread_bps", self.maker_half_spread_bps, 0)
        _positive_int("maker_step_bps", self.maker_step_bps)
        _positive_int("premium_bps", self.premium_bps, 0)
        _positive_int("funding_interval_ticks", self.funding_interval_ticks)
        _positive_int("pnl_every_ticks", self.pnl_every_ticks)
        for name in ("replay_path", "replay_symbol"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError("<paper>", name, getattr(self, name), "a string")
        qty = Decimal(self.maker_qty) if isinstance(self.maker_qty, str) else Decimal(-1)
        if not qty.is_finite() or qty <= 0:
            raise ConfigError("<paper>", "maker_qty", self.maker_qty, "a decimal string > 0")

    def to_json_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class TickReport:
    """What one tick did: arbitrage fills (venue, side, qty, quote), funding rates."""

    tick: int
    t_ns: int
    arbitrage: list[LegFill] = field(default_factory=list)
    funding: dict[str, Decimal] = field(default_factory=dict)


class ReplayPrice:
    """A recorded reference price: the mid of a data file's top of book over exchange time.

    Parsed by the backtester's exact parser (``router.sim.feed.read_feed``) on the 1e-8 grid,
    so a mid is an integer of 1e-8 quote per base, (bid + ask) // 2 (rounded down). Top-of-book
    events (bookTicker) and depth snapshots give mids; a file with neither uses its trade prices.
    ``at(t_ns)`` is O(log events).
    """

    def __init__(self, path: str) -> None:
        from router.sim.errors import FeedError
        from router.sim.feed import SNAPSHOT, TICKER, TRADE, Grid, read_feed

        try:
            feed = read_feed(path, Grid("0.00000001", "0.00000001"))
        except FeedError as exc:
            raise ConfigError(
                str(path), "replay", str(path), f"a readable market data file ({exc})"
            ) from None
        times: list[int] = []
        mids: list[int] = []
        for exch_ns, _, _, kind, payload in feed.events:
            if kind == TICKER:
                mid = (payload[0] + payload[2]) // 2
            elif kind == SNAPSHOT and payload[1] and payload[2]:
                mid = (payload[1][0][0] + payload[2][0][0]) // 2
            else:
                continue
            times.append(exch_ns)
            mids.append(mid)
        if not mids:
            for exch_ns, _, _, kind, payload in feed.events:
                if kind == TRADE:
                    times.append(exch_ns)
                    mids.append(payload[1])
        if not mids:
            raise ConfigError(
                str(path),
                "replay",
                str(path),
                "a data file with top-of-book, snapshot or trade events",
            )
        self.path = str(path)
        self.sha256 = feed.sha256
        self.times_ns = times
        self.mids_e8 = mids

    def at(self, t_ns: int) -> int:
        """The mid (1e-8 units) of the last event at or before ``t_ns`` (the first before it starts)."""
        index = bisect.bisect_right(self.times_ns, t_ns) - 1
        return self.mids_e8[max(index, 0)]


def _draw(seed: int, symbol: str, tick: int) -> float:
    """One N(0, 1) draw for ``symbol`` at ``tick``, independent of every other draw."""
    digest = hashlib.sha256(f"{seed}|{symbol}|{tick}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big")).gauss(0.0, 1.0)


class MarketSimulator:
    """Evolves a built market (``router.app.Market``) and keeps a margin ledger's marks in line.

    ``perp_markets`` maps perp symbols (``ETH/USDC:USDC``) to ledger market names. One ``step`` is
    O(books x levels + pools x depth-curve size).
    """

    def __init__(
        self, market: Any, ledger: Any, perp_markets: dict[str, str], params: SimParams
    ) -> None:
        if not isinstance(params, SimParams):
            raise ConfigError("<paper>", "params", params, "a SimParams")
        self.market = market
        self.ledger = ledger
        self.perp_markets = dict(perp_markets)
        self.params = params
        self.tick = 0
        self.instruments: dict[str, str] = market.instruments()
        self.refs: dict[str, int] = {}  # spot symbol -> reference price (1e-8 units)
        self.premium_e8: dict[str, int] = {}  # perp symbol -> premium over its spot reference
        # perp market -> this funding interval's premium samples so far: one premium (1e-12,
        # mark over index) per tick, averaged at funding with Binance's weights
        # (router/margin/funding.py PremiumSamples: two integers, not one per tick)
        self.premium_sums: dict[str, PremiumSamples] = {}
        for symbol in market.symbols("spot"):
            mid = market.mid_price(symbol)
            if mid is None:
                raise ConfigError(
                    market.config.file, "venues", symbol, f"a venue with a mid price for {symbol}"
                )
            self.refs[symbol] = int(mid.scaleb(8).to_integral_value(ROUND_FLOOR))
        for symbol in market.symbols("perp"):
            spot = symbol.split(":", 1)[0]
            if spot not in self.refs:
                raise ConfigError(
                    market.config.file, "venues", symbol, f"a spot venue trading {spot} (its index)"
                )
            mid = market.mid_price(symbol)
            self.premium_e8[symbol] = 0 if mid is None else int(mid.scaleb(8)) - self.refs[spot]
        # book -> slot ("b0", "s3": side and level) -> generation of the slot's current order id
        self._maker_slots: dict[str, dict[str, int]] = {}
        self._maker_center: dict[str, int] = {}
        self._order_counter = 0
        self.replay: ReplayPrice | None = None
        self.replay_symbol = ""
        if params.replay_path:
            spots = sorted(self.refs)
            symbol = params.replay_symbol or (spots[0] if spots else "")
            if symbol not in self.refs:
                raise ConfigError(
                    "<paper>", "replay_symbol", params.replay_symbol, f"one of {spots}"
                )
            self.replay = ReplayPrice(params.replay_path)
            self.replay_symbol = symbol
            self.refs[symbol] = self.replay.at(self.t_ns)
        # Spot symbols whose reference is the cross of the driving ones (module docstring).
        self.derived = price_tree(
            self.refs,
            [*self.replay_symbol.split("/", 1)[1:], ledger.quote_asset],
            [self.replay_symbol],
        )
        for symbol, path in sorted(self.derived.items()):
            self.refs[symbol] = cross_e8(self.refs, path)

    # -- time ------------------------------------------------------------------------------------

    @property
    def t_ns(self) -> int:
        """Simulated time now, integer nanoseconds since the epoch."""
        return self.params.start_ns + self.tick * self.params.tick_ns

    def ref_price(self, symbol: str) -> Decimal:
        """The reference (index) price of a spot symbol, or of a perp's spot symbol."""
        return Decimal(self.refs[symbol.split(":", 1)[0]]).scaleb(-8)

    # -- one tick ----------------------------------------------------------------------------------

    async def step(self) -> TickReport:
        """Advance one tick (see the module docstring). Returns what it did."""
        self.tick += 1
        report = TickReport(self.tick, self.t_ns)
        p = self.params
        for symbol in sorted(self.refs):
            if symbol in self.derived:
                continue
            if symbol == self.replay_symbol:
                self.refs[symbol] = self.replay.at(self.t_ns)  # type: ignore[union-attr]
                continue
            z = _draw(p.seed, symbol, self.tick)
            ref = self.refs[symbol]
            # Gaussian move in bps of the price, rounded to the grid; a price never reaches zero.
            self.refs[symbol] = max(PRICE_SCALE // 100, ref + round(z * p.vol_bps * ref / 10_000))
        for symbol, path in sorted(self.derived.items()):
            self.refs[symbol] = cross_e8(self.refs, path)
        for symbol in sorted(self.premium_e8):
            spot_ref = self.refs[symbol.split(":", 1)[0]]
            bound = spot_ref * p.premium_bps // 10_000
            z = _draw(p.seed, symbol, self.tick)
            # Mean reversion towards zero, so the premium (and so funding) changes sign over time.
            drift = -self.premium_e8[symbol] // 10
            step = round(z * bound / 4)
            self.premium_e8[symbol] = max(
                -bound, min(bound, self.premium_e8[symbol] + drift + step)
            )
        for name, adapter in self.market.adapters.items():
            if hasattr(adapter, "book"):
                self._refresh_book(name, adapter)
        for name, adapter in self.market.adapters.items():
            if not hasattr(adapter, "book"):
                fill = await self._arbitrage(name, adapter)
                if fill is not None:
                    report.arbitrage.append(fill)
        self._update_marks()
        self._sample_premiums()
        if self.tick % p.funding_interval_ticks == 0:
            for _symbol, name in sorted(self.perp_markets.items()):
                # no valid sample (premiums None): the premium of the marks now
                premiums = self.premium_sums.pop(name, PremiumSamples()).premiums()
                try:
                    report.funding[name] = self.ledger.accrue_funding(name, premiums)
                except CrossrouteError:
                    pass  # an invalid mark blocks funding for this interval; the journal shows none
        return report  # liquidations that are now due run at the desk, through the venues

    def center_e8(self, symbol: str) -> int:
        """Where makers quote ``symbol``: the reference, plus the premium for a perp."""
        spot = symbol.split(":", 1)[0]
        return self.refs[spot] + self.premium_e8.get(symbol, 0)

    def _refresh_book(self, name: str, adapter: Any) -> None:
        """Re-quote the makers' ladder on one book around its center, in place.

        Each (side, level) slot owns one order id, ``mk-<book>-<b|s><level>-<generation>``. A
        refresh amends that order to the level's new price (ticks: bids rounded down, asks up) and
        full size (level k: (k + 1) x ``maker_qty`` lots); the generation, and so the id, changes
        only when the slot's order is gone (taken by a taker, or cancelled because it would cross
        someone else's resting order). The book's remembered ids (its duplicate-id contract) thus
        grow with fills, not with ticks. O(levels) book calls, each O(1), O(log L) on a new level.
        """
        book = adapter.book
        center = self.center_e8(adapter.symbol)
        previous = self._maker_center.get(name)
        if previous == center:
            return  # nothing moved: keep the queue position of the quotes
        self._maker_center[name] = center
        slots = self._maker_slots.get(name)
        if slots is None:
            # The config's seed levels are a snapshot of one instant; makers take over from here.
            for order in list(book.open_orders(SEED_OWNER)):
                book.cancel(order.order_id)
            slots = self._maker_slots[name] = {}
        p = self.params
        tick_e8 = int(book.tick_size.scaleb(8))
        base_lots = book.qty_to_lots(
            Decimal(p.maker_qty).quantize(book.lot_size, rounding=ROUND_FLOOR)
        )
        # Both sides' prices are monotone in the center, so moving first the side that moves away
        # from the other (asks when the center rises) never crosses the makers' own quotes that
        # are still at the old center.
        sides = ("sell", "buy") if previous is None or center > previous else ("buy", "sell")
        for side in sides:
            for level in range(p.maker_levels):
                offset = center * (p.maker_half_spread_bps + level * p.maker_step_bps) // 10_000
                # bids round down, asks up: a maker never quotes inside its own intended spread
                ticks = (
                    (center - offset) // tick_e8
                    if side == "buy"
                    else -(-(center + offset) // tick_e8)
                )
                self._quote(
                    book, name, slots, f"{side[0]}{level}", side, ticks, base_lots * (level + 1)
                )

    @staticmethod
    def _quote(
        book: Any,
        name: str,
        slots: dict[str, int],
        slot: str,
        side: str,
        price_ticks: int,
        qty_lots: int,
    ) -> None:
        """Bring one ladder slot's order to ``price_ticks`` x ``qty_lots`` (``price_ticks <= 0``:
        no quote). Amends the live order; places the slot's next id only when it has none."""
        generation = slots.get(slot)
        order_id = None if generation is None else f"mk-{name}-{slot}-{generation}"
        order = None if order_id is None else book.order(order_id)
        if order is not None:
            if price_ticks <= 0:
                book.cancel(order_id)
            elif order.price_ticks != price_ticks or order.qty_lots != qty_lots:
                try:
                    book.amend(order_id, price_ticks=price_ticks, qty_lots=qty_lots)
                except CrossrouteError:
                    # It would cross a trader's resting order (or break a book rule): this level
                    # sits out, as a new POST_ONLY quote would; its next order takes a new id.
                    book.cancel(order_id)
            return
        if price_ticks <= 0:
            return
        generation = 0 if generation is None else generation + 1
        order_id = f"mk-{name}-{slot}-{generation}"
        try:
            book.place_limit(order_id, MAKER, side, price_ticks, qty_lots, "POST_ONLY")
        except CrossrouteError as exc:
            if getattr(exc, "code", None) == "DUPLICATE_ORDER_ID":
                slots[slot] = generation  # someone else's order took this id: never try it again
            # Otherwise it would cross a resting order: skip the level. A refused order changes
            # nothing in the book, so the id stays unused and the next refresh tries it again.
            return
        slots[slot] = generation

    async def _arbitrage(self, name: str, adapter: Any) -> LegFill | None:
        ref = Decimal(self.refs[adapter.symbol]).scaleb(-8)
        for side in ("buy", "sell"):
            try:
                leg = arbitrage_leg(adapter, side, ref, _ARB_QUANTUM)
            except CrossrouteError:
                continue  # no curve on this side (an empty pool range)
            if leg is None:
                continue  # the gas (leg_cost) eats the edge: the pool stays off the reference
            self._order_counter += 1
            fill = await adapter.execute(
                LegOrder(name, side, leg.qty, f"arb-{self._order_counter}", leg.avg_price)
            )
            if fill.status != "rejected":
                return fill
        return None

    def _sample_premiums(self) -> None:
        """One premium sample per perp market and tick, while its mark and index are valid."""
        for _symbol, name in sorted(self.perp_markets.items()):
            sample = market_premium_units(self.ledger, name)
            if sample is not None:
                self.premium_sums[name] = self.premium_sums.get(name, PremiumSamples()).add(sample)

    def _update_marks(self) -> None:
        quote = self.ledger.quote_asset
        for symbol, ref in sorted(self.refs.items()):
            base, symbol_quote = symbol.split("/", 1)
            if symbol_quote == quote and base in self.ledger.assets:
                self.ledger.set_mark(base, price_text(ref))
        self.update_perp_marks()

    def update_perp_marks(self) -> None:
        """The perp marks from their venues' median mid now (spot marks follow the reference,
        which trades do not move): also between the steps of a liquidation, whose fills move
        the perp books."""
        for symbol, name in sorted(self.perp_markets.items()):
            mid = self.market.median_mid(symbol)  # the venues' median, outliers dropped
            if mid is not None and mid > 0:
                self.ledger.set_mark(name, mid)

    # -- views -------------------------------------------------------------------------------------

    def state_digest(self) -> str:
        """SHA-256 over the simulator and venue state that replay must reproduce (tests compare it)."""
        parts: list[str] = [
            str(self.tick),
            repr(sorted(self.refs.items())),
            repr(sorted(self.premium_e8.items())),
            repr(sorted(self.premium_sums.items())),
        ]
        for name, adapter in self.market.adapters.items():
            if hasattr(adapter, "book"):
                book = adapter.book
                parts.append(f"{name}:{book.depth('bids')}:{book.depth('asks')}")
            else:
                pool = adapter.pool
                if hasattr(pool, "reserves"):
                    parts.append(f"{name}:{pool.reserves}")
                else:
                    parts.append(f"{name}:{pool.sqrt_price_x96}:{pool.liquidity}:{pool.tick}")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def _check(self) -> None:
        """Assert: every book is uncrossed and passes its own check; references are positive."""
        for symbol, ref in self.refs.items():
            assert ref > 0, (symbol, ref)
        for name, adapter in self.market.adapters.items():
            if hasattr(adapter, "book"):
                book = adapter.book
                bid, ask = book.best_bid(), book.best_ask()
                assert bid is None or ask is None or bid < ask, (name, bid, ask)
                if hasattr(book, "_check"):
                    book._check()
