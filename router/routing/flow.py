"""The optimal split of an order over asset paths: a convex flow problem solved in its dual.

Problem (``mode="from"``): send exactly N of the source A through the branches (the direct link
A-B, and A -> X -> B for each intermediate X) to receive as much of the target B as possible.
Each link crossed in the order's direction is a concave "input -> output" function: the
venues' pooled depth (:class:`~router.routing.pairs.PooledDepth`), fees in, fixed costs out.
(``mode="to"``: receive exactly N of B spending as little A as possible.)

Dual decomposition over asset prices (Angeris et al., "Optimal Routing for Constant Function
Market Makers"; CFMMRouter.jl), with the closed forms of books and concentrated-liquidity ranges:
given prices π (π_B = 1 for "from", π_A = 1 for "to"), every link answers independently with its
arbitrage trade, the input x maximising π_out·out(x) - π_in·x: every venue filled up to the
marginal rate π_in/π_out, one bisection in the pooled breakpoints. The dual function

    g(π) = N·π_A + Σ_links arb_link(π)            ("from"; an upper bound on the output)

is convex; its partial derivative in π_X is the excess of asset X, monotone in π_X. Since the
links of a route of at most two hops form a series-parallel graph (A-X and X-B belong to X's
branch alone), the minimisation is nested and exact: for a trial π_A each π_X solves its own
one-dimensional monotone equation (X balances), and π_A solves "A spent = N" (or π_B "B received
= N"). Both are bracketed roots in log price, Illinois false position with bisection safeguards,
to adjacent floats.

Primal recovery: at the final bracket [π⁻, π⁺] of the outer root the branch inputs on either side
bracket N; the convex combination that spends exactly N is a feasible flow, pushed through each
branch (the intermediate received is sold in full). Its value P and the dual value D = g(π) give
the certified relative duality gap (D - P) / P ("to": (S - L) / S for spend S and lower bound L).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from router.model.errors import RouteError
from router.routing.pairs import PooledDepth

__all__ = ["DirectedLink", "FlowResult", "solve_flow"]

_MAX_EXPAND = 200
_MAX_ITER = 200
_LOG_TOL = 1e-13  # bracket width in log price (relative price): far below what moves a cost


class DirectedLink:
    """A link crossed from ``src`` to ``dst``: for each symbol, the pooled side the crossing uses
    (src is the symbol's base: sell; src is its quote: buy)."""

    def __init__(self, src: str, dst: str, sides: Sequence[tuple[bool, PooledDepth]]) -> None:
        # sides: (sells, pooled depth): sells=True when src is the symbol's base
        self.src, self.dst = src, dst
        self.sides = list(sides)

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
    solver = _Nested(branches, source, target, mode)
    return solver.solve(amount)


class _Nested:
    def __init__(
        self, branches: Sequence[BranchLinks], source: str, target: str, mode: str
    ) -> None:
        self.branches = [list(b) for b in branches]
        self.source, self.target, self.mode = source, target, mode
        # warm starts of the intermediate prices, log scale
        self.mid_log: list[float | None] = [None] * len(self.branches)

    # -- one trial price of the free endpoint --

    def _evaluate(
        self, log_free: float
    ) -> tuple[float, list[tuple[float, float, float]], dict[int, float]]:
        """At the free endpoint's log price, solve every intermediate, return (total, per-branch
        (src in, mid amount, dst out), intermediate log prices). total: src in ("from") or dst out
        ("to")."""
        free = math.exp(log_free)
        pi_src, pi_dst = (free, 1.0) if self.mode == "from" else (1.0, free)
        flows: list[tuple[float, float, float]] = []
        mids: dict[int, float] = {}
        for k, links in enumerate(self.branches):
            if len(links) == 1:
                inp, out = links[0].at_rate(pi_src / pi_dst)
                flows.append((inp, 0.0, out))
                continue
            first, second = links

            def excess(
                log_mid: float, first: DirectedLink = first, second: DirectedLink = second
            ) -> float:
                pm = math.exp(log_mid)
                got = first.at_rate(pi_src / pm)[1]
                sold = second.at_rate(pm / pi_dst)[0]
                return got - sold  # increasing in π_X

            guess = self.mid_log[k]
            step = 1e-7  # a warm start moves little between outer trials
            if guess is None:
                guess, step = self._mid_guess(first, second, pi_src, pi_dst), 1e-4
            lo, _flo, hi, _fhi = _root(excess, guess, increasing=True, step=step)
            self.mid_log[k] = lo
            mids[k] = lo
            # at the root bracket [lo, hi] X balances: what arrives (rising in π_X) and what
            # leaves (falling) cross there; either may jump across a flat level, so the
            # balanced amount is the largest x in [max(got(lo), sold(hi)), min(got(hi), sold(lo))]
            p_lo, p_hi = math.exp(lo), math.exp(hi)
            got_hi = first.at_rate(pi_src / p_hi)[1]
            sold_lo = second.at_rate(p_lo / pi_dst)[0]
            x = min(got_hi, sold_lo)
            a_in = first.backward(x)
            b_out = second.forward(x)
            flows.append((a_in, x, b_out))
        total = sum(f[0] for f in flows) if self.mode == "from" else sum(f[2] for f in flows)
        return total, flows, mids

    def _mid_guess(
        self, first: DirectedLink, second: DirectedLink, pi_src: float, pi_dst: float
    ) -> float:
        r1, r2 = first.best_rate(), second.best_rate()
        # π_X ~ geometric middle of what the two links price it at
        via_src = pi_src * r1 if r1 > 0 else 1.0
        via_dst = pi_dst / r2 if r2 > 0 else via_src
        return 0.5 * (math.log(via_src) + math.log(via_dst))

    def _free_guess(self) -> float:
        # the best marginal rate over branches: what one unit of source fetches at the margin
        best = 0.0
        for links in self.branches:
            rate = 1.0
            for link in links:
                rate *= link.best_rate()
            best = max(best, rate)
        if best <= 0.0:
            raise RouteError(
                f"from={self.source!r} to={self.target!r}: the venues on every path are empty",
                field="to",
                value=self.target,
            )
        # "from": π_A (in target) ~ rate; "to": π_B (in source) ~ 1/rate
        return math.log(best) if self.mode == "from" else -math.log(best)

    def _capacity(self) -> float:
        total = 0.0
        for links in self.branches:
            if self.mode == "from":
                cap = links[0].capacity()[0]
                if len(links) == 2:
                    cap = min(cap, links[0].backward(links[1].capacity()[0]))
            else:
                cap = links[-1].capacity()[1]
                if len(links) == 2:
                    cap = min(cap, links[1].forward(links[0].capacity()[1]))
            total += cap
        return total

    def solve(self, amount: float) -> FlowResult:
        cap = self._capacity()
        if amount > cap * (1 - 1e-9):
            field = "qty" if self.mode == "from" else "to_qty"
            asset = self.source if self.mode == "from" else self.target
            what = "spend" if self.mode == "from" else "deliver"
            raise RouteError(
                f"{field}='{amount:.15g}' is invalid; allowed: at most about {cap:.6g} {asset}"
                f" (what the paths from {self.source} to {self.target} can {what})",
                field=field,
                value=amount,
            )
        cache: dict[float, tuple[float, list[tuple[float, float, float]], dict[int, float]]] = {}

        def gap(log_free: float) -> float:
            if log_free not in cache:
                cache[log_free] = self._evaluate(log_free)
            return cache[log_free][0] - amount

        # "from": A spent falls as π_A rises; "to": B received rises with π_B
        lo, _f_lo, hi, _f_hi = _root(gap, self._free_guess(), increasing=self.mode == "to")
        t_lo, flows_lo, mids_lo = cache[lo] if lo in cache else self._evaluate(lo)
        t_hi, flows_hi, _ = cache[hi] if hi in cache else self._evaluate(hi)
        span = t_hi - t_lo
        theta = 0.5 if span == 0.0 else min(max((amount - t_lo) / span, 0.0), 1.0)
        # the convex combination meeting the amount exactly, pushed through each branch
        inputs, mids, outputs = [], [], []
        for k, links in enumerate(self.branches):
            if self.mode == "from":
                a = flows_lo[k][0] + theta * (flows_hi[k][0] - flows_lo[k][0])
                inputs.append(a)
                x = links[0].forward(a)
                b = links[1].forward(x) if len(links) == 2 else x
                mids.append(x if len(links) == 2 else 0.0)
                outputs.append(b)
            else:
                b = flows_lo[k][2] + theta * (flows_hi[k][2] - flows_lo[k][2])
                outputs.append(b)
                x = links[-1].backward(b)
                a = links[0].backward(x) if len(links) == 2 else x
                mids.append(x if len(links) == 2 else 0.0)
                inputs.append(a)
        # rescale the float residual of Σ onto the branches (1e-15 relative)
        if self.mode == "from":
            primal = math.fsum(outputs)
        else:
            primal = math.fsum(inputs)
        prices, dual = self._dual(lo, mids_lo, amount)
        gap_rel = (
            max(dual - primal, 0.0) / primal
            if self.mode == "from"
            else max(primal - dual, 0.0) / primal
        )
        return FlowResult(tuple(inputs), tuple(outputs), tuple(mids), prices, primal, dual, gap_rel)

    def _dual(
        self, log_free: float, mids: dict[int, float], amount: float
    ) -> tuple[dict[str, float], float]:
        """The dual value at the prices of one bracket end: g(π) = N·π_A + Σ arb ("from"), or the
        lower bound N·π_B - Σ arb ("to")."""
        free = math.exp(log_free)
        pi_src, pi_dst = (free, 1.0) if self.mode == "from" else (1.0, free)
        prices = {self.source: pi_src, self.target: pi_dst}
        arb = 0.0
        for k, links in enumerate(self.branches):
            if len(links) == 1:
                inp, out = links[0].at_rate(pi_src / pi_dst)
                arb += pi_dst * out - pi_src * inp
                continue
            pm = math.exp(mids[k])
            prices[links[0].dst] = pm
            inp, out = links[0].at_rate(pi_src / pm)
            arb += pm * out - pi_src * inp
            inp, out = links[1].at_rate(pm / pi_dst)
            arb += pi_dst * out - pm * inp
        if self.mode == "from":
            return prices, amount * pi_src + arb
        return prices, amount * pi_dst - arb


def _root(
    fn: Callable[[float], float], x0: float, *, increasing: bool, step: float = 1e-4
) -> tuple[float, float, float, float]:
    """A bracket [lo, hi] (lo < hi, adjacent floats or fn = 0) of a sign change of the monotone
    ``fn``: returns (lo, fn(lo), hi, fn(hi)), fn(lo) <= 0 <= fn(hi) when increasing (mirrored when
    decreasing). Expands from ``x0`` by doubling steps, then Illinois false position with a
    bisection step whenever it stalls."""
    sign = 1.0 if increasing else -1.0

    def f(x: float) -> float:
        return sign * fn(x)

    f0 = f(x0)
    if f0 == 0.0:
        return x0, 0.0, x0, 0.0
    a, fa = x0, f0
    b, fb = x0, f0
    for _ in range(_MAX_EXPAND):
        b = a - step if f0 > 0 else a + step
        fb = f(b)
        if (fb <= 0.0) if f0 > 0 else (fb >= 0.0):
            break
        a, fa = b, fb
        step *= 2.0
        if step > 1e3:
            raise RouteError(
                "no price balances the route (a path's venues cannot carry the order)",
                field="qty",
                value=None,
            )
    lo, flo, hi, fhi = (b, fb, a, fa) if b < a else (a, fa, b, fb)
    if flo == 0.0:
        return lo, 0.0, lo, 0.0
    if fhi == 0.0:
        return hi, 0.0, hi, 0.0
    side = 0
    for _ in range(_MAX_ITER):
        if hi - lo <= _LOG_TOL * max(1.0, abs(lo)):
            break
        x = (lo * fhi - hi * flo) / (fhi - flo) if fhi != flo else 0.5 * (lo + hi)
        if not lo < x < hi or side > 2 or side < -2:
            x = 0.5 * (lo + hi)
            side = 0
        if x in (lo, hi):
            break
        fx = f(x)
        if fx == 0.0:
            return x, 0.0, x, 0.0
        if fx < 0.0:
            lo, flo = x, fx
            if side < 0:
                fhi *= 0.5  # Illinois: the stale end's value halved
            side = side - 1 if side < 0 else -1
        else:
            hi, fhi = x, fx
            if side > 0:
                flo *= 0.5
            side = side + 1 if side > 0 else 1
    if increasing:
        return lo, flo, hi, fhi
    return lo, -flo, hi, -fhi
