"""Routing benchmark: latency of the optimal split and its cost gain over two baselines.

Workload "mixed market": n venues (3, 10, 50), half order books (50 flat levels) and half
v3-like pools (50 hyperbolic ranges), mid 3000, random fees and depth (fixed seed). Each
instance routes a buy of 10% of the market's depth (``--share`` to change). Measured in one process:

- ours: :func:`router.split.split` (water-fill; with leg costs, branch and bound);
- (a) Uniswap smart-order-router style: every venue quoted at a 5% grid of the order, the best
  combination of up to 7 splits on distinct venues (solved exactly over that grid by DP);
- (b) greedy chunking: 100 chunks of 1% each to the venue with the lowest marginal price now.

Costs are compared on the same float curves; gain (bps) = (baseline - ours) / baseline * 1e4.
Run: ``.venv/bin/python benchmarks/bench_route.py`` (add ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from router.depth import DepthCurve, FlatSegment, HyperbolicSegment  # noqa: E402
from router.split import split  # noqa: E402

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
    return [book(rng, f"book{i:02d}") if i % 2 == 0 else pool(rng, f"pool{i:02d}") for i in range(n)]


def cost_of(curves: list[DepthCurve], alloc: dict[str, float]) -> float:
    return sum(c.cost(min(alloc.get(c.venue, 0.0), c.total_qty)) + (c.fixed_cost if alloc.get(c.venue, 0.0) > 0 else 0.0)
               for c in curves)


def uniswap_sor(curves: list[DepthCurve], qty: float, step_pct: int = 5, max_splits: int = 7) -> dict[str, float]:
    """Quotes at a step_pct grid; best combination of <= max_splits distinct venues (exact DP)."""
    units = 100 // step_pct
    inf = math.inf
    quotes = []
    for c in curves:
        row = [0.0] + [c.cost(k * qty / units) + c.fixed_cost if k * qty / units <= c.total_qty else inf
                       for k in range(1, units + 1)]
        quotes.append(row)
    # best[s][u]: least cost using s splits for u grid units over the venues seen so far
    best = [[inf] * (units + 1) for _ in range(max_splits + 1)]
    best[0][0] = 0.0
    choice: list[list[list[tuple[int, int] | None]]] = []
    for row in quotes:
        new = [r[:] for r in best]
        pick: list[list[tuple[int, int] | None]] = [[None] * (units + 1) for _ in range(max_splits + 1)]
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
        options = [(c.marginal_price(alloc[c.venue]), c.venue) for c in curves
                   if alloc[c.venue] + piece <= c.total_qty]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few instances, smoke run")
    parser.add_argument("--share", type=float, default=0.10, help="order size as a share of market depth")
    args = parser.parse_args()
    instances, repeats = (3, 20) if args.quick else (20, 50)
    rng = np.random.default_rng(SEED)
    print(f"# bench_route  seed={SEED}  python {platform.python_version()}  numpy {np.__version__}  "
          f"{platform.machine()} {platform.processor() or ''}".rstrip())
    print(f"# {instances} instances per size, {repeats} timed runs each; buy {args.share:.0%} of market depth; "
          f"{SEGMENTS} segments per venue; latency in microseconds")
    header = (f"{'venues':>6} {'method':<28} {'p50 us':>10} {'p99 us':>10} "
              f"{'gain vs SOR bps':>16} {'gain vs greedy bps':>19}")
    print(header)
    print("-" * len(header))
    for n in (3, 10, 50):
        lat = {"split": [], "split+leg costs": [], "uniswap-sor 5%/7": [], "greedy 1%": []}
        gain_sor, gain_greedy, gain_sor_fixed = [], [], []
        sor_unfilled = 0
        for _ in range(instances):
            curves = market(rng, n)
            qty = args.share * sum(c.total_qty for c in curves)
            lat["split"] += timed(lambda: split(curves, qty), repeats)
            ours = cost_of(curves, split(curves, qty).allocations)
            sor = uniswap_sor(curves, qty)
            greedy = greedy_chunks(curves, qty)
            lat["uniswap-sor 5%/7"] += timed(lambda: uniswap_sor(curves, qty), max(1, repeats // 10))
            lat["greedy 1%"] += timed(lambda: greedy_chunks(curves, qty), max(1, repeats // 10))
            c_sor, c_greedy = cost_of(curves, sor), cost_of(curves, greedy)
            if sum(sor.values()) < qty * (1 - 1e-9):
                sor_unfilled += 1  # 7 splits of the grid cannot hold the order: no comparison
            else:
                gain_sor.append((c_sor - ours) / c_sor * 1e4)
            gain_greedy.append((c_greedy - ours) / c_greedy * 1e4)
            if n <= 10:
                # leg costs (gas 2-20 quote) make venue choice discrete: branch and bound
                fixed = [dataclasses.replace(c, fixed_cost=float(rng.uniform(2, 20))) for c in curves]
                lat["split+leg costs"] += timed(lambda: split(fixed, qty), max(1, repeats // 10))
                ours_f = cost_of(fixed, split(fixed, qty).allocations)
                sor_f = uniswap_sor(fixed, qty)
                if sum(sor_f.values()) >= qty * (1 - 1e-9):
                    c_sor_f = cost_of(fixed, sor_f)
                    gain_sor_fixed.append((c_sor_f - ours_f) / c_sor_f * 1e4)
        for name, values in lat.items():
            if not values:
                continue
            g1 = g2 = ""
            if name == "split":
                g1 = f"{statistics.median(gain_sor):.2f}" if gain_sor else "n/a"
                if sor_unfilled:
                    g1 += f" ({sor_unfilled} unfilled)"
                g2 = f"{statistics.median(gain_greedy):.2f}"
            elif name == "split+leg costs":
                g1 = f"{statistics.median(gain_sor_fixed):.2f}" if gain_sor_fixed else "n/a"
            print(f"{n:>6} {name:<28} {pct(values, 50):>10.1f} {pct(values, 99):>10.1f} {g1:>16} {g2:>19}")
    print("# gains: median over instances of (baseline cost - split cost) / baseline cost, in bps")


if __name__ == "__main__":
    main()
