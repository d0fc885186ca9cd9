"""A path's composed depth curve equals its links applied in turn; rate space and fill_at agree
with the pooled closed forms. Seeded random links of books (flat levels) and v3-like pools."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from router.model.depth import DepthCurve, FlatSegment, HyperbolicSegment
from router.routing.compose import compose, fill_at
from router.routing.flow import DirectedLink
from router.routing.pairs import PooledDepth


def _curves(rng: np.random.Generator, side: str, price: float, depth: float) -> list[DepthCurve]:
    """Two to four venues of one side: books of flat levels and pools of constant-product ranges
    (buy: prices rising from ``price``; sell: falling)."""
    step = 1.0 if side == "buy" else -1.0
    curves = []
    for i in range(int(rng.integers(2, 5))):
        segs: list[FlatSegment | HyperbolicSegment] = []
        if i % 2 == 0:
            p = price * (1 + step * float(rng.uniform(0.0, 0.002)))
            for _ in range(int(rng.integers(3, 12))):
                segs.append(FlatSegment(depth * float(rng.uniform(0.01, 0.05)), p))
                p *= 1 + step * float(rng.uniform(0.0001, 0.001))
        else:
            fee = float(rng.choice([0.0001, 0.0005, 0.003]))
            x = depth * float(rng.uniform(0.5, 2.0))
            y = x * price
            for _ in range(int(rng.integers(2, 8))):
                q = x * float(rng.uniform(0.001, 0.01))
                segs.append(HyperbolicSegment(q, x, y, fee))
                # the next range starts where this one ended (same price), other liquidity
                end = x * y * (1 - fee) / (x + q * (1 - fee)) ** 2 if side == "sell" else None
                if side == "sell":
                    assert end is not None
                    x2 = x * float(rng.uniform(0.5, 2.0))
                    x, y = x2, end * x2
                else:
                    p_end = x * y / ((x - q) ** 2 * (1 - fee))
                    x2 = x * float(rng.uniform(0.5, 2.0))
                    x, y = x2, p_end * (1 - fee) * x2
        curves.append(DepthCurve(f"v{i}", side, tuple(segs)))
    return curves


def _link(
    rng: np.random.Generator, src_price: float, dst_price: float, sells: bool
) -> DirectedLink:
    """A link from an asset worth ``src_price`` to one worth ``dst_price`` (in a numeraire)."""
    if sells:  # src is the symbol's base
        curves = _curves(rng, "sell", src_price / dst_price, 100.0 / src_price)
        return DirectedLink("S", "D", [(True, PooledDepth(curves, "sell"))])
    curves = _curves(rng, "buy", dst_price / src_price, 100.0 / dst_price)
    return DirectedLink("S", "D", [(False, PooledDepth(curves, "buy"))])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans(), st.booleans(), st.floats(0.01, 0.99))
def test_composed_path_equals_its_links_in_turn(
    seed: int, sells1: bool, sells2: bool, share: float
) -> None:
    rng = np.random.default_rng(seed)
    first = _link(rng, 3000.0, 1.0, sells1)
    second = _link(rng, 1.0, 0.5, sells2)
    first.dst, second.src = "X", "X"
    path = PooledDepth.from_terms(compose(first.rate_space(), second.rate_space()), "sell")
    # the path carries what the first link can deliver and the second can take
    cap_in = first.backward(min(first.capacity()[1], second.capacity()[0]))
    assert math.isclose(path.total_qty, cap_in, rel_tol=1e-9)
    amount = share * path.total_qty
    expected = second.forward(first.forward(amount))
    assert math.isclose(path.cost_of_qty(amount), expected, rel_tol=1e-9)
    # its marginal rate is the product of the links' at the intermediate amount
    x = first.forward(amount)
    rate = path.invert(amount, 0)[2]
    product = first.rate_at(amount) * second.rate_at(x)
    assert math.isclose(rate, product, rel_tol=1e-6) or _near_breakpoint(first, second, amount)


def _near_breakpoint(first: DirectedLink, second: DirectedLink, amount: float) -> bool:
    """At a breakpoint of either link the marginal rate jumps: left and right limits differ."""
    eps = amount * 1e-9
    lo = first.rate_at(amount - eps) * second.rate_at(first.forward(amount - eps))
    hi = first.rate_at(amount + eps) * second.rate_at(first.forward(amount + eps))
    return not math.isclose(lo, hi, rel_tol=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans(), st.floats(0.01, 0.99))
def test_rate_space_and_fill_at_agree_with_the_pooled_closed_forms(
    seed: int, sells: bool, share: float
) -> None:
    rng = np.random.default_rng(seed)
    link = _link(rng, 3000.0, 1.0, sells)
    pooled = link.rate_space()
    cap_in, cap_out = link.capacity()
    assert math.isclose(pooled.total_qty, cap_in, rel_tol=1e-12)
    assert math.isclose(pooled.total_cost, cap_out, rel_tol=1e-12)
    amount = share * cap_in
    assert math.isclose(pooled.cost_of_qty(amount), link.forward(amount), rel_tol=1e-9)
    rate = pooled.invert(amount, 0)[2]
    (inp, out), (flat_in, flat_out) = fill_at(pooled.terms, rate)
    plus = pooled.at_price(rate)
    minus = pooled.at_price(rate, include_flat=False)
    assert math.isclose(inp, minus[0], rel_tol=1e-9, abs_tol=1e-9 * cap_in)
    assert math.isclose(inp + flat_in, plus[0], rel_tol=1e-9, abs_tol=1e-9 * cap_in)
    assert math.isclose(out + flat_out, plus[1], rel_tol=1e-9, abs_tol=1e-9 * cap_out)
    assert inp <= amount * (1 + 1e-9) and amount <= (inp + flat_in) * (1 + 1e-9)
