"""Exact trades of a route whose paths share links (``--max-hops 3``): the float flow of
:mod:`router.routing.network` turned into venue trades, edge by edge in topological order.

A link crossed in one direction is one edge of the layered graph, whatever paths use it: it is
planned once, for the sum of its paths, by the single-symbol planner (:func:`router.plan.plan_route`
through the multi-hop router's link planners: fixed leg costs by branch and bound, quantisation
with the cheapest exact completion, exact re-quotes with each venue's integer math, rounding
against the trader). Its exact output joins its destination's inventory, and a node's inventory
is what its out-edges may spend: so every trade's input is exactly what the trades before it
delivered (less what could not be placed, reported as residual).

- Spend-sized ("from"): nodes in topological order; a node's exact inventory is split over its
  out-edges by the float flow (each share floored to the edge's grid, the rest to the largest
  edge whose grid takes it; what no grid takes stays, as residual).
- Receive-sized ("to"): nodes in reverse order; a node's exact need is split over its in-edges by
  the float flow (floored to each edge's output grid, the rest to the largest), each edge planned
  to deliver at least its share (a surplus stays at the node, as residual), its input added to
  the need of its source.

Paths: the flow decomposed proportionally (each path's share of a node is its share of the
node's inventory, carried through each edge pro rata), amounts floored to the asset's grid and
the largest path taking what rounding left, so the paths' amounts sum exactly to the plan's. A
trade used by two or more paths is listed in each, marked shared; the trades themselves, in
execution order, are the plan's ``trades``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from decimal import ROUND_FLOOR, Decimal
from typing import Protocol

from router.model.errors import CrossrouteError, RouteError
from router.routing.flow import DirectedLink
from router.routing.graph import AssetGraph, Link
from router.routing.hop import Hop, PathPlan
from router.routing.network import Network, NetworkFlow

__all__ = ["DagOutcome", "plan_dag", "plan_landed", "pruned"]

ZERO = Decimal(0)
_CRUMB = 1e-9

# spent, received, paths, residual, trades
DagOutcome = tuple[Decimal, Decimal, list[PathPlan], dict[str, Decimal], list[Hop]]


class LinkPlanner(Protocol):
    """What the trades of one link need (the multi-hop router's per-order planners: each link
    planned by :func:`router.plan.plan_route`, memoised for the order)."""

    quantum: dict[str, Decimal]

    def link_grids(self, link: Link, asset: str) -> set[Decimal]: ...

    def link_grid(self, link: Link, asset: str) -> Decimal: ...

    def forward_link(
        self, link: Link, directed: DirectedLink, src: str, dst: str, amount: Decimal, step: int
    ) -> tuple[list[Hop], Decimal]: ...

    def backward_link(
        self, link: Link, src: str, dst: str, need: Decimal, step: int
    ) -> list[Hop]: ...


def _floor(value: Decimal, grid: Decimal) -> Decimal:
    return (value / grid).to_integral_value(ROUND_FLOOR) * grid


def _split(total: Decimal, weights: Sequence[float], grids: Sequence[Decimal]) -> list[Decimal]:
    """``total`` split in proportion to ``weights`` on each part's grid (floored), the rest to the
    largest part whose grid takes it; parts sum to ``total`` or (no grid takes the rest) less."""
    whole = math.fsum(weights)
    # float crumbs (a share below 1e-9 of the whole) are no trade
    weights = [w if w > _CRUMB * whole else 0.0 for w in weights]
    whole = math.fsum(weights)
    parts = [
        max(_floor(Decimal(repr(w / whole)) * total, g), ZERO) if whole > 0.0 else ZERO
        for w, g in zip(weights, grids)
    ]
    rest = total - sum(parts, ZERO)
    for i in sorted(range(len(parts)), key=lambda i: (-parts[i], i)):
        if rest == 0:
            break
        if rest % grids[i] == 0 and parts[i] + rest >= 0:
            parts[i] += rest
            rest = ZERO
    return parts


def pruned(network: Network, flow: NetworkFlow, share: float, mode: str) -> NetworkFlow:
    """``flow`` with every edge carrying less than ``share`` of its node's flow dropped (the
    node's amount then goes to its other edges in proportion): a small flow through a coarse lot
    can lose more to rounding than its float gain (a candidate for the exact plan)."""
    ins, outs = list(flow.inputs), list(flow.outputs)
    groups = network.out if mode == "from" else network.into
    weights = ins if mode == "from" else outs
    for edges in groups:
        total = math.fsum(weights[k] for k in edges)
        for k in edges:
            if weights[k] < share * total:
                ins[k] = outs[k] = 0.0
    return replace(flow, inputs=tuple(ins), outputs=tuple(outs))


def plan_dag(
    router: LinkPlanner,
    graph: AssetGraph,
    network: Network,
    flow: NetworkFlow,
    requested: Decimal,
    mode: str,
) -> DagOutcome | None:
    """The exact trades of ``flow`` for "spend ``requested``" ("from") or "receive it" ("to"),
    or None when a link cannot be planned exactly."""
    try:
        if mode == "from":
            return _forward(router, graph, network, flow, requested)
        return _backward(router, graph, network, flow, requested)
    except CrossrouteError:
        return None


def plan_landed(
    router: LinkPlanner,
    graph: AssetGraph,
    network: Network,
    flow: NetworkFlow,
    requested: Decimal,
) -> DagOutcome | None:
    """A spend-sized candidate whose intermediates land on their outlets' lots
    (:func:`_landed`), or None when it cannot be planned exactly."""
    try:
        return _landed(router, graph, network, flow, requested)
    except CrossrouteError:
        return None


def _grid(router: LinkPlanner, graph: AssetGraph, network: Network, k: int, asset: str) -> Decimal:
    """The grid of ``asset`` entering or leaving edge ``k`` (the identity: the asset's)."""
    e = network.edges[k]
    if e.link is None:
        return router.quantum[asset]
    link = graph.link(e.link.src, e.link.dst)
    assert link is not None
    return router.link_grid(link, asset)


def _coarseness(
    router: LinkPlanner, graph: AssetGraph, network: Network, k: int, flow_in: float
) -> float:
    """How coarse edge ``k``'s input grid is against its float input (the identity: 0)."""
    e = network.edges[k]
    if e.link is None:
        return 0.0
    grid = _grid(router, graph, network, k, e.link.src)
    return float(grid) / flow_in if flow_in > 0.0 else math.inf


def _trade(
    router: LinkPlanner, graph: AssetGraph, network: Network, k: int, amount: Decimal
) -> tuple[list[Hop], Decimal, Decimal]:
    """Spend ``amount`` on edge ``k``: (trades, spent, received)."""
    e = network.edges[k]
    if e.link is None:
        return [], amount, amount
    link = graph.link(e.link.src, e.link.dst)
    assert link is not None
    step = network.nodes[e.src].layer + 1
    best: tuple[list[Hop], Decimal, Decimal] | None = None
    # the whole amount, or what is left after dropping dust below a venue's lot: a sub-lot rest
    # placed on another venue can cost more (its leg cost) than it brings
    tries = {amount} | {_floor(amount, g) for g in router.link_grids(link, e.link.src)}
    for size in sorted((t for t in tries if t > 0), reverse=True):
        try:
            hops, left = router.forward_link(link, e.link, e.link.src, e.link.dst, size, step)
        except CrossrouteError:
            continue
        got = sum((h.amount_out for h in hops), ZERO)
        if best is None or got > best[2]:
            best = (hops, size - left, got)
    if best is None:
        raise RouteError(
            f"from={e.link.src!r}: no exact plan spends {amount} on the {e.link.src}-"
            f"{e.link.dst} venues",
            field="qty",
            value=amount,
        )
    return best


def _forward(
    router: LinkPlanner, graph: AssetGraph, network: Network, flow: NetworkFlow, requested: Decimal
) -> DagOutcome:
    nodes, edges = network.nodes, network.edges
    have = [ZERO] * len(nodes)
    have[network.source] = requested
    spent_on = [ZERO] * len(edges)
    got_from = [ZERO] * len(edges)
    residual: dict[str, Decimal] = {}
    trades: list[Hop] = []
    for v in range(len(nodes) - 1):
        asset = nodes[v].asset
        outs = network.out[v]
        if have[v] <= 0 or not outs:
            continue
        grids = [_grid(router, graph, network, k, asset) for k in outs]
        parts = _split(have[v], [flow.inputs[k] for k in outs], grids)
        left = have[v] - sum(parts, ZERO)
        for k, part in zip(outs, parts):
            if part <= 0:
                continue
            hops, spent, got = _trade(router, graph, network, k, part)
            trades.extend(hops)
            spent_on[k], got_from[k] = spent, got
            left += part - spent
            have[edges[k].dst] += got
        if left:
            residual[asset] = residual.get(asset, ZERO) + left
    spent = requested - residual.get(nodes[network.source].asset, ZERO)
    got = have[network.target]
    return _outcome(router, network, spent, got, spent_on, got_from, residual, trades)


def _backward(
    router: LinkPlanner, graph: AssetGraph, network: Network, flow: NetworkFlow, requested: Decimal
) -> DagOutcome:
    nodes = network.nodes
    need = [ZERO] * len(nodes)
    need[network.target] = requested
    pulled = _pull(router, graph, network, flow, need, len(nodes) - 1)
    spent_on, got_from, residual, steps = pulled
    got = sum((got_from[k] for k in network.into[network.target]), ZERO)
    return _outcome(
        router,
        network,
        need[network.source],
        got,
        spent_on,
        got_from,
        residual,
        _order(network, steps),
    )


def _landed(
    router: LinkPlanner, graph: AssetGraph, network: Network, flow: NetworkFlow, requested: Decimal
) -> DagOutcome:
    """Spend-sized, landing on lots: every X@2 is given its float inflow floored to the grid of
    its link to the target (a book's lot: no dust it cannot sell), pulled exactly through its
    in-links (receive-sized, as :func:`_backward`); the source's rest goes to the direct link."""
    nodes, edges = network.nodes, network.edges
    need = [ZERO] * len(nodes)
    for v, node in enumerate(nodes):
        if node.layer == 2:
            (k,) = network.out[v]
            grid = _grid(router, graph, network, k, node.asset)
            need[v] = _floor(Decimal(repr(flow.inputs[k])), grid)
    spent_on, got_from, residual, steps = _pull(router, graph, network, flow, need, len(nodes) - 2)
    rest = requested - need[network.source]
    if rest < 0:
        raise RouteError(f"qty={requested}: the landed flow spends more", field="qty", value=rest)
    for k in network.out[network.source]:
        if edges[k].dst == network.target and rest > 0:
            hops, spent, got = _trade(router, graph, network, k, rest)
            steps[k] = hops
            spent_on[k], got_from[k] = spent, got
            rest -= spent
    if rest:
        residual[nodes[network.source].asset] = rest
    for v, node in enumerate(nodes):
        if node.layer == 2 and need[v] > 0:
            (k,) = network.out[v]
            hops, spent, got = _trade(router, graph, network, k, need[v])
            steps[k] = hops
            spent_on[k], got_from[k] = spent, got
            if need[v] - spent:
                residual[node.asset] = residual.get(node.asset, ZERO) + need[v] - spent
    got = sum((got_from[k] for k in network.into[network.target]), ZERO)
    spent = requested - residual.get(nodes[network.source].asset, ZERO)
    return _outcome(
        router, network, spent, got, spent_on, got_from, residual, _order(network, steps)
    )


def _under(
    router: LinkPlanner,
    link: Link,
    directed: DirectedLink,
    spent: Decimal,
    got: Decimal,
    part: Decimal,
    step: int,
) -> tuple[list[Hop], Decimal, Decimal] | None:
    """The link's trades for its input cut in proportion to ``part`` / ``got`` and floored to
    its grid: what it delivers just below ``part`` (None when that is not below it or cannot be
    planned)."""
    grid = router.link_grid(link, directed.src)
    cut = _floor(spent * part / got, grid)
    for _ in range(4):  # a few grid steps more when the cut still delivers too much
        if cut <= 0:
            return None
        try:
            hops, left = router.forward_link(link, directed, directed.src, directed.dst, cut, step)
        except CrossrouteError:
            return None
        out = sum((h.amount_out for h in hops), ZERO)
        if out <= part:
            return hops, cut - left, out
        cut = _floor(cut * part / out, grid) - grid
    return None


def _order(network: Network, steps: dict[int, list[Hop]]) -> list[Hop]:
    """Trades in execution order: by the layer they leave, then edge order."""
    nodes, edges = network.nodes, network.edges
    return [
        h for k in sorted(steps, key=lambda k: (nodes[edges[k].src].layer, k)) for h in steps[k]
    ]


def _pull(
    router: LinkPlanner,
    graph: AssetGraph,
    network: Network,
    flow: NetworkFlow,
    need: list[Decimal],
    top: int,
) -> tuple[list[Decimal], list[Decimal], dict[str, Decimal], dict[int, list[Hop]]]:
    """Nodes ``top`` down to 1: each node's exact ``need`` split over its in-edges by the float
    flow (floored to their grids, the rest to the largest), each edge planned to deliver at least
    its share (receive-sized; a surplus stays at the node as residual) and its input added to
    its source's need. Returns (spent per edge, received per edge, residual, trades per edge)."""
    nodes, edges = network.nodes, network.edges
    spent_on = [ZERO] * len(edges)
    got_from = [ZERO] * len(edges)
    residual: dict[str, Decimal] = {}
    steps: dict[int, list[Hop]] = {}
    for v in range(top, 0, -1):
        asset = nodes[v].asset
        ins = network.into[v]
        if need[v] <= 0 or not ins:
            continue
        grids = [_grid(router, graph, network, k, asset) for k in ins]
        parts = _split(need[v], [flow.outputs[k] for k in ins], grids)
        if sum(parts, ZERO) != need[v]:
            raise RouteError(
                f"to={asset!r}: no grid of the links into it takes {need[v]}",
                field="to_qty",
                value=need[v],
            )
        got_here = ZERO
        # the finest edge (least input grid per unit of its float flow: an identity or a pool
        # before a book's coarse lot) comes last and takes what the others fell short of: an
        # edge that can only overshoot its share (a coarse lot) is cut to what it delivers below
        # it instead, when the last edge can make up the difference
        coarse = [_coarseness(router, graph, network, k, flow.inputs[k]) for k in ins]
        last = min(range(len(ins)), key=lambda i: (coarse[i], -parts[i], i))
        order = sorted((i for i in range(len(ins)) if i != last), key=lambda i: (parts[i], i))
        order.append(last)
        short = ZERO
        for n, i in enumerate(order):
            k, part = ins[i], parts[i] + (short if n == len(order) - 1 else ZERO)
            if part <= 0:
                continue
            e = edges[k]
            if e.link is None:
                hops, spent, got = [], part, part
            else:
                link = graph.link(e.link.src, e.link.dst)
                assert link is not None
                step = nodes[e.src].layer + 1
                hops = router.backward_link(link, e.link.src, e.link.dst, part, step)
                spent = sum((h.amount_in for h in hops), ZERO)
                got = sum((h.amount_out for h in hops), ZERO)
                if got > part and n < len(order) - 1:
                    under = _under(router, link, e.link, spent, got, part, step)
                    if under is not None:
                        hops, spent, got = under
                        short += part - got
            steps[k] = hops
            spent_on[k], got_from[k] = spent, got
            need[e.src] += spent
            got_here += got
        if v != network.target and got_here > need[v]:
            residual[asset] = residual.get(asset, ZERO) + got_here - need[v]
    return spent_on, got_from, residual, steps


def _outcome(
    router: LinkPlanner,
    network: Network,
    spent: Decimal,
    got: Decimal,
    spent_on: list[Decimal],
    got_from: list[Decimal],
    residual: dict[str, Decimal],
    trades: list[Hop],
) -> DagOutcome:
    """The outcome with its paths: the exact edge amounts decomposed proportionally."""
    nodes, edges = network.nodes, network.edges
    # prefix (node indices) -> (source amount, amount held at its last node)
    at: dict[int, dict[tuple[int, ...], tuple[Decimal, Decimal]]] = {
        network.source: {(network.source,): (spent, spent)}
    }
    done: dict[tuple[int, ...], tuple[Decimal, Decimal]] = {}
    for v in range(len(nodes) - 1):
        prefixes = at.get(v, {})
        placed = sum((spent_on[k] for k in network.out[v]), ZERO)
        if not prefixes or placed <= 0:
            continue
        held = sum((cur for _src, cur in prefixes.values()), ZERO)
        for prefix, (src_amount, cur) in prefixes.items():
            share = cur / held if held > 0 else ZERO
            for k in network.out[v]:
                if spent_on[k] <= 0:
                    continue
                part = (
                    prefix + (edges[k].dst,),
                    (src_amount * spent_on[k] / placed, share * got_from[k]),
                )
                into = done if edges[k].dst == network.target else at.setdefault(edges[k].dst, {})
                into[part[0]] = part[1]
    # how many paths cross each edge; a trade of an edge crossed by two or more is shared
    users: dict[tuple[str, str, int], int] = {}
    for prefix in done:
        for a, b in zip(prefix, prefix[1:]):
            key = (nodes[a].asset, nodes[b].asset, nodes[a].layer + 1)
            users[key] = users.get(key, 0) + 1
    trades = [
        replace(h, shared=True) if users.get((h.src, h.dst, h.step), 0) > 1 else h for h in trades
    ]
    by_edge: dict[tuple[str, str, int], list[Hop]] = {}
    for hop in trades:
        by_edge.setdefault((hop.src, hop.dst, hop.step), []).append(hop)
    src_asset, dst_asset = nodes[network.source].asset, nodes[network.target].asset
    q_src, q_dst = router.quantum[src_asset], router.quantum[dst_asset]
    order = sorted(done, key=lambda p: (-done[p][0], p))
    amounts = {p: (_floor(done[p][0], q_src), _floor(done[p][1], q_dst)) for p in order}
    if order:  # the largest path takes what flooring left, so the paths sum to the plan exactly
        first = order[0]
        a_in = spent - sum((a for a, _b in amounts.values()), ZERO)
        a_out = got - sum((b for _a, b in amounts.values()), ZERO)
        amounts[first] = (amounts[first][0] + a_in, amounts[first][1] + a_out)
    paths: list[PathPlan] = []
    for prefix in order:
        assets: list[str] = []
        hops: list[Hop] = []
        for a, b in zip(prefix, prefix[1:]):
            if nodes[a].asset != nodes[b].asset:  # the identity trades nothing
                hops.extend(by_edge.get((nodes[a].asset, nodes[b].asset, nodes[a].layer + 1), []))
        for node in prefix:
            if not assets or assets[-1] != nodes[node].asset:
                assets.append(nodes[node].asset)
        paths.append(PathPlan(tuple(assets), tuple(hops), *amounts[prefix]))
    return spent, got, paths, residual, trades
