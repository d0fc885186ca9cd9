"""The convex flow over an asset graph whose paths share links: routes of up to three hops.

Paths of three hops (A -> X -> Y -> B) share links with the shorter ones (A -> X, X -> B), so the
paths are no longer independent curves and the water-fill over composed paths
(:mod:`router.routing.flow`) is not exact. This module solves the flow on the graph itself.

**Layered graph.** Nodes are (asset, layer): the source A (layer 0), X@1 for every intermediate X
linked to A (X held after one hop), X@2 for every intermediate linked to B (X that may only go on
to B), the target B (layer 3). Edges: A -> B and A -> X@1 (the links out of A), X@1 -> X@2 (the
identity: X kept for its link to B), X@1 -> Y@2 (the link X-Y crossed from X to Y: the middle hop
of A -> X -> Y -> B), X@2 -> B. Every link crossed in a given direction is exactly one edge (its
venues are counted once, whatever paths use it), every path of the layered graph has at most three
hops, and the graph is acyclic (layers only rise), so the plan's hops form a DAG. A link between
two intermediates may carry flow both ways (A -> X -> Y -> B beside A -> Y -> X -> B).

**Dual decomposition** (Angeris et al., "Optimal Routing for Constant Function Market Makers";
CFMMRouter.jl). At node prices π every edge answers with its arbitrage trade: each venue filled to
the marginal rate π_src / π_dst (:meth:`DirectedLink.at_rate`, closed forms on the pooled
curves), value h_e(π) = π_dst·out - π_src·in. For "spend N of A" (π_B = 1)

    G(π) = N·π_A + Σ_e h_e(π)  >=  B received by any feasible flow   (weak duality),

and for "receive N of B" (π_A = 1) L(π) = N·π_B - Σ_e h_e(π) <= A spent by any feasible flow. G is
convex; its partial derivative in π_v is v's excess (inflow - outflow, plus N at the source),
rising in π_v and falling in every other price. G is minimised by nonlinear Gauss-Seidel: each
free price in turn set to zero its node's excess (bisection in log-price to adjacent floats; the
excess is monotone), sweeps alternating topological and reverse order. After each sweep a primal
flow is recovered (each node's inventory split over its out-edges in proportion to their answers
at π, pushed through the exact-in-float link curves), and the sweeps stop when the certified gap
(G - P) / P ("to": (P - L) / P) is below ``tol``. The gap is reported whatever happens: it is a
certificate, not an estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from router.model.errors import RouteError
from router.routing.compose import _pieces_at
from router.routing.flow import DirectedLink, check_capacity
from router.routing.graph import AssetGraph

__all__ = ["Edge", "Network", "NetworkFlow", "Node", "build_network"]

_STAGES = 9  # barrier stages (weights 1e-2 .. 1e-10 of the value, 10x apart)
_EDGE = 1e-15  # a piece's barrier trade stays this share of its length inside it
_MU_START = 1e-2
_NEWTON = 30  # damped Newton steps per stage at most
_BALANCE = 1e-2  # a stage ends when the excesses are worth this share of its barrier's gap
_FLOOR = 1e-11  # ... or this share of the order's value
_TOL = 1e-10  # certified relative gap at which the stages stop
_PIECE_STEPS = 60  # safeguarded Newton steps of one piece's trade (vectorised)


@dataclass(frozen=True, slots=True)
class Node:
    """An asset at a layer (0: the source, 3: the target; 1: reached in one hop, 2: bound for
    the target)."""

    asset: str
    layer: int

    @property
    def label(self) -> str:
        return self.asset if self.layer in (0, 3) else f"{self.asset}@{self.layer}"


@dataclass(frozen=True, slots=True)
class Edge:
    """``src`` -> ``dst`` (node indices) over ``link`` (None: the identity X@1 -> X@2, which
    moves up to ``cap`` of X one layer on at rate 1)."""

    src: int
    dst: int
    link: DirectedLink | None
    cap: float = 0.0

    def at_rate(self, rate: float) -> tuple[float, float]:
        """(in, out) of the edge filled to the marginal rate ``rate`` = π_src / π_dst."""
        if self.link is not None:
            return self.link.at_rate(rate)
        return (self.cap, self.cap) if rate <= 1.0 else (0.0, 0.0)

    def forward(self, amount: float) -> float:
        if self.link is None:
            return min(amount, self.cap)
        return self.link.forward(min(amount, self.link.capacity()[0]))

    def backward(self, amount: float) -> float:
        if self.link is None:
            return amount if amount <= self.cap else math.inf
        return self.link.backward(amount)

    def best_rate(self) -> float:
        return 1.0 if self.link is None else self.link.best_rate()


@dataclass(frozen=True)
class NetworkFlow:
    """The float optimum on the layered graph.

    ``inputs`` / ``outputs``: per edge (in :attr:`Network.edges` order) what enters and leaves it;
    ``prices``: the dual node prices (numeraire 1), by node label; ``primal``: B received
    ("from") or A spent ("to"); ``dual``: the bound (upper for "from", lower for "to");
    ``duality_gap``: relative, >= 0; ``sweeps``: Gauss-Seidel sweeps run."""

    inputs: tuple[float, ...]
    outputs: tuple[float, ...]
    prices: dict[str, float]
    primal: float
    dual: float
    duality_gap: float
    sweeps: int


class Network:
    """The layered graph of a route (nodes in topological order: source first, target last)."""

    def __init__(self, nodes: Sequence[Node], edges: Sequence[Edge]) -> None:
        self.nodes = list(nodes)
        self.edges = list(edges)
        n = len(self.nodes)
        self.into: list[list[int]] = [[] for _ in range(n)]
        self.out: list[list[int]] = [[] for _ in range(n)]
        for k, e in enumerate(self.edges):
            self.out[e.src].append(k)
            self.into[e.dst].append(k)

    @property
    def source(self) -> int:
        return 0

    @property
    def target(self) -> int:
        return len(self.nodes) - 1

    def uses_middle_links(self) -> bool:
        """Does any path have three hops (an edge X@1 -> Y@2 with X != Y)?"""
        return any(
            e.link is not None and self.nodes[e.src].layer == 1 and self.nodes[e.dst].layer == 2
            for e in self.edges
        )

    def check_size(self, amount: float, mode: str, source: str, target: str) -> None:
        """Raise RouteError (one line) when the graph cannot spend ("from") or deliver ("to")
        ``amount``: what the source's links take, or what reaches the target with every link
        emptied (each node passing on at most what its in-links can bring)."""
        reach = [0.0] * len(self.nodes)
        reach[self.source] = math.inf
        for v in range(len(self.nodes) - 1):
            for k in self.out[v]:
                e = self.edges[k]
                cap_in = e.cap if e.link is None else e.link.capacity()[0]
                reach[e.dst] += e.forward(min(reach[v], cap_in))
        if mode == "from":
            cap = math.fsum(
                self.edges[k].link.capacity()[0]  # type: ignore[union-attr]
                for k in self.out[self.source]
            )
        else:
            cap = reach[self.target]
        check_capacity(amount, cap, mode, source, target)

    # -- the pieces every edge is made of --

    def _build_pieces(self) -> None:
        """Every edge as pieces along its input (its pooled curve in rate space, breakpoints
        merged: :meth:`PooledDepth.knots`): length d, and out(q) = Y·q/(X + q) on a curved piece
        (one constant-product hyperbola), m·q on a flat one (a book level; the identity)."""
        ds, xs, ys, ms, curved, src, dst, edge = [], [], [], [], [], [], [], []
        for k, e in enumerate(self.edges):
            if e.link is None:
                d_in = np.array([e.cap])
                d_out, big_x, big_y, c = d_in, np.ones(1), np.ones(1), np.zeros(1, bool)
            else:
                knots = e.link.rate_space().knots()
                whole = np.arange(knots[0].size - 1)
                d_in, d_out, big_x, big_y, c = _pieces_at(knots, whole)
            keep = d_in > 0.0
            n = int(keep.sum())
            ds.append(d_in[keep])
            ms.append(d_out[keep] / d_in[keep])
            xs.append(np.where(c[keep], big_x[keep], 1.0))
            ys.append(np.where(c[keep], big_y[keep], 0.0))
            curved.append(c[keep])
            src.append(np.full(n, e.src))
            dst.append(np.full(n, e.dst))
            edge.append(np.full(n, k))
        self._full = (
            np.concatenate(ds),
            np.concatenate(xs),
            np.concatenate(ys),
            np.concatenate(ms),
            np.concatenate(curved),
            np.concatenate(src).astype(np.intp),
            np.concatenate(dst).astype(np.intp),
            np.concatenate(edge).astype(np.intp),
        )

    def _size_pieces(self, amount: float, mode: str) -> None:
        """Every edge's pieces cut at twice the most the order can put through it ("from": what
        ``amount`` of the source can bring to the edge's source; "to": what its destination can
        need to deliver ``amount``), the pieces past it dropped. A link's curve runs to its whole
        capacity (a pool's last range can price billions); pieces on the order's scale keep the
        barrier's weights and its trades' rounding on that scale."""
        d, x, y, m, curved, src, dst, edge = self._full
        bound = [0.0] * len(self.edges)
        if mode == "from":
            reach = [0.0] * len(self.nodes)
            reach[self.source] = amount
            for v in range(len(self.nodes) - 1):
                for k in self.out[v]:
                    e = self.edges[k]
                    cap_in = e.cap if e.link is None else e.link.capacity()[0]
                    bound[k] = min(reach[v], cap_in)
                    reach[e.dst] += e.forward(bound[k])
        else:
            need = [0.0] * len(self.nodes)
            need[self.target] = amount
            for v in range(len(self.nodes) - 1, 0, -1):
                for k in self.into[v]:
                    e = self.edges[k]
                    cap_in = e.cap if e.link is None else e.link.capacity()[0]
                    bound[k] = min(e.backward(need[v]), cap_in)
                    need[e.src] += bound[k]
        ends = np.cumsum(d)
        first = np.searchsorted(edge, np.arange(len(self.edges)), side="left")
        before = np.concatenate(([0.0], ends))[first][edge]  # each edge's start offset
        start = ends - d - before
        length = np.minimum(d, np.maximum(2.0 * np.asarray(bound)[edge] - start, 0.0))
        keep = length > 0.0
        self._d = length[keep]
        self._x, self._y, self._m = x[keep], y[keep], m[keep]
        self._curved, self._src, self._dst, self._edge = (
            curved[keep],
            src[keep],
            dst[keep],
            edge[keep],
        )

    def _out(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(out, out', out'') of every piece at inputs ``q``."""
        x, y, m, c = self._x, self._y, self._m, self._curved
        z = x + q
        out = np.where(c, y * q / z, m * q)
        d1 = np.where(c, x * y / (z * z), m)
        d2 = np.where(c, -2.0 * x * y / (z * z * z), 0.0)
        return out, d1, d2

    def _answer(self, prices: np.ndarray, mu: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Each piece's barrier trade at ``prices``: the q in (0, d) where
        π_dst·out'(q) - π_src + mu/q - mu/(d - q) = 0 (strictly decreasing in q). A flat piece
        (out' = m) in closed form: with c = π_dst·m - π_src, q = 2·mu·d / (sqrt(c²d² + 4mu²) -
        c·d + 2mu) (the root in (0, d), written without cancellation for c < 0). A curved piece
        by safeguarded Newton from ``q``, the bracket narrowed by the sign at every step.
        Vectorised."""
        d, curved = self._d, self._curved
        p_in, p_out = prices[self._src], prices[self._dst]
        c = p_out * self._m - p_in
        b = c * d - 2.0 * mu
        flat_q = 2.0 * mu * d / (np.sqrt(c * c * d * d + 4.0 * mu * mu) - b)
        q = flat_q
        idx = np.flatnonzero(curved)
        if idx.size:
            dc, xc, yc, mc = d[idx], self._x[idx], self._y[idx], mu[idx]
            pi, po = p_in[idx], p_out[idx]
            # start: the trade without barrier (out' = π_src/π_dst) when inside the piece, else
            # the flat closed form with the slope at the nearer end
            q0 = np.sqrt(xc * yc * po / pi) - xc
            end = np.clip(q0, 0.0, dc)
            z = xc + end
            ce = po * xc * yc / (z * z) - pi
            be = ce * dc - 2.0 * mc
            qc = np.where(
                (q0 > 0.0) & (q0 < dc),
                q0,
                2.0 * mc * dc / (np.sqrt(ce * ce * dc * dc + 4.0 * mc * mc) - be),
            )
            qc = np.minimum(np.maximum(qc, dc * _EDGE), dc * (1.0 - _EDGE))
            lo, hi = np.zeros_like(dc), dc.copy()
            for _ in range(_PIECE_STEPS):
                z = xc + qc
                d1 = xc * yc / (z * z)
                d2 = -2.0 * d1 / z
                f = po * d1 - pi + mc / qc - mc / (dc - qc)
                fp = po * d2 - mc / (qc * qc) - mc / ((dc - qc) * (dc - qc))
                lo = np.where(f > 0.0, qc, lo)
                hi = np.where(f > 0.0, hi, qc)
                step = qc - f / fp
                new = np.where((step > lo) & (step < hi), step, 0.5 * (lo + hi))
                done = np.all(np.abs(new - qc) <= 1e-14 * dc)
                qc = new
                if done:
                    break
            q[idx] = qc
        # strictly inside (0, d): the barrier's logarithms stay finite
        return np.minimum(np.maximum(q, d * _EDGE), d * (1.0 - _EDGE))

    def _barrier(
        self, prices: np.ndarray, mu: np.ndarray, q: np.ndarray, supply: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """(Φ, gradient, Hessian, q) of the barrier dual at ``prices``: Φ(π) = Σ_pieces
        max_q [π_dst·out(q) - π_src·q + mu·(log q + log(d - q))] + supply·π."""
        q = self._answer(prices, mu, q)
        d = self._d
        out, d1, d2 = self._out(q)
        p_in, p_out = prices[self._src], prices[self._dst]
        value = p_out * out - p_in * q + mu * (np.log(q) + np.log(d - q))
        n = len(self.nodes)
        grad = supply.copy()
        np.add.at(grad, self._dst, out)
        np.subtract.at(grad, self._src, q)
        curv = p_out * d2 - mu / (q * q) - mu / ((d - q) * (d - q))  # < 0
        w = -1.0 / curv
        hess = np.zeros((n, n))
        # H = Σ w·a·aᵀ with a = out'·e_dst - e_src
        np.add.at(hess, (self._dst, self._dst), w * d1 * d1)
        np.add.at(hess, (self._src, self._src), w)
        np.add.at(hess, (self._dst, self._src), -w * d1)
        np.add.at(hess, (self._src, self._dst), -w * d1)
        return float(math.fsum(value) + supply @ prices), grad, hess, q

    def _minimise(
        self,
        prices: np.ndarray,
        free: np.ndarray,
        supply: np.ndarray,
        certify: Callable[[np.ndarray, np.ndarray], float],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Path-following: the barrier dual minimised by damped Newton in the free prices for
        barrier weights falling by 10x per stage, each piece's weight rel·π_src·d (value units:
        the barrier's own gap is Σ 2·weight)."""
        d = self._d
        q = 0.5 * d
        value_scale = float(np.abs(supply) @ prices)  # the order's value in the numeraire
        best: tuple[float, np.ndarray, np.ndarray] | None = None
        for stage in range(_STAGES):
            stalled = False
            t = 1.0
            # every piece the same weight in value units: the barrier's own gap is 2·rel·value
            rel = _MU_START * 0.1**stage
            mu = np.full(d.size, rel * value_scale / d.size)
            value, grad, hess, q = self._barrier(prices, mu, q, supply)
            for _ in range(_NEWTON):
                g = grad[free]
                h = hess[np.ix_(free, free)]
                # Jacobi-scaled solve: prices span many orders of magnitude (WBTC vs a stable),
                # so the raw Hessian is ill-conditioned; the scaled one is not
                scale = 1.0 / np.sqrt(np.maximum(np.diag(h), 1e-300))
                scaled = h * scale[:, None] * scale[None, :]
                scaled += np.eye(len(free)) * 1e-12
                try:
                    step = scale * np.linalg.solve(scaled, -g * scale)
                except np.linalg.LinAlgError:
                    step = -g * scale * scale
                decrement = float(-(g @ step))
                # (the excesses' own rounding floor: pieces pinned a hair inside their ends)
                balanced = (
                    float(np.abs(g) @ prices[free]) <= max(_BALANCE * rel, _FLOOR) * value_scale
                )
                if balanced or not decrement > 0.0:
                    break
                t = 1.0
                size = float(np.abs(g) @ prices[free])
                while t >= 1e-12:
                    trial = prices.copy()
                    trial[free] = prices[free] + t * step
                    if np.all(trial[free] > 0.0):
                        found = self._barrier(trial, mu, q, supply)
                        # Armijo, or (near the optimum, where Φ's change is below its rounding)
                        # a smaller excess
                        if found[0] <= value - 0.25 * t * decrement or (
                            float(np.abs(found[1][free]) @ trial[free]) < 0.5 * size
                        ):
                            prices = trial
                            value, grad, hess, q = found
                            break
                    t *= 0.5
                if t < 1e-12:
                    break
            else:
                stalled = True
            if t < 1e-12:
                stalled = True
            # every stage certified (exact dual at its prices, a primal pushed through the
            # links): the best is kept; the stages stop once the gap is met, or when a stage no
            # longer converges (the excesses' rounding floor: later weights only add noise)
            gap = certify(prices, q)
            if best is None or gap < best[0]:
                best = (gap, prices.copy(), q.copy())
            if gap <= _TOL or stalled:
                break
        assert best is not None
        return best[1], best[2]

    def _bound(self, prices: Sequence[float], amount: float, mode: str) -> float:
        """The exact dual value at ``prices`` (closed forms per edge): the certificate."""
        arb = 0.0
        for e in self.edges:
            pi_s, pi_d = prices[e.src], prices[e.dst]
            inp, out = e.at_rate(pi_s / pi_d)
            arb += pi_d * out - pi_s * inp
        if mode == "from":
            return amount * prices[self.source] + arb
        return amount * prices[self.target] - arb

    # -- the primal --

    def _push_forward(
        self, flows: Sequence[float], amount: float
    ) -> tuple[list[float], list[float]]:
        """A feasible "from" flow: each node's inventory split over its out-edges in proportion
        to ``flows`` (the barrier's edge inputs), pushed through the edges' exact-in-float
        curves; what a node cannot place stays there (inflow >= outflow)."""
        ins = [0.0] * len(self.edges)
        outs = [0.0] * len(self.edges)
        have = [0.0] * len(self.nodes)
        have[self.source] = amount
        for v in range(len(self.nodes) - 1):
            total = math.fsum(flows[k] for k in self.out[v])
            if have[v] <= 0.0 or total <= 0.0:
                continue
            for k in self.out[v]:
                e = self.edges[k]
                x = flows[k] * have[v] / total
                y = e.forward(x)
                ins[k], outs[k] = x, y
                have[e.dst] += y
        return ins, outs

    def _push_backward(
        self, flows: Sequence[float], amount: float
    ) -> tuple[list[float], list[float]]:
        """A feasible "to" flow: each node's need split over its in-edges in proportion to
        ``flows`` (the barrier's edge outputs), each edge's input the least that delivers it."""
        ins = [0.0] * len(self.edges)
        outs = [0.0] * len(self.edges)
        need = [0.0] * len(self.nodes)
        need[self.target] = amount
        for v in range(len(self.nodes) - 1, 0, -1):
            total = math.fsum(flows[k] for k in self.into[v])
            if need[v] <= 0.0 or total <= 0.0:
                continue
            for k in self.into[v]:
                e = self.edges[k]
                y = flows[k] * need[v] / total
                x = e.backward(y)
                ins[k], outs[k] = x, y
                need[e.src] += x
        return ins, outs

    def solve(self, amount: float, mode: str) -> NetworkFlow:
        """The optimum of "spend ``amount`` of the source" (``mode`` "from") or "receive
        ``amount`` of the target" ("to") with its certified duality gap."""
        src, dst = self.source, self.target
        if not hasattr(self, "_full"):
            self._build_pieces()
        self._size_pieces(amount, mode)
        start = self._initial_prices()
        if mode == "to":  # the source is the numeraire
            start = [p / start[src] for p in start]
        n = len(self.nodes)
        supply = np.zeros(n)
        supply[src if mode == "from" else dst] = amount if mode == "from" else -amount
        free = np.array([v for v in range(n) if v != (dst if mode == "from" else src)])

        def certify(prices: np.ndarray, q: np.ndarray) -> float:
            return self._certify(prices, q, amount, mode)[0]

        prices, q = self._minimise(np.array(start), free, supply, certify)
        gap, bound, primal, ins, outs = self._certify(prices, q, amount, mode)
        price_list = [float(p) for p in prices]
        return NetworkFlow(
            tuple(ins),
            tuple(outs),
            {node.label: p for node, p in zip(self.nodes, price_list)},
            primal,
            bound,
            gap,
            0,
        )

    def _certify(
        self, prices: np.ndarray, q: np.ndarray, amount: float, mode: str
    ) -> tuple[float, float, float, list[float], list[float]]:
        """(gap, bound, primal, edge inputs, edge outputs): the exact dual at ``prices`` and a
        primal of the barrier's flows ``q`` (per edge, sharing each node's amount)."""
        src, dst = self.source, self.target
        out, _d1, _d2 = self._out(q)
        flows_in = np.bincount(self._edge, q, len(self.edges))
        flows_out = np.bincount(self._edge, out, len(self.edges))
        bound = self._bound([float(p) for p in prices], amount, mode)
        if mode == "from":
            ins, outs = self._push_forward(flows_in.tolist(), amount)
            primal = math.fsum(outs[k] for k in self.into[dst])
            gap = max(bound - primal, 0.0) / primal if primal > 0.0 else math.inf
        else:
            ins, outs = self._push_backward(flows_out.tolist(), amount)
            primal = math.fsum(ins[k] for k in self.out[src])
            gap = max(primal - bound, 0.0) / primal if primal > 0.0 else math.inf
        return gap, bound, primal, ins, outs

    def _initial_prices(self) -> list[float]:
        """Each node's value of its first unit in the target (the best rate to B through the
        layered graph): the prices at which nothing is traded yet, an upper start."""
        prices = [0.0] * len(self.nodes)
        prices[self.target] = 1.0
        for v in range(len(self.nodes) - 2, -1, -1):
            best = 0.0
            for k in self.out[v]:
                e = self.edges[k]
                best = max(best, e.best_rate() * prices[e.dst])
            prices[v] = best if best > 0.0 else 1.0
        return prices


def build_network(
    graph: AssetGraph,
    source: str,
    target: str,
    directed: Callable[[str, str], DirectedLink],
) -> Network:
    """The layered graph of routes of at most three hops from ``source`` to ``target``;
    ``directed(src, dst)`` gives the link between two assets crossed in that direction. Nodes
    that no path uses are left out. Raises RouteError when no path exists."""
    mids = [a for a in graph.assets if a not in (source, target)]
    first = [x for x in mids if graph.link(source, x) is not None]
    last = [x for x in mids if graph.link(x, target) is not None]
    middle = [(x, y) for x in first for y in last if x != y and graph.link(x, y) is not None]
    # an X@1 is useful when it reaches the target (its own link, or a middle link); an X@2 when
    # something reaches it
    first = [x for x in first if x in last or any(m[0] == x for m in middle)]
    last = [y for y in last if y in first or any(m[1] == y for m in middle)]
    nodes = [Node(source, 0)] + [Node(x, 1) for x in first] + [Node(y, 2) for y in last]
    nodes.append(Node(target, 3))
    index = {(n.asset, n.layer): k for k, n in enumerate(nodes)}
    edges: list[Edge] = []
    if graph.link(source, target) is not None:
        edges.append(Edge(index[(source, 0)], index[(target, 3)], directed(source, target)))
    links_in: dict[str, DirectedLink] = {}
    for x in first:
        links_in[x] = directed(source, x)
        edges.append(Edge(index[(source, 0)], index[(x, 1)], links_in[x]))
    for x in first:
        if x in last:
            cap = links_in[x].capacity()[1]
            edges.append(Edge(index[(x, 1)], index[(x, 2)], None, cap))
    for x, y in middle:
        edges.append(Edge(index[(x, 1)], index[(y, 2)], directed(x, y)))
    for y in last:
        edges.append(Edge(index[(y, 2)], index[(target, 3)], directed(y, target)))
    if not edges:
        raise RouteError(
            f"from={source!r} to={target!r}: no path of at most 3 hop(s); the market links"
            f" {', '.join(graph.pairs()) or '(nothing)'}",
            field="to",
            value=target,
        )
    return Network(nodes, edges)
