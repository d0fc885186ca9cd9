"""Where each data file has data: its first and last event, and when its venue is stale.

A replayed venue is stale ``stale_after_ns`` after its last recorded event until the next one (a
gap) or for good (the data ended): in a live system that is when a feed watchdog would notice
silence. While stale the venue does not quote (the router leaves it out, an order reaching it is
rejected), its mids are not sampled, marks from it are not refreshed and funding does not accrue
on them. A book that lost sync (a gap in update ids) is stale until it resyncs as well; that state
is the book's own (:class:`router.backtest.book.L2Book`), and :class:`SyncLog` keeps its intervals
as the replay meets them, so the report lists every stale interval, whatever its cause.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

import numpy

__all__ = ["FEED_REASONS", "NO_SNAPSHOT", "OUT_OF_SYNC", "Coverage", "SyncLog", "coverage_of"]

GAP, DATA_ENDED, NO_DATA = "gap", "data ended", "no data"
FEED_REASONS = (GAP, DATA_ENDED, NO_DATA)  # the feed was silent; the others: the book was unusable
NO_SNAPSHOT = "no snapshot yet"
OUT_OF_SYNC = "out of sync (update-id gap)"


@dataclass(frozen=True)
class Coverage:
    """One file's coverage: ``stale`` intervals ``(from_ns, to_ns or None, reason)``, sorted."""

    venue: str
    first_ts_ns: int
    last_ts_ns: int
    stale_after_ns: int
    stale: tuple[tuple[int, int | None, str], ...]
    _starts: list[int] = field(default_factory=list, compare=False, repr=False)

    def is_stale(self, ts_ns: int) -> bool:
        """True when ``ts_ns`` falls in a stale interval. O(log intervals)."""
        i = bisect_right(self._starts, ts_ns) - 1
        if i < 0:
            return False
        end = self.stale[i][1]
        return end is None or ts_ns < end

    def as_dict(self, sync: SyncLog | None = None) -> dict:
        """The report's entry: ``stale`` is ``[[start_ns, end_ns or None, reason], ...]`` sorted
        by start, the feed's silences and (with ``sync``) the book's out-of-sync spans."""
        stale = list(self.stale) + (sync.intervals if sync is not None else [])
        stale.sort(key=lambda interval: (interval[0], interval[2]))
        return {
            "first_ts_ns": self.first_ts_ns,
            "last_ts_ns": self.last_ts_ns,
            "stale_after_ms": self.stale_after_ns // 1_000_000,
            "stale": [[a, b, reason] for a, b, reason in stale],
        }


class SyncLog:
    """When one replayed book was unusable by its own state: before its first snapshot, and from
    each update-id gap until it resynced. Fed each state change at its exchange time, O(1)."""

    def __init__(self, first_ts_ns: int) -> None:
        self.intervals: list[tuple[int, int | None, str]] = []
        self._open: tuple[int, str] | None = (first_ts_ns, NO_SNAPSHOT)

    def changed(self, ts_ns: int, live: bool) -> None:
        """The book became usable (``live``) or stopped being so at ``ts_ns``."""
        if live:
            if self._open is not None:
                start, reason = self._open
                if ts_ns > start:  # a file that opens with its snapshot never waited
                    self.intervals.append((start, ts_ns, reason))
                self._open = None
        elif self._open is None:
            self._open = (ts_ns, OUT_OF_SYNC)

    def close(self) -> None:
        """The replay is over: a span still open lasts to the end (``None``)."""
        if self._open is not None:
            self.intervals.append((self._open[0], None, self._open[1]))
            self._open = None


def coverage_of(venue: str, events: list[tuple], stale_after_ns: int) -> Coverage:
    """The coverage of a feed's events (sorted by exchange time). O(events), vectorised."""
    if not events:
        return Coverage(venue, 0, 0, stale_after_ns, ((0, None, NO_DATA),), [0])
    ts = numpy.fromiter((e[0] for e in events), dtype=numpy.int64, count=len(events))
    gaps = numpy.flatnonzero(numpy.diff(ts) > stale_after_ns)
    stale = [(int(ts[i]) + stale_after_ns, int(ts[i + 1]), GAP) for i in gaps.tolist()]
    last = int(ts[-1])
    stale.append((last + stale_after_ns, None, DATA_ENDED))
    return Coverage(venue, int(ts[0]), last, stale_after_ns, tuple(stale), [s[0] for s in stale])
