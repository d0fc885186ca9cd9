"""One backtest run: the declared set-up, the one clock, and the context strategies act through.

The clock is exchange time in integer ns. Recorded events are merged across files by
``(exch_ts_ns, seq)`` (``seq`` = file index, then line: the stable tie-break); internal events
(timers, strategy deliveries, our orders reaching a venue, arbitrage checks) sit in a heap keyed
``(ts_ns, order)`` and run before a recorded event of a later time, after one of the same time
(the exchange state of an instant is complete before we act on it).

Latency: ``constant`` (``feed_ms`` for market data to reach the strategy, ``order_ms`` for an
order to reach a venue), plus an optional uniform ``jitter_ms`` drawn from ``random.Random(seed)``
(deterministic for a seed); or ``data``: the feed latency of each event is its recorded
``local - exchange`` time minus the file's clock offset (see ``feed.Feed.clock_offset_ns``).
Multi-leg orders go through the same model: the executor runs as a task on latent venues
(:mod:`router.backtest.latent`), and after every internal event the loop lets the strategy's
tasks run until each waits on this clock (:mod:`router.backtest.idle`).

The result is a plain dict (JSON-able, Decimal as strings) so that sweeps can ship it between
processes; :mod:`router.backtest.report` turns it into files.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

from adapters.clmm import ClmmAdapter
from router.app import MARK_QUANTUM, Market, build_margin
from router.backtest.book import ReplayBookVenue
from router.backtest.coverage import Coverage, SyncLog, coverage_of
from router.backtest.idle import Tasks
from router.backtest.latency import LatencyModel, parse_latency, recorded_gaps
from router.backtest.latent import LatentVenue
from router.backtest.plugins import load_plugin
from router.backtest.queues import build_queue_model
from router.backtest.strategies import Strategy, build_strategy
from router.backtest.view import SeenBook
from router.config import FILE_KEY, Keys, MarketConfig, check_table, parse_config_data, read_toml
from router.margin.errors import OraclePriceError
from router.margin.funding import PremiumSamples, market_premium_units
from router.margin.oracle import MarkPrice
from router.margin.quantities import to_decimal
from router.model.errors import ConfigError, CrossrouteError
from router.model.orders import LegFill, LegOrder
from router.plan import plan_route
from router.sim.cache import read_feed_cached
from router.sim.errors import BacktestError
from router.sim.feed import DEPTH, SNAPSHOT, TRADE, Feed, Grid, read_feed
from router.sim.pool_events import PoolReplay, read_pool_events
from router.sim.pools import Arbitrageur, build_amm, build_clmm

__all__ = ["BacktestSpec", "Context", "ParentOrder", "load_spec", "parse_spec", "run_backtest"]

_NS_MS = 1_000_000
_LIMIT_QUANTUM = Decimal("1e-8")
_NS = 1_000_000_000
_NO_WALL_TIMEOUT_SECS = Decimal(86_400)
_LIVE = ("synced", "fresh")  # the L2 book states in which a replayed book quotes
STALE_AT_ARRIVAL = "rejected: the venue's data is stale at arrival"
_TOP = {"backtest", "data", "venues", "strategy", "margin"}


# -- the declared set-up ------------------------------------------------------------------------


@dataclass
class BacktestSpec:
    """A validated backtest declaration (``raw`` is the TOML dict it came from, for the manifest)."""

    raw: dict
    base_dir: Path
    seed: int
    start_offset_ns: int
    end_offset_ns: int | None
    latency: dict
    arb_interval_ns: int
    sample_interval_ns: int
    data: list[dict]
    venues: list[dict]
    strategy_kind: str
    strategy_params: dict
    margin: dict | None
    compare_single_venue: bool
    margin_config: MarketConfig | None = None
    file: str = "<backtest>"
    price_protection_bps: int = 50
    queue_model: str = "risk_averse"
    queue_params: dict = field(default_factory=dict)

    @property
    def scenario(self) -> str:
        """The scenario's name for titles: the config file's stem."""
        return Path(self.file).stem


def _get(table: dict, key: str, where: str, kind: type | tuple, default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise BacktestError(
                f"{where}.{key}", None, f"a required {getattr(kind, '__name__', kind)}"
            )
        return default
    value = table[key]
    if (
        (isinstance(value, bool) and kind is not bool)
        or not isinstance(value, kind)
        or isinstance(value, float)
    ):
        raise BacktestError(
            f"{where}.{key}",
            value,
            f"a {getattr(kind, '__name__', kind)} (floats are refused: use strings)",
        )
    return value


def _unknown(table: dict, allowed: set, where: str) -> None:
    check_table(where, table, Keys((), tuple(sorted(allowed))), BacktestError)


def load_spec(
    path: str | Path, overrides: dict[str, Any] | None = None, seed: int | None = None
) -> BacktestSpec:
    """Read a backtest TOML; ``overrides`` set dotted keys (``strategy.slices``) first (sweeps).

    ``seed`` (an int >= 0) replaces ``[backtest].seed``. Raises BacktestError naming the key."""
    if not isinstance(path, (str, Path)):
        raise BacktestError("config", path, "the path of a backtest TOML file")
    if overrides is not None and (
        not isinstance(overrides, dict) or not all(isinstance(k, str) and k for k in overrides)
    ):
        raise BacktestError("overrides", overrides, "a dict of dotted key -> value")
    if seed is not None and (type(seed) is not int or seed < 0):
        raise BacktestError("seed", seed, "an integer >= 0")
    p = Path(path)
    try:
        raw = read_toml(p)
    except ConfigError as exc:  # the backtester reports its inputs as BacktestError
        allowed = exc.allowed if exc.key == FILE_KEY else f"valid TOML ({exc.value})"
        raise BacktestError("config", str(path), allowed) from None
    for key, value in (overrides or {}).items():
        set_dotted(raw, key, value)
    if seed is not None:
        raw.setdefault("backtest", {})["seed"] = seed
    return parse_spec(raw, p.resolve().parent, str(path))


def set_dotted(raw: dict, key: str, value: Any) -> None:
    """Set ``a.b.c`` in nested tables; raises BacktestError if a parent is not a table."""
    parts = key.split(".")
    table = raw
    for part in parts[:-1]:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise BacktestError(
                f"sweep.{key}", value, "a key inside a table of the backtest config"
            )
    table[parts[-1]] = value


def parse_spec(raw: dict, base_dir: Path, file: str = "<backtest>") -> BacktestSpec:
    """Validate a backtest dict; every error names the key, the value and what is allowed."""
    _unknown(raw, _TOP, "config")
    bt = _get(raw, "backtest", "config", dict, {})
    _unknown(
        bt,
        {
            "seed",
            "start_offset_ms",
            "end_offset_ms",
            "latency",
            "arb_interval_ms",
            "sample_interval_ms",
            "compare_single_venue",
            "description",
            "stale_after_ms",
            "price_protection_bps",
            "queue_model",
            "queue_params",
        },
        "backtest",
    )
    seed = _get(bt, "seed", "backtest", int, 0)
    if seed < 0:
        raise BacktestError("backtest.seed", seed, "an integer >= 0")
    latency_raw = _get(bt, "latency", "backtest", dict, {})
    parse_latency(latency_raw)  # checked now (model, values); venue names once they are known
    stale_after = _get(bt, "stale_after_ms", "backtest", int, 2000)
    if not 1 <= stale_after <= 86_400_000:
        raise BacktestError(
            "backtest.stale_after_ms", stale_after, "an integer in [1, 86400000] (ms)"
        )
    protection = _get(bt, "price_protection_bps", "backtest", int, 50)
    if not 0 <= protection < 10_000:
        raise BacktestError(
            "backtest.price_protection_bps",
            protection,
            "an integer in [0, 9999] (0: no protection)",
        )
    queue_model = _get(bt, "queue_model", "backtest", str, "risk_averse")
    queue_params = _get(bt, "queue_params", "backtest", dict, {})
    build_queue_model(queue_model, queue_params)  # validated before any data is read
    data = _get(raw, "data", "config", list)
    if not data:
        raise BacktestError("data", data, "at least one [[data]] file")
    names: set[str] = set()
    parsed_data = []
    for i, entry in enumerate(data):
        where = f"data[{i}]"
        if not isinstance(entry, dict):
            raise BacktestError(where, entry, "a table")
        _unknown(
            entry,
            {
                "path",
                "venue",
                "symbol",
                "tick_size",
                "lot_size",
                "taker_fee_pips",
                "maker_fee_pips",
                "leg_cost",
                "format",
                "instrument",
                "quote_decimals",
                "on_gap",
                "stale_after_ms",
            },
            where,
        )
        item = {k: entry.get(k) for k in ("path", "venue", "symbol", "tick_size", "lot_size")}
        for key in item:
            _get(entry, key, where, str)
        path = Path(item["path"])
        item["path"] = str(path if path.is_absolute() else (base_dir / path))
        item["taker_fee_pips"] = _get(entry, "taker_fee_pips", where, int, 0)
        item["maker_fee_pips"] = _get(entry, "maker_fee_pips", where, int, 0)
        item["leg_cost"] = _get(entry, "leg_cost", where, str, "0")
        item["format"] = _get(entry, "format", where, str, "auto")
        item["instrument"] = _get(
            entry, "instrument", where, str, "perp" if ":" in item["symbol"] else "spot"
        )
        item["quote_decimals"] = _get(entry, "quote_decimals", where, int, 8)
        item["on_gap"] = _get(entry, "on_gap", where, str, "resync")
        item["stale_after_ms"] = _get(entry, "stale_after_ms", where, int, stale_after)
        if not 1 <= item["stale_after_ms"] <= 86_400_000:
            raise BacktestError(
                f"{where}.stale_after_ms",
                item["stale_after_ms"],
                "an integer in [1, 86400000] (ms)",
            )
        if item["venue"] in names:
            raise BacktestError(f"{where}.venue", item["venue"], "a venue name not used before")
        names.add(item["venue"])
        parsed_data.append(item)
    venues = []
    for i, entry in enumerate(_get(raw, "venues", "config", list, [])):
        where = f"venues[{i}]"
        if not isinstance(entry, dict):
            raise BacktestError(where, entry, "a table")
        name = _get(entry, "name", where, str)
        if name in names:
            raise BacktestError(f"{where}.name", name, "a venue name not used before")
        names.add(name)
        if "plugin" in entry:
            _unknown(entry, {"name", "plugin", "symbol", "params"}, where)
            venues.append(
                {
                    "name": name,
                    "plugin": _get(entry, "plugin", where, str),
                    "symbol": _get(entry, "symbol", where, str),
                    "params": _get(entry, "params", where, dict, {}),
                }
            )
            continue
        kind = _get(entry, "kind", where, str)
        if kind not in ("amm", "clmm"):
            raise BacktestError(
                f"{where}.kind", kind, "'amm' or 'clmm' (or a plugin = 'module:Class')"
            )
        _unknown(
            entry,
            {
                "name",
                "kind",
                "symbol",
                "fee_pips",
                "gas",
                "base_reserve",
                "liquidity",
                "width_bps",
                "tick_spacing",
                "base_decimals",
                "quote_decimals",
                "reference",
                "events",
            },
            where,
        )
        venues.append(
            {
                "name": name,
                "kind": kind,
                "symbol": _get(entry, "symbol", where, str),
                "fee_pips": _get(entry, "fee_pips", where, int, 3000),
                "gas": _get(entry, "gas", where, str, "0"),
                "base_reserve": _get(entry, "base_reserve", where, str, "1000"),
                "liquidity": int(_get(entry, "liquidity", where, str, "1000000000000000000")),
                "width_bps": _get(entry, "width_bps", where, int, 200),
                "tick_spacing": _get(entry, "tick_spacing", where, int, 10),
                "base_decimals": _get(entry, "base_decimals", where, int, 18),
                "quote_decimals": _get(entry, "quote_decimals", where, int, 6),
                "reference": _get(entry, "reference", where, str, ""),
                "events": _events_path(entry, where, kind, base_dir),
            }
        )
    latency = parse_latency(latency_raw, names)
    strategy = dict(_get(raw, "strategy", "config", dict))
    kind = strategy.pop("kind", None)
    if not isinstance(kind, str):
        raise BacktestError("strategy.kind", kind, "'twap', 'pov', 'basis' or 'module:Class'")
    build_strategy(kind, dict(strategy))  # validates the parameters now, before any data is read
    margin = _get(raw, "margin", "config", dict, None)
    margin_config = None if margin is None else _margin_config(margin, parsed_data, venues, file)
    start = _get(bt, "start_offset_ms", "backtest", int, 0)
    end = _get(bt, "end_offset_ms", "backtest", int, None)
    for key, value in (("start_offset_ms", start), ("end_offset_ms", end)):
        if value is not None and value < 0:
            raise BacktestError(
                f"backtest.{key}", value, "an integer >= 0 (milliseconds after the first event)"
            )
    arb = _get(bt, "arb_interval_ms", "backtest", int, 1000)
    sample = _get(bt, "sample_interval_ms", "backtest", int, 1000)
    for key, value in (("arb_interval_ms", arb), ("sample_interval_ms", sample)):
        if value < 1:
            raise BacktestError(f"backtest.{key}", value, "an integer >= 1 (milliseconds)")
    return BacktestSpec(
        raw,
        base_dir,
        seed,
        start * _NS_MS,
        None if end is None else end * _NS_MS,
        latency,
        arb * _NS_MS,
        sample * _NS_MS,
        parsed_data,
        venues,
        kind,
        strategy,
        margin,
        _get(bt, "compare_single_venue", "backtest", bool, True),
        margin_config,
        file,
        protection,
        queue_model,
        queue_params,
    )


def _events_path(entry: dict, where: str, kind: str, base_dir: Path) -> str | None:
    """``events``: a pool event CSV (router/sim/pool_events.py) the clmm pool is replayed from."""
    events = _get(entry, "events", where, str, None)
    if events is None:
        return None
    if kind != "clmm":
        raise BacktestError(f"{where}.events", events, "only on a kind = 'clmm' pool")
    path = Path(events)
    return str(path if path.is_absolute() else base_dir / path)


# The subaccount owner build_margin opens for the backtest (its subaccount is "backtest/main").
MARGIN_ACCOUNT = "backtest"
_MARGIN_KEYS = (
    "quote",
    "balances",
    "assets",
    "markets",
    "marks",
    "liquidation_fee_bps",
    "liquidation_buffer_bps",
)


def _margin_config(margin: dict, data: list[dict], venues: list[dict], file: str) -> MarketConfig:
    """The backtest's ``[margin]`` as the market config router.app.build_margin takes.

    ``[margin]`` is the market config's ``[margin]`` table (quote, assets, markets, marks,
    liquidation terms; validated by the same reader) plus ``balances``, the starting balances
    of the backtest's one account. The replayed books stand for the config's order-book venues
    (so every perpetual needs its ``markets`` entry); pools and plug-ins only matter through
    their mids. Raises BacktestError naming the backtest key.
    """
    _unknown(margin, set(_MARGIN_KEYS), "margin")
    decimals: dict[str, int] = {}
    books = []
    for item in data:
        base, _, quote = item["symbol"].partition(":")[0].partition("/")
        decimals[base] = max(decimals.get(base, 0), 18)
        decimals[quote] = max(decimals.get(quote, 0), item["quote_decimals"])
        books.append(
            {
                "name": item["venue"],
                "kind": "orderbook",
                "symbol": item["symbol"],
                "instrument": item["instrument"],
                "tick_size": item["tick_size"],
                "lot_size": item["lot_size"],
            }
        )
    for item in venues:
        base, _, quote = item["symbol"].partition(":")[0].partition("/")
        decimals[base] = max(decimals.get(base, 0), item.get("base_decimals", 18))
        decimals[quote] = max(decimals.get(quote, 0), item.get("quote_decimals", 6))
    table = {key: value for key, value in margin.items() if key != "balances"}
    document = {
        "assets": {name: {"decimals": places} for name, places in decimals.items()},
        "venues": books,
        "accounts": [{"name": MARGIN_ACCOUNT, "balances": margin.get("balances", {})}],
        "margin": table,
    }
    try:
        # The market config's own reader: one validation of [margin] for every use (router/config.py).
        return parse_config_data(document, file)
    except ConfigError as exc:
        raise _backtest_key(exc) from None


def _backtest_key(exc: ConfigError) -> BacktestError:
    """A ConfigError about the synthesised market, renamed to the backtest config's key."""
    key = exc.key.replace(f"accounts.{MARGIN_ACCOUNT}.balances", "margin.balances")
    key = re.sub(r"^accounts\[0\]\.balances", "margin.balances", key)
    key = re.sub(r"^venues\[(\d+)\]", r"data[\1]", key)
    return BacktestError(key, exc.value, exc.allowed)


# -- parent orders and the context ----------------------------------------------------------------


@dataclass
class ParentOrder:
    """A parent order: its arrival mid and every child fill (Decimal, whole units)."""

    name: str
    side: str
    qty: Decimal
    symbol: str
    arrival_ts_ns: int
    arrival_mid: Decimal
    sent_qty: Decimal = Decimal(0)
    fills: list[dict] = field(default_factory=list)


class Context:
    """What a strategy sees and does; one per run. See :mod:`router.backtest.strategies`."""

    def __init__(self, run: _Run) -> None:
        self._run = run
        self.ledger = run.ledger

    @property
    def now_ns(self) -> int:
        return self._run.now

    def mid(self, symbol: str | None = None) -> Decimal:
        """Mid of the symbol's reference book as the strategy has seen it (its first data file
        with a fresh book; updates count once they have arrived), exact Decimal."""
        sym = symbol or self._run.default_symbol
        seen = self._run.seen_touch(sym)
        if seen is None:
            raise BacktestError("mid", sym, self._run.why_no_book(sym))
        return (seen[1] + seen[2]) / 2

    def touch(self, venue: str) -> tuple[Decimal, Decimal] | None:
        """(best bid, best ask) of a replayed book as the strategy has seen it now; None while it
        is stale or one-sided."""
        book = self._run.books.get(venue)
        if book is None:
            raise BacktestError(
                "venue", venue, f"one of the replayed books {sorted(self._run.books)}"
            )
        if self._run.is_stale(venue):
            return None
        return self._run.seen[self._run.by_file.index(book)].touch(self.now_ns)

    def reference_venue(self, symbol: str | None) -> str:
        return self._run.reference(symbol).name

    def qty_of(self, venue: str, lots: int) -> Decimal:
        return self._run.books[venue].grid.qty(lots)

    def set_timer(self, name: str, interval_ns: int, count: int | None = None) -> None:
        """Call ``on_timer(ctx, name)`` every ``interval_ns`` (``count`` times, or until the data ends)."""
        if not isinstance(interval_ns, int) or interval_ns <= 0:
            raise BacktestError("interval_ns", interval_ns, "a positive integer (ns)")
        self._run.timer(name, interval_ns, count)

    def parent(self, name: str, side: str, qty: Decimal, symbol: str | None = None) -> ParentOrder:
        """Open a parent order; its arrival mid is the reference mid now."""
        sym = symbol or self._run.default_symbol
        parent = ParentOrder(name, side, qty, sym, self.now_ns, self.mid(sym))
        self._run.parents.append(parent)
        return parent

    def route(
        self, parent: ParentOrder, qty: Decimal, *, limit_price: Decimal | None = None
    ) -> None:
        """Send a child of ``qty`` base: planned and executed across the allowed venues after the order latency."""
        if not isinstance(qty, Decimal) or qty <= 0 or qty > parent.qty - parent.sent_qty:
            raise BacktestError("qty", qty, f"a Decimal in (0, {parent.qty - parent.sent_qty}]")
        if limit_price is not None and (
            not isinstance(limit_price, Decimal) or not limit_price.is_finite() or limit_price <= 0
        ):
            raise BacktestError("limit_price", limit_price, "a Decimal > 0, or None")
        self._run.send_child(parent, qty, limit_price)

    def place_limit(
        self, venue: str, side: str, price: Decimal, qty: Decimal, order_id: str
    ) -> None:
        """Rest a GTC limit order of ours on a replayed book after the order latency."""
        book = self._run.books.get(venue)
        if book is None:
            raise BacktestError(
                "venue", venue, f"one of the replayed books {sorted(self._run.books)}"
            )
        ticks, lots = book.grid.ticks(str(price), "price"), book.grid.lots(str(qty), "qty")
        self._run.schedule(
            self.now_ns + self._run.latency.order(venue),
            lambda: book.place_limit(order_id, side, ticks, lots),
        )

    def cancel(self, venue: str, order_id: str) -> None:
        """Cancel a resting order of ours after the order latency (a no-op if it is gone by then)."""
        book = self._run.books.get(venue)
        if book is None:
            raise BacktestError(
                "venue", venue, f"one of the replayed books {sorted(self._run.books)}"
            )

        def cancel() -> None:
            order = book.book.order(order_id)
            if order is not None and order.owner == book.owner:
                book.cancel(order_id)

        self._run.schedule(self.now_ns + self._run.latency.order(venue), cancel)

    async def execute_multi(self, order: Any, parents: dict[str, ParentOrder]) -> Any:
        """Run a ``MultiLegOrder`` through the executor under the latency model; ``parents`` maps
        each leg id to the parent its fills are reported under. Returns the executor's report."""
        return await self._run.execute_multi(order, parents)

    def funding_step(self, perp_symbol: str) -> None:
        self._run.funding_step(perp_symbol)


# -- the run ------------------------------------------------------------------------------------


class _Run:
    def __init__(
        self,
        spec: BacktestSpec,
        feeds: list[Feed],
        route_venues: list[str] | None,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self.spec = spec
        self.feeds = feeds
        self.now = 0
        self.heap: list[tuple] = []
        self.order = 0
        self.progress = progress
        self.books: dict[str, ReplayBookVenue] = {}
        self.by_file: list[ReplayBookVenue] = []
        for item, feed in zip(spec.data, feeds):
            venue = ReplayBookVenue(
                item["venue"],
                item["symbol"],
                feed.grid,
                quote_decimals=item["quote_decimals"],
                taker_fee_pips=item["taker_fee_pips"],
                maker_fee_pips=item["maker_fee_pips"],
                leg_cost=Decimal(item["leg_cost"]),
                kind="perp" if item["instrument"] == "perp" else "spot",
                on_gap=item["on_gap"],
                queue_model=build_queue_model(spec.queue_model, dict(spec.queue_params)),
            )
            self.books[venue.name] = venue
            self.by_file.append(venue)
        self.seen = [SeenBook(venue) for venue in self.by_file]
        self.coverage: list[Coverage] = [
            coverage_of(item["venue"], feed.events, item["stale_after_ms"] * _NS_MS)
            for item, feed in zip(spec.data, feeds)
        ]
        self.coverage_by_venue = {c.venue: c for c in self.coverage}
        # When each exchange-side book lost and regained update-id sync (the report's intervals).
        self.sync_logs = [SyncLog(c.first_ts_ns) for c in self.coverage]
        self.book_live = [False] * len(self.by_file)
        self.window: tuple[int, int | None] = (0, None)  # (start, end) of the run, ns
        recorded = spec.latency["model"] == "recorded"
        self.latency = LatencyModel(
            spec.latency,
            spec.seed,
            [
                (
                    item["venue"],
                    recorded_gaps(feed.events, feed.clock_offset_ns) if recorded else [],
                    feed.clock_offset_ns,
                )
                for item, feed in zip(spec.data, feeds)
            ],
        )
        self.default_symbol = spec.data[0]["symbol"]
        self.adapters: dict[str, Any] = {name: v.adapter for name, v in self.books.items()}
        self.pools: list[Any] = []
        self.plugins: list[Any] = []
        self.route_venues = route_venues
        self.parents: list[ParentOrder] = []
        self.ledger: Any = None
        self.gate: Any = None
        self.margin_samples: list[dict] = []
        self.liquidations: list[dict] = []
        self.liquidating = False  # a liquidation is scheduled now and has not run yet
        # perp market -> this funding interval's premium samples (one per arbitrage interval)
        self.premium_sums: dict[str, PremiumSamples] = {}
        self.funding: list[dict] = []
        self.executions: list[dict] = []
        self.mid_samples: list[dict] = []
        self.skipped_funding: list[dict] = []
        self.child_seq = 0
        self.fills_seen = 0  # our fills so far: a seen book subtracts what we took
        self.tasks = Tasks()  # the strategy's coroutines waiting on the simulated clock
        self.latent_parents: dict[str, ParentOrder] = {}  # symbol -> parent (multi-leg orders)
        # Pools replayed from recorded events: read (and checked) before the run starts.
        self.replays: dict[str, PoolReplay] = {
            item["name"]: PoolReplay(
                read_pool_events(item["events"]), item["fee_pips"], item["tick_spacing"]
            )
            for item in spec.venues
            if item.get("events")
        }
        self.strategy: Strategy = build_strategy(spec.strategy_kind, spec.strategy_params)
        self.ctx = Context(self)

    # freshness
    def is_stale(self, venue: str, ts_ns: int | None = None) -> bool:
        """A replayed book is stale when its data ended or gapped (coverage) or it lost sync;
        pools and plug-ins never are."""
        book = self.books.get(venue)
        if book is None:
            return False
        at = self.now if ts_ns is None else ts_ns
        return self.coverage_by_venue[venue].is_stale(at) or book.l2.state not in (
            "synced",
            "fresh",
        )

    def why_no_book(self, symbol: str) -> str:
        """The 'allowed' text of an error about a symbol without a usable book now."""
        names = [v.name for v in self.by_file if v.symbol == symbol]
        if not names:
            return f"a symbol of a [[data]] file {sorted({v.symbol for v in self.by_file})}"
        ended = [
            f"{n} (data ends at {self.coverage_by_venue[n].last_ts_ns} ns)"
            for n in names
            if self.is_stale(n)
        ]
        if ended:
            return "a book with fresh data; stale now: " + ", ".join(ended)
        return "a book with both sides (is the start before the snapshot?)"

    def schedule(self, ts: int, action: Callable[[], Any]) -> None:
        self.order += 1
        heapq.heappush(self.heap, (ts, self.order, action))

    def timer(self, name: str, interval: int, count: int | None) -> None:
        def fire(left: int | None = count) -> Any:
            if left is not None:
                if left <= 0:
                    return None
                left -= 1
            self.schedule(self.now + interval, lambda: fire(left))
            return self.strategy.on_timer(self.ctx, name)

        self.schedule(self.now + interval, fire)

    def reference(self, symbol: str | None) -> ReplayBookVenue:
        """The symbol's reference book: its first data file with fresh data now (else its first)."""
        sym = symbol or self.default_symbol
        books = [v for v in self.by_file if v.symbol == sym]
        if not books:
            raise BacktestError("symbol", sym, self.why_no_book(sym))
        return next((v for v in books if not self.is_stale(v.name)), books[0])

    def seen_touch(self, symbol: str) -> tuple[str, Decimal, Decimal] | None:
        """(venue, bid, ask) of the symbol's first fresh book as the strategy has seen it now."""
        for index, venue in enumerate(self.by_file):
            if venue.symbol == symbol and not self.is_stale(venue.name):
                touch = self.seen[index].touch(self.now)
                if touch is not None:
                    return venue.name, touch[0], touch[1]
        return None

    def true_mid(self, symbol: str) -> Decimal | None:
        """The exchange-side mid of the symbol's first fresh book (arbitrageurs, marks); None if
        every book of the symbol is stale or one-sided."""
        for venue in self.by_file:
            if venue.symbol == symbol and not self.is_stale(venue.name):
                ticks2 = venue.mid_ticks2()
                if ticks2 is not None:
                    return venue.grid.tick_size * ticks2 / 2
        return None

    def decision(self, symbol: str) -> tuple[int, Decimal, Decimal] | None:
        """(now, bid, ask) of the seen reference touch: what the strategy decides on."""
        seen = self.seen_touch(symbol)
        return None if seen is None else (self.now, seen[1], seen[2])

    # venues
    def build_venues(self) -> None:
        for item in self.spec.venues:
            symbol = item["symbol"]
            if "plugin" in item:
                venue = load_plugin(
                    item["plugin"], name=item["name"], symbol=symbol, params=item["params"]
                )
                self.plugins.append(venue)
                self.adapters[venue.name] = venue
                continue
            if item["name"] in self.replays:
                replay = self.replays[item["name"]]
                replay.advance(self.now)
                # Not the arbitrageur's: the recording already holds the pool's own arbitrage.
                self.adapters[item["name"]] = ClmmAdapter(
                    item["name"],
                    symbol,
                    replay.pool,
                    base_decimals=item["base_decimals"],
                    quote_decimals=item["quote_decimals"],
                    fee_pips=item["fee_pips"],
                    leg_cost=Decimal(item["gas"]),
                )
                continue
            mid = self.true_mid(symbol)
            if mid is None:
                raise BacktestError(f"venues.{item['name']}", symbol, self.why_no_book(symbol))
            try:
                if item["kind"] == "amm":
                    adapter = build_amm(
                        item["name"],
                        symbol,
                        mid,
                        base_reserve=Decimal(item["base_reserve"]),
                        fee_pips=item["fee_pips"],
                        gas=Decimal(item["gas"]),
                        base_decimals=item["base_decimals"],
                        quote_decimals=item["quote_decimals"],
                    )
                else:
                    adapter = build_clmm(
                        item["name"],
                        symbol,
                        mid,
                        liquidity=item["liquidity"],
                        width_bps=item["width_bps"],
                        fee_pips=item["fee_pips"],
                        tick_spacing=item["tick_spacing"],
                        gas=Decimal(item["gas"]),
                        base_decimals=item["base_decimals"],
                        quote_decimals=item["quote_decimals"],
                    )
            except BacktestError:
                raise
            except CrossrouteError as exc:
                raise BacktestError(
                    f"venues.{item['name']}", item, f"a pool the venue accepts ({exc})"
                ) from None
            self.pools.append(adapter)
            self.adapters[adapter.name] = adapter
        self.arb = Arbitrageur(self.pools)

    async def arbitrage(self) -> None:
        """Every arb interval: plug-ins and pools follow the exchange-side mid of each symbol with
        fresh data (a stale symbol's pools are left alone and its mid is not sampled)."""
        self.advance_replays()
        for symbol in sorted({v.symbol for v in self.by_file}):
            mid = self.true_mid(symbol)
            if mid is None:
                continue
            for plugin in self.plugins:
                if plugin.symbol == symbol and hasattr(plugin, "on_market"):
                    plugin.on_market(mid, self.now)
            pools = [p for p in self.pools if p.symbol == symbol]
            if pools:
                self.arb.pools = pools
                await self.arb.align(mid, self.now)
            self.mid_samples.append({"ts_ns": self.now, "symbol": symbol, "mid": mid})
        if self.ledger is not None:
            self.sample_margin()
            self.sample_premiums()
        self.schedule(self.now + self.spec.arb_interval_ns, self.arbitrage)

    def routable(self, symbol: str) -> list[Any]:
        """What the router may plan on now: replayed books as the strategy has seen them (fresh
        ones only), pools and plug-ins as they are."""
        venues = []
        for name, adapter in self.adapters.items():
            if adapter.symbol != symbol:
                continue
            if self.route_venues is not None and name not in self.route_venues:
                continue
            if name in self.books:
                if self.is_stale(name):
                    continue
                adapter = self.seen[self.by_file.index(self.books[name])].plan_adapter(self.now)
                if adapter is None:
                    continue
            venues.append(adapter)
        return venues

    def protect(self, side: str, leg_avg: Decimal, limit: Decimal | None) -> Decimal | None:
        """A leg's limit, set at decision time: its quoted all-in average moved against us by
        ``price_protection_bps`` (0: none), tightened to the strategy's own limit if it has one."""
        bps = self.spec.price_protection_bps
        band = None
        if bps:
            factor = Decimal(10_000 + bps if side == "buy" else 10_000 - bps) / 10_000
            # 8 decimals, rounded to the stricter side: the band is never wider than asked.
            band = (leg_avg * factor).quantize(
                _LIMIT_QUANTUM, rounding=ROUND_FLOOR if side == "buy" else ROUND_CEILING
            )
        if limit is None:
            return band
        if band is None:
            return limit
        return min(band, limit) if side == "buy" else max(band, limit)

    def advance_replays(self) -> None:
        """Apply the recorded pool events due by now."""
        for replay in self.replays.values():
            replay.advance(self.now)

    def send_child(self, parent: ParentOrder, qty: Decimal, limit: Decimal | None) -> None:
        """Decide now (seen touch, plan on the seen books), send each leg to its venue, where it
        executes after that venue's order latency against the state then."""
        self.advance_replays()
        decision = self.decision(parent.symbol)
        if decision is None:
            self.executions.append(
                {
                    "ts_ns": self.now,
                    "parent": parent.name,
                    "qty": qty,
                    "error": f"not sent: {self.why_no_book(parent.symbol)}",
                }
            )
            return
        venues = self.routable(parent.symbol)
        if not venues:
            self.executions.append(
                {"ts_ns": self.now, "parent": parent.name, "qty": qty, "error": "no fresh venue"}
            )
            return
        try:
            plan = plan_route(venues, parent.symbol, parent.side, qty, limit_price=limit)
        except CrossrouteError as exc:
            self.executions.append(
                {"ts_ns": self.now, "parent": parent.name, "qty": qty, "error": str(exc)}
            )
            return
        parent.sent_qty += qty
        for leg in plan.legs:
            if leg.qty <= 0:
                continue
            self.child_seq += 1
            order = LegOrder(
                leg.venue,
                parent.side,
                leg.qty,
                f"c{self.child_seq}",
                limit_price=self.protect(parent.side, leg.avg_price, limit),
            )
            self.schedule(
                self.now + self.latency.order(leg.venue),
                lambda o=order: self.execute_leg(parent, o, decision),
            )

    async def execute_leg(
        self, parent: ParentOrder, order: LegOrder, decision: tuple[int, Decimal, Decimal]
    ) -> tuple[LegFill | None, int | None]:
        """A leg reaching its venue: rejected if the venue's data is stale, else executed there.
        Returns (the fill, None when rejected as stale; its acknowledgement time, None when
        nothing filled)."""
        if self.is_stale(order.venue):
            self.executions.append(
                {
                    "ts_ns": self.now,
                    "parent": parent.name,
                    "venue": order.venue,
                    "qty": order.qty,
                    "error": STALE_AT_ARRIVAL,
                }
            )
            return None, None
        self.advance_replays()
        fill = await self.adapters[order.venue].execute(order)
        if fill.filled_qty > 0 and order.venue in self.replays:
            self.replays[order.venue].diverged()  # from now on the pool is not the recorded one
        return fill, self.record_fill(parent, fill, decision, limit=order.limit_price)

    def record_fill(
        self,
        parent: ParentOrder,
        fill: Any,
        decision: tuple[int, Decimal, Decimal],
        limit: Decimal | None = None,
    ) -> int | None:
        """Record a fill at the venue's time; the strategy hears of it after the response latency
        (returned: the acknowledgement time; None when nothing filled)."""
        if fill.filled_qty <= 0:
            self.executions.append(
                {
                    "ts_ns": self.now,
                    "parent": parent.name,
                    "venue": fill.venue,
                    "qty": fill.requested_qty,
                    "limit_price": limit,
                    "error": fill.reason,
                }
            )
            return None
        self.fills_seen += 1
        ack = self.now + self.latency.response(fill.venue)
        row = {
            "ts_ns": self.now,
            "parent": parent.name,
            "venue": fill.venue,
            "side": fill.side,
            "qty": fill.filled_qty,
            "quote_amount": fill.quote_amount,
            "fee": fill.fee,
            "leg_cost": fill.leg_cost,
            "decision_ts_ns": decision[0],
            "decision_bid": decision[1],
            "decision_ask": decision[2],
            "ack_ts_ns": ack,
        }
        if limit is not None:
            row["limit_price"] = limit
        parent.fills.append(row)
        self.schedule(ack, lambda: self.strategy.on_fill(self.ctx, row))
        return ack

    # margin
    def build_margin(self) -> None:
        """The ledger and gate from router.app.build_margin, marks from the replayed mids."""
        if self.spec.margin_config is None:
            return
        config = self.spec.margin_config
        # Marks come from the first venue of a symbol with a mid: the replayed books come first;
        # plug-ins need not have a mid_price at all.
        priced = {
            name: a for name, a in self.adapters.items() if callable(getattr(a, "mid_price", None))
        }
        market = Market(
            config=config,
            assets={asset.name: asset for asset in config.assets},
            adapters=priced,
            accounts={a.name: a for a in config.accounts},
        )
        try:
            setup = build_margin(market, MARGIN_ACCOUNT)
        except ConfigError as exc:
            raise _backtest_key(exc) from None
        self.ledger, self.sub, self.perp_markets = setup.ledger, setup.sub_id, setup.perp_markets
        self.gate = setup.gate
        self.ctx.ledger = setup.ledger

    def update_marks(self) -> list[str]:
        """Every mark follows its reference book's mid (on the ledger's 1e-8 grid, half-even as
        :meth:`router.app.Market.mid_price`); names without a fresh book keep their last mark and
        are returned (stale)."""
        quote = self.ledger.quote_asset
        symbols = {venue.symbol for venue in self.by_file}
        names = [
            (f"{asset}/{quote}", asset)
            for asset in self.ledger.assets
            if asset != quote and f"{asset}/{quote}" in symbols
        ]
        names += list(self.perp_markets.items())
        stale = []
        for symbol, name in names:
            mid = self.true_mid(symbol)
            if mid is None:
                # The mark ages out: the margin core keeps its last price flagged stale, and its
                # funding rule refuses to accrue on it (OraclePriceError).
                held = self.ledger.marks.get(name)
                if held is not None and held.valid:
                    self.ledger.apply_oracle(MarkPrice(name, held.price_units, "stale"))
                stale.append(name)
            else:
                self.ledger.set_mark(name, mid.quantize(MARK_QUANTUM))
        return stale

    def sample_margin(self) -> None:
        """Marks from the replayed mids and one margin sample; an account now below maintenance
        is liquidated at this same time, before the next data event (:meth:`liquidate`, a
        scheduled action: some callers, such as a strategy's funding timer, are synchronous)."""
        self.record_margin()
        if not self.liquidating and self.sub in self.ledger.liquidatable():
            self.liquidating = True
            self.schedule(self.now, self.liquidate)

    def record_margin(self) -> None:
        stale = self.update_marks()
        summary = self.ledger.summary(self.sub)
        self.margin_samples.append({"ts_ns": self.now, **summary, "stale_marks": ",".join(stale)})

    async def liquidate(self) -> None:
        """The margin core's liquidation loop, the one ``execute``, paper and stress use
        (router/execution/liquidation.py): each step routed through the venues the router may
        use that have fresh data, at the prices they show now (the replayed books as they are on
        the exchange side, pools, plug-ins; no latency: the venue's own liquidation engine), and
        booked as filled, marks re-read from the replayed mids after each fill. What the venues
        took stays taken (the books and pools move). ``liquidations`` gets the result with each
        step's venue fills and cost against the mark; a margin sample follows."""
        from router.execution.liquidation import (
            VenueFiller,
            liquidate_through_venues,
            liquidation_steps,
        )

        self.liquidating = False
        if self.sub not in self.ledger.liquidatable():
            return  # a fill since it was scheduled restored the account
        self.advance_replays()
        adapters = {
            name: adapter
            for name, adapter in self.adapters.items()
            if (self.route_venues is None or name in self.route_venues) and not self.is_stale(name)
        }
        names = {market: symbol for symbol, market in self.perp_markets.items()}
        prefix = f"liq-{len(self.liquidations) + 1}"
        filler = VenueFiller(adapters, names, self.ledger.quote_asset, prefix)
        result = await liquidate_through_venues(self.ledger, self.sub, filler, self.update_marks)
        for child in filler.sent:
            if child.filled_qty > 0:
                self.fills_seen += 1  # the strategy's view of the books subtracts it
                if child.venue in self.replays:
                    self.replays[child.venue].diverged()
        self.liquidations.append(
            {
                "ts_ns": self.now,
                "subaccount": result.subaccount,
                "ended": result.ended,
                "reason": result.reason,
                "bad_debt": to_decimal(result.bad_debt_units),
                "unfilled": list(result.unfilled),
                "cancelled_orders": list(result.cancelled_orders),
                "steps": liquidation_steps(result, filler),
                # where the marks stand after the fills (the venues' prices moved by them)
                "marks_after": {
                    step.symbol: to_decimal(self.ledger.mark_units(step.symbol))
                    for step in result.steps
                },
            }
        )
        self.record_margin()

    def sample_premiums(self) -> None:
        """One premium sample per perp market (its mark over its oracle's, both valid) at every
        arbitrage interval: the samples a funding interval averages, as Binance samples its
        premium index every 5 s (router/margin/funding.py PremiumSamples)."""
        for name in sorted(self.perp_markets.values()):
            sample = market_premium_units(self.ledger, name)
            if sample is not None:
                self.premium_sums[name] = self.premium_sums.get(name, PremiumSamples()).add(sample)

    def funding_step(self, perp_symbol: str) -> None:
        """One funding interval by the margin core's rule: Binance's formula on the average
        premium of the interval's samples (the premium now when none was taken); it does not
        accrue while either price is stale (no fresh source), and the interval's samples go."""
        self.update_marks()
        name = self.perp_markets[perp_symbol]
        samples = self.premium_sums.pop(name, PremiumSamples())
        try:
            rate = self.ledger.accrue_funding(name, samples.premiums())
        except OraclePriceError as exc:
            self.skipped_funding.append({"ts_ns": self.now, "market": name, "reason": str(exc)})
            self.sample_margin()
            return
        self.funding.append(
            {"ts_ns": self.now, "market": name, "rate": rate, "samples": samples.count}
        )
        self.sample_margin()

    async def execute_multi(self, order: Any, parents: dict[str, ParentOrder]) -> Any:
        """Run a multi-leg order through the executor on latent venues (:mod:`router.backtest.latent`):
        it plans on the seen books, each child reaches its venue after that venue's order latency
        and executes on the state then (its limit fixed at decision time), and the executor hears
        of each fill after the response latency, so a hedge is sized to its leader's actual fill.
        The executor's clock is the simulated one (its time limit and netting window)."""
        from router.execution.executor import Executor

        missing = sorted({leg.symbol for leg in order.legs if self.decision(leg.symbol) is None})
        if missing:
            raise BacktestError("order", order.client_id, self.why_no_book(missing[0]))
        for leg in order.legs:
            if leg.symbol in self.latent_parents:
                raise BacktestError(
                    "order", order.client_id, "legs of different symbols, one order at a time"
                )
            self.latent_parents[leg.symbol] = parents[leg.leg_id]
        adapters = {
            name: LatentVenue(
                adapter,
                self,
                self.seen[self.by_file.index(self.books[name])] if name in self.books else None,
            )
            for name, adapter in self.adapters.items()
            if self.route_venues is None or name in self.route_venues
        }
        executor = Executor(
            adapters,
            self.gate,
            clock=lambda: self.now / _NS,
            # Waits are on the simulated clock: no wall-clock limit may cut a child short, and a
            # venue that did not answer is asked again at once (in-process venues always answer).
            child_timeout_secs=_NO_WALL_TIMEOUT_SECS,
            reconcile_backoff_secs=Decimal(0),
        )
        try:
            report = await executor.execute(order)
        finally:
            for leg in order.legs:
                self.latent_parents.pop(leg.symbol, None)
        self.executions.append(
            {
                "ts_ns": self.now,
                "order": order.client_id,
                "status": report.status,
                "reason": report.reason,
            }
        )
        self.sample_margin()
        return report

    async def send_latent(self, venue: str, order: LegOrder) -> LegFill:
        """One child of a multi-leg order, decided now: it reaches ``venue`` after the order
        latency, executes there as a single-leg child does (:meth:`execute_leg`), and the answer
        comes back after the response latency."""
        symbol = self.adapters[venue].symbol
        parent = self.latent_parents[symbol]
        decision = self.decision(symbol)
        if decision is None:
            return _unfilled(order, f"not sent: {self.why_no_book(symbol)}")
        await self.sleep_until(self.now + self.latency.order(venue))
        fill, ack = await self.execute_leg(parent, order, decision)
        if fill is None:
            fill = _unfilled(order, STALE_AT_ARRIVAL)
        else:
            parent.sent_qty += fill.filled_qty
        if ack is None:
            ack = self.now + self.latency.response(venue)
        await self.sleep_until(ack)
        return fill

    async def sleep_until(self, ts_ns: int) -> None:
        """Wait (a strategy coroutine) until the simulated clock reaches ``ts_ns``."""
        woken = asyncio.get_running_loop().create_future()
        self.schedule(ts_ns, lambda: woken.done() or woken.set_result(None))
        await woken

    async def call(self, result: Any) -> None:
        """What an action of the replay loop returned: a coroutine runs as a task until it waits on
        the simulated clock or ends (only the loop calls this: a task awaits its callees inline)."""
        if inspect.iscoroutine(result):
            self.tasks.spawn(result)
        elif inspect.isawaitable(result):
            await result
        if self.tasks:  # the action may have woken one (an arrival, an acknowledgement)
            await self.tasks.settle()

    async def run(self) -> None:
        events = heapq.merge(*(f.events for f in self.feeds))
        total = sum(len(f.events) for f in self.feeds)
        first, start_at, end_at = data_window(self.spec, self.feeds)
        self.window = (start_at, end_at)
        self.now = first
        self.schedule(start_at, self.start)
        strategy_type = type(self.strategy)
        wants_trades = strategy_type.on_trade is not Strategy.on_trade
        wants_book = strategy_type.on_book is not Strategy.on_book
        heap = self.heap
        arrival = self.latency.arrival
        seen = self.seen
        live = self.book_live
        for done, event in enumerate(events, 1):
            ts = event[0]
            if end_at is not None and ts > end_at:
                break
            while heap and heap[0][0] < ts:
                await self._pop()
            self.now = ts
            file_index = event[1] >> 40
            venue = self.by_file[file_index]
            kind = event[3]
            # When the strategy sees this event (every event, in file order: the stream's order).
            seen_at = arrival(file_index, ts, event[2])
            if kind == DEPTH:
                venue.on_depth(event[4])
                seen[file_index].arrive(seen_at, kind, event[4])
                if wants_book:
                    self.schedule(
                        seen_at, lambda v=venue.name, t=ts: self.strategy.on_book(self.ctx, v, t)
                    )
            elif kind == TRADE:
                venue.on_trade(event[4])
                if wants_trades:
                    trade = event[4]
                    self.schedule(
                        seen_at,
                        lambda v=venue.name, t=trade: self.strategy.on_trade(self.ctx, v, t),
                    )
            elif kind == SNAPSHOT:
                venue.on_snapshot(event[4])
                seen[file_index].arrive(seen_at, kind, event[4])
            if kind != TRADE and (venue.l2.state in _LIVE) is not live[file_index]:
                live[file_index] = not live[file_index]
                self.sync_logs[file_index].changed(ts, live[file_index])
            if self.progress is not None and not done % 2048:
                self.progress(done, total)
        # What was due by the last event still runs; timers past the end of the data do not fire.
        while heap and heap[0][0] <= self.now:
            await self._pop()
        for log in self.sync_logs:
            log.close()
        self.window = (self.window[0], self.now)
        await self.call(self.strategy.on_end(self.ctx))
        unfinished = await self.tasks.cancel_all()
        if unfinished:
            self.executions.append(
                {
                    "ts_ns": self.now,
                    "error": f"{unfinished} strategy task(s) still waiting when the data ended "
                    "(an order or acknowledgement due after the last event)",
                }
            )
        if self.progress is not None:
            self.progress(total, total)

    async def _pop(self) -> None:
        ts, _, action = heapq.heappop(self.heap)
        if ts > self.now:
            self.now = ts
        await self.call(action())

    async def start(self) -> None:
        self.build_venues()
        self.build_margin()
        await self.arbitrage()
        started = self.strategy.on_start(self.ctx)
        if inspect.isawaitable(started):
            await started


def _unfilled(order: LegOrder, reason: str) -> LegFill:
    """The answer to a child that did not trade (nothing was taken anywhere)."""
    zero = Decimal(0)
    return LegFill(
        order.venue,
        order.side,
        order.client_order_id,
        order.qty,
        zero,
        zero,
        zero,
        zero,
        "rejected",
        reason,
    )


def data_window(spec: BacktestSpec, feeds: list[Feed]) -> tuple[int, int, int | None]:
    """(first event, start, end or None) in ns; BacktestError when the declared window is not
    inside the data (a start at or after the last event, an end not after the start)."""
    stamps = [(f.events[0][0], f.events[-1][0]) for f in feeds if f.events]
    if not stamps:
        raise BacktestError("data", [f.path for f in feeds], "files with at least one event")
    first, last = min(s[0] for s in stamps), max(s[1] for s in stamps)
    span_ms = (last - first) // _NS_MS
    start = first + spec.start_offset_ns
    if start >= last:
        raise BacktestError(
            "backtest.start_offset_ms",
            spec.start_offset_ns // _NS_MS,
            f"an offset before the end of the data: < {span_ms} ms after its first event",
        )
    end = None if spec.end_offset_ns is None else first + spec.end_offset_ns
    if end is not None and end <= start:
        raise BacktestError(
            "backtest.end_offset_ms",
            spec.end_offset_ns // _NS_MS,
            f"an offset after start_offset_ms = {spec.start_offset_ns // _NS_MS}",
        )
    return first, start, end


def read_feeds(spec: BacktestSpec, cache_dir: str | Path | None = None) -> list[Feed]:
    """Parse every [[data]] file of the spec (file index = order in the config); with
    ``cache_dir``, through the columnar cache (:mod:`router.sim.cache`: the same feeds)."""
    feeds = []
    for index, item in enumerate(spec.data):
        grid = Grid(item["tick_size"], item["lot_size"])
        if cache_dir is None:
            feed = read_feed(
                item["path"], grid, file_index=index, fmt=item["format"], tickers=False
            )
        else:
            feed, _hit = read_feed_cached(
                item["path"], grid, cache_dir, file_index=index, fmt=item["format"], tickers=False
            )
        feeds.append(feed)
    return feeds


def run_backtest(
    spec: BacktestSpec,
    *,
    feeds: list[Feed] | None = None,
    route_venues: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run one backtest and return its raw result (Decimals inside; see report.summarise)."""
    feeds = feeds if feeds is not None else read_feeds(spec)
    data_window(spec, feeds)  # a window outside the data is an error before anything runs
    run = _Run(spec, feeds, route_venues, progress)
    # asyncio's own loop whatever the policy (Ray workers install uvloop): the run reads its ready
    # queue to know when the strategy's tasks wait (router/backtest/idle.py).
    with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:
        runner.run(run.run())
    return {
        "parents": run.parents,
        "executions": run.executions,
        "margin": run.margin_samples,
        "liquidations": run.liquidations,
        "funding": run.funding,
        "funding_skipped": run.skipped_funding,
        "coverage": {
            c.venue: c.as_dict(log) for c, log in zip(run.coverage, run.sync_logs, strict=True)
        },
        "scenario": spec.scenario,
        "window": {"start_ts_ns": run.window[0], "end_ts_ns": run.window[1]},
        "latency": spec.latency,
        "pool_replays": {
            name: {"events_applied": r.applied, "as_recorded": r.exact}
            for name, r in run.replays.items()
        },
        "queue_model": spec.queue_model,
        "arbitrage": [vars(t) for t in run.arb.trades] if hasattr(run, "arb") else [],
        "mids": run.mid_samples,
        "books": {
            name: {
                "updates_applied": v.l2.applied,
                "levels_applied": v.l2.levels_applied,
                "gaps": v.l2.gaps,
                "dropped": v.l2.dropped,
                "state": v.l2.state,
                "our_resting_fills": len(v.maker_fills),
                "our_resting_filled_qty": v.grid.qty(sum(f.qty_lots for f in v.maker_fills)),
            }
            for name, v in run.books.items()
        },
        "venues": sorted(run.adapters) if hasattr(run, "arb") else sorted(run.books),
        "feeds": [{"path": f.path, "sha256": f.sha256, "counts": f.counts} for f in feeds],
    }
