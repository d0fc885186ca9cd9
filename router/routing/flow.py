"""The optimal split of an order over asset paths: a convex flow problem, solved in closed form.

Problem (``mode="from"``): send exactly N of the source A through the branches (the direct link
A-B, and A -> X -> B for each intermediate X) to receive as much of the target B as possible.
Each link crossed in the order's direction is a concave "input -> output" function: the
venues' pooled depth (:class:`~router.routing.pairs.PooledDepth`), fees in, fixed costs out.
(``mode="to"``: receive exactly N of B spending as little A as possible.)

Every branch is one composed depth curve (:mod:`router.routing.compose`: the breakpoints of its
links merged once into closed-form pieces). The branches of a route of at most two hops share no
link, so at the optimum every branch in use sits at one marginal rate ρ (B per A) and the split
over branches is the single-symbol water-fill on the composed curves: the pooled curve of all
branches inverted at N (one sort, prefix sums, one linear equation), each branch filled to ρ
(flat levels exactly at ρ share what is left, in branch order). No root finding, no iteration.

Primal: each branch's share pushed through its links with the pooled closed forms (the
intermediate received is sold in full), value P. Dual (Angeris et al., "Optimal Routing for
Constant Function Market Makers"; CFMMRouter.jl): at asset prices π (π_B = 1, π_A = ρ for
"from"; π_A = 1, π_B = 1/ρ for "to"; π_X the marginal rate of X on its branch) every link
answers with its arbitrage trade (every venue filled to the marginal rate π_in/π_out), and

    g(π) = N·π_A + Σ_links arb_link(π)            ("from"; an upper bound on the output)

bounds every feasible flow (weak duality holds at any π). The certified relative duality gap is
(D - P) / P with D = g(π) ("to": (S - L) / S for spend S and lower bound L = N·π_B - Σ arb).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from router.model.errors import RouteError
from router.routing.cache import RouteCache
from router.routing.compose import compose, compose_down_to, fill_at, rate_space_terms
from router.routing.pairs import PooledDepth

__all__ = ["DirectedLink", "FlowModel", "FlowResult", "solve_flow"]

_MAX_ITER = 200  # bisection steps of a link split across symbols (to adjacent floats)
# the fast path's rate floors: just below the direct link's own rate, then these drops below the
# best path rate; a floor's pieces are trusted only this much (relative) above it, far beyond
# the float noise of the closed forms (~1e-15)
_FLOOR_MARGIN = 1e-3
_FLOOR_DROPS = (0.01, 0.04, 0.16)
_NOISE = 1e-6


class DirectedLink:
    """A link crossed from ``src`` to ``dst``: for each symbol, the pooled side the crossing uses
    (src is the symbol's base: sell; src is its quote: buy)."""

    def __init__(
        self,
        src: str,
        dst: str,
        sides: Sequence[tuple[bool, PooledDepth]],
        cache: RouteCache | None = None,
    ) -> None:
        # sides: (sells, pooled depth): sells=True when src is the symbol's base
        self.src, self.dst = src, dst
        self.sides = list(sides)
        self._rate_space: PooledDepth | None = None
        self._cache = cache

    def rate_space(self) -> PooledDepth:
        """Every venue of the link pooled in rate space (input src, output dst, "price" the
        marginal rate dst per src): built once."""
        if self._rate_space is None:
            if len(self.sides) == 1 and self.sides[0][0]:
                self._rate_space = self.sides[0][1]  # a sell of the base is rate space already
            elif self._cache is None:
                self._rate_space = self._build_rate_space()
            else:
                self._rate_space = self._cache.rate_space(self.sides, self._build_rate_space)
        return self._rate_space

    def _build_rate_space(self) -> PooledDepth:
        terms = [rate_space_terms(depth.terms, sells) for sells, depth in self.sides]
        return PooledDepth.from_terms(np.concatenate(terms, axis=1), "sell")

    def rate_at(self, amount: float) -> float:
        """The marginal rate (dst per src) after ``amount`` src."""
        return self.rate_space().invert(amount, 0)[2]

    def at_rate(self, rate: float) -> tuple[float, float]:
        """(src in, dst out) of every venue filled to the marginal rate ``rate`` = π_src / π_dst
        (dst per src at the margin, inverted)."""
        inp = out = 0.0
        for sells, depth in self.sides:
            if sells:
                q, c = depth.at_price(rate)  # sell base down to price π_src/π_dst
                inp += q
                out += c
            else:
                q, c = depth.at_price(1.0 / rate)  # buy base up to price π_dst/π_src
                inp += c
                out += q
        return inp, out

    def capacity(self) -> tuple[float, float]:
        """(src in, dst out) with every venue emptied."""
        inp = out = 0.0
        for sells, depth in self.sides:
            inp += depth.total_qty if sells else depth.total_cost
            out += depth.total_cost if sells else depth.total_qty
        return inp, out

    def best_rate(self) -> float:
        """The best marginal rate π_src/π_dst at which anything trades (highest dst per src)."""
        best = 0.0
        for sells, depth in self.sides:
            p = depth.best_price
            if math.isfinite(p):
                best = max(best, p if sells else 1.0 / p)
        return best

    def forward(self, amount: float) -> float:
        """Most dst received for ``amount`` src (split across the symbols at one marginal rate)."""
        if amount <= 0.0:
            return 0.0
        if len(self.sides) == 1:
            sells, depth = self.sides[0]
            return depth.cost_of_qty(amount) if sells else depth.qty_of_cost(amount)
        return self._invert(amount, 0)[1]

    def backward(self, amount: float) -> float:
        """Least src spent to receive ``amount`` dst (inf when the link cannot deliver it)."""
        if amount <= 0.0:
            return 0.0
        if amount > self.capacity()[1] * (1 + 1e-12):
            return math.inf
        if len(self.sides) == 1:
            sells, depth = self.sides[0]
            return depth.qty_of_cost(amount) if sells else depth.cost_of_qty(amount)
        return self._invert(amount, 1)[0]

    def side_inputs(self, amount: float) -> list[float]:
        """How ``amount`` src splits across the link's symbols at one marginal rate (the split
        that yields :meth:`forward`); the float residual goes to the largest share."""
        if len(self.sides) == 1:
            return [amount]
        if amount >= self.capacity()[0]:
            return [d.total_qty if sells else d.total_cost for sells, d in self.sides]
        rate = self._invert(amount, 0, want_rate=True)[0]
        shares = []
        for sells, depth in self.sides:
            q, c = depth.at_price(rate if sells else 1.0 / rate)
            shares.append(q if sells else c)
        top = max(range(len(shares)), key=lambda i: shares[i])
        shares[top] += amount - math.fsum(shares)
        return [max(s, 0.0) for s in shares]

    def _invert(self, amount: float, which: int, want_rate: bool = False) -> tuple[float, float]:
        cap = self.capacity()
        if amount >= cap[which]:
            return (0.0, 0.0) if want_rate else cap
        hi_rate = self.best_rate() * 2.0  # nothing trades: (0, 0)
        lo_rate = hi_rate
        lo_pt = self.at_rate(lo_rate)
        while lo_pt[which] < amount and lo_rate > 1e-300:
            lo_rate *= 0.5
            lo_pt = self.at_rate(lo_rate)
        hi_pt = self.at_rate(hi_rate)
        for _ in range(_MAX_ITER):
            mid = math.sqrt(lo_rate * hi_rate)
            if mid in (lo_rate, hi_rate):
                break
            pt = self.at_rate(mid)
            if pt[which] >= amount:
                lo_rate, lo_pt = mid, pt
            else:
                hi_rate, hi_pt = mid, pt
        if want_rate:
            return lo_rate, hi_rate
        span = lo_pt[which] - hi_pt[which]
        t = 1.0 if span <= 0.0 else (amount - hi_pt[which]) / span
        return hi_pt[0] + t * (lo_pt[0] - hi_pt[0]), hi_pt[1] + t * (lo_pt[1] - hi_pt[1])


def check_capacity(amount: float, cap: float, mode: str, source: str, target: str) -> None:
    """Raise RouteError (one line) when ``amount`` exceeds ``cap``: what the paths from ``source``
    to ``target`` can spend (``mode`` "from", in the source asset) or deliver ("to", in the
    target asset). The 1e-9 margin keeps an order of exactly the capacity out of float dust."""
    if amount > cap * (1 - 1e-9):
        field = "qty" if mode == "from" else "to_qty"
        asset = source if mode == "from" else target
        what = "spend" if mode == "from" else "deliver"
        raise RouteError(
            f"{field}='{amount:.15g}' is invalid; allowed: at most about {cap:.6g} {asset}"
            f" (what the paths from {source} to {target} can {what})",
            field=field,
            value=amount,
        )


@dataclass(frozen=True)
class FlowResult:
    """The float optimum over branches.

    ``inputs`` / ``outputs``: per branch (in the order given), source spent and target received;
    ``prices``: the dual asset prices (numeraire 1); ``primal``: total target received ("from")
    or source spent ("to"); ``dual``: the bound (upper for "from", lower for "to");
    ``duality_gap``: relative, >= 0; ``intermediate``: per branch, the intermediate amount (0 for
    a direct branch)."""

    inputs: tuple[float, ...]
    outputs: tuple[float, ...]
    intermediate: tuple[float, ...]
    prices: dict[str, float]
    primal: float
    dual: float
    duality_gap: float


# a branch: one DirectedLink (direct) or two (through an intermediate)
BranchLinks = Sequence[DirectedLink]


def solve_flow(
    branches: Sequence[BranchLinks], source: str, target: str, amount: float, mode: str
) -> FlowResult:
    """The optimal split of ``amount`` (source spent for "from", target received for "to") over
    ``branches``, with its dual certificate. Raises RouteError when the branches cannot carry it."""
    return FlowModel(branches, source, target).solve(amount, mode)


class FlowModel:
    """The branches of a route with their composed depth curves (the curves do not depend on the
    order); :meth:`solve` answers an order size in O(S) numpy and a few O(log S) closed forms,
    on all branches or a subset.

    Without a cache the composed curves are made only as deep as the order reaches (the fast
    path): a path's pieces down to a marginal rate floor below the optimum
    (:func:`~router.routing.compose.compose_down_to`), the floor lowered only when the answer
    is not inside; the result equals the whole curves' (``reference=True``) bit for bit, since
    every value it reads is made by the same operations on the same numbers. With a
    :class:`~router.routing.cache.RouteCache` (kept across orders) a path asked again is built
    whole once and reused; a new path (a venue on it just moved) goes the fast path."""

    def __init__(
        self,
        branches: Sequence[BranchLinks],
        source: str,
        target: str,
        cache: RouteCache | None = None,
        *,
        reference: bool = False,
    ) -> None:
        """``cache`` (optional): composed paths and pooled routes kept across orders
        (:class:`~router.routing.cache.RouteCache`); the result is the same with or without.
        ``reference``: build every whole composed curve up front (what the fast path is
        checked against)."""
        self.links = [list(b) for b in branches]
        self.source, self.target = source, target
        self._cache = cache
        self._terms: list[np.ndarray | None] = [
            b[0].rate_space().terms if len(b) == 1 else None for b in self.links
        ]
        if reference:
            self._terms = [
                t if t is not None else self._compose(b[0], b[1])
                for t, b in zip(self._terms, self.links)
            ]
        elif cache is not None:
            # a path the cache has seen before is whole (built on its second sighting); a new
            # one (a venue on it just moved) goes the fast path
            for k, b in enumerate(self.links):
                if len(b) == 2:
                    first, second = b[0].rate_space(), b[1].rate_space()
                    self._terms[k] = cache.composed_if_seen(
                        first, second, partial(compose, first, second)
                    )
        # a path's first pieces: branch -> (rate floor, terms down to it)
        self._parts: dict[int, tuple[float, np.ndarray]] = {}
        # the routes pooled from them: (branches, floor each reached) -> route
        self._parts_routes: dict[tuple[tuple[int, ...], tuple[float, ...]], PooledDepth] = {}
        self._routes: dict[tuple[int, ...], PooledDepth] = {}

    @property
    def terms(self) -> list[np.ndarray]:
        """Every branch's whole composed terms (made on first use when the fast path skipped them)."""
        for k, b in enumerate(self.links):
            if self._terms[k] is None:
                self._terms[k] = self._compose(b[0], b[1])
        return self._terms  # type: ignore[return-value]

    def _compose(self, first: DirectedLink, second: DirectedLink) -> np.ndarray:
        a, b = first.rate_space(), second.rate_space()
        if self._cache is None:
            return compose(a, b)
        return self._cache.composed(a, b, lambda: compose(a, b))

    def _route(self, members: tuple[int, ...]) -> PooledDepth:
        if members not in self._routes:
            if len(members) == 1 and len(self.links[members[0]]) == 1:
                pool = self.links[members[0]][0].rate_space()
            else:
                whole = self.terms
                terms = [whole[k] for k in members]

                def build() -> PooledDepth:
                    return _pool(np.concatenate(terms, axis=1))

                pool = build() if self._cache is None else self._cache.route(terms, build)
            self._routes[members] = pool
        return self._routes[members]

    def solve(
        self,
        amount: float,
        mode: str,
        members: Sequence[int] | None = None,
        *,
        ties_reversed: bool = False,
    ) -> FlowResult:
        """The optimum over the branches ``members`` (all by default), in their order. Flat
        levels of several branches exactly at the optimal rate are equally good in float; they
        fill in branch order, or in reverse order with ``ties_reversed`` (after quantisation the
        two optima can differ: the caller compares them exactly)."""
        chosen = tuple(range(len(self.links))) if members is None else tuple(members)
        which = 0 if mode == "from" else 1
        if any(self._terms[k] is None for k in chosen):  # a path not made whole yet: fast path
            for floor in self._floors(chosen, amount, which):
                found = self._solve_part(chosen, floor, amount, mode, which, ties_reversed)
                if found is not None:
                    return found
        source, target = self.source, self.target
        route = self._route(chosen)
        if not route.total_qty > 0.0:
            raise RouteError(
                f"from={source!r} to={target!r}: the venues on every path are empty",
                field="to",
                value=target,
            )
        check_capacity(
            amount, route.total_qty if which == 0 else route.total_cost, mode, source, target
        )
        rate = route.invert(amount, which)[2]
        links = [self.links[k] for k in chosen]
        whole = self.terms
        shares = _shares([whole[k] for k in chosen], rate, amount, which, ties_reversed)
        return _certify(links, shares, rate, amount, mode, source, target)

    def _floors(self, chosen: tuple[int, ...], amount: float, which: int) -> list[float]:
        """Marginal rate floors to try, highest first, while a two-hop path is among ``chosen``:
        just below the direct link's own rate for the whole order (the optimum over more paths
        is at least as good), then ever further below the best rate of any path."""
        if all(len(self.links[k]) == 1 for k in chosen):
            return []
        floors = []
        best = 0.0
        for k in chosen:
            pools = [link.rate_space() for link in self.links[k]]
            if any(not p.key_array.size for p in pools):
                continue
            rate = math.prod(p.best_price for p in pools)
            best = max(best, rate)
            if len(pools) == 1:
                cap = pools[0].total_qty if which == 0 else pools[0].total_cost
                if amount < cap * (1 - 1e-9):
                    floors.append(pools[0].invert(amount, which)[2] * (1 - _FLOOR_MARGIN))
        floors += [best * (1 - drop) for drop in _FLOOR_DROPS]
        return sorted((f for f in floors if f > 0.0), reverse=True)

    def _part(self, k: int, floor: float) -> tuple[float, np.ndarray | None]:
        """Branch ``k``'s composed terms down to ``floor`` (or deeper, already made): (the floor
        they reach, 0.0 when whole; terms)."""
        whole = self._terms[k]
        if whole is not None:
            return 0.0, whole
        made = self._parts.get(k)
        if made is not None and made[0] <= floor:
            return made
        first, second = self.links[k]
        rs1, rs2 = first.rate_space(), second.rate_space()
        terms, complete = compose_down_to(rs1, rs2, floor)
        if complete:
            if self._cache is not None:
                # the whole path after all: kept as the cache's (one object, so the routes
                # pooled from it are found again)
                terms = self._cache.composed(rs1, rs2, lambda: terms)
            self._terms[k] = terms
            return 0.0, terms
        self._parts[k] = (floor, terms)
        return floor, terms

    def _solve_part(
        self,
        chosen: tuple[int, ...],
        floor: float,
        amount: float,
        mode: str,
        which: int,
        ties_reversed: bool,
    ) -> FlowResult | None:
        """:meth:`solve` on the paths' first pieces down to ``floor``, or None when the answer
        may lie beyond them. Exact: the route's events sorted and summed are the whole route's
        up to the key bound (every left-out piece starts past it), and the answer and every
        fill read only those."""
        terms: list[np.ndarray] = []
        reached = []
        for k in chosen:
            floor_k, t = self._part(k, floor)
            assert t is not None
            terms.append(t)
            reached.append(floor_k)
        if max(reached) == 0.0:
            return None  # every path whole: the whole route answers
        # key bound: every event at or below it is present
        bound = min(-r * (1 + _NOISE) for r in reached if r > 0.0)
        key = (chosen, tuple(reached))
        route = self._parts_routes.get(key)
        if route is None:
            route = _pool(np.concatenate([t[:, t[0] <= bound] for t in terms], axis=1))
            self._parts_routes[key] = route
        keys = route.key_array
        last = int(np.searchsorted(keys, bound, side="right")) - 1
        if last < 0:
            return None
        # the order is inside what the present pieces fully deliver: short of every capacity
        if not route.passed(last, which) >= amount * (1 + _NOISE):
            return None
        j = route.reach(amount, which)
        if j > last:
            return None
        rate = route.invert(amount, which)[2]
        links = [self.links[k] for k in chosen]
        shares = _shares(terms, rate, amount, which, ties_reversed)
        return _certify(links, shares, rate, amount, mode, self.source, self.target)


def _certify(
    links: list[list[DirectedLink]],
    shares: list[float],
    rate: float,
    amount: float,
    mode: str,
    source: str,
    target: str,
) -> FlowResult:
    """Push each branch's share through its links (primal) and bound it at the prices of the
    marginal ``rate`` (dual)."""
    inputs, mids, outputs = [], [], []
    for branch, share in zip(links, shares):
        if mode == "from":
            x = branch[0].forward(share)
            b = branch[1].forward(x) if len(branch) == 2 else x
            inputs.append(share)
            outputs.append(b)
        else:
            x = branch[-1].backward(share)
            b = branch[0].backward(x) if len(branch) == 2 else x
            inputs.append(b)
            outputs.append(share)
        mids.append(x if len(branch) == 2 else 0.0)
    primal = math.fsum(outputs) if mode == "from" else math.fsum(inputs)
    pi_src, pi_dst = (rate, 1.0) if mode == "from" else (1.0, 1.0 / rate)
    prices = {source: pi_src, target: pi_dst}
    arb = 0.0
    for branch, a, x in zip(links, inputs, mids):
        if len(branch) == 1:
            inp, out = branch[0].at_rate(pi_src / pi_dst)
            arb += pi_dst * out - pi_src * inp
            continue
        # π_X where X balances on this branch, seen from either link; any π bounds (weak
        # duality), the lower arbitrage the tighter
        best = math.inf
        for pi_mid in (pi_src / branch[0].rate_at(a), pi_dst * branch[1].rate_at(x)):
            if not (math.isfinite(pi_mid) and pi_mid > 0.0):
                continue
            inp1, out1 = branch[0].at_rate(pi_src / pi_mid)
            inp2, out2 = branch[1].at_rate(pi_mid / pi_dst)
            value = pi_mid * out1 - pi_src * inp1 + pi_dst * out2 - pi_mid * inp2
            if value < best:
                best, prices[branch[0].dst] = value, pi_mid
        arb += best
    if mode == "from":
        dual = amount * pi_src + arb
        gap = max(dual - primal, 0.0) / primal
    else:
        dual = amount * pi_dst - arb
        gap = max(primal - dual, 0.0) / primal
    return FlowResult(tuple(inputs), tuple(outputs), tuple(mids), prices, primal, dual, gap)


def _pool(terms: np.ndarray) -> PooledDepth:
    return PooledDepth.from_terms(terms, "sell")


def _shares(
    terms: Sequence[np.ndarray], rate: float, amount: float, which: int, reverse: bool
) -> list[float]:
    """Each branch filled to the marginal ``rate`` (one vectorised pass over its pieces); the
    flat levels exactly at it share what is left in branch order (or reversed); the float
    residual (≈1e-15 relative) goes to the largest share."""
    if len(terms) == 1:
        return [amount]
    fills = [fill_at(t, rate) for t in terms]
    shares = [f[0][which] for f in fills]
    need = amount - math.fsum(shares)
    order = range(len(fills) - 1, -1, -1) if reverse else range(len(fills))
    for k in order:
        if need <= 0.0:
            break
        take = min(fills[k][1][which], need)
        shares[k] += take
        need -= take
    top = max(range(len(shares)), key=lambda k: shares[k])
    shares[top] = max(shares[top] + amount - math.fsum(shares), 0.0)
    return shares
