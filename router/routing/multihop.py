"""Exact multi-hop plans: the float flow of :mod:`router.routing.flow` turned into exact hops.

Steps (``amount_in``: spend exactly N of the source; ``amount_out``: receive exactly N of the
target):

1. The asset graph's branches of at most ``max_hops`` hops; each link's venues pooled per symbol.
2. The convex flow optimum over the branches in float, with its certified duality gap.
3. Exact plans of candidate branch sets, each hop planned by :func:`router.plan.plan_route` on the
   link's symbol (so every hop gets the single-symbol router's exact split: fixed leg costs by
   branch and bound, quantisation with the cheapest exact completion, exact re-quotes with each
   venue's integer math, rounding against the trader), the exact output of one hop feeding the
   next hop exactly. Candidates: the float optimum's branches (ties at the optimal rate filled
   both ways; a path's unconverted intermediate moved onto a lot boundary); fixed leg costs are
   outside the convex relaxation, so the set of paths is searched over exact plans: every subset
   of at most four paths (each subset's float optimum planned exactly), beyond that the smallest
   branch dropped while that pays; every branch alone (the best single path); every direct venue
   alone (the best direct venue). The exact best wins, so the plan is never worse than the best
   single path or direct venue; ``path_search`` reports the search and the plan's gap to the
   relaxation's certified bound, which no set of paths can beat.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from itertools import combinations
from typing import Any

from router.model.errors import CrossrouteError, RouteError
from router.plan import RoutePlan, Venue, fmt_qty, plan_route
from router.routing.cache import RouteCache
from router.routing.flow import DirectedLink, FlowModel, FlowResult
from router.routing.graph import MAX_HOPS, AssetGraph, Branch, Link, split_symbol
from router.routing.pairs import PooledDepth

__all__ = ["Hop", "MultiHopPlan", "PathPlan", "PathSearch", "plan_multihop"]

_BPS = Decimal(10000)
# lot boundaries below a path's unconverted intermediate tried by the exact completion
_LOT_TRIES = 8
# up to this many paths every subset is priced exactly (2^4 - 5 subsets of two or three paths
# beside the singles and the full set); beyond, the smallest path is dropped while that pays
_EXHAUSTIVE_PATHS = 4


@dataclass(frozen=True, slots=True)
class Hop:
    """One venue trade of a path: ``amount_in`` of ``src`` for ``amount_out`` of ``dst`` (exact,
    fees and leg cost in), at ``step`` (1-based) of its path; ``side``/``qty`` as the venue sees
    it (taker side on ``symbol``, base quantity)."""

    venue: str
    symbol: str
    side: str
    step: int
    src: str
    dst: str
    amount_in: Decimal
    amount_out: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True)
class PathPlan:
    """One asset path with its hops in execution order; step k's outputs sum to step k+1's inputs
    plus what the path leaves unconverted (``residual``, normally zero)."""

    assets: tuple[str, ...]
    hops: tuple[Hop, ...]
    amount_in: Decimal
    amount_out: Decimal
    residual: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PathSearch:
    """How the set of paths was chosen (fixed leg costs make it a combinatorial choice):
    ``method`` "exhaustive" (every subset of at most :data:`_EXHAUSTIVE_PATHS` paths priced
    exactly) or "drop-smallest" (the float optimum's smallest path dropped while that pays);
    ``plans_priced`` exact candidate plans; ``bound``: the relaxation's certified bound (float,
    the target received for "from", the source spent for "to"), which no exact plan over any set
    of paths can beat; ``bound_gap``: the plan's relative distance to it (>= 0; fixed costs and
    rounding included, so it bounds what a better search could still gain)."""

    method: str
    paths: int
    plans_priced: int
    bound: float
    bound_gap: float

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "paths": self.paths,
            "plans_priced": self.plans_priced,
            "bound": _fmt_float(self.bound),
            "bound_gap": _fmt_float(self.bound_gap),
        }


@dataclass(frozen=True)
class MultiHopPlan:
    source: str
    target: str
    mode: str  # "from": amount_in fixed; "to": amount_out fixed
    requested: Decimal
    amount_in: Decimal
    amount_out: Decimal
    paths: tuple[PathPlan, ...]
    duality_gap: float
    flow: FlowResult
    best_single_path: tuple[tuple[str, ...], Decimal, Decimal] | None
    best_direct_venue: tuple[str, Decimal, Decimal] | None
    residual: dict[str, Decimal]
    decimals: Mapping[str, int]
    notes: tuple[str, ...] = ()
    path_search: PathSearch | None = None

    def hops(self) -> list[Hop]:
        """Every hop of every path, in execution order (path by path, step by step)."""
        return [hop for path in self.paths for hop in path.hops]

    def improvement_bps(self) -> Decimal | None:
        """How much better than the best single path (positive = better), in bps of it."""
        best = self.best_single_path
        if best is None:
            return None
        if self.mode == "from":
            ref, ours = best[2], self.amount_out
            diff = ours - ref
        else:
            ref, ours = best[1], self.amount_in
            diff = ref - ours
        if ref <= 0:
            return None
        return (diff / ref * _BPS).quantize(Decimal("0.01"))

    def to_json_dict(self) -> dict[str, Any]:
        """DESIGN.md's multi-hop ``crossroute route --json`` object (decimal strings), plus extras."""
        best, direct = self.best_single_path, self.best_direct_venue
        improvement = self.improvement_bps()
        src, dst = self.source, self.target

        def amount(value: Decimal, asset: str) -> str:
            return _fmt_asset(value, self.decimals[asset])

        return {
            "from": src,
            "to": dst,
            "amount_in": amount(self.amount_in, src),
            "amount_out": amount(self.amount_out, dst),
            "paths": [
                {
                    "assets": list(path.assets),
                    "amount_in": amount(path.amount_in, src),
                    "amount_out": amount(path.amount_out, dst),
                    "hops": [
                        {
                            "venue": hop.venue,
                            "from": hop.src,
                            "to": hop.dst,
                            "amount_in": amount(hop.amount_in, hop.src),
                            "amount_out": amount(hop.amount_out, hop.dst),
                            "step": hop.step,
                            "symbol": hop.symbol,
                            "side": hop.side,
                            "qty": fmt_qty(hop.qty),
                        }
                        for hop in path.hops
                    ],
                }
                for path in self.paths
            ],
            "duality_gap": _fmt_float(self.duality_gap),
            "best_single_path": None
            if best is None
            else {
                "assets": list(best[0]),
                "amount_in": amount(best[1], src),
                "amount_out": amount(best[2], dst),
            },
            "best_direct_venue": None
            if direct is None
            else {
                "venue": direct[0],
                "amount_in": amount(direct[1], src),
                "amount_out": amount(direct[2], dst),
            },
            "improvement_bps": None if improvement is None else _fmt(improvement),
            "residual": {a: amount(v, a) for a, v in sorted(self.residual.items()) if v},
            "method": "dual-decomposition",
            "path_search": None if self.path_search is None else self.path_search.to_json_dict(),
            "notes": list(self.notes),
        }


def plan_multihop(
    venues: Sequence[Venue],
    decimals: Mapping[str, int],
    source: str,
    target: str,
    *,
    amount_in: Decimal | None = None,
    amount_out: Decimal | None = None,
    max_hops: int = MAX_HOPS,
    cache: RouteCache | None = None,
) -> MultiHopPlan:
    """Plan "spend exactly ``amount_in`` of ``source``" or "receive exactly ``amount_out`` of
    ``target``" over the spot ``venues`` through paths of at most ``max_hops`` hops.

    ``decimals``: each asset's decimals (the grid of quote amounts). ``cache`` (optional): the
    float curves kept across orders (:class:`~router.routing.cache.RouteCache`; the plan is the
    same with or without it, only faster when the venues have not changed). Raises RouteError (one line
    naming the field, the asset pair and what exists) for unknown assets, no path, a bad hop
    count or size, or an order the paths cannot carry.
    """
    if (amount_in is None) == (amount_out is None):
        raise RouteError(
            "qty: give exactly one of --qty (spend) and --to-qty (receive)",
            field="qty",
            value=(amount_in, amount_out),
        )
    mode = "from" if amount_in is not None else "to"
    requested = amount_in if amount_in is not None else amount_out
    assert requested is not None
    if not isinstance(requested, Decimal) or not requested.is_finite() or requested <= 0:
        raise RouteError(
            f"qty={requested!r} is invalid; allowed: a positive finite Decimal",
            field="qty",
            value=requested,
        )
    graph = AssetGraph(venues)
    branches = graph.branches(source, target, max_hops)
    router = _Router(graph, branches, decimals, source, target, mode, cache)
    return router.plan(requested)


class _Router:
    def __init__(
        self,
        graph: AssetGraph,
        branches: list[Branch],
        decimals: Mapping[str, int],
        source: str,
        target: str,
        mode: str,
        cache: RouteCache | None = None,
        *,
        reference: bool = False,
    ) -> None:
        self.graph, self.branches = graph, branches
        self.cache = cache
        self.reference = reference  # whole path curves up front (tests compare the fast path)
        self.source, self.target, self.mode = source, target, mode
        for asset in graph.assets:
            if asset not in decimals:
                raise RouteError(
                    f"asset={asset!r} is invalid; allowed: an asset with decimals in [assets]",
                    field="asset",
                    value=asset,
                )
        self.decimals = {a: int(decimals[a]) for a in graph.assets}
        self.quantum = {a: Decimal(1).scaleb(-self.decimals[a]) for a in graph.assets}
        self._pooled: dict[tuple[str, str], PooledDepth] = {}
        self._plans: dict[tuple[str, str, Decimal | None, Decimal | None], Any] = {}
        self.directed = [
            [
                self._directed(link, branch.assets[i], branch.assets[i + 1])
                for i, link in enumerate(branch.links)
            ]
            for branch in branches
        ]

    def _directed(self, link: Link, src: str, dst: str) -> DirectedLink:
        sides = []
        for symbol, venues in link.by_symbol.items():
            base, _quote = split_symbol(symbol)
            sells = base == src
            side = "sell" if sells else "buy"
            key = (symbol, side)
            if key not in self._pooled:
                curves = [v.depth_curve(side) for v in venues]
                self._pooled[key] = (
                    PooledDepth(curves, side)
                    if self.cache is None
                    else self.cache.pooled(curves, side)
                )
            sides.append((sells, self._pooled[key]))
        return DirectedLink(src, dst, sides, self.cache)

    # -- candidates --

    def plan(self, requested: Decimal) -> MultiHopPlan:
        self.requested_amount = requested
        amount = float(requested)
        # the composed path curves are built once and serve every candidate's flow
        model = FlowModel(
            self.directed, self.source, self.target, self.cache, reference=self.reference
        )
        flow = model.solve(amount, self.mode)
        notes: list[str] = []
        candidates: list[tuple[Decimal, Decimal, list[PathPlan], dict[str, Decimal], str]] = []
        shares = flow.inputs if self.mode == "from" else flow.outputs
        active = [k for k, s in enumerate(shares) if s > 0.0]
        current = self._exact({k: shares[k] for k in active}, requested)
        if current is not None:
            candidates.append((*current, "flow"))
        # books' flat levels of several paths at the optimal rate: every split of them is a float
        # optimum, but quantisation (lots of the intermediate) tells them apart: try the other
        # end of the tie too
        tied = model.solve(amount, self.mode, ties_reversed=True)
        tied_shares = tied.inputs if self.mode == "from" else tied.outputs
        if any(abs(a - b) > 1e-9 * amount for a, b in zip(tied_shares, shares)):
            other = self._exact({k: s for k, s in enumerate(tied_shares) if s > 0.0}, requested)
            if other is not None:
                candidates.append((*other, "flow"))
                if current is None or self._better(other, current):
                    current = other
        if current is not None and self.mode == "from" and current[3]:
            moved = self._move_residual(current)
            if moved is not None:
                candidates.append((*moved, "flow"))
                if self._better(moved, current):
                    current = moved
        # fixed leg costs are outside the relaxation: the best set of paths is searched over
        # exact plans, every subset of at most _EXHAUSTIVE_PATHS paths (singles below), else the
        # smallest branch dropped while that pays
        exhaustive = len(self.branches) <= _EXHAUSTIVE_PATHS
        priced = len(candidates)
        if exhaustive:
            subsets = [
                members
                for size in range(2, len(self.branches))
                for members in combinations(range(len(self.branches)), size)
            ]
            for members in subsets:
                try:
                    sub = model.solve(amount, self.mode, members)
                except RouteError:
                    continue
                sub_shares = sub.inputs if self.mode == "from" else sub.outputs
                trial = self._exact(
                    {k: s for k, s in zip(members, sub_shares) if s > 0.0}, requested
                )
                priced += 1
                if trial is not None:
                    candidates.append((*trial, "subset"))
        members = [] if exhaustive else list(active)
        best_now = current
        while len(members) > 1:
            drop = min(members, key=lambda k: (shares[k], k))
            members = [k for k in members if k != drop]
            try:
                sub = model.solve(amount, self.mode, members)
            except RouteError:
                break
            sub_shares = sub.inputs if self.mode == "from" else sub.outputs
            trial = self._exact(dict(zip(members, sub_shares)), requested)
            priced += 1
            if trial is None:
                break
            candidates.append((*trial, "flow-dropped"))
            if best_now is not None and not self._better(trial, best_now):
                break
            best_now = trial
        singles = []
        for k in range(len(self.branches)):
            single = self._exact({k: amount}, requested)
            priced += 1
            if single is not None:
                singles.append((k, single))
                candidates.append((*single, "single-path"))
        direct = self._best_direct(requested)
        if not candidates:
            raise RouteError(
                f"from={self.source!r} to={self.target!r}: no exact plan fills {requested}"
                f" (paths: {', '.join(b.label for b in self.branches)})",
                field="qty",
                value=requested,
            )
        best = candidates[0]
        for cand in candidates[1:]:
            if self._better(cand[:4], best[:4]):
                best = cand
        if best[4] != "flow":
            notes.append(
                {
                    "flow-dropped": "a path of the float optimum did not pay for its fixed leg costs: dropped",
                    "single-path": "one path alone beats the exact split over paths: routed there",
                    "subset": "a subset of the paths beats the split over all of them (fixed leg"
                    " costs): routed there",
                }[best[4]]
            )
        best_single = None
        for k, single in singles:
            if best_single is None or self._better(single, best_single[1]):
                best_single = (k, single)
        spent, got, paths, residual, _ = best
        # the relaxation's certified bound holds for every set of paths and every exact plan
        # (fixed costs and rounding only lose): its gap to the plan bounds what any search over
        # paths could still gain
        if self.mode == "from":
            bound_gap = max(flow.dual - float(got), 0.0) / flow.dual if flow.dual > 0 else 0.0
        else:
            bound_gap = max(float(spent) - flow.dual, 0.0) / float(spent) if spent > 0 else 0.0
        search = PathSearch(
            "exhaustive" if exhaustive else "drop-smallest",
            len(self.branches),
            priced,
            flow.dual,
            bound_gap,
        )
        return MultiHopPlan(
            source=self.source,
            target=self.target,
            mode=self.mode,
            requested=requested,
            amount_in=spent,
            amount_out=got,
            paths=tuple(paths),
            duality_gap=flow.duality_gap,
            flow=flow,
            best_single_path=None
            if best_single is None
            else (self.branches[best_single[0]].assets, best_single[1][0], best_single[1][1]),
            best_direct_venue=direct,
            residual=residual,
            decimals=self.decimals,
            notes=tuple(notes),
            path_search=search,
        )

    def _better(self, a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
        """Is exact outcome ``a`` better for the trader than ``b``? ("from": more received;
        "to": less spent; ties: fewer hops)."""
        if self.mode == "from":
            if a[1] != b[1]:
                return bool(a[1] > b[1])
        elif a[0] != b[0]:
            return bool(a[0] < b[0])
        return sum(len(p.hops) for p in a[2]) < sum(len(p.hops) for p in b[2])

    def _best_direct(self, requested: Decimal) -> tuple[str, Decimal, Decimal] | None:
        link = self.graph.link(self.source, self.target)
        if link is None:
            return None
        best: tuple[str, Decimal, Decimal] | None = None
        for symbol, venues in link.by_symbol.items():
            base, _ = split_symbol(symbol)
            for venue in venues:
                try:
                    if self.mode == "from":
                        if base == self.source:
                            leg = venue.quote("sell", requested)
                            pair = (leg.qty, leg.quote_amount)
                        else:
                            leg = venue.quote_for_quote("buy", requested)
                            pair = (leg.quote_amount, leg.qty)
                            if pair[0] != requested:
                                continue  # a single venue that cannot spend it all does not fill it
                    elif base == self.target:
                        leg = venue.quote("buy", requested)
                        pair = (leg.quote_amount, leg.qty)
                    else:
                        leg = venue.quote_for_quote("sell", requested)
                        pair = (leg.qty, leg.quote_amount)
                except CrossrouteError:
                    continue
                cand = (venue.name, pair[0], pair[1])
                if best is None or (
                    cand[2] > best[2] if self.mode == "from" else cand[1] < best[1]
                ):
                    best = cand
        return best

    # -- exact plans --

    def _exact(
        self, shares: Mapping[int, float], requested: Decimal
    ) -> tuple[Decimal, Decimal, list[PathPlan], dict[str, Decimal]] | None:
        """The exact plan of float ``shares`` (branch -> source spent, or target received) summing
        to ``requested``: shares floored to each branch's grid, the remainder on the largest
        branch whose grid takes it. None when a hop cannot be planned."""
        exact: dict[int, Decimal] = {}
        for k, share in shares.items():
            q = self._end_quantum(k)
            amount = (Decimal(repr(share)) / q).to_integral_value(ROUND_FLOOR) * q
            exact[k] = min(max(amount, Decimal(0)), requested)
        rest = requested - sum(exact.values(), Decimal(0))
        for k in sorted(exact, key=lambda k: (-exact[k], k)):
            if rest == 0:
                break
            if exact[k] + rest > 0 and rest % self._end_quantum(k) == 0:
                exact[k] += rest
                rest = Decimal(0)
        if rest != 0:
            return None
        paths: list[PathPlan] = []
        residual: dict[str, Decimal] = {}
        spent = got = Decimal(0)
        try:
            for k in sorted(exact):
                if exact[k] <= 0:
                    continue
                path = self._path(k, exact[k])
                paths.append(path)
                spent += path.amount_in
                got += path.amount_out
                for asset, left in path.residual.items():
                    residual[asset] = residual.get(asset, Decimal(0)) + left
        except CrossrouteError:
            return None
        if self.mode == "to" and got < requested:
            return None
        return spent, got, paths, residual

    def _move_residual(
        self, outcome: tuple[Decimal, Decimal, list[PathPlan], dict[str, Decimal]]
    ) -> tuple[Decimal, Decimal, list[PathPlan], dict[str, Decimal]] | None:
        """A better exact plan for a path that leaves intermediate unconverted (below the next
        hop's lot, or below what pays its leg cost), or None: the path's source is cut by whole
        grid steps so that its intermediate lands just above one of the next few lot boundaries
        below (the lot measured on the next hop's largest leg), the source moved to the largest
        path without residual; of those the one whose predicted residual is least is planned
        exactly ("from" only)."""
        index = {branch.assets: k for k, branch in enumerate(self.branches)}
        clean = [index[p.assets] for p in outcome[2] if not any(p.residual.values())]
        dirty = [p for p in outcome[2] if any(p.residual.values())]
        if not clean or len(dirty) != 1:
            return None
        path = dirty[0]
        k = index[path.assets]
        left = sum(path.residual.values(), Decimal(0))
        received = sum((h.amount_out for h in path.hops if h.step == 1), Decimal(0))
        nxt = [h for h in path.hops if h.step == 2]
        if left <= 0 or received <= 0 or not nxt:
            return None
        lot = self._lot_in(k, max(nxt, key=lambda h: h.amount_in))
        q = self._end_quantum(k)
        rate = received / path.amount_in  # the first hop's average rate
        best: tuple[Decimal, Decimal] | None = None  # (predicted residual, source cut)
        for m in range(_LOT_TRIES):
            # whole grid steps worth at most left + m lots at the first hop's average rate (its
            # marginal rate is lower): the intermediate stays at or above that boundary, about
            # left + m lots - cut·rate above it
            want = (left + m * lot) / rate
            delta = (want / q).to_integral_value(ROUND_FLOOR) * q
            if delta <= 0 or delta >= path.amount_in:
                continue
            predicted = left + m * lot - delta * rate
            if best is None or predicted < best[0]:
                best = (predicted, delta)
        if best is None:
            return None
        shares = {index[p.assets]: p.amount_in for p in outcome[2]}
        shares[k] -= best[1]
        shares[max(clean, key=lambda c: (shares[c], -c))] += best[1]
        return self._exact({c: float(v) for c, v in shares.items()}, self.requested_amount)

    def _lot_in(self, k: int, hop: Hop) -> Decimal:
        """What one lot of ``hop``'s venue costs in the hop's input asset."""
        link = self.branches[k].links[hop.step - 1]
        venue = next(v for v in link.by_symbol[hop.symbol] if v.name == hop.venue)
        quantum = venue.base_quantum()
        if hop.side == "sell" or hop.qty <= 0:
            return quantum
        return quantum * hop.amount_in / hop.qty

    def _end_quantum(self, k: int) -> Decimal:
        """The grid of the amount entering (from) or leaving (to) branch ``k``: the finest base
        quantum of its first (last) hop's venues when that amount is a base quantity, else the
        asset's decimals."""
        branch = self.branches[k]
        link = branch.links[0] if self.mode == "from" else branch.links[-1]
        asset = self.source if self.mode == "from" else self.target
        grids: list[Decimal] = []
        for symbol, venues in link.by_symbol.items():
            if split_symbol(symbol)[0] == asset:
                grids.extend(v.base_quantum() for v in venues)
            else:
                grids.append(self.quantum[asset])
        return min(grids)

    def _path(self, k: int, amount: Decimal) -> PathPlan:
        branch = self.branches[k]
        n = len(branch.links)
        residual: dict[str, Decimal] = {}
        if self.mode == "from":
            hops: list[Hop] = []
            carry = amount
            for i in range(n):
                src, dst = branch.assets[i], branch.assets[i + 1]
                step_hops, left = self._forward(k, i, src, dst, carry, i + 1)
                if left:
                    residual[src] = residual.get(src, Decimal(0)) + left
                hops.extend(step_hops)
                carry = sum((h.amount_out for h in step_hops), Decimal(0))
            return PathPlan(
                branch.assets,
                tuple(hops),
                amount - residual.get(self.source, Decimal(0)),
                carry,
                residual,
            )
        steps: list[list[Hop]] = []
        need = amount
        for i in reversed(range(n)):
            src, dst = branch.assets[i], branch.assets[i + 1]
            step_hops = self._backward(branch.links[i], src, dst, need, i + 1)
            got = sum((h.amount_out for h in step_hops), Decimal(0))
            if i < n - 1 and got > need:
                residual[dst] = residual.get(dst, Decimal(0)) + got - need
            steps.insert(0, step_hops)
            need = sum((h.amount_in for h in step_hops), Decimal(0))
        hops = [h for s in steps for h in s]
        out = sum((h.amount_out for h in steps[-1]), Decimal(0))
        return PathPlan(branch.assets, tuple(hops), need, out, residual)

    def _plan(
        self,
        venues: list[Venue],
        symbol: str,
        side: str,
        *,
        qty: Decimal | None = None,
        quote_qty: Decimal | None = None,
    ) -> RoutePlan:
        """:func:`router.plan.plan_route` of one hop, memoised for this order: the candidates
        (float optimum, its tie, single paths, dropped branches) often give a link the same
        amount, and planning is read-only, so the same question gets the same exact answer
        (a refusal included) without re-quoting the venues."""
        key = (symbol, side, qty, quote_qty)
        if key not in self._plans:
            try:
                self._plans[key] = plan_route(venues, symbol, side, qty, quote_qty=quote_qty)
            except CrossrouteError as exc:
                self._plans[key] = exc
        found = self._plans[key]
        if isinstance(found, CrossrouteError):
            raise found
        return found

    def _forward(
        self, k: int, i: int, src: str, dst: str, amount: Decimal, step: int
    ) -> tuple[list[Hop], Decimal]:
        """Spend exactly ``amount`` of src on the link (per symbol by the float split): hops and
        what could not be placed."""
        link = self.branches[k].links[i]
        symbols = list(link.by_symbol)
        if len(symbols) == 1:
            parts = {symbols[0]: amount}
        else:
            floats = self.directed[k][i].side_inputs(float(amount))
            parts = {}
            for symbol, share in zip(symbols, floats):
                parts[symbol] = (Decimal(repr(share)) / self.quantum[src]).to_integral_value(
                    ROUND_FLOOR
                ) * self.quantum[src]
            top = max(parts, key=lambda s: (parts[s], s))
            parts[top] += amount - sum(parts.values(), Decimal(0))
        hops: list[Hop] = []
        left = Decimal(0)
        for symbol, part in parts.items():
            if part <= 0:
                continue
            venues = list(link.by_symbol[symbol])
            base, _ = split_symbol(symbol)
            if base == src:
                plan = self._plan(venues, symbol, "sell", qty=part)
                hops += [
                    Hop(
                        leg.venue,
                        symbol,
                        "sell",
                        step,
                        src,
                        dst,
                        leg.qty,
                        leg.quote_amount,
                        leg.qty,
                    )
                    for leg in plan.legs
                ]
                left += part - plan.qty
            else:
                plan = self._plan(venues, symbol, "buy", quote_qty=part)
                hops += [
                    Hop(
                        leg.venue, symbol, "buy", step, src, dst, leg.quote_amount, leg.qty, leg.qty
                    )
                    for leg in plan.legs
                ]
                left += part - plan.quote_amount
        return hops, left

    def _backward(self, link: Link, src: str, dst: str, need: Decimal, step: int) -> list[Hop]:
        """Receive at least ``need`` of dst from the link (first symbol whose plan fills it; the
        link's symbols are tried in name order, the cheapest kept)."""
        best: list[Hop] | None = None
        for symbol, venues_t in link.by_symbol.items():
            venues = list(venues_t)
            base, _ = split_symbol(symbol)
            try:
                if base == dst:
                    plan = self._plan(venues, symbol, "buy", qty=need)
                    hops = [
                        Hop(
                            leg.venue,
                            symbol,
                            "buy",
                            step,
                            src,
                            dst,
                            leg.quote_amount,
                            leg.qty,
                            leg.qty,
                        )
                        for leg in plan.legs
                    ]
                else:
                    plan = self._plan(venues, symbol, "sell", quote_qty=need)
                    hops = [
                        Hop(
                            leg.venue,
                            symbol,
                            "sell",
                            step,
                            src,
                            dst,
                            leg.qty,
                            leg.quote_amount,
                            leg.qty,
                        )
                        for leg in plan.legs
                    ]
            except CrossrouteError:
                continue
            if not plan.complete:
                continue
            cost = sum((h.amount_in for h in hops), Decimal(0))
            if best is None or cost < sum((h.amount_in for h in best), Decimal(0)):
                best = hops
        if best is None:
            raise RouteError(
                f"to={dst!r}: the {src}-{dst} venues cannot deliver {need}", field="qty", value=need
            )
        return best


def _fmt(value: Decimal) -> str:
    return format(value, "f")


def _fmt_asset(value: Decimal, decimals: int) -> str:
    """An exact amount with its asset's decimals ("50.000000000000000000 ETH", "1.50000000
    WBTC"); an amount finer than the asset's grid keeps every digit (nothing is rounded)."""
    grid = Decimal(1).scaleb(-decimals)
    if value == value.quantize(grid):
        return format(value.quantize(grid), "f")
    return format(value, "f")


def _fmt_float(value: float) -> str:
    """A non-negative float as a plain decimal string (no exponent), its shortest repr digits."""
    if not math.isfinite(value):
        return "null"
    return format(Decimal(repr(value)), "f")
