"""Replay throughput: events/s and book-level updates/s with the router idle, plus peak memory.

Workload "perp replay": parse usdm_ethusdt_20240808 (../shared/data/binance when present, else
the committed 12 s sample) and push every event through ReplayBookVenue (update-id sync, dirty
tracking, consumption bookkeeping), timed from the file's bytes to the synced venue. Rows:

- ``replay``: what ``crossroute backtest`` does (``read_feed(..., tickers=False)``: top-of-book
  lines are classified by stream name, counted and timed but not parsed; the books come from the
  depth updates);
- ``replay, tickers parsed``: the same with every top-of-book line parsed exactly too;
- ``plain-dict baseline``: a dict book fed by ``json.loads`` with Decimal prices and sizes (what a
  first attempt would write), parsing every line.

"events" counts every line of the file in every row (the same number for all three), "levels"
the book levels applied. Three sizes (the first 25/50/100 % of the lines), 5 repetitions each,
interleaved so that a busy neighbour slows every row alike; the median is reported, of the
process CPU time (the one-core figure: what another process on the machine takes is not
counted) and of the wall time (which is, on a shared machine).

    .venv/bin/python benchmarks/bench_replay.py [--reps N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import statistics
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

from router.backtest.book import ReplayBookVenue
from router.sim.feed import DEPTH, SNAPSHOT, TRADE, Grid, read_feed

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT.parent / "shared/data/binance/usdm_ethusdt_20240808.gz"
SAMPLE = ROOT / "tests/data/binance/usdm_ethusdt_20240808_first12s.gz"


def replay(path: Path, tickers: bool = False) -> tuple[int, int]:
    """Parse and replay ``path`` into a fresh venue; (lines, levels applied)."""
    grid = Grid("0.01", "0.001")
    feed = read_feed(path, grid, tickers=tickers)
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
    return sum(feed.counts.values()), venue.l2.levels_applied


def replay_tickers(path: Path) -> tuple[int, int]:
    return replay(path, tickers=True)


def baseline(path: Path) -> tuple[int, int]:
    """Plain dicts of Decimal, json.loads on every line, no sync rules: the floor a venue must beat."""
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    source = FULL if FULL.exists() else SAMPLE
    print(
        f"data: {source}  python {platform.python_version()}  {platform.machine()}  reps {args.reps}"
    )
    runs = (
        ("replay", replay),
        ("replay, tickers parsed", replay_tickers),
        ("plain-dict baseline", baseline),
    )
    with tempfile.TemporaryDirectory() as tmpdir:
        for share in (0.25, 0.5, 1.0):
            path = prefix(source, share, Path(tmpdir))
            wall: dict[str, list[float]] = {name: [] for name, _ in runs}
            cpu: dict[str, list[float]] = {name: [] for name, _ in runs}
            sizes: dict[str, tuple[int, int]] = {}
            for _ in range(args.reps):
                for name, fn in runs:
                    t0, c0 = time.perf_counter(), time.process_time()
                    sizes[name] = fn(path)
                    cpu[name].append(time.process_time() - c0)
                    wall[name].append(time.perf_counter() - t0)
            base = statistics.median(cpu["plain-dict baseline"])
            for name, _ in runs:
                events, levels = sizes[name]
                med, med_wall = statistics.median(cpu[name]), statistics.median(wall[name])
                print(
                    f"{int(share * 100):>3}% {name:<23} events {events:>6}  levels {levels:>7}  "
                    f"CPU {med * 1000:6.1f} ms {events / med:>9,.0f} ev/s {levels / med:>9,.0f} levels/s  "
                    f"wall {med_wall * 1000:6.1f} ms {levels / med_wall:>9,.0f} levels/s  x{base / med:.2f} vs baseline"
                )
        tracemalloc.start()
        replay(source)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"peak traced memory, full replay: {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
