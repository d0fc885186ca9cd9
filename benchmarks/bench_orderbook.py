"""Order-book benchmark: the mixed workload of issue 18 (60% non-marketable adds, 30% cancels,
10% marketable IOC orders) on a book holding about N resting orders, against the issue's lean
book and a plain dict-of-lists book measured in the same process, and the peak memory of
1,000,000 resting orders.

Run: ``.venv/bin/python benchmarks/bench_orderbook.py`` (``--quick`` for a short run,
``CROSSROUTE_PURE_PYTHON=1`` in the environment for the pure-Python build of the book,
``--profile`` for a cProfile of the 1,000-order run, ``--records`` for the cost of one result
record). Fixed seed; each figure is the median of several runs, the books interleaved, in CPU
time. The operation stream is generated once per size by running it on the real book, then
replayed on fresh copies of every book, so every cancel hits an open order and all books see the
same stream; the real and the lean book must end identical (same resting orders in the same
order, same fills), checked before timing.
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import dataclasses
import gc
import platform
import pstats
import random
import statistics
import sys
import time
import timeit
import tracemalloc
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sortedcontainers import SortedList

from venues.orderbook import COMPILED, OrderBook, OrderResult

SEED = 20_260_101
FLOOR_RATIO = 1.25  # issue 18: at least 1.25x the lean book at 1,000 resting orders
# Issue 18 also asks for no slower at 10k and 100k than the book before: round three's compiled
# book on a quiet machine (docs/benchmarks.md, "Round three's floors"), as ratios to the lean book.
ROUND_THREE_QUIET = {1_000: 1.06, 10_000: 1.10, 100_000: 1.79}
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


class LeanBook:
    """The lean reference book of issue 18: the least a book with real matching must do.

    Per side a dict price -> deque of ``[order_id, owner, qty_lots]`` and a sortedcontainers
    ``SortedList`` of the live prices; integer ticks and lots; a cancel only zeroes its entry
    (lazy: dropped when it reaches the front) and drops the price once its level has no live
    order; FIFO matching that records every fill as ``(taker_id, maker_id, price, lots)``. No
    validation, fees, positions, self-trade prevention, result records or post-only.
    """

    def __init__(self) -> None:
        self.levels = ({}, {})  # 0: bids, 1: asks; price -> [deque of entries, live count]
        self.prices = (SortedList(), SortedList())
        self.orders = {}  # open order_id -> (side_index, price, entry)
        self.fills = []

    def place_limit(self, order_id, owner, side, price, qty, tif="GTC"):
        s = 0 if side == "buy" else 1
        opp_levels, opp_prices = self.levels[1 - s], self.prices[1 - s]
        orders, fills = self.orders, self.fills
        remaining = qty
        while remaining and opp_prices:
            best = opp_prices[0] if s == 0 else opp_prices[-1]
            if (best > price) if s == 0 else (best < price):
                break
            level = opp_levels[best]
            queue = level[0]
            while queue and remaining:
                head = queue[0]
                lots = head[2]
                if not lots:
                    queue.popleft()  # cancelled earlier
                    continue
                take = lots if lots < remaining else remaining
                fills.append((order_id, head[0], best, take))
                remaining -= take
                if take == lots:
                    queue.popleft()
                    del orders[head[0]]
                    level[1] -= 1
                else:
                    head[2] = lots - take
            if not level[1]:
                del opp_levels[best]
                opp_prices.pop(0 if s == 0 else -1)
        if remaining and tif == "GTC":
            levels = self.levels[s]
            level = levels.get(price)
            if level is None:
                level = levels[price] = [deque(), 0]
                self.prices[s].add(price)
            entry = [order_id, owner, remaining]
            level[0].append(entry)
            level[1] += 1
            orders[order_id] = (s, price, entry)
        return qty - remaining

    def cancel(self, order_id):
        s, price, entry = self.orders.pop(order_id)
        entry[2] = 0
        levels = self.levels[s]
        level = levels[price]
        level[1] -= 1
        if not level[1]:
            del levels[price]
            self.prices[s].remove(price)


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
    """Total resting lots of the dict-of-lists baseline (it keeps no fills to compare)."""
    return sum(entry[2] for levels in book.levels for queue in levels.values() for entry in queue)


def end_state(book, prefill, ops) -> tuple[dict, list]:
    """Replay ``ops`` on a prefilled ``book`` (OrderBook or LeanBook) outside any timing and
    return (resting orders by (side, price) in FIFO order as (order_id, lots), every fill as
    (taker_id, maker_id, price_ticks, lots) in order), to check that both books agree."""
    replay(book, prefill)
    if isinstance(book, OrderBook):
        fills = []
        for kind, args in ops:
            if kind == "cancel":
                book.cancel(*args)
            else:
                result = book.place_limit(*args)
                fills.extend(
                    (f.taker_order_id, f.maker_order_id, f.price_ticks, f.qty_lots)
                    for f in result.fills
                )
        resting: dict = {}
        for order in book.open_orders():  # oldest priority first, so FIFO within a level
            resting.setdefault((order.side, order.price_ticks), []).append(
                (order.order_id, order.qty_lots)
            )
        return resting, fills
    book.fills.clear()  # the prefill never crosses, but keep only the timed stream's fills
    replay(book, ops)
    resting = {}
    for s, side in enumerate(("buy", "sell")):
        for price, (queue, _live) in book.levels[s].items():
            resting[(side, price)] = [(e[0], e[2]) for e in queue if e[2]]
    return resting, book.fills


def time_ops(factories, prefill, ops, runs: int) -> list[float]:
    """Median ops per second of replaying ``ops`` on a prefilled book, for each factory.

    The books take turns within each run (interleaved), and time is CPU time of this process,
    so that a busy shared machine disturbs every book alike and as little as it can.
    """
    rates: list[list[float]] = [[] for _ in factories]
    for _ in range(runs):
        for i, factory in enumerate(factories):
            book = factory()
            replay(book, prefill)
            gc.collect()
            start = time.process_time()
            replay(book, ops)
            rates[i].append(len(ops) / (time.process_time() - start))
    return [statistics.median(r) for r in rates]


def profile(n_resting: int, n_ops: int, top: int) -> None:
    """cProfile one replay of the workload on the order book; print the top entries."""
    prefill, ops, _ = build_workload(n_resting, n_ops, SEED + n_resting)
    book = new_orderbook()
    replay(book, prefill)
    profiler = cProfile.Profile()
    profiler.runcall(replay, book, ops)
    pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(top)


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


@dataclasses.dataclass(frozen=True, slots=True)
class FrozenResult:
    """OrderResult's fields as a frozen slotted dataclass: what the records were before."""

    order_id: str
    status: str
    filled_lots: int
    resting_lots: int
    fills: tuple
    cancelled_lots: int
    stp_cancelled: tuple


def record_costs(number: int = 200_000, repeat: int = 7) -> None:
    """Nanoseconds to build one OrderResult: frozen dataclass, NamedTuple call, tuple.__new__."""
    fields = ("o1", "resting", 0, 5, (), 0, ())
    new = tuple.__new__
    cases = {
        "frozen slotted dataclass FrozenResult(*fields)": lambda: FrozenResult(*fields),
        "NamedTuple OrderResult(*fields)": lambda: OrderResult(*fields),
        "tuple.__new__(OrderResult, fields) (the book's way)": lambda: new(OrderResult, fields),
    }
    for name, build in cases.items():
        runs = timeit.repeat(build, number=number, repeat=repeat)
        print(f"{name:<55} {statistics.median(runs) / number * 1e9:6.0f} ns (median of {repeat})")


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
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the 1,000-order workload and stop"
    )
    parser.add_argument(
        "--records", action="store_true", help="time building one result record and stop"
    )
    args = parser.parse_args()
    if args.records:
        record_costs()
        return
    sizes = (1_000, 10_000, 100_000)
    n_ops = 20_000 if args.quick else 200_000
    runs = 3 if args.quick else 7
    if args.profile:
        profile(sizes[0], n_ops, 25)
        return
    build = "compiled (Cython)" if COMPILED else "pure Python"
    print(
        f"python {platform.python_version()} on {cpu_model()}, order book {build}, seed {SEED}, "
        f"{n_ops} ops per run, median of {runs}"
    )
    print(
        f"{'resting':>8} {'mean':>7} {'orderbook ops/s':>16} {'lean ops/s':>11} {'ratio':>6}"
        f" {'dict-of-lists ops/s':>20} {'ratio':>6}"
    )
    ratios = {}
    for n_resting in sizes:
        prefill, ops, mean_resting = build_workload(n_resting, n_ops, SEED + n_resting)
        ours_state = end_state(new_orderbook(), prefill, ops)
        assert ours_state == end_state(LeanBook(), prefill, ops), "books disagree"
        ours, lean, plain = time_ops((new_orderbook, LeanBook, BaselineBook), prefill, ops, runs)
        plain_book = BaselineBook()
        replay(plain_book, prefill)
        replay(plain_book, ops)
        ours_lots = sum(lots for queue in ours_state[0].values() for _, lots in queue)
        assert ours_lots == resting_lots(plain_book), "the dict-of-lists book disagrees"
        ratios[n_resting] = ours / lean
        print(
            f"{n_resting:>8,} {mean_resting:>7,.0f} {ours:>16,.0f} {lean:>11,.0f} "
            f"{ours / lean:>6.2f} {plain:>20,.0f} {ours / plain:>6.2f}"
        )
    met = "met" if ratios[1_000] >= FLOOR_RATIO else "NOT met"
    print(
        f"floor (issue 18, {build} book): ratio to the lean book at 1,000 resting >= "
        f"{FLOOR_RATIO}: {ratios[1_000]:.2f} -> {met}"
    )
    for n_resting in sizes[1:]:
        before = ROUND_THREE_QUIET[n_resting]
        verdict = "not slower" if ratios[n_resting] >= before else "SLOWER"
        print(
            f"  at {n_resting:,} resting: {ratios[n_resting]:.2f} (round three's compiled book, "
            f"quiet machine: {before:.2f}) -> {verdict}"
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
