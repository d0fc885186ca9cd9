"""Order-book benchmark: a mixed workload (60% add, 30% cancel, 10% marketable) on a book holding
about N resting orders, against a plain dict-of-lists baseline measured in the same process, and
the peak memory of 1,000,000 resting orders.

Run: ``.venv/bin/python benchmarks/bench_orderbook.py`` (``--quick`` for a short run). Fixed seed;
each figure is the median of several runs. The operation stream is generated once per size by
running it on the real book, then replayed on fresh copies of both books, so every cancel hits an
open order and both books see the same stream.
"""

from __future__ import annotations

import argparse
import bisect
import gc
import platform
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from venues.orderbook import OrderBook

SEED = 20_260_101
MID_TICKS = 100_000
SPREAD_TICKS = 1
BAND_TICKS = 200  # resting prices spread over this many ticks either side of the mid
OWNERS = [f"acct{i}" for i in range(8)]


class BaselineBook:
    """Plain baseline: price -> list of [order_id, owner, qty] and a bisect-sorted price list.

    No validation, fees, positions or self-trade prevention; cancel scans its level's list.
    """

    def __init__(self) -> None:
        self.levels = ({}, {})  # 0: bids, 1: asks
        self.prices = ([], [])  # ascending
        self.where = {}  # order_id -> (side_index, price)

    def place_limit(self, order_id, owner, side, price, qty, tif="GTC"):
        s = 0 if side == "buy" else 1
        opp_levels, opp_prices = self.levels[1 - s], self.prices[1 - s]
        remaining = qty
        while remaining and opp_prices:
            best = opp_prices[0] if s == 0 else opp_prices[-1]
            if (best > price) if s == 0 else (best < price):
                break
            queue = opp_levels[best]
            while queue and remaining:
                head = queue[0]
                take = min(head[2], remaining)
                head[2] -= take
                remaining -= take
                if not head[2]:
                    queue.pop(0)
                    del self.where[head[0]]
            if not queue:
                del opp_levels[best]
                opp_prices.pop(0 if s == 0 else -1)
        if remaining and tif == "GTC":
            levels, prices = self.levels[s], self.prices[s]
            queue = levels.get(price)
            if queue is None:
                queue = levels[price] = []
                bisect.insort(prices, price)
            queue.append([order_id, owner, remaining])
            self.where[order_id] = (s, price)
        return qty - remaining

    def cancel(self, order_id):
        s, price = self.where.pop(order_id)
        queue = self.levels[s][price]
        for i, entry in enumerate(queue):
            if entry[0] == order_id:
                del queue[i]
                break
        if not queue:
            del self.levels[s][price]
            prices = self.prices[s]
            del prices[bisect.bisect_left(prices, price)]


def resting_price(rng: random.Random, side: str) -> int:
    offset = SPREAD_TICKS + int(rng.expovariate(1 / 40)) % BAND_TICKS
    return MID_TICKS - offset if side == "buy" else MID_TICKS + offset


def build_workload(n_resting: int, n_ops: int, seed: int) -> tuple[list, list, float]:
    """Return (prefill ops, timed ops, mean resting orders over the timed ops).

    Ops are tuples ('add'|'cancel'|'take', args).
    """
    rng = random.Random(seed)
    book = OrderBook(
        "BENCH/USD", tick_size="0.01", lot_size="0.001", taker_fee_pips=500, maker_fee_pips=100
    )
    live: list[str] = []
    pos: dict[str, int] = {}
    next_id = 0

    def track_add(oid):
        pos[oid] = len(live)
        live.append(oid)

    def track_remove(oid):
        i = pos.pop(oid)
        last = live.pop()
        if last != oid:
            live[i] = last
            pos[last] = i

    def add():
        nonlocal next_id
        next_id += 1
        oid = f"o{next_id}"
        side = "buy" if rng.random() < 0.5 else "sell"
        op = ("add", (oid, rng.choice(OWNERS), side, resting_price(rng, side), rng.randint(1, 100)))
        book.place_limit(*op[1])
        track_add(oid)
        return op

    prefill = [add() for _ in range(n_resting)]
    ops = []
    sizes = []
    for _ in range(n_ops):
        sizes.append(len(live))
        r = rng.random()
        if r < 0.6 or not live:
            ops.append(add())
        elif r < 0.9:
            oid = live[rng.randrange(len(live))]
            book.cancel(oid)
            track_remove(oid)
            ops.append(("cancel", (oid,)))
        else:
            next_id += 1
            oid = f"o{next_id}"
            side = "buy" if rng.random() < 0.5 else "sell"
            # Marketable IOC limit sized to take about three orders of mean size 50 lots, so that
            # adds, cancels and takes balance; scaled by book size / target to hold the book
            # near n_resting instead of letting it random-walk away.
            limit = MID_TICKS + BAND_TICKS if side == "buy" else MID_TICKS - BAND_TICKS
            scale = min(2.0, len(live) / n_resting)
            qty = max(1, int(rng.randint(50, 250) * scale))
            op = ("take", (oid, f"taker{rng.randrange(4)}", side, limit, qty, "IOC"))
            result = book.place_limit(*op[1])
            for fill in result.fills:
                if book.order(fill.maker_order_id) is None:
                    track_remove(fill.maker_order_id)
            ops.append(op)
    return prefill, ops, statistics.mean(sizes)


def replay(book, ops) -> None:
    place, cancel = book.place_limit, book.cancel
    for kind, args in ops:
        if kind == "cancel":
            cancel(*args)
        else:
            place(*args)


def new_orderbook() -> OrderBook:
    return OrderBook(
        "BENCH/USD", tick_size="0.01", lot_size="0.001", taker_fee_pips=500, maker_fee_pips=100
    )


def resting_lots(book) -> int:
    """Total resting lots of either book, to check that both replays ended in the same state."""
    if isinstance(book, OrderBook):
        return sum(q for side in ("bids", "asks") for _, q in book.depth(side))
    return sum(entry[2] for levels in book.levels for queue in levels.values() for entry in queue)


def time_ops(factory, prefill, ops, runs: int) -> tuple[float, int]:
    """Median ops per second of replaying ``ops`` on a prefilled book, and the lots left resting."""
    rates = []
    for _ in range(runs):
        book = factory()
        replay(book, prefill)
        gc.collect()
        start = time.perf_counter()
        replay(book, ops)
        rates.append(len(ops) / (time.perf_counter() - start))
    return statistics.median(rates), resting_lots(book)


def peak_memory(n_orders: int) -> tuple[float, float]:
    """Peak traced bytes per resting order, for our book and for the baseline."""
    rng = random.Random(SEED)
    specs = []
    for i in range(n_orders):
        side = "buy" if i % 2 else "sell"
        specs.append(
            (f"m{i}", OWNERS[i % len(OWNERS)], side, resting_price(rng, side), rng.randint(1, 100))
        )
    out = []
    for factory in (new_orderbook, BaselineBook):
        gc.collect()
        tracemalloc.start()
        book = factory()
        place = book.place_limit
        for spec in specs:
            place(*spec)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.append(peak / n_orders)
        del book, place
    return out[0], out[1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer ops and runs")
    parser.add_argument("--no-memory", action="store_true", help="skip the 1M-order memory run")
    args = parser.parse_args()
    sizes = (1_000, 10_000, 100_000)
    n_ops = 20_000 if args.quick else 200_000
    runs = 3 if args.quick else 7
    print(
        f"python {platform.python_version()} on {cpu_model()}, seed {SEED}, {n_ops} ops per "
        f"run, median of {runs}"
    )
    print(
        f"{'workload':<36} {'resting':>8} {'mean':>7} {'orderbook ops/s':>16} "
        f"{'baseline ops/s':>15} {'ratio':>6}"
    )
    for n_resting in sizes:
        prefill, ops, mean_resting = build_workload(n_resting, n_ops, SEED + n_resting)
        ours, ours_lots = time_ops(new_orderbook, prefill, ops, runs)
        base, base_lots = time_ops(BaselineBook, prefill, ops, runs)
        assert ours_lots == base_lots, "both books must end in the same state"
        print(
            f"{'mixed 60% add/30% cancel/10% take':<36} {n_resting:>8,} {mean_resting:>7,.0f} "
            f"{ours:>16,.0f} "
            f"{base:>15,.0f} {ours / base:>6.2f}"
        )
    if not args.no_memory:
        n = 100_000 if args.quick else 1_000_000
        ours_b, base_b = peak_memory(n)
        print(
            f"peak traced memory, {n:,} resting orders: orderbook {ours_b:,.0f} B/order "
            f"({ours_b * n / 2**20:,.0f} MiB), baseline {base_b:,.0f} B/order "
            f"({base_b * n / 2**20:,.0f} MiB)"
        )


if __name__ == "__main__":
    main()
