"""Parse once, replay many: a columnar cache of parsed feeds (numpy ``.npz``, uncompressed).

The key is the SHA-256 of (format version, the source file's SHA-256, the grid's tick and lot
sizes, the format, whether top-of-book lines are parsed): a changed file, grid or parser option is
a different entry, never a stale one. An entry holds the events as int64 columns (exchange time,
line, local time, kind) and one table per payload kind (depth update ids and level counts,
snapshot ids and level counts, trades, tickers) over two flat level arrays; loading rebuilds
exactly the tuples :func:`router.sim.feed.read_feed` returns (the tests compare them with ``==``
and a whole backtest's output byte for byte). ``None`` update ids (CSV data) are stored as -1:
real ids are >= 0. A feed with a value beyond int64 is not cached (it is parsed every time).

Entries are written to a temporary file and renamed into place, so a reader never sees half an
entry and concurrent writers of the same entry are harmless. Loading is O(events + levels) with
the level values converted to Python ints in one C call per column.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy

from router.sim.collector import cycle_collector_paused
from router.sim.errors import FeedError
from router.sim.feed import (
    DEPTH,
    FILE_SHIFT,
    SNAPSHOT,
    TICKER,
    TRADE,
    Feed,
    Grid,
    read_feed,
)
from router.sim.levels import levels_of_columns

__all__ = ["CACHE_VERSION", "cache_key", "default_cache_dir", "read_feed_cached"]

CACHE_VERSION = 1  # bump when the parsers or this layout change what an entry means
_LINE_MASK = (1 << FILE_SHIFT) - 1
_NONE = -1
_SIDES = ("buy", "sell")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/crossroute/feeds`` (``~/.cache/crossroute/feeds`` without it)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crossroute" / "feeds"


def cache_key(file_sha256: str, grid: Grid, fmt: str, tickers: bool) -> str:
    """The entry name of a parsed feed (hex SHA-256 of everything its content depends on)."""
    text = f"{CACHE_VERSION}|{file_sha256}|{grid.tick_size}|{grid.lot_size}|{fmt}|{tickers}"
    return hashlib.sha256(text.encode()).hexdigest()


def _sha256_of(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise FeedError("path", str(path), f"a readable data file ({exc})") from None


def read_feed_cached(
    path: str | Path,
    grid: Grid,
    cache_dir: str | Path,
    *,
    file_index: int = 0,
    fmt: str = "auto",
    tickers: bool = True,
) -> tuple[Feed, bool]:
    """The feed of ``path`` from the cache, parsing and storing it on a miss; (feed, hit).

    Same arguments and errors as :func:`router.sim.feed.read_feed` plus ``cache_dir`` (created
    when missing). The feed is identical either way."""
    if not isinstance(cache_dir, (str, Path)) or not str(cache_dir):
        raise FeedError("cache_dir", cache_dir, "a directory path")
    if not isinstance(grid, Grid):
        raise FeedError("grid", grid, "a router.sim.feed.Grid")
    if type(file_index) is not int or not 0 <= file_index < 1 << 20:
        raise FeedError("file_index", file_index, "an integer in [0, 2^20)")
    if not isinstance(path, (str, Path)) or not Path(path).is_file():
        raise FeedError("path", str(path), "an existing data file")
    source = Path(path)
    directory = Path(cache_dir)
    entry = directory / f"{cache_key(_sha256_of(source), grid, fmt, tickers)}.npz"
    if entry.is_file():
        # As in the parser: hundreds of thousands of new tuples and no cycles; the cyclic
        # collector would only walk them again and again (it triples the load time).
        try:
            with cycle_collector_paused():
                return _load(entry, str(source), file_index, grid), True
        except (OSError, ValueError, KeyError):
            pass  # a damaged entry is replaced below
    feed = read_feed(source, grid, file_index=file_index, fmt=fmt, tickers=tickers)
    try:
        columns = _columns(feed)
    except OverflowError:
        return feed, False
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=".entry.", suffix=".npz", dir=directory)
        with os.fdopen(handle, "wb") as out:
            numpy.savez(out, **columns)
        os.replace(tmp, entry)
    except OSError as exc:
        raise FeedError("cache_dir", str(directory), f"a writable directory ({exc})") from None
    return feed, False


def _int64(values: list[int]) -> numpy.ndarray:
    return numpy.array(values, dtype=numpy.int64) if values else numpy.zeros(0, numpy.int64)


def _id(value: int | None) -> int:
    return _NONE if value is None else value


def _columns(feed: Feed) -> dict[str, Any]:
    """The feed as int64 columns; OverflowError when a value does not fit."""
    exch, line, local, kind = [], [], [], []
    depth: list[int] = []  # U, u, pu, bids, asks per update
    snap: list[int] = []  # last id, bids, asks per snapshot
    trade: list[int] = []  # id, price, qty, side per trade
    ticker: list[int] = []
    prices: list[int] = []
    qtys: list[int] = []
    for ts, seq, loc, k, payload in feed.events:
        exch.append(ts)
        line.append(seq & _LINE_MASK)
        local.append(loc)
        kind.append(k)
        if k == DEPTH:
            first, last, prev, bids, asks = payload
            depth += (_id(first), _id(last), _id(prev), len(bids), len(asks))
            for levels in (bids, asks):
                for price, qty in levels:
                    prices.append(price)
                    qtys.append(qty)
        elif k == SNAPSHOT:
            last_id, bids, asks = payload
            snap += (_id(last_id), len(bids), len(asks))
            for levels in (bids, asks):
                for price, qty in levels:
                    prices.append(price)
                    qtys.append(qty)
        elif k == TRADE:
            trade_id, price, qty, side = payload
            trade += (_id(trade_id), price, qty, _SIDES.index(side))
        else:
            ticker += payload
    meta = {
        "path": feed.path,
        "sha256": feed.sha256,
        "counts": feed.counts,
        "clock_offset_ns": feed.clock_offset_ns,
    }
    return {
        "meta": numpy.frombuffer(json.dumps(meta).encode(), dtype=numpy.uint8),
        "exch": _int64(exch),
        "line": _int64(line),
        "local": _int64(local),
        "kind": _int64(kind),
        "depth": _int64(depth),
        "snap": _int64(snap),
        "trade": _int64(trade),
        "ticker": _int64(ticker),
        "prices": _int64(prices),
        "qtys": _int64(qtys),
    }


def _ids(column: numpy.ndarray) -> list[int | None]:
    """An id column as Python values, -1 back to None (CSV data has no update ids)."""
    values: list[int | None] = column.tolist()
    if len(column) and column.min() == _NONE:
        values = [None if v == _NONE else v for v in values]
    return values


def _load(entry: Path, path: str, file_index: int, grid: Grid) -> Feed:
    """Rebuild the feed's event tuples. The level pairs are made by C-level ``zip``/``map`` over
    whole columns (:func:`router.sim.levels.levels_of_columns`, shared with the capture parser),
    and every payload kind by ``zip`` over its columns; Python loops run per event, not per level."""
    with numpy.load(entry, allow_pickle=False) as data:
        meta = json.loads(data["meta"].tobytes().decode())
        kind_column = data["kind"]
        seqs = (data["line"] | (file_index << FILE_SHIFT)).tolist()
        exch, local, kinds = data["exch"].tolist(), data["local"].tolist(), kind_column.tolist()
        depth = data["depth"].reshape(-1, 5)
        snap = data["snap"].reshape(-1, 3)
        trade = data["trade"].reshape(-1, 4)
        ticker = data["ticker"].reshape(-1, 4).tolist()
        prices, qtys = data["prices"], data["qtys"]
    # Levels are stored in event order across depth updates and snapshots: (bids, asks) each.
    level_events = numpy.flatnonzero((kind_column == DEPTH) | (kind_column == SNAPSHOT))
    is_depth = kind_column[level_events] == DEPTH
    counts = numpy.empty((len(level_events), 2), dtype=numpy.int64)
    counts[is_depth] = depth[:, 3:5]
    counts[~is_depth] = snap[:, 1:3]
    sides = levels_of_columns(prices, qtys, counts.ravel().tolist())
    bids, asks = sides[0::2], sides[1::2]
    depth_at, snap_at = numpy.flatnonzero(is_depth).tolist(), numpy.flatnonzero(~is_depth).tolist()
    payloads: list[Any] = [None] * len(kinds)
    rows: list[tuple[list[int], Any]] = [
        (
            level_events[is_depth].tolist(),
            zip(
                _ids(depth[:, 0]),
                _ids(depth[:, 1]),
                _ids(depth[:, 2]),
                [bids[i] for i in depth_at],
                [asks[i] for i in depth_at],
            ),
        ),
        (
            level_events[~is_depth].tolist(),
            zip(_ids(snap[:, 0]), [bids[i] for i in snap_at], [asks[i] for i in snap_at]),
        ),
        (
            numpy.flatnonzero(kind_column == TRADE).tolist(),
            zip(
                _ids(trade[:, 0]),
                trade[:, 1].tolist(),
                trade[:, 2].tolist(),
                map(_SIDES.__getitem__, trade[:, 3].tolist()),
            ),
        ),
        (numpy.flatnonzero(kind_column == TICKER).tolist(), map(tuple, ticker)),
    ]
    for at, values in rows:
        for i, payload in zip(at, values, strict=True):
            payloads[i] = payload
    events = list(zip(exch, seqs, local, kinds, payloads))
    return Feed(
        path, file_index, grid, events, meta["sha256"], meta["counts"], meta["clock_offset_ns"]
    )
