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
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

import numpy as np

from router.model.depth import DepthCurve

__all__ = ["PooledDepth"]


class PooledDepth:
    """Every venue of one symbol for one taker side, pooled (fees in, fixed costs out).

    ``side`` "buy": Q(λ) base bought and C(λ) quote paid with every venue filled up to marginal
    price λ (rising); "sell": base sold and quote received down to λ (falling). O(S log S) to build
    for S segments, O(log S) per query.
    """

    __slots__ = (
        "_cum",
        "_keys",
        "_plus",
        "_sign",
        "best_price",
        "side",
        "total_cost",
        "total_qty",
    )

    def __init__(self, curves: Sequence[DepthCurve], side: str) -> None:
        self.side = side
        self._sign = 1.0 if side == "buy" else -1.0
        terms = np.concatenate([c.terms for c in curves], axis=1) if curves else np.zeros((10, 0))
        n = terms.shape[1]
        k0, k1, qty, cst, a, b, alpha, beta, _hyp, _price = terms
        keys = np.concatenate((k0, k1))
        zeros = np.zeros(n)
        deltas = np.concatenate(
            (
                np.vstack([zeros, a, b, zeros, alpha, beta]),
                np.vstack([qty, -a, -b, cst, -alpha, -beta]),
            ),
            axis=1,
        )
        order = np.argsort(keys, kind="stable")
        ks = keys[order]
        cum = np.cumsum(deltas[:, order], axis=1)
        last = np.flatnonzero(np.append(ks[1:] != ks[:-1], True)) if n else np.zeros(0, int)
        self._keys: list[float] = ks[last].tolist()
        self._cum: list[list[float]] = cum[:, last].T.tolist()
        self.total_qty = float(qty.sum())
        self.total_cost = float(cst.sum())
        self.best_price = self._sign * self._keys[0] if self._keys else math.nan
        # totals at every breakpoint, flat levels at it included (non-decreasing): the inverses
        lam_g = np.abs(ks[last]) if n else np.zeros(0)
        cg = cum[:, last]
        with np.errstate(divide="ignore", invalid="ignore"):
            plus_q = cg[0] + cg[1] + np.where(cg[2] != 0.0, cg[2] / np.sqrt(lam_g), 0.0)
            plus_c = cg[3] + cg[4] + cg[5] * np.sqrt(lam_g)
        self._plus: tuple[list[float], list[float]] = (
            np.maximum.accumulate(plus_q).tolist() if n else [],
            np.maximum.accumulate(plus_c).tolist() if n else [],
        )

    def at_price(self, price: float) -> tuple[float, float]:
        """(base, quote) of every venue filled to marginal ``price`` (flat levels at it included)."""
        if not self._keys or not price > 0.0:
            return 0.0, 0.0
        j = bisect_right(self._keys, self._sign * price) - 1
        if j < 0:
            return 0.0, 0.0
        f, a, b, fc, al, be = self._cum[j]
        if math.isinf(price):
            return f, fc
        v = math.sqrt(price)
        q = min(max(f + a + b / v, 0.0), self.total_qty)
        c = min(max(fc + al + be * v, 0.0), self.total_cost)
        return q, c

    def cost_of_qty(self, qty: float) -> float:
        """Pooled quote paid (buy) / received (sell) for ``qty`` base split at one marginal price."""
        return self._invert(qty, 0)[1]

    def qty_of_cost(self, cost: float) -> float:
        """Pooled base bought (buy) / sold (sell) for the quote amount ``cost``."""
        return self._invert(cost, 1)[0]

    def _invert(self, amount: float, which: int) -> tuple[float, float]:
        """The pooled (base, quote) whose coordinate ``which`` (0 base, 1 quote) is ``amount``.

        Closed form, O(log S): the first breakpoint j whose total (flat levels at λ_j included)
        reaches the amount; if the pieces before it reach it at λ_j, the answer lies in
        (λ_{j-1}, λ_j] where the total is affine in u = 1/sqrt(λ) (base) or v = sqrt(λ) (quote):
        one linear equation; otherwise it lies in the flat levels at λ_j, linear at price λ_j."""
        top = self.total_qty if which == 0 else self.total_cost
        if amount <= 0.0 or not self._keys:
            return 0.0, 0.0
        if amount >= top:
            return self.total_qty, self.total_cost
        plus = self._plus[which]
        j = bisect_left(plus, amount)
        if j >= len(plus):
            return self.total_qty, self.total_cost
        lam = self._sign * self._keys[j]
        v = math.sqrt(lam)
        if j == 0:
            f = a = b = fc = al = be = 0.0
        else:
            f, a, b, fc, al, be = self._cum[j - 1]
        minus_q = f + a + b / v
        minus_c = fc + al + be * v
        minus = minus_q if which == 0 else minus_c
        if j > 0 and minus >= amount and (b if which == 0 else be) != 0.0:
            if which == 0:
                u = (amount - f - a) / b
                v_star = 1.0 / u
                return amount, fc + al + be * v_star
            v_star = (amount - fc - al) / be
            return f + a + b / v_star, amount
        # inside the flat levels priced exactly λ_j
        if which == 0:
            return amount, minus_c + (amount - minus_q) * lam
        return minus_q + (amount - minus_c) / lam, amount
