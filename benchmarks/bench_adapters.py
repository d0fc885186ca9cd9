"""Adapter benchmark: depth-curve construction, curve caching and exact quotes of the in-process adapters.

Workloads, each timed in one process with a baseline measured beside it:

- "default market": the real adapters of config/default.toml (a v2 pool, two v3 pools, Binance's
  recorded ETH book) at their configured state;
- "deep clmm": a v3 pool with n positions (n = 10, 100, 1000; ~2n initialised ticks, fixed seed);
- "deep book": an order book with n price levels per side (n = 10, 100, 1000; fixed seed).

Per adapter and side:

- ``ref curve``: the former construction with exact ``Fraction`` arithmetic, kept here as the
  reference (and checked to give the very same floats as the adapter);
- ``cold curve``: ``depth_curve`` after the state changed (cache cleared: a full float build);
- ``warm curve``: ``depth_curve`` on an unchanged venue (a cache hit: fingerprint + compare);
- ``quote``: exact ``quote`` of a mid-sized leg; ``qfq`` / ``ref qfq``: exact ``quote_for_quote``
  of a quote-sized leg (order book: galloping search vs the former full bisection).

Times are medians in µs over ``--repeats`` runs (default 200). Prints markdown tables.
Run: ``.venv/bin/python benchmarks/bench_adapters.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from bisect import bisect_right
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.amm import BUY_DUST_SHARE, PIPS, SELL_CAP_RESERVE_MULTIPLE, AmmAdapter
from adapters.clmm import Q96, ClmmAdapter, sqrt_price_x96_from_price, tick_at_price
from adapters.orderbook import OrderBookAdapter
from router.app import load_market
from router.model.depth import DepthCurve, FlatSegment, HyperbolicSegment
from venues.clmm import ConcentratedLiquidityPool
from venues.clmm.tick_math import get_sqrt_ratio_at_tick
from venues.orderbook import OrderBook

DEFAULT_MARKET = Path(__file__).resolve().parents[1] / "config" / "default.toml"
SEED = 20260117
SIZES = (10, 100, 1000)


# -- the former exact-Fraction curve construction (the baseline) --


def _exact_float(value) -> float:
    return float(Fraction(value))


def reference_curve(adapter, side: str) -> DepthCurve:
    """The depth curve as the adapters built it before floats: exact Fractions, one float each."""
    if isinstance(adapter, AmmAdapter):
        x = _exact_float(Fraction(adapter.pool.reserve0, 10**adapter.base_decimals))
        y = _exact_float(Fraction(adapter.pool.reserve1, 10**adapter.quote_decimals))
        unit = _exact_float(adapter.base_quantum())
        qty = x - max(x * BUY_DUST_SHARE, unit) if side == "buy" else x * SELL_CAP_RESERVE_MULTIPLE
        segments = (HyperbolicSegment(max(qty, 0.0), x, y, adapter.fee_pips / PIPS),)
    elif isinstance(adapter, ClmmAdapter):
        pool = adapter.pool
        base_scale = Fraction(10) ** adapter.base_decimals
        quote_scale = Fraction(10) ** adapter.quote_decimals
        ticks = pool.initialized_ticks()
        split = bisect_right([tick for tick, _ in ticks], pool.tick)
        liquidity, sqrt_x96, out = pool.liquidity, pool.sqrt_price_x96, []
        path = ticks[split:] if side == "buy" else [(t, -n) for t, n in reversed(ticks[:split])]
        for tick, delta in path:
            boundary = get_sqrt_ratio_at_tick(tick)
            if liquidity > 0 and boundary != sqrt_x96:
                lo, hi = sorted((sqrt_x96, boundary))
                qty = Fraction(liquidity * Q96 * (hi - lo), hi * lo) / base_scale
                if side == "sell":
                    qty = qty / (1 - Fraction(adapter.fee_pips, PIPS))
                out.append(
                    HyperbolicSegment(
                        _exact_float(qty),
                        _exact_float(Fraction(liquidity * Q96, sqrt_x96) / base_scale),
                        _exact_float(Fraction(liquidity * sqrt_x96, Q96) / quote_scale),
                        adapter.fee_pips / PIPS,
                    )
                )
            liquidity += delta
            sqrt_x96 = boundary
        segments = tuple(out)
        unit = _exact_float(adapter.base_quantum())
    else:
        book = adapter.book
        fee = Fraction(adapter.taker_fee_pips, PIPS)
        factor = 1 + fee if side == "buy" else 1 - fee
        segments = tuple(
            FlatSegment(
                _exact_float(book.lots_to_qty(lots)),
                _exact_float(Fraction(book.ticks_to_price(ticks)) * factor),
            )
            for ticks, lots in book.depth("asks" if side == "buy" else "bids")
        )
        return DepthCurve(
            adapter.name,
            side,
            segments,
            fixed_cost=_exact_float(adapter.leg_cost),
            lot=_exact_float(adapter.base_quantum()),
            min_qty=_exact_float(adapter.min_qty()),
        )
    return DepthCurve(
        adapter.name,
        side,
        segments,
        fixed_cost=_exact_float(adapter.leg_cost),
        lot=unit,
        min_qty=unit,
    )


def reference_book_qfq(adapter: OrderBookAdapter, side: str, quote_amount: Decimal) -> Decimal:
    """The former order-book quote_for_quote: bisection over all lots, each step a full LegQuote."""
    book = adapter.book
    total = sum(lots for _, lots in book.depth("asks" if side == "buy" else "bids"))

    def amount(lots: int) -> Decimal:
        sweep = book.quote(side, lots, owner=adapter.owner)
        return adapter._leg_quote(
            side, lots, sweep.notional_quanta, sweep.taker_fee_quanta
        ).quote_amount

    if side == "buy":
        lo, hi = 0, total
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if amount(mid) <= quote_amount else (lo, mid - 1)
        return book.lots_to_qty(lo)
    lo, hi = 1, total
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if amount(mid) >= quote_amount else (mid + 1, hi)
    return book.lots_to_qty(hi)


# -- workloads --


def deep_clmm(n: int) -> ClmmAdapter:
    """A v3 pool at 3000 with ``n`` random positions within +-30% (tick spacing 10, fee 5 bp)."""
    rng = random.Random(SEED + n)
    pool = ConcentratedLiquidityPool(500, 10, sqrt_price_x96_from_price(Decimal(3000), 18, 6))
    for _ in range(n):
        lower = Decimal(rng.randint(2100, 2990))
        upper = Decimal(rng.randint(3010, 3900))
        pool.mint(
            "lp",
            tick_at_price(lower, 18, 6, 10),
            tick_at_price(upper, 18, 6, 10),
            rng.randint(10**15, 10**17),
        )
    return ClmmAdapter(
        f"clmm-{n}",
        "ETH/USDC",
        pool,
        base_decimals=18,
        quote_decimals=6,
        fee_pips=500,
        leg_cost=Decimal(8),
    )


def deep_book(n: int) -> OrderBookAdapter:
    """A book with ``n`` levels per side around 3000 (0.01 ticks, 0.0001 lots, 2 makers per level)."""
    rng = random.Random(SEED + n)
    book = OrderBook("ETH/USDC", tick_size="0.01", lot_size="0.0001", taker_fee_pips=1000)
    bid, ask = 299_950, 300_050
    for level in range(n):
        for side, price in (("buy", bid), ("sell", ask)):
            for maker in ("a", "b"):
                book.place_limit(
                    f"{side}{level}{maker}", f"mm-{maker}", side, price, rng.randint(100, 50_000)
                )
        bid -= rng.randint(1, 40)
        ask += rng.randint(1, 40)
    return OrderBookAdapter(f"book-{n}", "ETH/USDC", book, quote_decimals=6, taker_fee_pips=1000)


def median_us(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` in µs over ``repeats`` runs (one warm-up run first)."""
    fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1000.0)
    return statistics.median(samples)


def measure(adapter, repeats: int) -> list[tuple]:
    rows = []
    for side in ("buy", "sell"):
        reference = reference_curve(adapter, side)
        adapter._curves.clear()
        built = adapter.depth_curve(side)
        assert built == reference, (
            f"{adapter.name} {side}: the float curve differs from the exact one"
        )

        def cold() -> None:
            adapter._curves.clear()
            adapter.depth_curve(side)

        qty = Decimal(repr(min(built.total_qty * 0.3, 20.0))).quantize(adapter.base_quantum())
        budget = Decimal(adapter.quote(side, qty).quote_amount).quantize(Decimal("0.01"))
        row = [
            adapter.name,
            side,
            len(built.segments),
            median_us(lambda: reference_curve(adapter, side), repeats),
            median_us(cold, repeats),
            median_us(lambda: adapter.depth_curve(side), repeats),
            median_us(lambda: adapter.quote(side, qty), repeats),
            median_us(lambda: adapter.quote_for_quote(side, budget), max(repeats // 4, 5)),
        ]
        if isinstance(adapter, OrderBookAdapter):
            assert (
                reference_book_qfq(adapter, side, budget)
                == adapter.quote_for_quote(side, budget).qty
            )
            row.append(
                median_us(lambda: reference_book_qfq(adapter, side, budget), max(repeats // 4, 5))
            )
        else:
            row.append(None)
        rows.append(tuple(row))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, small sizes (smoke run)")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    repeats = 10 if args.quick else args.repeats
    sizes = SIZES[:2] if args.quick else SIZES

    adapters = list(load_market(DEFAULT_MARKET).adapters_for("ETH/USDC"))
    adapters += [deep_clmm(n) for n in sizes] + [deep_book(n) for n in sizes]
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"medians of {repeats} runs, µs.\n"
    )
    print(
        "| venue | side | segments | ref curve (Fraction) | cold curve | warm curve (cached) "
        "| cold speed-up | quote | qfq | ref qfq (bisection) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for adapter in adapters:
        for name, side, segs, ref, cold, warm, quote, qfq, ref_qfq in measure(adapter, repeats):
            ref_qfq_text = "" if ref_qfq is None else f"{ref_qfq:.1f}"
            print(
                f"| {name} | {side} | {segs} | {ref:.1f} | {cold:.1f} | {warm:.1f} | {ref / cold:.1f}x "
                f"| {quote:.1f} | {qfq:.1f} | {ref_qfq_text} |"
            )
    print(
        "\nref curve: the former exact construction (same floats, asserted); cold: state changed, "
        "full float build; warm: unchanged venue, cache hit."
    )


if __name__ == "__main__":
    main()
