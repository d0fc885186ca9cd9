"""Stress benchmark: Monte Carlo paths per second for a 20-position portfolio, against a naive
baseline measured in the same run. Plain script, fixed seeds:

    .venv/bin/python benchmarks/bench_stress.py

Portfolio: 20 perpetuals (assets A00..A19, three in four long, 10x to 25x) on 40,000 USDC (about 10x gross);
market: one constant-product pool and one order book per asset (40 venues). Model: Student-t(4),
pairwise correlation 0.5, 1.5% volatility per step, 10 steps per path.

- engine: :meth:`StressEngine.monte_carlo` (fresh ledger clone per path; liquidation orders
  consume the venues' aggregated depth curves, tabulated once);
- naive baseline: the same paths through :meth:`StressEngine.run_path_real` (a fresh market built
  from the config for every path, liquidation orders routed and executed on the venues).

Both run the same paths; the liquidation counts of the two are printed as a cross-check.
The median of 5 repetitions is reported for each size.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

from router.config import load_config
from router.stress.engine import StressEngine, load_portfolio
from router.stress.scenarios import MonteCarloModel

N_ASSETS = 20
STEPS = 10
REPEATS = 5


def write_inputs(directory: Path, seed: int = 11) -> tuple[Path, Path]:
    rng = random.Random(seed)
    market = ["[assets]", "USDC = { decimals = 6 }"]
    market += [f"A{i:02d} = {{ decimals = 18 }}" for i in range(N_ASSETS)]
    account = ["[collateral]", 'USDC = "40000"']
    for i in range(N_ASSETS):
        price = rng.choice([20, 100, 250, 1000, 3000])
        depth = rng.randint(2_000, 20_000)  # pool base reserve
        market += [
            "",
            "[[venues]]",
            f'name = "amm-{i:02d}"',
            'kind = "amm"',
            f'symbol = "A{i:02d}/USDC"',
            "fee_pips = 3000",
            'leg_cost = "1"',
            f'reserves = ["{depth}", "{depth * price}"]',
        ]
        bids = ", ".join(
            f'["{price * (1 - 0.001 * (k + 1)):.2f}", "{depth // 100}"]' for k in range(10)
        )
        asks = ", ".join(
            f'["{price * (1 + 0.001 * (k + 1)):.2f}", "{depth // 100}"]' for k in range(10)
        )
        market += [
            "",
            "[[venues]]",
            f'name = "book-{i:02d}"',
            'kind = "orderbook"',
            f'symbol = "A{i:02d}/USDC"',
            'tick_size = "0.01"',
            'lot_size = "0.001"',
            "taker_fee_pips = 500",
            "maker_fee_pips = 100",
            'leg_cost = "0"',
            f"bids = [{bids}]",
            f"asks = [{asks}]",
        ]
        size = Decimal(rng.randint(200, 4_000)) / price * rng.choice([1, 1, 1, -1]) * 10
        account += [
            "",
            "[[positions]]",
            f'symbol = "A{i:02d}-PERP"',
            f'size = "{size.quantize(Decimal("0.001"))}"',
            f'entry = "{price}"',
            f'mark = "{price}"',
            f"max_leverage = {rng.choice([10, 20, 25])}",
        ]
    market += ["", "[[accounts]]", 'name = "bench"', 'balances = { USDC = "1" }']
    market_path, account_path = directory / "market.toml", directory / "account.toml"
    market_path.write_text("\n".join(market) + "\n")
    account_path.write_text("\n".join(account) + "\n")
    return market_path, account_path


def model(paths: int) -> MonteCarloModel:
    corr = np.full((N_ASSETS, N_ASSETS), 0.5)
    np.fill_diagonal(corr, 1.0)
    return MonteCarloModel(
        tuple(f"A{i:02d}" for i in range(N_ASSETS)),
        (0.015,) * N_ASSETS,
        corr,
        4.0,
        STEPS,
        Decimal(6),
        paths,
    )


def bench_engine(engine: StressEngine, paths: int, seed: int) -> tuple[float, int]:
    engine.tables()  # built once per engine, outside the timing (a one-off cost, printed below)
    start = time.perf_counter()
    result = engine.monte_carlo(model(paths), seed)
    elapsed = time.perf_counter() - start
    return 2 * paths / elapsed, sum(result.liquidated["cross"])  # both modes run: 2 x paths


def bench_naive(engine: StressEngine, paths: int, seed: int) -> tuple[float, int]:
    m = model(paths)
    factors = np.rint((1.0 + m.sample(seed, paths)) * 10**9).astype(np.int64)
    start = time.perf_counter()
    liquidated = 0
    for mode in ("cross", "isolated"):
        for p in range(paths):
            steps = [
                (Decimal(6 * (k + 1)), {a: int(factors[p, k, j]) for j, a in enumerate(m.assets)})
                for k in range(STEPS)
            ]
            result = engine.run_path_real(mode, steps, f"naive-{p}")
            liquidated += bool(result.liquidations) if mode == "cross" else 0
    elapsed = time.perf_counter() - start
    return 2 * paths / elapsed, liquidated


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        market_path, account_path = write_inputs(Path(tmp))
        engine = StressEngine(load_portfolio(account_path), load_config(market_path))
        start = time.perf_counter()
        engine.tables()
        print(
            f"impact tables for {N_ASSETS} assets (one-off): {(time.perf_counter() - start) * 1000:.1f} ms"
        )
        print(
            f"{'paths':>6} | {'engine paths/s':>15} | {'naive paths/s':>14} | speed-up | liquidated paths (cross) engine / naive"
        )
        for paths, naive_paths in ((100, 10), (400, 20), (1600, 40)):
            fast = [bench_engine(engine, paths, seed) for seed in range(REPEATS)]
            slow = [bench_naive(engine, naive_paths, seed) for seed in range(REPEATS)]
            fast_rate = statistics.median(r for r, _ in fast)
            slow_rate = statistics.median(r for r, _ in slow)
            check_fast = bench_engine(engine, naive_paths, 0)[1]
            print(
                f"{paths:>6} | {fast_rate:>15.0f} | {slow_rate:>14.1f} | {fast_rate / slow_rate:>7.0f}x | "
                f"{check_fast} / {slow[0][1]} (first {naive_paths} paths of seed 0)"
            )


if __name__ == "__main__":
    main()
