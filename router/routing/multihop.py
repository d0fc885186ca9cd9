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
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from itertools import combinations
from typing import Any

from router.model.errors import CrossrouteError, RouteError
from router.plan import RoutePlan, Venue, fmt_qty, plan_route
from router.routing.cache import RouteCache
from router.routing.flow import DirectedLink, FlowModel, FlowResult
from router.routing.graph import DEFAULT_MAX_HOPS, AssetGraph, Branch, Link, split_symbol
from router.routing.hop import Hop, PathPlan
from router.routing.network import NetworkFlow, build_network
from router.routing.pairs import PooledDepth

__all__ = ["Hop", "MultiHopPlan", "PathPlan", "PathSearch", "plan_multihop"]

_BPS = Decimal(10000)
# lot boundaries below a path's unconverted intermediate tried by the exact completion
_LOT_TRIES = 8
# up to this many paths every subset is priced exactly (2^4 - 5 subsets of two or three paths
# beside the singles and the full set); beyond, the smallest path is dropped while that pays
_EXHAUSTIVE_PATHS = 4
# relative cuts tried on a path that cannot carry its float share exactly (see _shrunk)
_CUTS = (Decimal("1e-12"), Decimal("1e-9"), Decimal("1e-6"), Decimal("1e-4"), Decimal("1e-2"))
# three-hop candidates: edges carrying less than these shares of their node's flow dropped
_PRUNE_SHARES = (0.0, 1e-4, 1e-3, 1e-2, 5e-2)


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
    flow: FlowResult | NetworkFlow
    best_single_path: tuple[tuple[str, ...], Decimal, Decimal] | None
    best_direct_venue: tuple[str, Decimal, Decimal] | None
    residual: dict[str, Decimal]
    decimals: Mapping[str, int]
    notes: tuple[str, ...] = ()
    path_search: PathSearch | None = None
    # a three-hop plan (paths share links): every venue trade once, in execution order
    trades: tuple[Hop, ...] = ()

    def hops(self) -> list[Hop]:
        """Every venue trade in execution order: a three-hop plan's ``trades`` (step by step;
        a step's trades spend what earlier steps delivered), else every hop of every path (path
        by path, step by step)."""
        if self.trades:
            return list(self.trades)
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

        def hop_json(hop: Hop) -> dict[str, Any]:
            found = {
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
            if self.trades:
                found["shared"] = hop.shared
            return found

        extra: dict[str, Any] = {}
        if self.trades:
            extra["trades"] = [hop_json(hop) for hop in self.trades]
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
                    "hops": [hop_json(hop) for hop in path.hops],
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
            **extra,
        }


# an exact plan: (source spent, target received, paths, residual per asset)
_Outcome = tuple[Decimal, Decimal, list["PathPlan"], dict[str, Decimal]]


def plan_multihop(
    venues: Sequence[Venue],
    decimals: Mapping[str, int],
    source: str,
    target: str,
    *,
    amount_in: Decimal | None = None,
    amount_out: Decimal | None = None,
    max_hops: int = DEFAULT_MAX_HOPS,
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
    if max_hops == 3:
        return _plan_three(graph, decimals, source, target, mode, requested, cache)
    branches = graph.branches(source, target, max_hops)
    router = _Router(graph, branches, decimals, source, target, mode, cache)
    return router.plan(requested)


def _plan_three(
    graph: AssetGraph,
    decimals: Mapping[str, int],
    source: str,
    target: str,
    mode: str,
    requested: Decimal,
    cache: RouteCache | None,
) -> MultiHopPlan:
    """Paths of up to three hops (they share links): the convex flow on the layered graph
    (:mod:`router.routing.network`) planned exactly edge by edge (:mod:`router.routing.dagplan`),
    against the best plan of at most two hops (its path search and single paths included): the
    better exact plan wins, so three hops are never worse than two."""
    from router.routing.dagplan import plan_dag, plan_landed, pruned

    graph.check(source, target, 3)
    two: MultiHopPlan | None = None
    refused: RouteError | None = None
    try:
        branches = graph.branches(source, target, 2)
        two = _Router(graph, branches, decimals, source, target, mode, cache).plan(requested)
    except RouteError as exc:
        refused = exc  # no path of two hops, or none that carries the order: three may
    router = _Router(graph, [], decimals, source, target, mode, cache)
    network = build_network(
        graph, source, target, lambda a, b: router._directed(_link(graph, a, b), a, b)
    )
    if not network.uses_middle_links():
        if two is not None:
            return two
        assert refused is not None
        raise refused
    amount = float(requested)
    network.check_size(amount, mode, source, target)
    flow = network.solve(amount, mode)
    # candidates: the float optimum, and the same with small edge flows dropped (a small flow
    # through a coarse lot can lose more to rounding than it gains); the exact best wins
    outcome = None
    for share in _PRUNE_SHARES:
        candidate = pruned(network, flow, share, mode)
        trials = [plan_dag(router, graph, network, candidate, requested, mode)]
        if mode == "from":  # intermediates landing on their outlets' lots
            trials.append(plan_landed(router, graph, network, candidate, requested))
        for trial in trials:
            if trial is None or (mode == "to" and trial[1] < requested):
                continue
            if outcome is None or router._better(trial, outcome):
                outcome = trial
    if outcome is None:
        if two is not None:
            return two
        raise RouteError(
            f"from={source!r} to={target!r}: no exact plan fills {requested} over paths of at"
            " most 3 hops",
            field="qty",
            value=requested,
        )
    spent, got, paths, residual, trades = outcome
    if two is not None and not router._better(
        outcome, (two.amount_in, two.amount_out, list(two.paths))
    ):
        notes = (
            *two.notes,
            "the three-hop flow, planned exactly, does not beat this plan of at most two hops",
        )
        return replace(two, notes=notes)
    bound_gap = _bound_gap(mode, flow.dual, spent, got)
    return MultiHopPlan(
        source=source,
        target=target,
        mode=mode,
        requested=requested,
        amount_in=spent,
        amount_out=got,
        paths=tuple(paths),
        duality_gap=flow.duality_gap,
        flow=flow,
        best_single_path=None if two is None else two.best_single_path,
        best_direct_venue=None if two is None else two.best_direct_venue,
        residual=residual,
        decimals=router.decimals,
        notes=(
            ("paths share links: each shared trade is planned once for all its paths",)
            if any(hop.shared for hop in trades)
            else ()
        ),
        path_search=PathSearch(
            "network", len(paths), 2 if two is not None else 1, flow.dual, bound_gap
        ),
        trades=tuple(trades),
    )


def _bound_gap(mode: str, dual: float, spent: Decimal, got: Decimal) -> float:
    """The plan's relative distance to the relaxation's certified bound (>= 0)."""
    if mode == "from":
        return max(dual - float(got), 0.0) / dual if dual > 0 else 0.0
    return max(float(spent) - dual, 0.0) / float(spent) if spent > 0 else 0.0


def _link(graph: AssetGraph, a: str, b: str) -> Link:
    link = graph.link(a, b)
    assert link is not None
    return link


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
            single = self._exact({k: amount}, requested, repair=False)  # stays one path
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
        bound_gap = _bound_gap(self.mode, flow.dual, spent, got)
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
        self, shares: Mapping[int, float], requested: Decimal, *, repair: bool = True
    ) -> tuple[Decimal, Decimal, list[PathPlan], dict[str, Decimal]] | None:
        """The cheapest exact plan of float ``shares`` (branch -> source spent, or target
        received) summing to ``requested``: shares floored to each branch's grid, the remainder
        tried on the branches of the split whose grid takes it, largest first, until one leaves
        nothing unconverted (the cheapest kept, not the first that plans), then repaired (:meth:`_repair`, unless ``repair`` is False: the plan must stay on
        these branches). None when no completion can be planned."""
        exact: dict[int, Decimal] = {}
        for k, share in shares.items():
            q = self._end_quantum(k)
            amount = (Decimal(repr(share)) / q).to_integral_value(ROUND_FLOOR) * q
            exact[k] = min(max(amount, Decimal(0)), requested)
        rest = requested - sum(exact.values(), Decimal(0))
        best: _Outcome | None = None
        for k in sorted(exact, key=lambda k: (-exact[k], k)):
            if rest == 0 or (exact[k] + rest > 0 and rest % self._end_quantum(k) == 0):
                trial = self._priced({**exact, k: exact[k] + rest})
                if trial is not None and (best is None or self._better(trial, best)):
                    best = trial
            if rest == 0 or (best is not None and not any(best[3].values())):
                break  # a clean completion: the others differ by the remainder's few grains
        if best is None and repair:
            best = self._shrunk(exact, rest)
        return best if best is None or not repair else self._repair(best)

    def _shrunk(self, exact: Mapping[int, Decimal], rest: Decimal) -> _Outcome | None:
        """The split with every path that cannot carry its share (a float capacity a hair above
        the venues' exact one: a pool's last range, a book's last level) cut to the largest of a
        few relative cuts it can carry, what is cut (and the remainder) moved onto one path that
        can, every such path tried, the cheapest kept; None if none plans."""
        amounts = dict(exact)
        moved = rest
        for k in sorted(amounts):
            try:
                self._path(k, amounts[k])
                continue
            except CrossrouteError:
                pass
            q = self._end_quantum(k)
            carried = Decimal(0)
            for cut in _CUTS:
                trial = (amounts[k] * (1 - cut) / q).to_integral_value(ROUND_FLOOR) * q
                try:
                    self._path(k, trial)
                except CrossrouteError:
                    continue
                carried = trial
                break
            moved += amounts[k] - carried
            amounts[k] = carried
        best: _Outcome | None = None
        for j in range(len(self.branches)):
            if moved % self._end_quantum(j):
                continue
            shares = {**amounts, j: amounts.get(j, Decimal(0)) + moved}
            trial_plan = self._priced({c: v for c, v in shares.items() if v > 0})
            if trial_plan is not None and (best is None or self._better(trial_plan, best)):
                best = trial_plan
        return best

    def _priced(self, exact: Mapping[int, Decimal]) -> _Outcome | None:
        """The exact plan of exact ``exact`` (branch -> amount), or None when a hop cannot be
        planned (or a receive-sized plan falls short)."""
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
        if self.mode == "to" and got < self.requested_amount:
            return None
        return spent, got, paths, residual

    def _repair(self, outcome: _Outcome) -> _Outcome:
        """The cheapest of ``outcome`` and its one-path nudges. Quantisation a float split cannot
        see leaves a path with something unconverted: the source a book's lot cannot spend
        ("from"), or an intermediate over-bought to a book's lot ("to"). Each such path is
        nudged by exactly what is left (the source part moved onto every other branch, or the
        target share cut to what the intermediate's lower lot boundary buys, or raised to the
        upper one, the difference taken from or given to every other branch), each nudge
        priced exactly, the cheapest kept: a last-ulp change of the float shares then moves
        the plan by at most a grain, never to a worse subset of paths."""
        index = {branch.assets: k for k, branch in enumerate(self.branches)}
        amounts = {  # what each path was given (its end amount, unconverted source included)
            index[p.assets]: (
                p.amount_in + p.residual.get(self.source, Decimal(0))
                if self.mode == "from"
                else p.amount_out
            )
            for p in outcome[2]
        }
        best = outcome
        for p in outcome[2]:
            k = index[p.assets]
            for moved in self._nudges(k, p):
                if moved == 0 or moved > amounts[k]:
                    continue
                for j in range(len(self.branches)):
                    if j == k or moved % self._end_quantum(j) or amounts.get(j, 0) + moved < 0:
                        continue
                    shares = dict(amounts)
                    shares[k] -= moved
                    shares[j] = shares.get(j, Decimal(0)) + moved
                    trial = self._priced({c: v for c, v in shares.items() if v > 0})
                    if trial is not None and self._better(trial, best):
                        best = trial
        excess = outcome[1] - self.requested_amount
        if self.mode == "to" and excess > 0:
            # a path over-delivered the target (a book's lot on its last hop): the others
            # deliver that much less
            for j, given in amounts.items():
                q = self._end_quantum(j)
                cut = (excess / q).to_integral_value(ROUND_FLOOR) * q
                if 0 < cut < given:
                    shares = {**amounts, j: given - cut}
                    trial = self._priced(shares)
                    if trial is not None and self._better(trial, best):
                        best = trial
        if self.mode == "from" and best[3]:
            moved = self._move_residual(best)  # an intermediate left below the next hop's lot
            if moved is not None and self._better(moved, best):
                best = moved
        return best

    def _nudges(self, k: int, path: PathPlan) -> list[Decimal]:
        """How much of branch ``k``'s end amount to move elsewhere (negative: to take from
        elsewhere) so that its unconverted part disappears (see :meth:`_repair`)."""
        if self.mode == "from":
            left = path.residual.get(self.source, Decimal(0))
            return [left] if left > 0 else []
        branch = self.branches[k]
        if len(branch.links) < 2 or not path.residual:
            return []
        mid = branch.assets[-2]
        over = path.residual.get(mid, Decimal(0))
        last = [h for h in path.hops if h.step == len(branch.links)]
        first = [h for h in path.hops if h.step == len(branch.links) - 1]
        if over <= 0 or not last or not first:
            return []
        bought = sum((h.amount_out for h in first), Decimal(0))
        lot = self._lot_out(k, max(first, key=lambda h: h.amount_out))
        q = self._end_quantum(k)
        moves: list[Decimal] = []
        # what the intermediate at the boundary below (bought - lot) and above (bought) buys
        for boundary in (bought - lot, bought):
            if boundary <= 0:
                continue
            try:
                hops, unplaced = self._forward(
                    k, len(branch.links) - 1, mid, self.target, boundary, len(branch.links)
                )
            except CrossrouteError:
                continue
            if unplaced:
                continue
            out = sum((h.amount_out for h in hops), Decimal(0))
            share = (out / q).to_integral_value(ROUND_FLOOR) * q
            moves.append(path.amount_out - share)
        return [m for m in moves if m != 0]

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
        return self._exact(
            {c: float(v) for c, v in shares.items()}, self.requested_amount, repair=False
        )

    def _lot_out(self, k: int, hop: Hop) -> Decimal:
        """What one lot of ``hop``'s venue delivers in the hop's output asset (the grid its
        output is bought on)."""
        link = self.branches[k].links[hop.step - 1]
        venue = next(v for v in link.by_symbol[hop.symbol] if v.name == hop.venue)
        return venue.base_quantum() if hop.side == "buy" else self.quantum[hop.dst]

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
        return self.link_grid(link, self.source if self.mode == "from" else self.target)

    def link_grids(self, link: Link, asset: str) -> set[Decimal]:
        """Every grid of an amount of ``asset`` entering ``link``: each venue's base quantum
        where ``asset`` is its base, the asset's decimals where it is the quote."""
        grids: set[Decimal] = set()
        for symbol, venues in link.by_symbol.items():
            if split_symbol(symbol)[0] == asset:
                grids.update(v.base_quantum() for v in venues)
            else:
                grids.add(self.quantum[asset])
        return grids

    def link_grid(self, link: Link, asset: str) -> Decimal:
        """The grid of an amount of ``asset`` entering or leaving ``link``: the finest base
        quantum of the venues whose base it is, else the asset's decimals."""
        return min(self.link_grids(link, asset))

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
            step_hops = self.backward_link(branch.links[i], src, dst, need, i + 1, lots_up=True)
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
        """Spend exactly ``amount`` of src on hop ``i`` of branch ``k``: :meth:`forward_link`."""
        return self.forward_link(
            self.branches[k].links[i], self.directed[k][i], src, dst, amount, step
        )

    def forward_link(
        self, link: Link, directed: DirectedLink, src: str, dst: str, amount: Decimal, step: int
    ) -> tuple[list[Hop], Decimal]:
        """Spend exactly ``amount`` of src on the link (per symbol by the float split): hops and
        what could not be placed."""
        symbols = list(link.by_symbol)
        if len(symbols) == 1:
            parts = {symbols[0]: amount}
        else:
            floats = directed.side_inputs(float(amount))
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

    def backward_link(
        self, link: Link, src: str, dst: str, need: Decimal, step: int, *, lots_up: bool = False
    ) -> list[Hop]:
        """Receive at least ``need`` of dst from the link (every symbol's plan tried, the
        cheapest kept). With ``lots_up`` (two-hop paths), a base ``need`` off every venue's lot
        grid is bought rounded up to the finest lot that fills it (the excess is the path's
        residual, which :meth:`_repair` then moves onto a lot boundary): refusing it made the
        whole split fail."""
        best = self._backward_tries(
            link, src, dst, [(s, v, need) for s, v in link.by_symbol.items()], step
        )
        if best is None and lots_up:
            ups = [
                (symbol, venues, (need / lot).to_integral_value(ROUND_CEILING) * lot)
                for symbol, venues in link.by_symbol.items()
                if split_symbol(symbol)[0] == dst
                for lot in sorted({v.base_quantum() for v in venues})
            ]
            best = self._backward_tries(link, src, dst, [t for t in ups if t[2] != need], step)
        if best is None:
            raise RouteError(
                f"to={dst!r}: the {src}-{dst} venues cannot deliver {need}", field="qty", value=need
            )
        return best

    def _backward_tries(
        self,
        link: Link,
        src: str,
        dst: str,
        tries: list[tuple[str, tuple[Venue, ...], Decimal]],
        step: int,
    ) -> list[Hop] | None:
        """The cheapest complete plan of (symbol, venues, dst amount) ``tries``, or None."""
        best: list[Hop] | None = None
        for symbol, venues_t, amount in tries:
            venues = list(venues_t)
            base, _ = split_symbol(symbol)
            try:
                if base == dst:
                    plan = self._plan(venues, symbol, "buy", qty=amount)
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
                    plan = self._plan(venues, symbol, "sell", quote_qty=amount)
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
