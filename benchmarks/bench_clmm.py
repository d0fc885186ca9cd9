"""Benchmark: concentrated-liquidity swaps crossing 0, 10 and 100 initialised ticks.

Run: .venv/bin/python benchmarks/bench_clmm.py [--repeats 7] [--number 200]

For each size the pool holds a full-range position plus ``k`` adjacent 60-tick positions below
the price; the swap is token0-in to a price limit just past the k-th initialised tick, so it
crosses exactly k ticks (asserted). Four timings per size, each the median of ``--repeats``
runs of ``--number`` calls, measured in this process:
  * quote_swap: the read-only loop the router uses, called again and again on one pool state
    (the router's pattern), so the pool's swap memo of full steps is warm;
  * cold quote: the same with the memo emptied before every call (every step computed);
  * swap: a committed swap down and the swap back up (both cross k ticks), per swap;
  * baseline: a Uniswap v2 constant-product swap of the same input computed with plain
    integer math inline here (getAmountOut + reserve update), the cheapest exact AMM swap.
Deterministic: no randomness (the "seed" is the fixed layout), so runs differ only in timing.
Timings are CPU time (time.process_time), so other processes on a shared machine disturb them
less than wall time would.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from venues.clmm import ConcentratedLiquidityPool
from venues.clmm.tick_math import get_sqrt_ratio_at_tick

SPACING = 60
SIZES = (0, 10, 100)
E18 = 10**18


def build(k: int) -> tuple[ConcentratedLiquidityPool, int]:
    """Pool at tick 30 with k initialised ticks at 0, -60, ...; returns it and the price limit."""
    pool = ConcentratedLiquidityPool(3000, SPACING, get_sqrt_ratio_at_tick(30))
    pool.mint("full", -887220, 887220, 1000 * E18)
    for j in range(k):
        pool.mint("ladder", -(j + 1) * SPACING, -j * SPACING, 50 * E18)
    # Just past the k-th initialised tick below the price (ticks 0 .. -(k-1)*60).
    limit_tick = -(k - 1) * SPACING - 30 if k else 15
    return pool, get_sqrt_ratio_at_tick(limit_tick)


def median_seconds_per_call(fn, number: int, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(number):
            fn()
        samples.append((time.process_time() - start) / number)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=200)
    args = parser.parse_args()
    print(
        f"python {platform.python_version()} on {platform.machine()} ({platform.processor() or 'cpu'}), "
        f"median of {args.repeats} x {args.number} calls"
    )
    header = (
        f"{'ticks':>5} {'steps':>5} {'amount0_in':>24} {'quote us':>9} {'cold us':>8} "
        f"{'swap us':>9} "
        f"{'swaps/s':>9} {'v2 us':>7} {'v2 swaps/s':>10} {'swap/v2':>8}"
    )
    print(header)
    print("-" * len(header))
    swap_rates = []
    for k in SIZES:
        pool, limit = build(k)
        quote = pool.quote_swap(True, 2**255 - 1, limit)
        assert len(quote.crossed_ticks) == k, (k, len(quote.crossed_ticks))
        amount_in = quote.amount0
        start_price = pool.sqrt_price_x96

        t_quote = median_seconds_per_call(
            lambda: pool.quote_swap(True, 2**255 - 1, limit), args.number, args.repeats
        )

        def cold_quote() -> None:
            memo = getattr(pool, "_memo", None)
            if memo is not None:  # a private detail, emptied here on purpose
                memo.__init__()
            pool.quote_swap(True, 2**255 - 1, limit)

        t_cold = median_seconds_per_call(cold_quote, args.number, args.repeats)

        # Swap back up to just above the start price so every iteration crosses k ticks twice.
        start_price_limit = start_price + 1

        def round_trip() -> None:
            pool.swap(True, 2**255 - 1, limit)
            pool.swap(False, 2**255 - 1, start_price_limit)

        t_pair = median_seconds_per_call(round_trip, args.number, args.repeats)
        t_swap = t_pair / 2
        pool._check()

        reserves = [10**24, 10**24]

        def v2_round_trip() -> None:
            r0, r1 = reserves
            with_fee = amount_in * 997
            out1 = with_fee * r1 // (r0 * 1000 + with_fee)
            r0, r1 = r0 + amount_in, r1 - out1
            with_fee = out1 * 997
            out0 = with_fee * r0 // (r1 * 1000 + with_fee)
            reserves[0], reserves[1] = r0 - out0, r1 + out1

        t_v2 = median_seconds_per_call(v2_round_trip, args.number, args.repeats) / 2
        swap_rates.append(1 / t_swap)
        print(
            f"{k:>5} {quote.steps:>5} {amount_in:>24} {t_quote * 1e6:>9.1f} {t_cold * 1e6:>8.1f} "
            f"{t_swap * 1e6:>9.1f} "
            f"{1 / t_swap:>9.0f} {t_v2 * 1e6:>7.2f} {1 / t_v2:>10.0f} {t_swap / t_v2:>8.0f}x"
        )
    print(f"median swaps/s across sizes: {statistics.median(swap_rates):.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
