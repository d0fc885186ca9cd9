"""Optimal split of one order across the depth curves of one taker side (float64, no iteration).

Without fixed costs and minimum sizes the problem is convex and, at the optimum, every venue
that is neither empty nor at its cap sits at one common marginal price λ. :func:`split` finds λ
by a sweep: every segment contributes two events (its start and end marginal price); sorted in
the taker's order of preference (buy: rising λ, sell: falling λ) and prefix-summed, they give
the total base T(λ) (or total quote C(λ)) at every breakpoint exactly, because between two
breakpoints every curve sits inside one segment where

    q(u)    = a + b·u             u = 1/sqrt(λ)   (hyperbolic; flat segments add constants)
    cost(v) = α + β·v             v = sqrt(λ)

so the last interval is one linear equation. A flat level sitting exactly at the crossing price
is filled partially; ties between venues at that price go in venue-name order.

Fixed per-leg costs and minimum sizes make the problem non-convex: an exact branch and bound
over the venues that carry them (up to ``exact_venue_limit`` such venues) with the convex
relaxation and the Lagrangian bound, reduced-cost fixing and a heuristic first incumbent; a
greedy drop/add heuristic with a reported bound gap above that.

A limit price binds every leg: its marginal price (a cap per venue) and its all-in average,
fixed cost included (a minimum leg size per venue, :func:`all_in_min_qty`).

Sizes are base (``qty``) or quote (``quote_qty``: for a buy spend exactly that much, fixed
costs included, for the most base; for a sell receive exactly that much, net of fixed costs,
for the least base). Everything here is float64: :mod:`router.plan` turns it into exact legs.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from router.model.depth import (
    DepthCurve,
    FlatSegment,
    HyperbolicSegment,
    InvalidRouteArgument,
    check_number,
    segment_terms,
)

# numpy 2.2 (what the bench extra's hftbacktest pins) wants ndarray's type argument spelled out
Array = NDArray[Any]

__all__ = ["EXACT_VENUE_LIMIT", "LIMIT_MIN_PAD", "SplitResult", "all_in_min_qty", "split"]

EXACT_VENUE_LIMIT = 12
# Branch and bound node budget: a safety net, far above what 12 venues need in practice.
_MAX_NODES = 20000
# Relative tolerance on "the target is reached": the breakpoint totals are float prefix sums.
_RTOL = 1e-12
# The smallest leg whose all-in average meets the limit is raised by this share: the exact
# re-quote rounds against the trader, and a leg a hair below the threshold would break the limit.
LIMIT_MIN_PAD = 1e-9


def all_in_min_qty(curve: DepthCurve, limit_price: float, cap: float) -> float | None:
    """Smallest leg q in (0, cap] whose all-in average price, fixed cost included, meets the limit.

    Buy: (cost(q) + fixed) / q <= limit; sell: (cost(q) - fixed) / q >= limit. ``cap`` must not
    exceed ``curve.qty_at_price(limit_price)``: up to it the marginal price meets the limit, so
    the slack limit·q - cost(q) - fixed (buy; sell mirrored) rises with q and the legs meeting
    the limit form one interval [q*, cap]. Returns q* raised by :data:`LIMIT_MIN_PAD` (at most
    cap), 0.0 without a fixed cost, None when no leg up to ``cap`` meets it. Bisection in
    float64 to the last bit: O(60 log n).
    """
    lim = check_number("limit_price", limit_price, strict=True)
    top = check_number("cap", cap)
    if curve.fixed_cost == 0.0:
        return 0.0
    sgn = 1.0 if curve.side == "buy" else -1.0
    side, fixed = curve.side, curve.fixed_cost
    top = min(top, curve.total_qty)
    # DepthCurve.cost_within inlined (its arrays read once): q is a float in (0, top] and
    # top <= total_qty, so curve.cost(q) would check and clamp nothing; the same bits.
    arrays = curve._arrays
    starts: list[float] = arrays["start_list"]
    cum_costs: list[float] = arrays["cum_cost_list"]
    segs: list[FlatSegment | HyperbolicSegment] = arrays["segs"]
    last: int = arrays["n"] - 1

    def slack(q: float) -> float:
        k = min(bisect_right(starts, q) - 1, last)
        return sgn * (lim * q - (cum_costs[k] + segs[k].cost(q - starts[k], side))) - fixed

    if top <= 0.0 or slack(top) < 0.0:
        return None
    lo, hi = 0.0, top
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if slack(mid) >= 0.0:
            hi = mid
        else:
            lo = mid
    return min(hi * (1.0 + LIMIT_MIN_PAD), top)


@dataclass(frozen=True, slots=True)
class SplitResult:
    """A float split of one order.

    ``requested`` is in the order's unit (``unit``: "base" or "quote"); ``allocations`` base per
    venue (venue-name order, zero legs omitted); ``marginal_price`` the common all-in marginal
    price λ of the active venues (NaN when nothing was filled); ``total_cost`` quote paid (buy) or
    received (sell), fees and fixed costs included; ``filled`` base filled; ``complete`` whether
    the whole order was met; ``bound_gap`` how far the reported objective may be from the optimum
    (0 for exact methods; quote units for base-sized orders, base units for quote-sized);
    ``method`` "water-fill", "branch-and-bound" or "heuristic".
    """

    side: str
    requested: float
    allocations: dict[str, float]
    marginal_price: float
    total_cost: float
    filled: float
    complete: bool
    bound_gap: float
    method: str
    unit: str = "base"
    notes: tuple[str, ...] = field(default=())


class _Fill:
    """One water-fill outcome: base per curve, variable cost per curve (fees in, fixed out), λ,
    the measure reached and whether the target was met."""

    __slots__ = ("alloc", "complete", "costs", "feasible", "lam", "reached")

    def __init__(
        self,
        alloc: Array,
        costs: Array,
        lam: float,
        reached: float,
        complete: bool,
        feasible: bool = True,
    ) -> None:
        self.alloc, self.costs, self.lam, self.reached = alloc, costs, lam, reached
        self.complete, self.feasible = complete, feasible


class _Events:
    """The sorted sweep events of a set of segment pieces (see :meth:`_Market.solve`).

    Each piece adds its affine form at its start price and swaps it for its full quantity and
    cost at its end price; events sorted in the taker's order (stable) and grouped by equal
    price. Built once per distinct set of pieces; O(S log S)."""

    __slots__ = (
        "cid",
        "deltas_sorted",
        "g_end",
        "g_start",
        "is_hyp",
        "lam_g",
        "last",
        "n",
        "order",
        "seg_index",
        "terms",
        "w_cost",
        "w_qty",
    )

    def __init__(self, terms: Array, cid: Array, seg_index: Array, sign: float) -> None:
        self.terms, self.cid, self.seg_index = terms, cid, seg_index
        n = self.n = terms.shape[1]
        k0, k1, qty, cst, a, b, alpha, beta, hyp, _ = terms
        self.is_hyp = hyp > 0.5
        keys = np.concatenate((k0, k1))
        zeros = np.zeros(n)
        deltas = np.concatenate(
            (
                np.vstack([zeros, a, b, zeros, alpha, beta]),
                np.vstack([qty, -a, -b, cst, -alpha, -beta]),
            ),
            axis=1,
        )
        order = self.order = np.argsort(keys, kind="stable")
        ks = keys[order]
        self.deltas_sorted = deltas[:, order]
        new_group = np.empty(2 * n, dtype=bool)
        if n:
            new_group[0] = True
            np.not_equal(ks[1:], ks[:-1], out=new_group[1:])
        grp_sorted = np.cumsum(new_group) - 1
        self.last = (
            np.flatnonzero(np.append(new_group[1:], True)) if n else np.zeros(0, dtype=np.int64)
        )
        self.lam_g = sign * ks[self.last]
        with np.errstate(divide="ignore"):
            self.w_qty = 1.0 / np.sqrt(self.lam_g)
        self.w_cost = np.sqrt(self.lam_g)
        gid = np.empty(2 * n, dtype=np.int64)
        gid[order] = grp_sorted
        self.g_start, self.g_end = gid[:n], gid[n:]


class _Market:
    """The concatenated segment arrays of a set of curves of one side, built once per split.

    :meth:`solve` runs one water-fill with per-curve bounds lo <= q_i <= hi (lo forces a minimum
    leg, hi = 0 excludes a venue). O(S log S) in the total number of segments S.
    """

    def __init__(self, curves: Sequence[DepthCurve], side: str) -> None:
        self.curves = list(curves)
        self.side = side
        self.sign = 1.0 if side == "buy" else -1.0
        arrays = [c._arrays for c in curves]
        lengths = [a["n"] for a in arrays]
        self.raw = np.concatenate([a["matrix"] for a in arrays], axis=1)
        self.terms = np.concatenate([a["terms"] for a in arrays], axis=1)
        self.cid = np.repeat(np.arange(len(curves)), lengths)
        self.seg_index = np.concatenate([np.arange(n) for n in lengths])
        self.full_total = np.array([a["total"] for a in arrays])
        self.base: _Events | None = None  # see set_base()
        self.base_hi: Array = np.zeros(0)
        self._full: _Events | None = None

    def curve_costs(self, alloc: Array) -> Array:
        """Variable cost per curve of ``alloc`` through the curves' scalar closed forms."""
        return np.array(
            [c.cost(min(q, c.total_qty)) if q > 0.0 else 0.0 for c, q in zip(self.curves, alloc)]
        )

    def set_base(self, hi: Array) -> None:
        """Cache the sorted sweep events of the market cut to [0, hi_i] (the search's root caps).

        Every later :meth:`solve` whose venues are each either at that cap or excluded (the
        branch-and-bound nodes of fixed-cost venues) reuses them: no trimming, no sort, only a
        masked prefix sum. O(S log S) once."""
        zeros = np.zeros(len(self.curves))
        if np.all(hi >= self.full_total):
            terms, cid, seg_index = self.terms, self.cid, self.seg_index
        else:
            terms, cid, seg_index = self._trimmed(zeros, hi)
        self.base = _Events(terms, cid, seg_index, self.sign)
        self.base_hi = hi.copy()

    def solve(self, lo: Array, hi: Array, target: float, measure: str) -> _Fill:
        """Water-fill ``target`` (base if measure == "qty", quote if "cost") with lo <= q <= hi."""
        m = len(self.curves)
        if lo.any():
            # the forced prefix [0, lo_i] of every curve is a constant of the problem
            prefix_costs = self.curve_costs(lo)
        else:
            prefix_costs = np.zeros(m)
        prefix = float(lo.sum()) if measure == "qty" else float(prefix_costs.sum())
        goal = target - prefix
        tol = _RTOL * max(abs(target), 1e-300)
        if goal < -tol:
            return _Fill(lo.copy(), prefix_costs, math.nan, prefix, False, feasible=False)
        seg_on = None
        base = self.base
        if base is not None and not lo.any() and bool(np.all((hi == 0.0) | (hi == self.base_hi))):
            events = base
            on = hi > 0.0
            if not on.all():
                seg_on = on[events.cid]
        elif not lo.any() and np.all(hi >= self.full_total):
            events = self._full_events()
        else:
            events = _Events(*self._trimmed(lo, hi), self.sign)
        n = events.n if seg_on is None else int(seg_on.sum())
        if goal <= tol or n == 0:
            alloc = lo.copy()
            return _Fill(alloc, prefix_costs, self._marginal(alloc), prefix, goal <= tol)
        ev = events
        _k0, _k1, qty, cst, a, b, alpha, beta, _hyp, price = ev.terms
        is_hyp = ev.is_hyp
        cid = ev.cid
        if seg_on is None:
            cum = np.cumsum(ev.deltas_sorted, axis=1)
            on_f = None
        else:
            on_f = seg_on.astype(np.float64)
            # excluded venues' events stay in place with zero weight: the sort order is reused
            cum = np.cumsum(ev.deltas_sorted * np.concatenate((on_f, on_f))[ev.order], axis=1)
        last = ev.last
        lam_g = ev.lam_g
        cg = cum[:, last]
        prev = np.zeros_like(cg)
        prev[:, 1:] = cg[:, :-1]
        r0 = 0 if measure == "qty" else 3
        w = ev.w_qty if measure == "qty" else ev.w_cost
        t_plus = cg[r0] + cg[r0 + 1] + cg[r0 + 2] * w
        t_minus = prev[r0] + prev[r0 + 1] + prev[r0 + 2] * w
        g_start, g_end = ev.g_start, ev.g_end
        if t_plus[-1] < goal - tol:
            # the market within the bounds cannot meet the target: fill everything
            q_all = qty if on_f is None else qty * on_f
            c_all = cst if on_f is None else cst * on_f
            alloc = lo + np.bincount(cid, weights=q_all, minlength=m)
            costs = prefix_costs + np.bincount(cid, weights=c_all, minlength=m)
            reached = prefix + float(t_plus[-1])
            return _Fill(alloc, costs, float(lam_g[-1]), reached, False)
        j = int(np.argmax(t_plus >= goal - tol))
        if j > 0 and t_minus[j] >= goal - tol and prev[r0 + 2][j] != 0.0:
            # inside (λ_{j-1}, λ_j]: one linear equation in w
            w_star = (goal - prev[r0][j] - prev[r0 + 1][j]) / prev[r0 + 2][j]
            lo_w, hi_w = sorted((w[j - 1], w[j]))
            w_star = min(max(w_star, lo_w), hi_w)
            lam = 1.0 / (w_star * w_star) if measure == "qty" else w_star * w_star
            full = g_end <= j - 1
            straddle = is_hyp & (g_start <= j - 1) & (g_end >= j)
            ties = None
        else:
            # exactly at λ_j: better pieces in full, flat levels at λ_j shared in venue order
            lam = float(lam_g[j])
            full = (g_end <= j - 1) | (is_hyp & (g_end == j))
            straddle = is_hyp & (g_start <= j - 1) & (g_end > j)
            tie_mask = ~is_hyp & (g_end == j)
            if seg_on is not None:
                tie_mask &= seg_on
            ties = np.flatnonzero(tie_mask)
        if seg_on is not None:
            full = full & seg_on
            straddle = straddle & seg_on
        u, v = 1.0 / math.sqrt(lam), math.sqrt(lam)
        q_part = np.clip(a + b * u, 0.0, qty)
        c_part = np.clip(alpha + beta * v, 0.0, cst)
        q_seg = np.where(full, qty, np.where(straddle, q_part, 0.0))
        c_seg = np.where(full, cst, np.where(straddle, c_part, 0.0))
        if ties is not None and ties.size:
            rest = goal - float(t_minus[j])
            # curves are in venue-name order already; within a curve, segment order
            for t in ties[np.lexsort((ev.seg_index[ties], cid[ties]))]:
                if rest <= 0.0:
                    break
                take = min(qty[t] if measure == "qty" else cst[t], rest)
                q_seg[t] = take if measure == "qty" else take / price[t]
                c_seg[t] = take * price[t] if measure == "qty" else take
                rest -= take
        alloc = lo + np.bincount(cid, weights=q_seg, minlength=m)
        costs = prefix_costs + np.bincount(cid, weights=c_seg, minlength=m)
        if measure == "qty":
            self._absorb_residual(alloc, costs, lo, hi, target)
            reached = float(alloc.sum())
        else:
            reached = float(costs.sum())
        return _Fill(alloc, costs, lam, reached, True)

    def _full_events(self) -> _Events:
        if self._full is None:
            self._full = _Events(self.terms, self.cid, self.seg_index, self.sign)
        return self._full

    def _trimmed(self, lo: Array, hi: Array) -> tuple[Array, Array, Array]:
        """Segment terms restricted to [lo_i, hi_i] of every curve (pieces outside dropped)."""
        cid = self.cid
        whole = (lo == 0.0) & (hi >= self.full_total)
        cut = ~whole & (hi > lo)
        keep = np.flatnonzero(whole[cid])
        if not cut.any():
            # excluded venues only (branch and bound): the cached terms, masked
            return self.terms[:, keep], cid[keep], self.seg_index[keep]
        start, end, hyp, x, y, g, price, r, _ = self.raw
        s_cut = np.maximum(start, lo[cid])
        e_cut = np.minimum(end, hi[cid])
        idx = np.flatnonzero(cut[cid] & (e_cut > s_cut))
        terms = segment_terms(
            self.side,
            hyp[idx] > 0.5,
            x[idx],
            y[idx],
            g[idx],
            price[idx],
            r[idx],
            s_cut[idx] - start[idx],
            e_cut[idx] - start[idx],
        )
        both = np.concatenate((keep, idx))
        return (
            np.concatenate((self.terms[:, keep], terms), axis=1),
            cid[both],
            self.seg_index[both],
        )

    def _absorb_residual(
        self, alloc: Array, costs: Array, lo: Array, hi: Array, target: float
    ) -> None:
        """Put the float residual of a base-sized fill on the largest leg with room (at λ)."""
        residual = target - float(alloc.sum())
        if residual == 0.0:
            return
        room = hi - alloc if residual > 0 else alloc - lo
        for i in np.argsort(-alloc, kind="stable"):
            if alloc[i] > 0.0 and room[i] >= abs(residual):
                costs[i] += residual * self.curves[i].marginal_price(
                    min(alloc[i], self.curves[i].total_qty)
                )
                alloc[i] += residual
                return

    def _marginal(self, alloc: Array) -> float:
        """Worst marginal price among the used curves (NaN if none is used)."""
        prices = [
            self.curves[i].marginal_price(min(q, self.curves[i].total_qty))
            for i, q in enumerate(alloc)
            if q > 0.0
        ]
        if not prices:
            return math.nan
        return max(prices) if self.side == "buy" else min(prices)


def split(
    curves: Sequence[DepthCurve],
    qty: float | None = None,
    *,
    quote_qty: float | None = None,
    limit_price: float | None = None,
    max_qty: Mapping[str, float] | None = None,
    exact_venue_limit: int = EXACT_VENUE_LIMIT,
) -> SplitResult:
    """Split one order across ``curves`` (one side, distinct venues) at the least total cost.

    Exactly one of ``qty`` (base) and ``quote_qty`` (quote, fixed costs included) is given.
    ``limit_price`` bounds every leg's all-in marginal price and its all-in average price, fixed
    cost included (buy: at most, sell: at least); ``max_qty`` caps base per venue. Buys minimise quote paid; sells maximise quote received.
    Complexity: one sweep O(S log S) for S segments without fixed costs or minimum sizes;
    with them, branch and bound over the k venues that carry them (worst case 2^k sweeps,
    k <= ``exact_venue_limit``), else a greedy heuristic with O(k²) sweeps and a bound gap.
    """
    side, curves = _check_curves(curves)
    if (qty is None) == (quote_qty is None):
        raise InvalidRouteArgument("qty", qty, "exactly one of qty (base) and quote_qty (quote)")
    if qty is not None:
        target, measure, unit = check_number("qty", qty, strict=True), "qty", "base"
    else:
        target, measure, unit = check_number("quote_qty", quote_qty, strict=True), "cost", "quote"
    limit = None if limit_price is None else check_number("limit_price", limit_price, strict=True)
    caps = _check_caps(max_qty, curves)
    if (
        isinstance(exact_venue_limit, bool)
        or not isinstance(exact_venue_limit, int)
        or exact_venue_limit < 0
    ):
        raise InvalidRouteArgument("exact_venue_limit", exact_venue_limit, "an integer >= 0")

    m = len(curves)
    hi = np.empty(m)
    mins = np.array([c.min_qty for c in curves])
    for i, c in enumerate(curves):
        h = min(c.total_qty, caps.get(c.venue, math.inf))
        if limit is not None:
            h = min(h, c.qty_at_price(limit))
            if h > 0.0 and c.fixed_cost > 0.0:
                # the limit holds for the leg's all-in average too: a minimum leg size
                need = all_in_min_qty(c, limit, h)
                if need is None:
                    h = 0.0
                else:
                    mins[i] = max(mins[i], need)
        if h < mins[i] or h <= 0.0:
            h = 0.0  # the venue cannot give even its minimum leg within the limit and caps
        hi[i] = h
    fixed = np.array([c.fixed_cost for c in curves])
    market = _Market(curves, side)
    discrete = [i for i in range(m) if hi[i] > 0.0 and (fixed[i] > 0.0 or mins[i] > 0.0)]
    market.set_base(hi)
    solver = _Solver(market, side, measure, target, hi, fixed, mins)
    solver.discrete = discrete
    if not discrete:
        fill = market.solve(np.zeros(m), hi, target, measure)
        return solver.result(fill, "water-fill", 0.0, unit)
    partial = solver.max_fill()
    if partial is not None:
        return solver.result(partial, "water-fill", 0.0, unit)
    if len(discrete) <= exact_venue_limit:
        best, gap, method = solver.branch_and_bound(discrete)
    else:
        best, gap, method = solver.heuristic(discrete)
    if best is None:
        # no subset meets the order exactly (minimum sizes overshoot): fill what min-free venues can
        lo = np.zeros(m)
        free_hi = np.where(mins > 0.0, 0.0, hi)
        fill = market.solve(lo, free_hi, target, measure)
        fill.complete = False
        return solver.result(
            fill, method, math.nan, unit, notes=("minimum sizes make the exact size unreachable",)
        )
    return solver.result(best, method, gap, unit)


class _Solver:
    """Objective bookkeeping, branch and bound and the heuristic for one split call."""

    def __init__(
        self,
        market: _Market,
        side: str,
        measure: str,
        target: float,
        hi: Array,
        fixed: Array,
        mins: Array,
    ) -> None:
        self.market, self.side, self.measure, self.target = market, side, measure, target
        self.hi, self.fixed, self.mins = hi, fixed, mins
        self.m = len(hi)
        self.nodes = 0
        self.discrete: list[int] = []
        self.reduced: dict[int, float] = {}
        self.lagrange = -math.inf

    # objective: lower is better, in quote (base-sized) or base (quote-sized)
    def objective(self, fill: _Fill) -> float:
        active = fill.alloc > 0.0
        fixed = float(self.fixed[active].sum())
        if self.measure == "qty":
            cost = float(fill.costs.sum())
            return cost + fixed if self.side == "buy" else -(cost - fixed)
        base = float(fill.alloc.sum())
        return -base if self.side == "buy" else base

    def measure_target(self, fixed_in: float) -> float:
        """The water-fill target once the fixed costs of the forced venues are paid."""
        if self.measure == "qty":
            return self.target
        return self.target - fixed_in if self.side == "buy" else self.target + fixed_in

    def evaluate(self, status: dict[int, int]) -> tuple[_Fill | None, float]:
        """Relaxation at a node: forced venues (1) at >= their minimum paying their fixed cost,
        excluded venues (0) empty, free venues continuous without fixed cost. Returns (fill, bound)."""
        self.nodes += 1
        lo = np.zeros(self.m)
        hi = self.hi.copy()
        fixed_in = 0.0
        for i, s in status.items():
            if s == 1:
                lo[i] = self.mins[i]
                fixed_in += self.fixed[i]
            elif s == 0:
                hi[i] = 0.0
        goal = self.measure_target(fixed_in)
        if goal <= 0.0:
            return None, math.inf
        fill = self.market.solve(lo, hi, goal, self.measure)
        if not fill.feasible or not fill.complete:
            return None, math.inf
        if self.measure == "qty":
            cost = float(fill.costs.sum())
            bound = cost + fixed_in if self.side == "buy" else -(cost - fixed_in)
        else:
            base = float(fill.alloc.sum())
            bound = -base if self.side == "buy" else base
        if math.isfinite(fill.lam) and fill.lam > 0.0:
            bound = max(bound, self._lagrangian(fill, status, fixed_in))
        return fill, bound

    def _lagrangian(self, fill: _Fill, status: dict[int, int], fixed_in: float) -> float:
        """Lagrangian lower bound at the relaxation's λ, fixed costs kept (weak duality).

        Base-sized (objective in quote): per venue min over q of obj_i(q) + f_i·[q > 0] - μ·q,
        plus μ·Q, with μ = λ for buys, -λ for sells. Quote-sized (objective in base: -q buy, q
        sell) the budget Σ cost_i ± f_i = B is dualised instead, with multiplier 1/λ: per venue
        min over q of obj_i(q) + (sgn·cost_i(q) + f_i·[q > 0])/λ, minus sgn·B/λ (sgn = 1 buy,
        -1 sell), i.e. the base-sized terms divided by λ with another constant. Either way the
        relaxation's allocation minimises every venue's term (the water-fill's optimality
        conditions at λ), so a free venue contributes min(0, that minimum + its fixed term).
        Never below the plain relaxation bound. O(m).

        Also leaves ``self.reduced`` = {free venue: that minimum + fixed term}: the bound of the
        subtree with the venue forced in is bound - min(0, r) + r, forced out bound - min(0, r)
        (:meth:`branch_and_bound` fixes venues with it)."""
        sgn = 1.0 if self.side == "buy" else -1.0
        if self.measure == "qty":
            mu = sgn * fill.lam
            terms = sgn * fill.costs - mu * fill.alloc
            fixed = self.fixed
            total = float(terms.sum()) + fixed_in + mu * self.target
        else:
            inv = 1.0 / fill.lam
            terms = sgn * (fill.costs * inv - fill.alloc)
            fixed = self.fixed * inv
            total = float(terms.sum()) + (fixed_in - sgn * self.target) * inv
        reduced = {}
        for i in self.discrete:
            if i not in status:
                r = float(terms[i] + fixed[i])
                reduced[i] = r
                total += min(0.0, r) - terms[i]
        self.reduced = reduced
        # float noise in the terms must not make the bound cut off the optimum
        self.lagrange = total - 1e-9 * abs(total)
        return self.lagrange

    def feasible_value(self, fill: _Fill) -> float:
        """True objective of a relaxation solution, or inf if it breaks a minimum size."""
        active = fill.alloc > 0.0
        if np.any(active & (fill.alloc < self.mins * (1 - 1e-12))):
            return math.inf
        if self.measure == "cost":
            # the budget already paid every forced venue's fixed cost; free active ones did not
            cost, fixed = float(fill.costs.sum()), float(self.fixed[active].sum())
            spent = cost + fixed if self.side == "buy" else cost - fixed
            if abs(spent - self.target) > 1e-9 * self.target:
                return math.inf
        return self.objective(fill)

    def branch_and_bound(self, discrete: list[int]) -> tuple[_Fill | None, float, str]:
        """Depth-first branch and bound over the discrete venues.

        A node's bound is the convex optimum with its free venues relaxed (no fixed cost, no
        minimum), raised to the Lagrangian bound at its λ; a node whose relaxation leaves every
        free discrete venue empty is solved. Before branching, reduced-cost fixing: a free venue
        whose forced-out (forced-in) subtree bound already reaches the incumbent is fixed in (out)
        at no search cost; this also prunes every venue whose fixed cost exceeds what it can
        save. The first incumbent is the root relaxation with the venues that do not pay for
        their fixed cost at the root λ dropped (quote-sized: the paying ones forced in, the rest
        out, since the budget must cover every fixed cost). Both order sizes. Branching picks the venue whose weaker child
        bound is highest (the most decisive split), better child first. Worst case 2^k nodes
        for k discrete venues; the sweep's sort is done once (:meth:`_Market.set_base`)."""
        best: list[Any] = [None, math.inf]
        root_bound = [math.inf]
        exhausted = [False]

        def offer(fill: _Fill) -> None:
            value = self.feasible_value(fill)
            if value < best[1]:
                best[0], best[1] = fill, value

        def cutoff() -> float:
            return float(best[1] - 1e-12 * abs(best[1]))

        def visit(status: dict[int, int]) -> None:
            if self.nodes >= _MAX_NODES:
                exhausted[0] = True
                return
            self.reduced, self.lagrange = {}, -math.inf
            fill, bound = self.evaluate(status)
            if fill is None:
                return
            reduced, lag = self.reduced, self.lagrange  # the bound the reduced terms belong to
            if not status:
                root_bound[0] = bound
                if reduced:
                    # first incumbent: drop the venues that do not pay for themselves at root λ
                    drop = {i: 0 for i, r in reduced.items() if r >= 0.0 and fill.alloc[i] > 0.0}
                    if self.measure == "cost":
                        # the budget must pay the fixed cost of every venue used: keep the
                        # paying venues forced in, every other discrete venue out
                        drop = {i: int(r < 0.0 and fill.alloc[i] > 0.0) for i, r in reduced.items()}
                        used = [i for i in reduced if fill.alloc[i] > 0.0]
                        if used and not any(drop.values()):
                            # none pays at root λ, yet the order needs a venue: the largest leg
                            drop[max(used, key=lambda i: (fill.alloc[i], -i))] = 1
                    if drop:
                        first, _ = self.evaluate(drop)
                        if first is not None:
                            offer(first)
            if bound >= cutoff():
                return
            offer(fill)
            value = self.feasible_value(fill)
            free = [i for i in discrete if i not in status and fill.alloc[i] > 0.0]
            if not free or value <= bound + 1e-12 * abs(bound):
                return
            if reduced and math.isfinite(best[1]):
                fixed = {}
                for i in free:
                    r = reduced[i]
                    if lag - min(0.0, r) + r >= cutoff():
                        fixed[i] = 0
                    elif lag - min(0.0, r) >= cutoff():
                        fixed[i] = 1
                if fixed:
                    visit({**status, **fixed})
                    return
            if reduced:

                def children(i: int) -> tuple[float, float]:
                    r = reduced[i]
                    return lag - min(0.0, r) + r, lag - min(0.0, r)

                pick = max(free, key=lambda i: (min(children(i)), fill.alloc[i], -i))
                b_in, b_out = children(pick)
                order = (1, 0) if b_in <= b_out else (0, 1)
            else:
                pick = max(free, key=lambda i: (fill.alloc[i], -i))
                order = (1, 0)
            for side in order:
                visit({**status, pick: side})

        visit({})
        if exhausted[0]:
            return best[0], best[1] - root_bound[0], "heuristic"
        return best[0], 0.0, "branch-and-bound"

    def heuristic(self, discrete: list[int]) -> tuple[_Fill | None, float, str]:
        """Greedy drop/add from the convex solution; gap = its objective - the root relaxation."""
        root, root_bound = self.evaluate({})
        if root is None:
            return None, math.nan, "heuristic"
        inside = {i for i in discrete if root.alloc[i] > 0.0}

        def value_of(members: set[int]) -> tuple[_Fill | None, float]:
            fill, _bound = self.evaluate({i: int(i in members) for i in discrete})
            if fill is None:
                return None, math.inf
            return fill, self.feasible_value(fill)

        best_fill, best_val = value_of(inside)
        for _ in range(2 * len(discrete)):
            moves = [inside - {i} for i in sorted(inside)] + [
                inside | {i} for i in discrete if i not in inside
            ]
            scored = [(value_of(s), s) for s in moves]
            (fill, val), members = (
                min(scored, key=lambda t: t[0][1]) if scored else ((None, math.inf), inside)
            )
            if fill is None or val >= best_val - 1e-12 * abs(best_val):
                break
            best_fill, best_val, inside = fill, val, members
        if best_fill is None:
            return None, math.nan, "heuristic"
        return best_fill, max(best_val - root_bound, 0.0), "heuristic"

    def max_fill(self) -> _Fill | None:
        """The maximal fill when even every venue in full cannot meet the order, else None."""
        m = self.m
        usable = self.hi > 0.0
        alloc = np.where(usable, self.hi, 0.0)
        if self.measure == "cost" and self.side == "sell":
            # a venue whose full proceeds do not cover its fixed cost only lowers the total
            curves = self.market.curves
            for i in range(m):
                if (
                    usable[i]
                    and curves[i].cost(min(alloc[i], curves[i].total_qty)) <= self.fixed[i]
                ):
                    alloc[i] = 0.0
        if self.measure == "qty":
            reached = float(alloc.sum())
        else:
            cost = float(self.market.curve_costs(alloc).sum())
            fixed = float(self.fixed[alloc > 0.0].sum())
            reached = cost + fixed if self.side == "buy" else cost - fixed
        if reached >= self.target * (1 - _RTOL):
            return None
        fill = _Fill(
            alloc, self.market.curve_costs(alloc), self.market._marginal(alloc), reached, False
        )
        return fill

    def result(
        self, fill: _Fill, method: str, gap: float, unit: str, notes: tuple[str, ...] = ()
    ) -> SplitResult:
        curves = self.market.curves
        alloc = {curves[i].venue: float(q) for i, q in enumerate(fill.alloc) if q > 0.0}
        cost = float(fill.costs.sum())
        fixed = float(self.fixed[fill.alloc > 0.0].sum())
        total = cost + fixed if self.side == "buy" else cost - fixed
        lam = fill.lam if alloc else math.nan
        return SplitResult(
            side=self.side,
            requested=self.target,
            allocations=alloc,
            marginal_price=float(lam),
            total_cost=float(total),
            filled=float(fill.alloc.sum()),
            complete=bool(fill.complete),
            bound_gap=float(gap),
            method=method,
            unit=unit,
            notes=notes,
        )


def _check_curves(curves: Sequence[DepthCurve]) -> tuple[str, list[DepthCurve]]:
    if not isinstance(curves, (list, tuple)) or not curves:
        raise InvalidRouteArgument("curves", curves, "a non-empty sequence of DepthCurve")
    for i, c in enumerate(curves):
        if not isinstance(c, DepthCurve):
            raise InvalidRouteArgument(f"curves[{i}]", c, "a DepthCurve")
    sides = {c.side for c in curves}
    if len(sides) != 1:
        raise InvalidRouteArgument("curves", sorted(sides), "curves of one side")
    names = [c.venue for c in curves]
    if len(set(names)) != len(names):
        raise InvalidRouteArgument("curves", names, "distinct venue names")
    # venue-name order makes ties and the search order deterministic
    return sides.pop(), sorted(curves, key=lambda c: c.venue)


def _check_caps(max_qty: Mapping[str, float] | None, curves: list[DepthCurve]) -> dict[str, float]:
    if max_qty is None:
        return {}
    if not isinstance(max_qty, Mapping):
        raise InvalidRouteArgument("max_qty", max_qty, "a mapping venue -> base cap")
    names = {c.venue for c in curves}
    caps = {}
    for venue, cap in max_qty.items():
        if venue not in names:
            raise InvalidRouteArgument("max_qty", venue, f"one of the venues {sorted(names)}")
        caps[venue] = check_number(f"max_qty[{venue}]", cap, allow_inf=True)
    return caps
