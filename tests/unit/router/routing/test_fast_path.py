"""The cold fast path (pooled prefix sums made lazily, paths composed only down to a rate floor)
gives exactly the plans and flows of the whole-curve reference path, bit for bit.

- plan JSON: ``plan_multihop`` without a cache (fast path) equals it with a
  :class:`~router.routing.RouteCache` (whole curves built up front: the reference path) on
  seeded random markets of real v2/v3 pools and books, both order kinds, small to large orders;
- flows: ``FlowModel`` fast vs ``reference=True`` on synthetic markets of 3 and 5 assets (books
  of flat levels, v3-like pools of many ranges), every subset of paths, ties both ways;
- a pooled curve answers the same whether its prefix sums are made lazily or all up front;
- composed path curves have rates that never rise along the path beyond float noise (what the
  rate floor relies on; the knots' rounding slivers are merged away).
"""

from __future__ import annotations

import math
from decimal import Decimal
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.app import load_market
from router.model.depth import DepthCurve, FlatSegment, HyperbolicSegment
from router.model.errors import RouteError
from router.routing import RouteCache, plan_multihop
from router.routing.flow import DirectedLink, FlowModel
from router.routing.graph import AssetGraph
from router.routing.multihop import _Router
from router.routing.pairs import PooledDepth
from tests.unit.router.routing.test_multihop import random_config

PRICES = {"A": 3000.0, "B": 1.0, "X1": 1.0, "X2": 60000.0, "X3": 0.05}


def _sell_curve(rng: np.random.Generator, name: str, price: float, depth: float) -> DepthCurve:
    """Even venues: 60 flat levels falling from ``price``; odd: a v3-like pool of 60 ranges."""
    segs: list[FlatSegment | HyperbolicSegment] = []
    if int(name.rsplit("-", 1)[1]) % 2 == 0:
        p = price * (1 - float(rng.uniform(0.0, 0.001)))
        for _ in range(60):
            segs.append(FlatSegment(depth / 60 * float(rng.uniform(0.3, 1.7)), p))
            p *= 1 - float(rng.uniform(0.00005, 0.0006))
    else:
        fee = float(rng.choice([0.0001, 0.0005, 0.003]))
        p = price * (1 + float(rng.normal(0.0, 0.001)))
        for _ in range(60):
            x = depth * float(rng.uniform(0.5, 2.0))
            q = x * float(rng.uniform(0.0003, 0.002))
            segs.append(HyperbolicSegment(q, x, x * p, fee))
            x1 = x + q * (1 - fee)
            p = x * x * p / (x1 * x1)
    return DepthCurve(name, "sell", tuple(segs))


def _synthetic(seed: int, mids: int) -> tuple[list[list[DirectedLink]], float]:
    """A -> B direct and through ``mids`` intermediates, 2-5 venues per link; 10% of A's depth."""
    rng = np.random.default_rng(seed)
    xs = ["X1", "X2", "X3"][:mids]
    links = [("A", "B")] + [link for x in xs for link in (("A", x), (x, "B"))]
    directed = {}
    depth_a = 0.0
    for src, dst in links:
        depth = 300.0 * PRICES["A"] / PRICES[src]
        curves = [
            _sell_curve(rng, f"{src}{dst}-{i}", PRICES[src] / PRICES[dst], depth)
            for i in range(int(rng.integers(2, 6)))
        ]
        if src == "A":
            depth_a += sum(c.total_qty for c in curves)
        directed[(src, dst)] = DirectedLink(src, dst, [(True, PooledDepth(curves, "sell"))])
    branches = [[directed[("A", "B")]]] + [[directed[("A", x)], directed[(x, "B")]] for x in xs]
    return branches, 0.1 * depth_a


def _solve(model: FlowModel, amount: float, mode: str, members, ties: bool) -> str:
    try:
        return repr(model.solve(amount, mode, members, ties_reversed=ties))
    except RouteError as exc:
        return f"refused: {exc}"


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3), st.sampled_from([0.02, 0.3, 1.0, 4.0]))
def test_fast_flow_equals_the_whole_curve_reference_bit_for_bit(
    seed: int, mids: int, share: float
) -> None:
    branches, tenth = _synthetic(seed, mids)
    amount = tenth * share
    subsets = [None] + [c for size in (1, 2) for c in combinations(range(len(branches)), size)]
    for mode, size in (("from", amount), ("to", amount * 2500.0)):
        for members in subsets:
            for ties in (False, True):
                fast = _solve(FlowModel(branches, "A", "B"), size, mode, members, ties)
                whole = _solve(
                    FlowModel(branches, "A", "B", reference=True), size, mode, members, ties
                )
                assert fast == whole, (mode, members, ties)


def _reference_plan(venues, decimals, source: str, target: str, kind: str, amount: Decimal):
    """The plan with every whole path curve built up front (the reference path)."""
    graph = AssetGraph(venues)
    mode = "from" if kind == "amount_in" else "to"
    branches = graph.branches(source, target, 2)
    return _Router(graph, branches, decimals, source, target, mode, reference=True).plan(amount)


@pytest.mark.parametrize("seed", range(10))
def test_fast_plan_json_equals_the_reference_plan_json(tmp_path: Path, seed: int) -> None:
    """Without a cache (fast path), with a cache asked once (fast path) and again (whole paths
    built then reused): each plan JSON and float flow equals the reference's."""
    path = tmp_path / "market.toml"
    path.write_text(random_config(100 + seed))
    market = load_market(path)
    decimals = {name: a.decimals for name, a in market.assets.items()}
    venues = market.spot_adapters()
    cache = RouteCache()
    for source, target in (("ETH", "USDC"), ("USDC", "ETH")):
        for size in ("0.3", "6", "45"):
            for kind in ("amount_in", "amount_out"):
                priced_in_usdc = (kind == "amount_in") == (source == "USDC")
                amount = Decimal(size) * (3000 if priced_in_usdc else 1)
                docs = []
                for run in ("reference", "fast", "cache", "cache again"):
                    try:
                        if run == "reference":
                            plan = _reference_plan(venues, decimals, source, target, kind, amount)
                        else:
                            plan = plan_multihop(
                                venues,
                                decimals,
                                source,
                                target,
                                cache=None if run == "fast" else cache,
                                **{kind: amount},
                            )
                        docs.append((plan.to_json_dict(), repr(plan.flow)))
                    except RouteError as exc:
                        docs.append(({"refused": str(exc)}, ""))
                for doc in docs[1:]:
                    assert doc == docs[0], (source, target, size, kind)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.001, 1.2))
def test_lazy_prefix_sums_answer_as_the_eager_ones(seed: int, share: float) -> None:
    rng = np.random.default_rng(seed)
    curves = [_sell_curve(rng, f"AB-{i}", 3000.0, 300.0) for i in range(int(rng.integers(1, 6)))]
    lazy, eager = PooledDepth(curves, "sell"), PooledDepth(curves, "sell")
    assert eager.cum_array.shape[1] == eager.key_array.size  # every prefix sum made up front
    amount = share * lazy.total_qty
    assert lazy.invert(amount, 0) == eager.invert(amount, 0)
    assert lazy.invert(amount * 2900.0, 1) == eager.invert(amount * 2900.0, 1)
    rate = eager.invert(amount, 0)[2]
    for flat in (True, False):
        assert lazy.at_price(rate, flat) == eager.at_price(rate, flat)
    whole = eager.knots()
    part = lazy.knots(rate)
    n = part[0].size
    assert n <= whole[0].size and part[4] == (n == whole[0].size and whole[4])
    for got, want in zip(part[:4], whole[:4]):
        assert np.array_equal(got, want[: got.size])
    # what is left out lies at or below the rate: the part's last knot is priced at or below it
    if not part[4]:
        assert part[3][-1] <= rate
    assert np.array_equal(lazy.cum_array, eager.cum_array)


@pytest.mark.parametrize("seed", range(12))
def test_composed_rates_never_rise_along_a_path(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "market.toml"
    path.write_text(random_config(200 + seed))
    market = load_market(path)
    graph = AssetGraph(market.spot_adapters())
    decimals = {name: a.decimals for name, a in market.assets.items()}
    for source, target in (("ETH", "USDC"), ("USDC", "ETH")):
        branches = graph.branches(source, target, 2)
        router = _Router(graph, branches, decimals, source, target, "from")
        model = FlowModel(router.directed, source, target, reference=True)
        for links, terms in zip(router.directed, model.terms):
            if len(links) == 1 or terms.shape[1] < 2:
                continue
            starts = terms[0]  # -(start rate), along the path
            later_min = np.minimum.accumulate(starts[::-1])[::-1]
            assert np.all(starts - later_min <= 1e-9 * np.abs(starts)), (source, target)
            assert math.isfinite(float(starts.min()))
