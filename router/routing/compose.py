"""A path's composed depth curve: the breakpoints of its links merged once into closed-form pieces.

Every link crossed in the order's direction is written in "rate space", as if it sold its source
for its destination: input (source), output (destination), marginal rate r = d out / d in
(destination per source, falling). A sell of a symbol's base is that already (r = λ); a buy
spends quote for base, so its terms are swapped (input = cost, output = base, r = 1/λ, and the
affine forms of :func:`router.model.depth.segment_terms` exchange: u ↔ v).

Inside one piece of a pooled link the output is a Möbius function of the input (a constant
product hyperbola, or a line on a flat level), and Möbius functions compose into Möbius
functions. So a two-hop path A → X → B is, between the merged breakpoints of its two links (the
first link's output knots and the second link's input knots, in the amount of X), again one
hyperbola with marginal rate r1(x)·r2(x): a depth curve of its own whose pieces are fixed by
their length ΔA and their marginal rates m0 (start) and m1 (end):

    out(q) = Y·q / (X + q)     X = ΔA·k / (1 - k), k = sqrt(m1 / m0), Y = m0·X

(ΔB = ΔA·sqrt(m0·m1); k = 1 is a flat piece). These pieces are water-fill terms, so every path
of a route pools into one :class:`~router.routing.pairs.PooledDepth` and the optimal split over
paths is the single-symbol water-fill: one sort, prefix sums, one linear equation.
"""

from __future__ import annotations

import math

import numpy as np

from router.routing.pairs import PooledDepth

__all__ = ["compose", "compose_down_to", "fill_at", "rate_space_terms"]

# a piece whose end rate is within this share of its start rate is flat (float noise)
_FLAT_RTOL = 1e-13


def rate_space_terms(terms: np.ndarray, sells: bool) -> np.ndarray:
    """Water-fill terms of one symbol's side in rate space (sell-side conventions, key -r)."""
    if sells:
        return terms
    k0, k1, qty, cost, a, b, alpha, beta, hyp, price = terms
    with np.errstate(divide="ignore"):
        flat_rate = np.where(price > 0.0, 1.0 / np.where(price > 0.0, price, 1.0), 0.0)
    return np.vstack([-1.0 / k0, -1.0 / k1, cost, qty, alpha, beta, a, b, hyp, flat_rate])


def _pieces_at(
    knots: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool], idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pieces ``idx`` of ``knots``: (length in, length out, hyperbola X, Y, curved?) fitted to
    both ends."""
    ins, outs, m0, m1, _complete = knots
    d_in, d_out = ins[idx + 1] - ins[idx], outs[idx + 1] - outs[idx]
    k = np.sqrt(np.minimum(m1[idx] / m0[idx], 1.0))
    curved = k < 1.0 - _FLAT_RTOL
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(curved, d_in * k / (1.0 - k), 1.0)
        y = np.where(curved, d_out * (x + d_in) / d_in, 1.0)
    return d_in, d_out, x, y, curved


def compose(first: PooledDepth, second: PooledDepth) -> np.ndarray:
    """Rate-space water-fill terms of the path ``first`` then ``second`` (both rate-space pools):
    every amount of the intermediate that the first link can deliver and the second can take."""
    return compose_down_to(first, second, 0.0)[0]


def compose_down_to(
    first: PooledDepth, second: PooledDepth, rate: float
) -> tuple[np.ndarray, bool]:
    """The first pieces of :func:`compose`, bit for bit, down to the marginal ``rate`` (> 0; 0:
    all): (terms, complete?). When pieces are left out, every one of them starts at a rate at or
    below ``rate`` (up to float noise of the closed forms): past the last piece either the first
    link is at or below ``rate`` / (the second's best rate), or the second at or below ``rate``
    / (the first's best rate), and a path's rate is the product of its links'.

    Why it pays: an order only reaches the path's first pieces, and each link's pooled prefix
    sums are made only as deep as asked (:class:`~router.routing.pairs.PooledDepth`)."""
    if rate > 0.0 and first.key_array.size and second.key_array.size:
        k1 = first.knots(rate / second.best_price)
        k2 = second.knots(rate / first.best_price)
        # a part of a single knot (a hyperbola starting at the first breakpoint) says nothing
        k1 = k1 if k1[0].size > 1 else first.knots()
        k2 = k2 if k2[0].size > 1 else second.knots()
    else:
        k1, k2 = first.knots(), second.knots()
    in1, out1 = k1[0], k1[1]
    in2 = k2[0]
    top = min(out1[-1], in2[-1])
    complete = True
    if not (k1[4] and k2[4]):
        # a whole link ends at or past its part's last knot: the path's own end (the lesser
        # link end) is known only when a complete link ends no later than the other's part
        complete = (k1[4] and out1[-1] <= in2[-1]) or (k2[4] and in2[-1] <= out1[-1])
    if out1.size < 2 or in2.size < 2 or top <= 0.0:
        return np.zeros((10, 0)), complete
    if complete:
        xs = np.sort(np.concatenate((out1[out1 < top], in2[in2 < top], [top])))
    else:
        # the last knot of a left-out part is a knot of the whole compose: its pieces up to it
        xs = np.sort(np.concatenate((out1[out1 <= top], in2[in2 <= top])))
    xs = xs[np.append(True, xs[1:] != xs[:-1])]  # np.unique's values, without its overhead
    x0, x1 = xs[:-1], xs[1:]
    mid = 0.5 * (x0 + x1)
    i1 = np.clip(np.searchsorted(out1, mid, side="right") - 1, 0, out1.size - 2)
    i2 = np.clip(np.searchsorted(in2, mid, side="right") - 1, 0, in2.size - 2)
    # both ends of every piece in one pass: fewer calls, each value computed as on its own
    n = x0.size
    ends = np.concatenate((x0, x1))
    i1, i2 = np.concatenate((i1, i1)), np.concatenate((i2, i2))
    d_in1, d_out1, cx1, cy1, curved1 = _pieces_at(k1, i1)
    d_in2, d_out2, cx2, cy2, curved2 = _pieces_at(k2, i2)
    with np.errstate(divide="ignore", invalid="ignore"):
        # the first link inverted: source spent for x of the intermediate received, and its rate
        o = ends - out1[i1]
        q = np.where(curved1, cx1 * o / (cy1 - o), o * d_in1 / d_out1)
        r1 = np.where(curved1, cy1 * cx1 / (cx1 + q) ** 2, d_out1 / d_in1)
        spent = in1[i1] + q
        # the second link's marginal rate at x of the intermediate sold
        q2 = ends - in2[i2]
        r2 = np.where(curved2, cy2 * cx2 / (cx2 + q2) ** 2, d_out2 / d_in2)
    a0, a1, r1_0, r1_1, r2_0, r2_1 = spent[:n], spent[n:], r1[:n], r1[n:], r2[:n], r2[n:]
    m0, m1 = r1_0 * r2_0, np.minimum(r1_1 * r2_1, r1_0 * r2_0)
    length = a1 - a0
    keep = (length > 0.0) & (m0 > 0.0)
    length, m0, m1 = length[keep], m0[keep], m1[keep]
    k = np.sqrt(m1 / m0)
    curved = k < 1.0 - _FLAT_RTOL
    price = np.sqrt(m0 * m1)
    with np.errstate(divide="ignore", invalid="ignore"):
        big_x = np.where(curved, length * k / (1.0 - k), 1.0)
    big_y = m0 * big_x
    r = np.sqrt(big_x * big_y)
    terms = np.zeros((10, length.size))
    terms[0] = np.where(curved, -m0, -price)
    terms[1] = np.where(curved, -m1, -price)
    terms[2] = length
    terms[3] = length * price
    # the affine forms of the curved pieces (flat pieces keep zeros), then the flat price
    terms[4:8, curved] = [-big_x[curved], r[curved], big_y[curved], -r[curved]]
    terms[8] = curved
    terms[9] = np.where(curved, 0.0, price)
    return terms, complete


def fill_at(terms: np.ndarray, rate: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Rate-space terms filled to the marginal ``rate``: ((input, output) of every piece better
    than it, (input, output) of the flat pieces exactly at it). O(S) vectorised, no sort: one
    product of the terms with the three masks.

    The product runs over the pieces up to the last one starting at or before the rate (the
    others are all masked out), in a contiguous copy: a BLAS product's rounding depends on its
    length (its blocking), so a path's first pieces (:func:`compose_down_to`) give the same
    fill, bit for bit, as the whole path. (Up to ~128 pieces it is also the whole-length
    product's rounding: one block.)"""
    key = -rate
    reached = np.flatnonzero(terms[0] <= key)
    count = int(reached[-1]) + 1 if reached.size else 0
    terms = np.ascontiguousarray(terms[:, :count])
    k0, k1 = terms[0], terms[1]
    masks = np.empty((3, count))
    np.less(k1, key, out=masks[0])  # ended before the rate: full
    # started before it and not ended: a hyperbola (a flat piece starts and ends at one key)
    np.less(k0, key, out=masks[1])
    masks[1] -= masks[0]
    np.equal(k1, key, out=masks[2])  # with k0 == key: a flat level priced exactly at it
    masks[2] *= k0 == key
    qty, cost, a, b, alpha, beta = (terms[2:8] @ masks.T).tolist()  # columns: done, in, at
    v = math.sqrt(rate)
    return (qty[0] + a[1] + b[1] / v, cost[0] + alpha[1] + beta[1] * v), (qty[2], cost[2])
