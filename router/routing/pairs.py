"""The pooled depth of every venue of one symbol and taker side, as closed forms in the price.

All segments of all the curves are swept once, as in :mod:`router.split`: each piece adds its
affine form at its start price and its full quantity and cost at its end price; the events are
sorted in the taker's order and prefix-summed per distinct price. Between two breakpoints every
hyperbolic piece satisfies q = a + b·u (u = 1/sqrt(λ)) and cost = α + β·v (v = sqrt(λ)), so the
pooled base and quote at any marginal price λ are one bisection and two affine forms:

    Q(λ) = F_j + A_j + B_j·u        C(λ) = FC_j + Α_j + Β_j·v

where j is the last breakpoint at or before λ (flat levels priced exactly λ included). That is the
venues' own optimal split for that marginal price (every venue filled to λ), the response of a
whole symbol to a price in the dual of :mod:`router.routing.flow`. Its inverses (the pooled cost of
a base quantity, the base of a quote amount) are closed forms too: one bisection over the
breakpoint totals, then one linear equation (or a flat level's linear share).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from router.model.depth import DepthCurve

__all__ = ["PooledDepth"]

# knots closer than this share of the magnitude of the terms summed into them are one point
# (rounding is ~1e-16 of it; no real piece of a curve is that short)
_SLIVER = 1e-12
# the terms rows (qty, a, b, cost, alpha, beta) a piece adds at its start key (its affine forms)
# and at its end key (its whole quantity and cost, the affine forms taken off)
_DELTA_ROWS = [2, 4, 5, 3, 6, 7]
_AT_START = np.array([[0.0], [1.0], [1.0], [0.0], [1.0], [1.0]])
_AT_END = np.array([[1.0], [-1.0], [-1.0], [1.0], [-1.0], [-1.0]])
_AT = np.hstack((_AT_START, _AT_END))  # column 0: a start event's multipliers, 1: an end's
_NO_SUMS = np.zeros((6, 0))
# breakpoints of the first prefix sums made (then doubling)
_FIRST_CHUNK = 64


class PooledDepth:
    """Every venue of one symbol for one taker side, pooled (fees in, fixed costs out).

    ``side`` "buy": Q(λ) base bought and C(λ) quote paid with every venue filled up to marginal
    price λ (rising); "sell": base sold and quote received down to λ (falling). O(S log S) to sort
    the S segments' events on construction; the prefix sums are then made lazily, in doubling
    chunks, only as deep as the queries reach (an order of 10% of the depth reads the first few
    breakpoints of a curve of thousands): O(log S) per query plus the chunks it makes. Every
    value equals the eager one bit for bit: a prefix sum continued from its carried last column
    adds the same numbers in the same order.
    """

    __slots__ = (
        "_cum",
        "_done",
        "_ends",
        "_order",
        "_plus",
        "_rows",
        "_sign",
        "best_price",
        "key_array",
        "side",
        "terms",
        "total_cost",
        "total_qty",
    )

    def __init__(self, curves: Sequence[DepthCurve], side: str) -> None:
        terms = np.concatenate([c.terms for c in curves], axis=1) if curves else np.zeros((10, 0))
        self._build(terms, side)

    @classmethod
    def from_terms(cls, terms: np.ndarray, side: str) -> PooledDepth:
        """Pool water-fill terms (rows of :data:`router.model.depth.TERM_ROWS`) directly: the
        composed depth of a path (:mod:`router.routing.compose`) is no venue's curve."""
        pooled = cls.__new__(cls)
        pooled._build(terms, side)
        return pooled

    def _build(self, terms: np.ndarray, side: str) -> None:
        self.side = side
        self.terms = terms
        self._sign = 1.0 if side == "buy" else -1.0
        n = terms.shape[1]
        k0, k1 = terms[0], terms[1]
        keys = np.concatenate((k0, k1))
        # every piece adds its affine form at its start key and its full quantity and cost at its
        # end key (rows f, a, b, fc, alpha, beta): the events sorted once, summed lazily
        self._order = np.argsort(keys, kind="stable")
        ks = keys[self._order]
        self._ends = np.flatnonzero(np.append(ks[1:] != ks[:-1], True)) if n else np.zeros(0, int)
        self.key_array = ks[self._ends]
        self.total_qty = float(terms[2].sum())
        self.total_cost = float(terms[3].sum())
        self.best_price = self._sign * float(self.key_array[0]) if n else math.nan
        self._done = 0  # breakpoints whose prefix sums are made
        self._cum = _NO_SUMS  # replaced, never written in place
        self._rows = _NO_SUMS.T
        self._plus: tuple[np.ndarray, np.ndarray] = (_NO_SUMS[0], _NO_SUMS[0])

    def _upto(self, count: int) -> None:
        """Make the prefix sums of the first ``count`` breakpoints (at least; doubling chunks)."""
        total = self.key_array.size
        if count <= self._done or self._done == total:
            return
        count = min(max(count, 2 * self._done, _FIRST_CHUNK), total)
        start = 0 if self._done == 0 else int(self._ends[self._done - 1]) + 1
        stop = int(self._ends[count - 1]) + 1
        # the chunk's events: piece i's start (event i) or end (event n + i), in key order
        events = self._order[start:stop]
        n = self.terms.shape[1]
        ends_here = events >= n
        chunk = self.terms[:, events - n * ends_here][_DELTA_ROWS]
        chunk *= _AT[:, ends_here.view(np.int8)]
        if self._done:
            # continued from the last sum: the same additions in the same order as one pass
            chunk = np.cumsum(np.hstack((self._cum[:, -1:], chunk)), axis=1)[:, 1:]
            ends = self._ends[self._done : count] - start
        else:
            chunk = np.cumsum(chunk, axis=1)
            ends = self._ends[:count]
        cg = chunk[:, ends]
        # totals at every breakpoint, flat levels at it included (non-decreasing): the inverses
        root = np.sqrt(np.abs(self.key_array[self._done : count]))
        with np.errstate(divide="ignore", invalid="ignore"):
            plus_q = cg[0] + cg[1] + np.where(cg[2] != 0.0, cg[2] / root, 0.0)
            plus_c = cg[3] + cg[4] + cg[5] * root
        if self._done:
            plus_q = np.maximum.accumulate(np.concatenate((self._plus[0][-1:], plus_q)))[1:]
            plus_c = np.maximum.accumulate(np.concatenate((self._plus[1][-1:], plus_c)))[1:]
            self._plus = (
                np.concatenate((self._plus[0], plus_q)),
                np.concatenate((self._plus[1], plus_c)),
            )
            self._cum = np.hstack((self._cum, cg))
        else:
            self._plus = (np.maximum.accumulate(plus_q), np.maximum.accumulate(plus_c))
            self._cum = cg
        # scalar queries read one row: no conversion of the whole table
        self._rows = np.ascontiguousarray(self._cum.T)
        self._done = count

    @property
    def cum_array(self) -> np.ndarray:
        """The prefix sums (rows f, a, b, fc, alpha, beta) at every breakpoint (all made)."""
        self._upto(self.key_array.size)
        return self._cum

    def at_price(self, price: float, include_flat: bool = True) -> tuple[float, float]:
        """(base, quote) of every venue filled to marginal ``price`` (flat levels at it included,
        or not: the two ends of the jump a flat level makes at its price)."""
        if not self.key_array.size or not price > 0.0:
            return 0.0, 0.0
        key = self._sign * price
        if include_flat:
            j = int(np.searchsorted(self.key_array, key, side="right")) - 1
        else:
            j = int(np.searchsorted(self.key_array, key, side="left")) - 1
        if j < 0:
            return 0.0, 0.0
        self._upto(j + 1)
        f, a, b, fc, al, be = self._rows[j].tolist()
        if math.isinf(price):
            return f, fc
        v = math.sqrt(price)
        q = min(max(f + a + b / v, 0.0), self.total_qty)
        c = min(max(fc + al + be * v, 0.0), self.total_cost)
        return q, c

    def passed(self, j: int, which: int) -> float:
        """Base (``which`` 0) or quote (1) of the pieces that end at or before breakpoint ``j``
        (their whole lengths; a lower bound of the pooled total there)."""
        self._upto(j + 1)
        return float(self._cum[3 * which, j])

    def cost_of_qty(self, qty: float) -> float:
        """Pooled quote paid (buy) / received (sell) for ``qty`` base split at one marginal price."""
        return self.invert(qty, 0)[1]

    def qty_of_cost(self, cost: float) -> float:
        """Pooled base bought (buy) / sold (sell) for the quote amount ``cost``."""
        return self.invert(cost, 1)[0]

    def reach(self, amount: float, which: int) -> int:
        """The breakpoint :meth:`invert` answers ``amount`` at (coordinate ``which``: 0 base, 1
        quote): the first whose total, flat levels included, reaches it; the number of
        breakpoints when none does. Makes the prefix sums only that deep."""
        total = self.key_array.size
        while True:
            plus = self._plus[which]
            if plus.size and plus[-1] >= amount:
                return int(np.searchsorted(plus, amount, side="left"))
            if self._done == total:
                return total
            self._upto(self._done + 1)

    def invert(self, amount: float, which: int) -> tuple[float, float, float]:
        """The pooled (base, quote, marginal price) whose coordinate ``which`` (0 base, 1 quote)
        is ``amount``.

        Closed form, O(log S): the first breakpoint j whose total (flat levels at λ_j included)
        reaches the amount; if the pieces before it reach it at λ_j, the answer lies in
        (λ_{j-1}, λ_j] where the total is affine in u = 1/sqrt(λ) (base) or v = sqrt(λ) (quote):
        one linear equation; otherwise it lies in the flat levels at λ_j, linear at price λ_j."""
        top = self.total_qty if which == 0 else self.total_cost
        keys = self.key_array
        if amount <= 0.0 or not keys.size:
            return 0.0, 0.0, self.best_price
        if amount >= top:
            return self.total_qty, self.total_cost, self._sign * float(keys[-1])
        j = self.reach(amount, which)
        if j >= keys.size:
            return self.total_qty, self.total_cost, self._sign * float(keys[-1])
        lam = self._sign * float(keys[j])
        v = math.sqrt(lam)
        if j == 0:
            f = a = b = fc = al = be = 0.0
        else:
            f, a, b, fc, al, be = self._rows[j - 1].tolist()
        minus_q = f + a + b / v
        minus_c = fc + al + be * v
        minus = minus_q if which == 0 else minus_c
        if j > 0 and minus >= amount and (b if which == 0 else be) != 0.0:
            if which == 0:
                u = (amount - f - a) / b
                v_star = 1.0 / u
                return amount, fc + al + be * v_star, v_star * v_star
            v_star = (amount - fc - al) / be
            return f + a + b / v_star, amount, v_star * v_star
        # inside the flat levels priced exactly λ_j
        if which == 0:
            return amount, minus_c + (amount - minus_q) * lam, lam
        return minus_q + (amount - minus_c) / lam, amount, lam

    def knots(
        self, down_to: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
        """The pooled curve as pieces along the base: (base at each knot, quote at each knot,
        marginal price at each piece's start, at its end, complete?), zero-length pieces
        dropped. A flat level is a piece of one price; between two breakpoints the piece is one
        hyperbola.

        ``down_to`` (sell side, rate space): only the pieces down to the first breakpoint priced
        at or below it, which are exactly the first pieces of the whole curve (``complete``
        False when pieces are left out: everything past the last knot is priced at or below
        ``down_to``). 0 (default): the whole curve."""
        lam_all = self._sign * self.key_array
        total = lam_all.size
        if total == 0:
            return np.zeros(1), np.zeros(1), np.zeros(0), np.zeros(0), True
        if down_to > 0.0 and self._sign < 0.0:
            count = int(np.searchsorted(self.key_array, -down_to, side="left")) + 1
        else:
            count = total
        count = min(count, total)
        self._upto(count)
        lam = lam_all[:count]
        # knots minus_0, plus_0, minus_1, plus_1, ...: flat pieces at λ_j, then the hyperbola
        # from λ_j to λ_{j+1} (the last one only when the curve is complete). Knot p reads the
        # sums of row (p - 1) // 2 (none for p = 0) at λ_{p // 2}: one gather for all knots.
        p = np.arange(2 * count)
        at = p // 2
        sums = np.hstack((np.zeros((6, 1)), self._cum[:, :count]))[:, (p - 1) // 2 + 1]
        v = np.sqrt(lam)[at]
        f, a, b, fc, al, be = sums
        b_u = b / v
        qs = f + a + b_u
        cs = fc + al + be * v
        qs[0] = cs[0] = 0.0
        qs = np.maximum.accumulate(qs)
        cs = np.maximum.accumulate(cs)
        start = lam[at[:-1]]
        end = lam[at[1:]]
        # a knot's total is a sum of terms as large as |f| + |a| + |b·u|: two knots closer than
        # the rounding of that sum are one point, and the "piece" between them (a sliver of
        # ~1e-14 whose price is a ratio of two rounding errors, e.g. 8809 USDC/ETH in a market
        # at 2950) is noise: it merges into the next piece. Decided per knot, so a curve's first
        # pieces are the same whether or not the rest is made.
        scale = np.abs(f) + np.abs(a) + np.abs(b_u)
        scale[0] = 0.0
        keep = qs[1:] - qs[:-1] > _SLIVER * np.maximum(scale[:-1], scale[1:])
        return (
            np.concatenate(([qs[0]], qs[1:][keep])),
            np.concatenate(([cs[0]], cs[1:][keep])),
            start[keep],
            end[keep],
            count == total,
        )
