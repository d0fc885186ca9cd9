"""Where each data file has data: its first and last event, and when its venue is stale.

A replayed venue is stale ``stale_after_ns`` after its last recorded event until the next one (a
gap) or for good (the data ended): in a live system that is when a feed watchdog would notice
silence. While stale the venue does not quote (the router leaves it out, an order reaching it is
rejected), its mids are not sampled, marks from it are not refreshed and funding does not accrue
on them. A book that lost sync (a gap in update ids) is stale until it resyncs as well; that state
is the book's own (:class:`router.backtest.book.L2Book`).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

import numpy

__all__ = ["Coverage", "coverage_of"]


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

    def as_dict(self) -> dict:
        return {
            "venue": self.venue,
            "first_ts_ns": self.first_ts_ns,
            "last_ts_ns": self.last_ts_ns,
            "stale_after_ms": self.stale_after_ns // 1_000_000,
            "stale": [
                {"from_ts_ns": a, "to_ts_ns": b, "reason": reason} for a, b, reason in self.stale
            ],
        }


def coverage_of(venue: str, events: list[tuple], stale_after_ns: int) -> Coverage:
    """The coverage of a feed's events (sorted by exchange time). O(events), vectorised."""
    if not events:
        return Coverage(venue, 0, 0, stale_after_ns, ((0, None, "no data"),), [0])
    ts = numpy.fromiter((e[0] for e in events), dtype=numpy.int64, count=len(events))
    gaps = numpy.flatnonzero(numpy.diff(ts) > stale_after_ns)
    stale = [(int(ts[i]) + stale_after_ns, int(ts[i + 1]), "gap") for i in gaps.tolist()]
    last = int(ts[-1])
    stale.append((last + stale_after_ns, None, "data ended"))
    return Coverage(venue, int(ts[0]), last, stale_after_ns, tuple(stale), [s[0] for s in stale])
