"""Replay throughput: events/s and book-level updates/s with the router idle, plus peak memory.

Workload "perp replay": parse usdm_ethusdt_20240808 (../shared/data/binance when present, else
the committed 12 s sample) and push every event through ReplayBookVenue (update-id sync, dirty
tracking, consumption bookkeeping). Baseline in the same run: a plain-dict book fed by
json.loads with Decimal prices (what a first attempt would write). Three sizes (first 25/50/100 %
of the lines), 5 repetitions each, median reported.

    .venv/bin/python benchmarks/bench_replay.py
"""

from __future__ import annotations

import gzip
import json
import statistics
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

from router.backtest.book import ReplayBookVenue
from router.backtest.feed import DEPTH, SNAPSHOT, TRADE, Grid, read_feed

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT.parent / "shared/data/binance/usdm_ethusdt_20240808.gz"
SAMPLE = ROOT / "tests/data/binance/usdm_ethusdt_20240808_first12s.gz"


def replay(path: Path) -> tuple[int, int]:
    grid = Grid("0.01", "0.001")
    feed = read_feed(path, grid)
    venue = ReplayBookVenue("perp", "ETH/USDT:USDT", grid, kind="perp")
    on_depth, on_trade, on_snapshot = venue.on_depth, venue.on_trade, venue.on_snapshot
    for event in feed.events:
        kind = event[3]
        if kind == DEPTH:
            on_depth(event[4])
        elif kind == TRADE:
            on_trade(event[4])
        elif kind == SNAPSHOT:
            on_snapshot(event[4])
    venue.sync()
    return len(feed.events), venue.l2.levels_applied


def baseline(path: Path) -> tuple[int, int]:
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    events = levels = 0
    with gzip.open(path, "rt") as f:
        for line in f:
            message = json.loads(line.split(" ", 1)[1])
            events += 1
            data = message.get("data", message)
            for key, book in (("b", bids), ("a", asks), ("bids", bids), ("asks", asks)):
                rows = data.get(key)
                if isinstance(rows, list):
                    for p, q in rows:
                        levels += 1
                        if Decimal(q):
                            book[Decimal(p)] = Decimal(q)
                        else:
                            book.pop(Decimal(p), None)
    return events, levels


def prefix(path: Path, share: float, tmp: Path) -> Path:
    with gzip.open(path, "rt") as f:
        lines = f.readlines()
    out = tmp / f"prefix{int(share * 100)}.gz"
    with gzip.open(out, "wt") as f:
        f.writelines(lines[: max(1, int(len(lines) * share))])
    return out


def main() -> None:
    source = FULL if FULL.exists() else SAMPLE
    print(f"data: {source}")
    with tempfile.TemporaryDirectory() as tmpdir:
        for share in (0.25, 0.5, 1.0):
            path = prefix(source, share, Path(tmpdir))
            for name, fn in (("replay", replay), ("plain-dict baseline", baseline)):
                times = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    events, levels = fn(path)
                    times.append(time.perf_counter() - t0)
                med = statistics.median(times)
                print(f"{int(share * 100):>3}% {name:<20} events {events:>7}  levels {levels:>8}  "
                      f"median {med * 1000:8.1f} ms  {events / med:>10,.0f} events/s  {levels / med:>10,.0f} levels/s")
        tracemalloc.start()
        replay(source)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"peak traced memory, full replay: {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
