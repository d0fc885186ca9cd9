"""Benchmark: constant-product pool quotes and swaps against the inline Uniswap v2 formula.

Run: .venv/bin/python benchmarks/bench_amm.py [--repeats 9] [--number 20000]

For each reserve size (1e21, 1e24 and 1e30 base units of each token, i.e. 1,000 to 10^12 whole
tokens at 18 decimals) and a fixed pseudo-random list of inputs (seed 20260101, 0.001 % to 1 %
of the reserve), three timings, each the median of ``--repeats`` runs of ``--number`` calls,
measured in this process:
  * get_amount_out: ConstantProductPool.get_amount_out (validation included);
  * swap: a committed ConstantProductPool.swap followed by the swap of its proceeds back, per
    swap (so the reserves stay near their start);
  * baseline: the same two swaps computed inline with plain integer math (getAmountOut with the
    997/1000 fee and the reserve update), no validation, no object: the floor for exact v2 math.
The results are checked equal to the baseline's. CPU time (time.process_time) is used, not wall
time, so that other processes on a shared machine disturb the figures less.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from venues.amm import ConstantProductPool

SEED = 20_260_101
SIZES = (10**21, 10**24, 10**30)
INPUTS = 64


def median_seconds_per_call(fn, number: int, repeats: int) -> float:
    """Median over ``repeats`` runs of the CPU time per call of ``fn`` (called ``number`` times)."""
    samples = []
    for _ in range(repeats):
        start = time.process_time()
        fn(number)
        samples.append((time.process_time() - start) / number)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--number", type=int, default=20_000)
    args = parser.parse_args()
    print(
        f"python {platform.python_version()} on {platform.machine()}, seed {SEED}, "
        f"median of {args.repeats} x {args.number} calls, CPU time"
    )
    header = (
        f"{'reserves':>8} {'quote us':>9} {'swap us':>8} {'inline us':>9} "
        f"{'swap/inline':>11} {'swaps/s':>10}"
    )
    print(header)
    print("-" * len(header))
    rng = random.Random(SEED)
    for reserve in SIZES:
        amounts = [rng.randint(reserve // 100_000, reserve // 100) for _ in range(INPUTS)]
        pool = ConstantProductPool(reserve, reserve)

        def quotes(n: int, get=pool.get_amount_out, amounts=amounts) -> None:
            for i in range(n):
                get(amounts[i & (INPUTS - 1)], True)

        def swaps(n: int, swap=pool.swap, amounts=amounts) -> None:
            for i in range(n >> 1):
                swap(swap(amounts[i & (INPUTS - 1)], True), False)

        reserves = [reserve, reserve]

        def inline(n: int, reserves=reserves, amounts=amounts) -> None:
            r0, r1 = reserves
            for i in range(n >> 1):
                amount_in = amounts[i & (INPUTS - 1)]
                with_fee = amount_in * 997
                out1 = with_fee * r1 // (r0 * 1000 + with_fee)
                r0, r1 = r0 + amount_in, r1 - out1
                with_fee = out1 * 997
                out0 = with_fee * r0 // (r1 * 1000 + with_fee)
                r0, r1 = r0 - out0, r1 + out1
            reserves[0], reserves[1] = r0, r1

        t_quote = median_seconds_per_call(quotes, args.number, args.repeats)
        t_swap = median_seconds_per_call(swaps, args.number, args.repeats)
        t_inline = median_seconds_per_call(inline, args.number, args.repeats)
        assert pool.reserves == tuple(reserves), "pool and inline baseline diverged"
        pool._check()
        print(
            f"{f'1e{len(str(reserve)) - 1}':>8} {t_quote * 1e6:>9.2f} {t_swap * 1e6:>8.2f} "
            f"{t_inline * 1e6:>9.2f} {t_swap / t_inline:>10.1f}x {1 / t_swap:>10,.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
