"""The asset graph: every spot venue is an edge between the two assets of its symbol.

A venue trading ``BASE/QUOTE`` links BASE and QUOTE and is usable both ways (sell BASE for QUOTE,
buy BASE with QUOTE). Perpetuals (``BASE/QUOTE:SETTLE``) are not spot conversions and never enter
the graph. A route from asset A to asset B of at most K hops uses the direct link
A-B and, for K >= 2, every intermediate asset X linked to both A and B (A -> X -> B); for K = 3
also A -> X -> Y -> B (two intermediates), whose paths share links and are routed on the layered
graph of :mod:`router.routing.network`. Links are always crossed in the order's direction: a route
never trades against it (no arbitrage legs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from router.model.errors import RouteError
from router.plan import Venue

__all__ = ["DEFAULT_MAX_HOPS", "MAX_HOPS", "AssetGraph", "Branch", "Link"]

# Routes of one hop (direct), two (through one intermediate asset) or three (through two; their
# paths share links: router.routing.network); see docs/routing.md.
MAX_HOPS = 3
# what an order uses unless it asks for more (issue 20: "every path up to --max-hops (default 2)")
DEFAULT_MAX_HOPS = 2


def split_symbol(symbol: str) -> tuple[str, str]:
    """``"BASE/QUOTE"`` -> (BASE, QUOTE)."""
    base, _, quote = symbol.partition("/")
    return base, quote


@dataclass(frozen=True)
class Link:
    """The venues between two assets, grouped by symbol (a link may hold ETH/USDC and USDC/ETH)."""

    assets: frozenset[str]
    by_symbol: Mapping[str, tuple[Venue, ...]]

    def venue_names(self) -> list[str]:
        return sorted(v.name for venues in self.by_symbol.values() for v in venues)


@dataclass(frozen=True)
class Branch:
    """One asset path of a route: ``assets`` from source to target, one link per hop."""

    assets: tuple[str, ...]
    links: tuple[Link, ...]

    @property
    def label(self) -> str:
        return "->".join(self.assets)


class AssetGraph:
    """Assets and the links between them, built from spot venues."""

    def __init__(self, venues: Sequence[Venue]) -> None:
        groups: dict[frozenset[str], dict[str, list[Venue]]] = {}
        for venue in venues:
            if ":" in venue.symbol:
                continue  # a perpetual (BASE/QUOTE:SETTLE) converts nothing: never an edge
            base, quote = split_symbol(venue.symbol)
            key = frozenset((base, quote))
            groups.setdefault(key, {}).setdefault(venue.symbol, []).append(venue)
        self.links = {
            key: Link(key, {s: tuple(v) for s, v in sorted(by.items())})
            for key, by in groups.items()
        }
        self.assets = sorted({a for key in self.links for a in key})

    def link(self, a: str, b: str) -> Link | None:
        return self.links.get(frozenset((a, b)))

    def pairs(self) -> list[str]:
        """Every linked asset pair, as "A-B" in sorted order (for error messages)."""
        return sorted("-".join(sorted(key)) for key in self.links)

    def branches(self, source: str, target: str, max_hops: int) -> list[Branch]:
        """Every asset path from ``source`` to ``target`` of at most ``min(max_hops, 2)`` hops
        (paths of three hops share links: they are no independent branches, see
        :mod:`router.routing.network`), direct first, then by intermediate asset name. Raises
        RouteError (one line naming the pair and what exists) for an unknown asset, source ==
        target, or no path."""
        self.check(source, target, max_hops)
        found = []
        direct = self.link(source, target)
        if direct is not None:
            found.append(Branch((source, target), (direct,)))
        if max_hops >= 2:
            for mid in self.assets:
                if mid in (source, target):
                    continue
                first, second = self.link(source, mid), self.link(mid, target)
                if first is not None and second is not None:
                    found.append(Branch((source, mid, target), (first, second)))
        if not found:
            raise RouteError(
                f"from={source!r} to={target!r}: no path of at most {max_hops} hop(s); the market"
                f" links {', '.join(self.pairs()) or '(nothing)'}",
                field="to",
                value=target,
            )
        return found

    def check(self, source: str, target: str, max_hops: int) -> None:
        """Raise RouteError (one line) for a hop count out of range, an unknown asset or
        source == target."""
        if (
            isinstance(max_hops, bool)
            or not isinstance(max_hops, int)
            or not 1 <= max_hops <= MAX_HOPS
        ):
            raise RouteError(
                f"max_hops={max_hops!r} is invalid; allowed: an integer in [1, {MAX_HOPS}]",
                field="max_hops",
                value=max_hops,
            )
        known = ", ".join(self.assets) or "(none)"
        for field, asset in (("from", source), ("to", target)):
            if asset not in self.assets:
                raise RouteError(
                    f"{field}={asset!r} is invalid; allowed: an asset of the market's spot venues"
                    f" ({known})",
                    field=field,
                    value=asset,
                )
        if source == target:
            raise RouteError(
                f"to={target!r} is invalid; allowed: an asset other than from={source!r}",
                field="to",
                value=target,
            )
