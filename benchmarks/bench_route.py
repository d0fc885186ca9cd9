"""Routing benchmark: latency of the optimal split and its cost gain over two baselines.

Workload "mixed market": n venues (3, 10, 50), half order books (50 flat levels) and half
v3-like pools (50 hyperbolic ranges), mid 3000, random fees and depth (fixed seed). Each
instance routes a buy of 10% of the market's depth (``--share`` to change). Measured in one process:

- ours: :func:`router.split.split` (water-fill; with leg costs, branch and bound);
- (a) Uniswap smart-order-router style: every venue quoted at a 5% grid of the order, the best
  combination of up to 7 splits on distinct venues (solved exactly over that grid by DP);
- (b) greedy chunking: 100 chunks of 1% each to the venue with the lowest marginal price now.

Costs are compared on the same float curves; gain (bps) = (baseline - ours) / baseline * 1e4.
With leg costs (gas 2-20 quote per venue used, 3 and 10 venues) the split runs its exact
branch and bound.

Workload "default market" (realistic): the REAL adapters of config/default.toml (a v2 pool, two
v3 pools, Binance's recorded ETH book; leg costs 6/8/8/0 USDC), :func:`router.plan.plan_route`
end to end (curves, split, quantisation, exact re-quotes, single-venue benchmark) for buys and
sells of 1, 10, 50 and 200 ETH. The baselines run on the same exact adapters: (a) every venue
quoted exactly at a 5% grid of the order, best combination of up to 7 splits (DP); (b) 100 chunks
of 1%, each to the venue whose exact cost of the next chunk is lowest. Costs are exact quote
amounts, leg costs included; gain (bps) as above (sells: (ours - baseline) / baseline).

Workload "multi-hop" (``--multihop``): sell asset A for B across paths of at most two hops on
synthetic sell curves (books of 50 flat levels, v3-like pools of 50 ranges): 2 assets x 10
venues (today's single-symbol case), 3 assets x 12 venues (A-B, A-X, X-B, 4 venues each) and 5
assets x 30 venues (6 on A-B, 4 on each of A-X and X-B for three intermediates X); order: 10% of
the venues' A depth. Ours, two ways: "cold" builds everything from the venues' curves for each
order (every link pooled, every path's composed depth curve, the water-fill over paths and the
dual certificate: :func:`router.routing.flow.solve_flow`); "per order" answers the order on a
:class:`router.routing.flow.FlowModel` built once for the market state (the composed curves do
not depend on the order size; they are rebuilt when a venue changes). At 2 x 10 also today's
single-symbol :func:`router.split.split` on the same curves. Baseline (Uniswap smart-order-router style): every
venue path (one venue per hop) quoted on a 5% grid of the order, the best allocation of the 20
chunks over paths by DP, its value then re-evaluated with venues shared by several chosen paths
counted once (proportional shares). Same float curves, same process. With a
:class:`router.routing.RouteCache` across orders: "unchanged" (the same curve objects every
order: every structure a hit) and "one venue moved" (one venue's curve replaced by a new object
before each order, round robin, as an adapter does after any change), each asserted equal to the
cold result. Then the default market end to end (``Market.plan_conversion``), cold and cached.

Workload "three hops" (``--three-hops``): 5 assets x 30 venues where links join the
intermediates too (A-B 6 venues, A-X and X-B 3 each, X-Y one each way), so paths of three hops
share links: the layered graph's convex flow (:mod:`router.routing.network`, pieces built and
solved per order) against the same SOR baseline over every venue path of at most three hops,
re-evaluated with a venue used by several chosen paths trading their sum.

Prints markdown tables (for docs/benchmarks.md and docs/routing.md "Measured").
Run: ``.venv/bin/python benchmarks/bench_route.py`` (add ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from decimal import Decimal

from router.app import load_market
from router.model.depth import DepthCurve, FlatSegment, HyperbolicSegment
from router.model.errors import RouteError
from router.plan import plan_route
from router.routing import RouteCache
from router.split import split

DEFAULT_MARKET = Path(__file__).resolve().parents[1] / "config" / "default.toml"

SEED = 20260101
MID = 3000.0
SEGMENTS = 50


def book(rng: np.random.Generator, name: str) -> DepthCurve:
    price = MID * (1 + rng.uniform(0.0, 0.002)) * (1 + rng.choice([0.0001, 0.0005, 0.001]))
    segs = []
    for _ in range(SEGMENTS):
        segs.append(FlatSegment(float(rng.uniform(0.2, 5.0)), price))
        price *= 1 + rng.uniform(0.00005, 0.0006)
    return DepthCurve(name, "buy", tuple(segs), lot=0.001)


def pool(rng: np.random.Generator, name: str) -> DepthCurve:
    fee = float(rng.choice([0.0001, 0.0005, 0.003]))
    p = MID * (1 + rng.normal(0.0, 0.001))
    segs = []
    for _ in range(SEGMENTS):
        liquidity = float(rng.uniform(200.0, 3000.0))
        x, y = liquidity / math.sqrt(p), liquidity * math.sqrt(p)
        q = x * float(rng.uniform(0.0003, 0.002))
        segs.append(HyperbolicSegment(q, x, y, fee))
        p = (y / x) * (x / (x - q)) ** 2
    return DepthCurve(name, "buy", tuple(segs), lot=1e-18)


def market(rng: np.random.Generator, n: int) -> list[DepthCurve]:
    return [
        book(rng, f"book{i:02d}") if i % 2 == 0 else pool(rng, f"pool{i:02d}") for i in range(n)
    ]


def cost_of(curves: list[DepthCurve], alloc: dict[str, float]) -> float:
    return sum(
        c.cost(min(alloc.get(c.venue, 0.0), c.total_qty))
        + (c.fixed_cost if alloc.get(c.venue, 0.0) > 0 else 0.0)
        for c in curves
    )


def uniswap_sor(
    curves: list[DepthCurve], qty: float, step_pct: int = 5, max_splits: int = 7
) -> dict[str, float]:
    """Quotes at a step_pct grid; best combination of <= max_splits distinct venues (exact DP)."""
    units = 100 // step_pct
    inf = math.inf
    quotes = []
    for c in curves:
        row = [0.0] + [
            c.cost(k * qty / units) + c.fixed_cost if k * qty / units <= c.total_qty else inf
            for k in range(1, units + 1)
        ]
        quotes.append(row)
    # best[s][u]: least cost using s splits for u grid units over the venues seen so far
    best = [[inf] * (units + 1) for _ in range(max_splits + 1)]
    best[0][0] = 0.0
    choice: list[list[list[tuple[int, int] | None]]] = []
    for row in quotes:
        new = [r[:] for r in best]
        pick: list[list[tuple[int, int] | None]] = [
            [None] * (units + 1) for _ in range(max_splits + 1)
        ]
        for s in range(max_splits):
            for u in range(units + 1):
                base = best[s][u]
                if base == inf:
                    continue
                for k in range(1, units - u + 1):
                    value = base + row[k]
                    if value < new[s + 1][u + k]:
                        new[s + 1][u + k] = value
                        pick[s + 1][u + k] = (s, k)
        choice.append(pick)
        best = new
    s = min(range(max_splits + 1), key=lambda i: best[i][units])
    u, alloc = units, {}
    for i in range(len(curves) - 1, -1, -1):
        step = choice[i][s][u]
        if step is not None:
            s_prev, k = step
            alloc[curves[i].venue] = k * qty / units
            s, u = s_prev, u - k
    return alloc


def greedy_chunks(curves: list[DepthCurve], qty: float, chunks: int = 100) -> dict[str, float]:
    """Send qty/chunks at a time to the venue whose current marginal price is lowest."""
    alloc = {c.venue: 0.0 for c in curves}
    piece = qty / chunks
    for _ in range(chunks):
        options = [
            (c.marginal_price(alloc[c.venue]), c.venue)
            for c in curves
            if alloc[c.venue] + piece <= c.total_qty
        ]
        _, venue = min(options)
        alloc[venue] += piece
    return alloc


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1000.0)
    return out


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


# -- realistic: the default market's real adapters, exact costs --


def exact_cost(adapter, side: str, qty: Decimal) -> Decimal | None:
    """Exact all-in quote amount of ``qty`` on one adapter (qty floored to its grid), None if it cannot."""
    qty = qty // adapter.base_quantum() * adapter.base_quantum()
    if qty <= 0:
        return Decimal(0)
    try:
        return adapter.quote(side, qty).quote_amount
    except RouteError:
        return None


def exact_sor(
    adapters: list, side: str, qty: Decimal, step_pct: int = 5, max_splits: int = 7
) -> Decimal | None:
    """Uniswap-SOR style on exact quotes: a step_pct grid per venue, best <= max_splits combination
    (DP); None when no combination fills the order. The grid share of a venue with a coarser lot
    is floored to it and the remainder goes to the last piece's venue."""
    units = 100 // step_pct
    sgn = 1 if side == "buy" else -1
    inf = None
    rows = []
    for a in adapters:
        row = [Decimal(0)]
        for k in range(1, units + 1):
            c = exact_cost(a, side, qty * k / units)
            row.append(None if c is None else sgn * c)
        rows.append(row)
    best: list[list[Decimal | None]] = [[inf] * (units + 1) for _ in range(max_splits + 1)]
    best[0][0] = Decimal(0)
    for row in rows:
        new = [r[:] for r in best]
        for s_ in range(max_splits):
            for u in range(units + 1):
                base = best[s_][u]
                if base is None:
                    continue
                for k in range(1, units - u + 1):
                    if row[k] is None:
                        continue
                    value = base + row[k]
                    cur = new[s_ + 1][u + k]
                    if cur is None or value < cur:
                        new[s_ + 1][u + k] = value
        best = new
    done = [b[units] for b in best if b[units] is not None]
    return None if not done else sgn * min(done)


def exact_greedy(adapters: list, side: str, qty: Decimal, chunks: int = 100) -> Decimal | None:
    """Greedy chunking on exact quotes: each 1% chunk to the venue whose exact cost of it is best."""
    piece = qty / chunks
    filled = {a.name: Decimal(0) for a in adapters}
    paid = {a.name: Decimal(0) for a in adapters}
    for _ in range(chunks):
        options = []
        for a in adapters:
            c = exact_cost(a, side, filled[a.name] + piece)
            if c is None:
                continue
            delta = c - paid[a.name]
            options.append((delta if side == "buy" else -delta, a.name, c))
        if not options:
            return None
        _, name, c = min(options)
        filled[name] += piece
        paid[name] = c
    # the floored grids may leave a hair: it stays unfilled (a tiny advantage to the baseline)
    return sum(paid.values(), Decimal(0))


def realistic(quick: bool) -> list[tuple]:
    """plan_route on the default market end to end, p50/p99, and the exact baselines' gains."""
    market = load_market(DEFAULT_MARKET)
    adapters = market.adapters_for("ETH/USDC")
    repeats = 5 if quick else 30
    rows = []
    for side in ("buy", "sell"):
        for qty in (Decimal(1), Decimal(10), Decimal(50), Decimal(200)):
            lat = timed(lambda: plan_route(adapters, "ETH/USDC", side, qty), repeats)
            plan = plan_route(adapters, "ETH/USDC", side, qty)
            ours = plan.quote_amount
            t0 = time.perf_counter_ns()
            sor = exact_sor(adapters, side, qty)
            t_sor = (time.perf_counter_ns() - t0) / 1000.0
            t0 = time.perf_counter_ns()
            greedy = exact_greedy(adapters, side, qty)
            t_greedy = (time.perf_counter_ns() - t0) / 1000.0

            def gain(base: Decimal | None) -> str:
                if base is None:
                    return "n/a"
                diff = base - ours if side == "buy" else ours - base
                return f"{float(diff / base * 10000):.2f}"

            rows.append(
                (
                    side,
                    qty,
                    len(plan.legs),
                    plan.method,
                    pct(lat, 50),
                    pct(lat, 99),
                    gain(sor),
                    gain(greedy),
                    plan.improvement_bps,
                    t_sor,
                    t_greedy,
                )
            )
    return rows


PRICES = {"A": 3000.0, "B": 1.0, "X1": 1.0, "X2": 60000.0, "X3": 0.05}


def sell_book(rng: np.random.Generator, name: str, price: float, depth: float) -> DepthCurve:
    """Bids below ``price``: 50 flat levels (taker fee 0.1% inside), ``depth`` base in all."""
    p = price * (1 - rng.uniform(0.0, 0.001)) * 0.999
    segs = []
    for _ in range(SEGMENTS):
        segs.append(FlatSegment(depth / SEGMENTS * float(rng.uniform(0.3, 1.7)), p))
        p *= 1 - rng.uniform(0.00005, 0.0006)
    return DepthCurve(name, "sell", tuple(segs))


def sell_pool(rng: np.random.Generator, name: str, price: float, depth: float) -> DepthCurve:
    """A v3-like pool selling base down from ``price``: 50 ranges of random liquidity."""
    fee = float(rng.choice([0.0001, 0.0005, 0.003]))
    p = price * (1 + rng.normal(0.0, 0.001))
    segs = []
    for _ in range(SEGMENTS):
        x = depth * float(rng.uniform(0.5, 2.0))
        y = x * p
        q = x * float(rng.uniform(0.0003, 0.002))
        segs.append(HyperbolicSegment(q, x, y, fee))
        x1 = x + q * (1 - fee)
        p = x * y / (x1 * x1)
    return DepthCurve(name, "sell", tuple(segs))


def multihop_market(rng: np.random.Generator, assets: int, venues: int) -> dict:
    """Links (src, dst) -> sell curves of src priced in dst; A -> B direct plus A -> X -> B."""
    mids = ["X1", "X2", "X3"][: assets - 2]
    links = [("A", "B")] + [link for x in mids for link in (("A", x), (x, "B"))]
    counts = {link: 0 for link in links}
    if len(links) == 1:
        counts[links[0]] = venues
    else:
        per = (venues - 6) // (len(links) - 1) if venues >= 6 + len(links) - 1 else 4
        for link in links:
            counts[link] = per
        counts[links[0]] = venues - per * (len(links) - 1)
    market = {}
    for src, dst in links:
        price = PRICES[src] / PRICES[dst]
        depth = 300.0 * PRICES["A"] / PRICES[src]
        curves = []
        for i in range(counts[(src, dst)]):
            make = sell_book if i % 2 == 0 else sell_pool
            curves.append(make(rng, f"{src}{dst}-{i}", price, depth))
        market[(src, dst)] = curves
    return market


def flow_model(market: dict, cache=None):
    """The market's links pooled and every path's composed depth curve (built once per state;
    with a :class:`router.routing.RouteCache`, only what a changed curve feeds is rebuilt)."""
    from router.routing.flow import DirectedLink, FlowModel
    from router.routing.pairs import PooledDepth

    def pooled(curves):
        return PooledDepth(curves, "sell") if cache is None else cache.pooled(curves, "sell")

    directed = {
        link: DirectedLink(link[0], link[1], [(True, pooled(curves))], cache)
        for link, curves in market.items()
    }
    branches = [[directed[("A", "B")]]] + [
        [directed[("A", x)], directed[(x, "B")]] for x in ("X1", "X2", "X3") if ("A", x) in directed
    ]
    return FlowModel(branches, "A", "B", cache)


def moved(market: dict, k: int) -> dict:
    """The market after venue ``k`` (round robin over every venue) traded: its curve is a new
    object (as an adapter returns after any change), every other curve the same object."""
    links = list(market)
    count = sum(len(cs) for cs in market.values())
    k %= count
    out = dict(market)
    for link in links:
        if k < len(market[link]):
            curves = list(market[link])
            curves[k] = dataclasses.replace(curves[k])
            out[link] = curves
            return out
        k -= len(market[link])
    return out


def flow_ours(market: dict, qty: float):
    """Cold: from the venues' curves to the certified optimum."""
    return flow_model(market).solve(qty, "from")


def venue_paths(market: dict) -> list[tuple[DepthCurve, ...]]:
    paths = [(c,) for c in market[("A", "B")]]
    for x in ("X1", "X2", "X3"):
        if ("A", x) in market:
            paths += [(c1, c2) for c1 in market[("A", x)] for c2 in market[(x, "B")]]
    return paths


def path_out(path: tuple[DepthCurve, ...], amount: float) -> float:
    for curve in path:
        amount = curve.cost(min(amount, curve.total_qty))
    return amount


def grid_allocation(paths: list, qty: float, grid: int) -> list[int]:
    """The SOR's search: each path quoted at every multiple of qty / grid, the best allocation of
    the grid's chunks over the paths by dynamic programming (grid steps per path, in order)."""
    values = [[path_out(p, qty * k / grid) for k in range(grid + 1)] for p in paths]
    best = [0.0] + [-math.inf] * grid
    choice: list[list[int]] = []
    for vals in values:
        new = list(best)
        pick = [0] * (grid + 1)
        for total in range(grid + 1):
            for k in range(1, total + 1):
                v = best[total - k] + vals[k]
                if v > new[total]:
                    new[total], pick[total] = v, k
        choice.append(pick)
        best = new
    alloc = [0] * len(paths)
    total = grid
    for i in reversed(range(len(paths))):
        alloc[i] = choice[i][total]
        total -= alloc[i]
    return alloc


def flow_sor(market: dict, qty: float, grid: int = 20) -> float:
    """Every venue path on a 5% grid, the best chunk allocation by DP, re-evaluated exactly."""
    paths = venue_paths(market)
    alloc = grid_allocation(paths, qty, grid)
    # re-evaluate: a venue shared by chosen paths takes their summed input once
    first: dict[str, float] = {}
    for p, k in zip(paths, alloc):
        if k:
            first[p[0].venue] = first.get(p[0].venue, 0.0) + qty * k / grid
    by_name = {p[0].venue: p[0] for p in paths}
    out_first = {n: by_name[n].cost(min(a, by_name[n].total_qty)) for n, a in first.items()}
    second: dict[str, float] = {}
    second_curve: dict[str, DepthCurve] = {}
    value = 0.0
    for p, k in zip(paths, alloc):
        if not k:
            continue
        share = out_first[p[0].venue] * (qty * k / grid) / first[p[0].venue]
        if len(p) == 1:
            value += share
        else:
            second[p[1].venue] = second.get(p[1].venue, 0.0) + share
            second_curve[p[1].venue] = p[1]
    for n, a in second.items():
        value += second_curve[n].cost(min(a, second_curve[n].total_qty))
    return value


def multihop(quick: bool) -> None:
    instances, repeats = (2, 5) if quick else (8, 20)
    print("### Multi-hop: the flow over paths vs a 5%-grid path search (float curves)")
    print()
    print(
        "| assets x venues | paths (venue seqs) | ours cold p50 µs | ours cold p99 µs |"
        " ours cached, one venue moved p50 µs | p99 µs | ours cached, unchanged p50 µs | p99 µs |"
        " ours per order p50 µs | ours per order p99 µs | SOR 5% p50 µs | SOR 5% p99 µs |"
        " speed-up cold (p50) | speed-up one moved (p50) | speed-up unchanged (p50) |"
        " speed-up per order (p50) | gain vs SOR (bps, median) | worst gain (bps) |"
        " max duality gap |"
    )
    print(
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rng = np.random.default_rng(SEED + 7)
    single: list[float] = []
    floors: list[str] = []
    for assets, venues in ((2, 10), (3, 12), (5, 30)):
        cold_lat, warm_lat, sor_lat, gains, gaps = [], [], [], [], []
        hit_lat, one_lat = [], []
        n_paths = 0
        for _ in range(instances):
            market = multihop_market(rng, assets, venues)
            qty = 0.1 * sum(
                c.total_qty for (src, _), cs in market.items() if src == "A" for c in cs
            )
            n_paths = len(venue_paths(market))
            model = flow_model(market)
            model.solve(qty, "from")
            cold_lat += timed(lambda: flow_ours(market, qty), repeats)
            warm_lat += timed(lambda: model.solve(qty, "from"), repeats)
            cache = RouteCache()
            flow_model(market, cache).solve(qty, "from")
            hit_lat += timed(lambda: flow_model(market, cache).solve(qty, "from"), repeats)
            states = [moved(market, k) for k in range(repeats)]
            turn = iter(states)
            one_lat += timed(lambda: flow_model(next(turn), cache).solve(qty, "from"), repeats)
            assert flow_model(states[-1], cache).solve(qty, "from") == flow_ours(states[-1], qty)
            sor_lat += timed(lambda: flow_sor(market, qty), max(2, repeats // 4))
            if assets == 2:
                single += timed(lambda: split(market[("A", "B")], qty), repeats)
            result, sor = flow_ours(market, qty), flow_sor(market, qty)
            gains.append((result.primal - sor) / sor * 1e4)
            gaps.append(result.duality_gap)
        cold, warm, base = pct(cold_lat, 50), pct(warm_lat, 50), pct(sor_lat, 50)
        hit, one = pct(hit_lat, 50), pct(one_lat, 50)
        print(
            f"| {assets} x {venues} | {n_paths} | {cold:.0f} | {pct(cold_lat, 99):.0f} |"
            f" {one:.0f} | {pct(one_lat, 99):.0f} | {hit:.0f} | {pct(hit_lat, 99):.0f} |"
            f" {warm:.0f} | {pct(warm_lat, 99):.0f} | {base:.0f} | {pct(sor_lat, 99):.0f} |"
            f" {base / cold:.1f}x | {base / one:.1f}x | {base / hit:.1f}x | {base / warm:.1f}x |"
            f" {statistics.median(gains):.2f} | {min(gains):.2f} | {max(gaps):.1e} |"
        )
        cost_ok = min(gains) >= 0.0
        for what, ours in (("cold", cold), ("one venue moved", one)):
            met = base / ours >= 10.0 and cost_ok
            floors.append(
                f"- {assets} x {venues}, {what}: SOR p50 / ours p50 = {base / ours:.1f}x"
                f" (floor 10x at equal or better cost: {'met' if met else 'NOT met'};"
                f" worst gain {min(gains):.2f} bps)"
            )
    print()
    print(f"Floors (issue 20; load average {os.getloadavg()[0]:.1f} at the end of the run):")
    print("\n".join(floors))
    print()
    print(
        f"2 x 10, today's single-symbol split (router.split.split) on the same curves: p50"
        f" {pct(single, 50):.0f} µs, p99 {pct(single, 99):.0f} µs."
    )
    print()
    print(
        "Cold: every link pooled and every path composed for each order. Cached (a RouteCache"
        " across orders, keyed by the identity of the venues' curves): 'unchanged' re-routes the"
        " same market (every structure a hit; the per-order objects are still made), 'one venue"
        " moved' gives one venue a new curve before each order, round robin (its link, the paths"
        " through it and the route are rebuilt); the cached result is asserted equal to the cold"
        " one. Per order: the order answered on a FlowModel built once for the market state."
        " Gains: (ours - SOR) / SOR in bps of B received, on the same curves; duality gap"
        " relative, certified."
    )
    print()


def profile_cold(size: str) -> None:
    """cProfile of ``flow_ours`` (cold) on the 8 markets of one multi-hop size, 20 runs each:
    the routing functions by cumulative time."""
    import cProfile
    import pstats

    assets, venues = (int(x) for x in size.split("x"))
    rng = np.random.default_rng(SEED + 7)
    markets = []
    for a, v in ((2, 10), (3, 12), (5, 30)):
        for _ in range(8):
            market = multihop_market(rng, a, v)
            if (a, v) == (assets, venues):
                qty = 0.1 * sum(
                    c.total_qty for (src, _), cs in market.items() if src == "A" for c in cs
                )
                markets.append((market, qty))
    profiler = cProfile.Profile()
    profiler.enable()
    for market, qty in markets:
        for _ in range(20):
            flow_ours(market, qty)
    profiler.disable()
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(r"routing/|bench_route", 25)


def multihop_default(quick: bool) -> None:
    """End to end on the default market: Market.plan_conversion (exact hops through plan_route,
    every candidate), without a cache (cold) and with one RouteCache on an unchanged market."""
    market = load_market(DEFAULT_MARKET)
    repeats = 5 if quick else 20
    orders = [
        ("spend 50 ETH", "ETH", "USDC", {"amount_in": Decimal(50)}),
        ("spend 500 ETH", "ETH", "USDC", {"amount_in": Decimal(500)}),
        ("receive 100,000 USDC", "ETH", "USDC", {"amount_out": Decimal(100000)}),
    ]
    print("### Multi-hop end to end: the default market (config/default.toml), real adapters")
    print()
    print(
        "| order | cold p50 ms | cold p99 ms | cold min ms | cached p50 ms | cached p99 ms |"
        " amount | path search | bound gap |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for label, src, dst, kwargs in orders:
        cold = timed(lambda: market.plan_conversion(src, dst, **kwargs), repeats)
        cache = RouteCache()
        market.plan_conversion(src, dst, cache=cache, **kwargs)
        warm = timed(lambda: market.plan_conversion(src, dst, cache=cache, **kwargs), repeats)
        plan = market.plan_conversion(src, dst, **kwargs)
        doc = plan.to_json_dict()
        amount = (
            f"{doc['amount_out']} {dst}" if "amount_in" in kwargs else f"{doc['amount_in']} {src}"
        )
        search = doc["path_search"]
        print(
            f"| {label} | {pct(cold, 50) / 1e3:.1f} | {pct(cold, 99) / 1e3:.1f} |"
            f" {min(cold) / 1e3:.1f} | {pct(warm, 50) / 1e3:.1f} | {pct(warm, 99) / 1e3:.1f} |"
            f" {amount} | {search['method']}, {search['plans_priced']} plans |"
            f" {float(search['bound_gap']):.1e} |"
        )
    print()
    print(
        "Cold: no cache (every curve pooled and composed, every exact hop planned); cached: one"
        " RouteCache across orders on the unchanged market (the float curves are hits; the exact"
        " hop plans are made per order). Bound gap: the plan's distance to the relaxation's"
        " certified bound (fixed leg costs and rounding included)."
    )
    print()


def three_hop_market(rng: np.random.Generator) -> dict:
    """5 assets x 30 venues with links between intermediates: A-B (6 venues), A-X and X-B (3 each
    for X1..X3), and X-Y for every ordered pair of intermediates (one venue each way: a link
    crossed in each direction is a sell curve of its source)."""
    mids = ["X1", "X2", "X3"]
    counts = {("A", "B"): 6}
    for x in mids:
        counts[("A", x)] = counts[(x, "B")] = 3
    for x in mids:
        for y in mids:
            if x != y:
                counts[(x, y)] = 1
    market = {}
    for (src, dst), count in counts.items():
        price = PRICES[src] / PRICES[dst] * (1 + float(rng.normal(0.0, 0.002)))
        depth = 300.0 * PRICES["A"] / PRICES[src]
        curves = []
        for i in range(count):
            make = sell_book if i % 2 == 0 else sell_pool
            curves.append(make(rng, f"{src}{dst}-{i}", price, depth))
        market[(src, dst)] = curves
    return market


def three_hop_network(market: dict):
    """The layered graph of :mod:`router.routing.network` on the market's float curves."""
    from router.routing.flow import DirectedLink
    from router.routing.network import Edge, Network, Node
    from router.routing.pairs import PooledDepth

    mids = ["X1", "X2", "X3"]
    link = {
        k: DirectedLink(k[0], k[1], [(True, PooledDepth(cs, "sell"))]) for k, cs in market.items()
    }
    nodes = (
        [Node("A", 0)] + [Node(x, 1) for x in mids] + [Node(x, 2) for x in mids] + [Node("B", 3)]
    )
    at = {(n.asset, n.layer): i for i, n in enumerate(nodes)}
    edges = [Edge(0, at[("B", 3)], link[("A", "B")])]
    edges += [Edge(0, at[(x, 1)], link[("A", x)]) for x in mids]
    edges += [Edge(at[(x, 1)], at[(x, 2)], None, link[("A", x)].capacity()[1]) for x in mids]
    edges += [Edge(at[(x, 1)], at[(y, 2)], link[(x, y)]) for x in mids for y in mids if x != y]
    edges += [Edge(at[(x, 2)], at[("B", 3)], link[(x, "B")]) for x in mids]
    return Network(nodes, edges)


def three_hop_paths(market: dict) -> list[tuple[DepthCurve, ...]]:
    """Every venue path of at most three hops (one venue per hop)."""
    mids = ["X1", "X2", "X3"]
    paths = [(c,) for c in market[("A", "B")]]
    for x in mids:
        paths += [(c1, c2) for c1 in market[("A", x)] for c2 in market[(x, "B")]]
        for y in mids:
            if y != x:
                paths += [
                    (c1, c2, c3)
                    for c1 in market[("A", x)]
                    for c2 in market[(x, y)]
                    for c3 in market[(y, "B")]
                ]
    return paths


def three_hop_sor(market: dict, qty: float, grid: int = 20) -> float:
    """Every venue path of at most three hops on a 5% grid, the best chunk allocation by DP,
    re-evaluated exactly: hop by hop, the paths using one venue at one position trade it
    together, continuing where that venue's earlier trades left its curve."""
    paths = three_hop_paths(market)
    amounts = [qty * k / grid for k in grid_allocation(paths, qty, grid)]
    used: dict[str, float] = {}
    for position in range(3):
        groups: dict[str, list[int]] = {}
        for i, p in enumerate(paths):
            if amounts[i] > 0.0 and len(p) > position:
                groups.setdefault(p[position].venue, []).append(i)
        for name, members in groups.items():
            curve = paths[members[0]][position]
            start = used.get(name, 0.0)
            given = sum(amounts[i] for i in members)
            end = min(start + given, curve.total_qty)
            out = curve.cost(end) - curve.cost(start)
            used[name] = end
            for i in members:
                amounts[i] = out * amounts[i] / given
    return sum(amounts[i] for i, p in enumerate(paths))


def three_hops(quick: bool) -> None:
    """5 assets x 30 venues, paths of up to three hops: the layered graph's flow (cold: pieces
    built and solved per order) against the 5%-grid SOR over every venue path of <= 3 hops."""
    instances, repeats = (2, 2) if quick else (6, 5)
    rng = np.random.default_rng(SEED + 9)
    ours_lat, sor_lat, gains, gaps = [], [], [], []
    n_paths = 0
    for _ in range(instances):
        market = three_hop_market(rng)
        qty = 0.1 * sum(c.total_qty for (src, _), cs in market.items() if src == "A" for c in cs)
        n_paths = len(three_hop_paths(market))
        ours_lat += timed(lambda: three_hop_network(market).solve(qty, "from"), repeats)
        sor_lat += timed(lambda: three_hop_sor(market, qty), max(2, repeats // 2))
        result, sor = three_hop_network(market).solve(qty, "from"), three_hop_sor(market, qty)
        gains.append((result.primal - sor) / sor * 1e4)
        gaps.append(result.duality_gap)
    ours, base = pct(ours_lat, 50), pct(sor_lat, 50)
    print("### Three hops: the layered graph's flow vs a 5%-grid path search (float curves)")
    print()
    print(
        "| assets x venues | venue paths (<= 3 hops) | ours p50 µs | ours p99 µs | SOR 5% p50 µs |"
        " SOR 5% p99 µs | speed-up (p50) | 10x floor | gain vs SOR (bps, median) |"
        " worst gain (bps) | max duality gap |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    print(
        f"| 5 x 30, 3 hops | {n_paths} | {ours:.0f} | {pct(ours_lat, 99):.0f} | {base:.0f} |"
        f" {pct(sor_lat, 99):.0f} | {base / ours:.2f}x | {'met' if base / ours >= 10 else 'NOT met'} |"
        f" {statistics.median(gains):.2f} | {min(gains):.2f} | {max(gaps):.1e} |"
    )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few instances, smoke run")
    parser.add_argument(
        "--multihop", action="store_true", help="only the multi-hop workload (paths over assets)"
    )
    parser.add_argument(
        "--three-hops",
        action="store_true",
        help="only the three-hop workload (5 assets x 30 venues, paths sharing links)",
    )
    parser.add_argument(
        "--share", type=float, default=0.10, help="order size as a share of market depth"
    )
    parser.add_argument(
        "--profile",
        metavar="SIZE",
        choices=["2x10", "3x12", "5x30"],
        help="cProfile of the cold multi-hop route at one size (where its time goes)",
    )
    args = parser.parse_args()
    if args.three_hops:
        three_hops(args.quick)
        return
    if args.profile:
        profile_cold(args.profile)
        return
    if args.multihop:
        multihop(args.quick)
        multihop_default(args.quick)
        return
    instances, repeats = (3, 20) if args.quick else (20, 50)
    rng = np.random.default_rng(SEED)
    print(
        f"bench_route  seed={SEED}  python {platform.python_version()}  numpy {np.__version__}  "
        f"{platform.machine()} {platform.processor() or ''}  cpus={os.cpu_count()}".rstrip()
    )
    print()
    print(
        f"### Synthetic mixed market: split latency and cost gain ({instances} instances per size, "
        f"{repeats} timed runs each; buy {args.share:.0%} of market depth; {SEGMENTS} segments per venue)"
    )
    print()
    print(
        "| venues | method | p50 µs | p99 µs | gain vs SOR 5%/7 (bps) | gain vs greedy 1% (bps) |"
    )
    print("|---:|---|---:|---:|---:|---:|")
    for n in (3, 10, 50):
        lat = {
            "split": [],
            "split + leg costs (B&B)": [],
            "split + leg costs, quote-sized (B&B)": [],
            "uniswap-sor 5%/7": [],
            "greedy 1%": [],
        }
        gain_sor, gain_greedy, gain_sor_fixed, gain_greedy_fixed = [], [], [], []
        sor_unfilled = 0
        for _ in range(instances):
            curves = market(rng, n)
            qty = args.share * sum(c.total_qty for c in curves)
            lat["split"] += timed(lambda: split(curves, qty), repeats)
            ours = cost_of(curves, split(curves, qty).allocations)
            sor = uniswap_sor(curves, qty)
            greedy = greedy_chunks(curves, qty)
            lat["uniswap-sor 5%/7"] += timed(
                lambda: uniswap_sor(curves, qty), max(1, repeats // 10)
            )
            lat["greedy 1%"] += timed(lambda: greedy_chunks(curves, qty), max(1, repeats // 10))
            c_sor, c_greedy = cost_of(curves, sor), cost_of(curves, greedy)
            if sum(sor.values()) < qty * (1 - 1e-9):
                sor_unfilled += 1  # 7 splits of the grid cannot hold the order: no comparison
            else:
                gain_sor.append((c_sor - ours) / c_sor * 1e4)
            gain_greedy.append((c_greedy - ours) / c_greedy * 1e4)
            if n <= 10:
                # leg costs (gas 2-20 quote) make venue choice discrete: branch and bound
                fixed = [
                    dataclasses.replace(c, fixed_cost=float(rng.uniform(2, 20))) for c in curves
                ]
                lat["split + leg costs (B&B)"] += timed(
                    lambda: split(fixed, qty), max(1, repeats // 5)
                )
                ours_f = cost_of(fixed, split(fixed, qty).allocations)
                # the same order sized in quote: spend what the base-sized plan costs
                lat["split + leg costs, quote-sized (B&B)"] += timed(
                    lambda: split(fixed, quote_qty=ours_f), max(1, repeats // 5)
                )
                sor_f = uniswap_sor(fixed, qty)
                if sum(sor_f.values()) >= qty * (1 - 1e-9):
                    c_sor_f = cost_of(fixed, sor_f)
                    gain_sor_fixed.append((c_sor_f - ours_f) / c_sor_f * 1e4)
                c_greedy_f = cost_of(fixed, greedy_chunks(fixed, qty))
                gain_greedy_fixed.append((c_greedy_f - ours_f) / c_greedy_f * 1e4)
        for name, values in lat.items():
            if not values:
                continue
            g1 = g2 = ""
            if name == "split":
                g1 = f"{statistics.median(gain_sor):.2f}" if gain_sor else "n/a"
                if sor_unfilled:
                    g1 += f" ({sor_unfilled} unfilled)"
                g2 = f"{statistics.median(gain_greedy):.2f}"
            elif name == "split + leg costs (B&B)":
                g1 = f"{statistics.median(gain_sor_fixed):.2f}" if gain_sor_fixed else "n/a"
                g2 = f"{statistics.median(gain_greedy_fixed):.2f}"
            print(f"| {n} | {name} | {pct(values, 50):.1f} | {pct(values, 99):.1f} | {g1} | {g2} |")
    print()
    print(
        "Gains: median over instances of (baseline cost - split cost) / baseline cost, in bps, "
        "on the same float curves."
    )
    print()
    print("### Default market (config/default.toml), real adapters: plan_route end to end")
    print()
    print(
        "| side | qty ETH | legs | method | p50 µs | p99 µs | gain vs exact SOR 5%/7 (bps) "
        "| gain vs exact greedy 1% (bps) | vs best single venue (bps) | SOR µs | greedy µs |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for side, qty, legs, method, p50, p99, g_sor, g_greedy, single, t_sor, t_greedy in realistic(
        args.quick
    ):
        print(
            f"| {side} | {qty} | {legs} | {method} | {p50:.0f} | {p99:.0f} | {g_sor} | {g_greedy} "
            f"| {single} | {t_sor:.0f} | {t_greedy:.0f} |"
        )
    print()
    print("Costs are exact quote amounts (fees and leg costs in). Baselines are single timed runs.")


if __name__ == "__main__":
    main()
