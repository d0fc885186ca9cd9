"""Latency models: how long market data takes to reach the strategy, orders to reach a venue, and
acknowledgements to come back. Integer nanoseconds throughout; every draw comes from one
``random.Random(seed)`` so a run is deterministic for its seed.

``[backtest] latency = { model, feed_ms, order_ms, response_ms, jitter_ms, venues }``:

- ``constant``: every delay is its ``*_ms`` plus a uniform integer jitter in ``[0, jitter_ms]`` ms
  (drawn per event, per order, per acknowledgement);
- ``data``: the feed delay of each recorded event is its own recorded ``local - exchange`` time
  minus the file's clock offset (``Feed.clock_offset_ns``: the collector's clock skew plus the
  fastest delivery); order and response delays as ``constant``;
- ``recorded``: feed delays as ``data``; every order and response delay is its ``*_ms`` plus a
  value drawn (seeded) from the distribution of recorded ``local - exchange - offset`` gaps of the
  venue's data file (pools and plug-ins draw from the first file). On the committed USD-M sample
  those gaps run from 0 to 82 ms with a median of 1.9 ms.

``venues = { "<venue>" = { feed_ms, order_ms, response_ms } }`` overrides the constants per venue
(the per-venue model; ``feed_ms`` only matters for a replayed book).

Feed deliveries of one file stay in order (a venue's stream is one connection): an event never
arrives before the one recorded before it, so with jitter the arrival is
``max(previous arrival, exchange time + delay)``.
"""

from __future__ import annotations

import random
from typing import Any

from router.sim.errors import BacktestError

__all__ = ["MODELS", "LatencyModel", "parse_latency", "recorded_gaps"]

MODELS = ("constant", "data", "recorded")
_NS_MS = 1_000_000
_KEYS = ("feed_ms", "order_ms", "response_ms")
_MAX_MS = 3_600_000  # an hour: beyond that a "latency" is a typo


def _ms(where: str, table: dict, key: str, default: int) -> int:
    value = table.get(key, default)
    if type(value) is not int or not 0 <= value <= _MAX_MS:
        raise BacktestError(f"{where}.{key}", value, f"an integer in [0, {_MAX_MS}] (milliseconds)")
    return value


def parse_latency(raw: Any, venue_names: set[str] | None = None) -> dict[str, Any]:
    """Validate ``[backtest].latency``; returns a plain dict (JSON-able, for the manifest).

    ``venue_names`` (when given) are the names ``venues`` may override."""
    where = "backtest.latency"
    if not isinstance(raw, dict):
        raise BacktestError(where, raw, "a table { model, feed_ms, order_ms, response_ms, ... }")
    allowed = {"model", "jitter_ms", "venues", *_KEYS}
    extra = sorted(set(raw) - allowed)
    if extra:
        raise BacktestError(
            f"{where}.{extra[0]}", raw[extra[0]], f"one of the keys {sorted(allowed)}"
        )
    model = raw.get("model", "constant")
    if model not in MODELS:
        raise BacktestError(f"{where}.model", model, "'constant', 'data' or 'recorded'")
    out: dict[str, Any] = {"model": model}
    for key in (*_KEYS, "jitter_ms"):
        out[key] = _ms(where, raw, key, 0)
    venues = raw.get("venues", {})
    if not isinstance(venues, dict):
        raise BacktestError(
            f"{where}.venues", venues, "a table venue = { feed_ms, order_ms, response_ms }"
        )
    out["venues"] = {}
    for name, table in venues.items():
        at = f"{where}.venues.{name}"
        if venue_names is not None and name not in venue_names:
            raise BacktestError(at, table, f"a venue of this backtest {sorted(venue_names)}")
        if not isinstance(table, dict) or set(table) - set(_KEYS):
            raise BacktestError(at, table, f"a table with keys among {list(_KEYS)}")
        out["venues"][name] = {key: _ms(at, table, key, out[key]) for key in _KEYS if key in table}
    return out


class LatencyModel:
    """The delays of one run. ``files``: per data file, (venue name, sorted recorded gaps in ns,
    clock offset in ns); the gaps are ``local - exchange - offset`` of the file's timed events."""

    def __init__(self, config: dict[str, Any], seed: int, files: list[tuple[str, list[int], int]]):
        self.model = config["model"]
        self.rng = random.Random(seed)
        self._jitter_ns = config["jitter_ms"] * _NS_MS
        self._offsets = [offset for _, _, offset in files]
        self._gaps = {name: gaps for name, gaps, _ in files}
        self._default_gaps = files[0][1] if files else []
        self._base = {key: config[key] * _NS_MS for key in _KEYS}
        self._venues = {
            name: {key: ms * _NS_MS for key, ms in table.items()}
            for name, table in config["venues"].items()
        }
        self._file_feed_ns = [self.constant("feed_ms", name) for name, _, _ in files]
        self._last_arrival = [0] * len(files)

    def constant(self, key: str, venue: str) -> int:
        """The configured ``key`` delay of ``venue`` in ns (its override, else the default)."""
        return self._venues.get(venue, {}).get(key, self._base[key])

    def _jitter(self) -> int:
        return self.rng.randrange(self._jitter_ns + 1) if self._jitter_ns else 0

    def _draw(self, venue: str) -> int:
        gaps = self._gaps.get(venue, self._default_gaps)
        return gaps[self.rng.randrange(len(gaps))] if gaps else 0

    def arrival(self, file_index: int, exch_ts_ns: int, local_ts_ns: int) -> int:
        """When a recorded event of file ``file_index`` reaches the strategy (ns, in file order)."""
        if self.model == "constant":
            at = exch_ts_ns + self._file_feed_ns[file_index] + self._jitter()
        else:
            at = exch_ts_ns + max(0, local_ts_ns - exch_ts_ns - self._offsets[file_index])
        last = self._last_arrival[file_index]
        if at < last:
            at = last
        self._last_arrival[file_index] = at
        return at

    def order(self, venue: str) -> int:
        """Delay (ns) of an order, a cancel or an amendment from the strategy to ``venue``."""
        base = self.constant("order_ms", venue)
        return base + (self._draw(venue) if self.model == "recorded" else self._jitter())

    def response(self, venue: str) -> int:
        """Delay (ns) of an acknowledgement or fill report from ``venue`` to the strategy."""
        base = self.constant("response_ms", venue)
        return base + (self._draw(venue) if self.model == "recorded" else self._jitter())


def recorded_gaps(events: list[tuple], clock_offset_ns: int) -> list[int]:
    """Sorted ``local - exchange - offset`` gaps (ns, >= 0) of a feed's events. O(n log n)."""
    return sorted(max(0, e[2] - e[0] - clock_offset_ns) for e in events)
