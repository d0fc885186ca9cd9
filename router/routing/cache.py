"""Routing's float structures kept across orders, keyed by the identity of what they are built from.

Every adapter caches its depth curve per side keyed by the venue's whole state (reserves, ticks
and liquidity, the book's levels): while a venue is unchanged it returns the same
:class:`~router.model.depth.DepthCurve` object, and any trade, mint, burn, order or cancel gives a
new one. So a pooled link built from the same curve objects, a link in rate space built from the
same pooled sides, a path composed of the same two links and a route pooled from the same path
curves are the same values: :class:`RouteCache` hands them back instead of rebuilding. The cache
holds the objects of each key (never only their ``id``, which Python reuses) and compares them by
identity, so a changed venue can never hit a stale entry; it rebuilds exactly the links and paths
that contain a changed venue. Bounded: the least recently used entries go first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from router.model.depth import DepthCurve
from router.routing.pairs import PooledDepth

__all__ = ["RouteCache"]


class RouteCache:
    """Pooled links, rate-space links, composed paths and pooled routes, by input identity.

    ``max_entries`` per kind (least recently used evicted). Hits and misses are counted per kind
    (``hits``/``misses``) for tests and benchmarks. O(k) per lookup for k inputs.
    """

    def __init__(self, max_entries: int = 512) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries={max_entries!r} is invalid; allowed: an integer >= 1")
        self.max_entries = max_entries
        self._tables: dict[str, OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], Any]]] = {}
        self.hits: dict[str, int] = {}
        self.misses: dict[str, int] = {}

    def _get(self, kind: str, parts: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        table = self._tables.setdefault(kind, OrderedDict())
        key = tuple(id(p) if not isinstance(p, (str, bool)) else p for p in parts)
        found = table.get(key)
        if found is not None and all(a is b for a, b in zip(found[0], parts)):
            table.move_to_end(key)
            self.hits[kind] = self.hits.get(kind, 0) + 1
            return found[1]
        value = build()
        table[key] = (parts, value)
        table.move_to_end(key)
        while len(table) > self.max_entries:
            table.popitem(last=False)
        self.misses[kind] = self.misses.get(kind, 0) + 1
        return value

    def pooled(self, curves: Sequence[DepthCurve], side: str) -> PooledDepth:
        """:class:`PooledDepth` of ``curves`` (one symbol, one taker side)."""
        return self._get(  # type: ignore[no-any-return]
            "pooled", (side, *curves), lambda: PooledDepth(list(curves), side)
        )

    def rate_space(
        self, sides: Sequence[tuple[bool, PooledDepth]], build: Callable[[], PooledDepth]
    ) -> PooledDepth:
        """A link's venues in rate space, built by ``build`` from the pooled ``sides``."""
        parts = tuple(p for sells, depth in sides for p in (sells, depth))
        return self._get("rate_space", parts, build)  # type: ignore[no-any-return]

    def composed(
        self, first: PooledDepth, second: PooledDepth, build: Callable[[], np.ndarray]
    ) -> np.ndarray:
        """The composed terms of the path ``first`` then ``second``, built by ``build``."""
        return self._get("composed", (first, second), build)  # type: ignore[no-any-return]

    def composed_if_seen(
        self, first: PooledDepth, second: PooledDepth, build: Callable[[], np.ndarray]
    ) -> np.ndarray | None:
        """The whole composed terms of the path ``first`` then ``second`` once the path is asked
        for a second time (built then, kept after), None the first time (remembered): a path
        through a venue that just moved is answered from its first pieces (the cold fast path of
        :class:`~router.routing.flow.FlowModel`), and only a path that stays is built whole."""
        seen = self._tables.setdefault("composed_seen", OrderedDict())
        key = (id(first), id(second))
        found = seen.get(key)
        if found is not None and found[0][0] is first and found[0][1] is second:
            return self.composed(first, second, build)
        seen[key] = ((first, second), None)
        while len(seen) > self.max_entries:
            seen.popitem(last=False)
        return None

    def route(self, terms: Sequence[np.ndarray], build: Callable[[], PooledDepth]) -> PooledDepth:
        """The pooled curve of a route's path terms, built by ``build``."""
        return self._get("route", tuple(terms), build)  # type: ignore[no-any-return]
