"""Writes eth_usdt_v3_sample.csv: a SYNTHETIC pool history in Uniswap v3's event shape.

Not a recording: the events are made by crossroute's own exact pool (venues.clmm) from
random.Random(20240808), so each row is what a real v3 pool would log for it. Times follow the
committed Binance spot capture (2024-08-08 23:54:15 UTC onwards) so a backtest can use both.
token0 = ETH (18 decimals), token1 = USDT (6 decimals), fee 0.05 %, tick spacing 10.

    .venv/bin/python tests/data/uniswap/generate_sample.py
"""

from __future__ import annotations

import csv
import random
from decimal import Decimal
from pathlib import Path

from adapters.clmm import sqrt_price_x96_from_price, tick_at_price
from router.sim.pool_events import HEADER
from venues.clmm import ConcentratedLiquidityPool
from venues.clmm.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO

OUT = Path(__file__).with_name("eth_usdt_v3_sample.csv")
T0 = 1_723_161_255_000_000_000
FEE, SPACING = 500, 10


def main() -> None:
    rng = random.Random(20240808)
    sqrt0 = sqrt_price_x96_from_price(Decimal("2683.2"), 18, 6)
    pool = ConcentratedLiquidityPool(FEE, SPACING, sqrt0)
    rows = [[20_000_000, 0, T0, "Initialize", "", "", "", "", "", "", sqrt0, "", pool.tick]]
    block, ts = 20_000_000, T0
    positions = []
    for i, (width, liquidity) in enumerate(((50, 3 * 10**17), (150, 5 * 10**17), (400, 10**18))):
        lo = tick_at_price(Decimal("2683.2") * (1 - Decimal(width) / 10_000), 18, 6, SPACING)
        hi = tick_at_price(Decimal("2683.2") * (1 + Decimal(width) / 10_000), 18, 6, SPACING) + SPACING
        a0, a1 = pool.mint(f"lp{i}", lo, hi, liquidity)
        positions.append((f"lp{i}", lo, hi, liquidity))
        rows.append([block, i + 1, ts, "Mint", f"lp{i}", lo, hi, liquidity, a0, a1, "", "", ""])
    for k in range(40):
        block += 1
        ts += rng.randrange(1_000, 3_000) * 1_000_000
        if k == 25:  # one LP leaves half of its position
            owner, lo, hi, liquidity = positions[0]
            a0, a1 = pool.burn(owner, lo, hi, liquidity // 2)
            rows.append([block, 0, ts, "Burn", owner, lo, hi, liquidity // 2, a0, a1, "", "", ""])
            continue
        zero_for_one = rng.random() < 0.5
        if zero_for_one:
            amount = rng.randrange(10**16, 2 * 10**18)  # 0.01 .. 2 ETH in
            limit = MIN_SQRT_RATIO + 1
        else:
            amount = rng.randrange(10**7, 5 * 10**9)  # 10 .. 5000 USDT in
            limit = MAX_SQRT_RATIO - 1
        a0, a1 = pool.swap(zero_for_one, amount, limit)
        rows.append(
            [block, 0, ts, "Swap", "", "", "", "", a0, a1, pool.sqrt_price_x96, pool.liquidity, pool.tick]
        )
    with OUT.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)


if __name__ == "__main__":
    main()
