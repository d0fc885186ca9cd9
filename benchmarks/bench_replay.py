"""Replay throughput against a plain baseline and hftbacktest, peak memory, and sweep scaling.

Workload: the Binance USD-M ETHUSDT capture (``../shared/data/binance/usdm_ethusdt_20240808.gz``
when present, and the committed 12 s sample), replayed into a synced ``ReplayBookVenue``
(update-id sync, dirty tracking, consumption bookkeeping; router idle). crossroute and baseline rows in one process,
interleaved, ``--reps`` repetitions, medians of process CPU time (a shared machine: another
process's time is not counted; wall time is printed too):

- ``crossroute, warm cache``: the parsed feed loaded from the columnar cache
  (``router.sim.cache``; the entry exists) and replayed into the synced L2 book: what every run
  of a sweep does; ``warm + engine`` also builds the matching engine's book from it at the end
  (what the router's first read of the venue does, once);
- ``crossroute, from gzip``: ``read_feed(..., tickers=False)`` from the gzip bytes, then replay:
  what a first run does;
- ``plain baseline``: a ``sortedcontainers.SortedDict`` book per side keyed by integer ticks, fed
  by stdlib ``json.loads`` of only the depth lines and the REST snapshot (other lines skipped by a
  substring test), prices and sizes as integers by removing the decimal point;
- ``hftbacktest warm``: hftbacktest 2.4.4 (``pip install -e '.[bench]'``; it pins numpy < 2.3,
  which the project's pin allows) replaying the ``.npz`` its own converter
  (``hftbacktest.data.utils.binancefutures.convert``) made of the same file, loading included,
  through ``HashMapMarketDepthBacktest`` to the end of the data; ``preloaded``: with the array
  already in memory. Its rows are depth levels plus trades (it drops the snapshot). They run in
  a child process of this script (same file, same machine, medians of as many repetitions):
  importing hftbacktest loads numba, llvmlite and polars, after which this process's own Python
  allocations measured slower, which would be charged to the crossroute and baseline rows.

Where the gzip path's time goes: ``parse only`` (``read_feed`` without the replay) and
``gunzip`` (decompression alone, zlib-ng in whole-line blocks, as the parser does it), with the
stdlib's one-shot ``gzip.decompress`` beside it.

"levels" is the book levels applied (the same file gives the same count to crossroute and the
baseline). Then: peak traced memory (tracemalloc) of each crossroute path, and a 16-run sweep of
``config/examples/backtest-twap.toml`` on 1 and 2 worker processes from a warm cache
(efficiency = time on 1 / (2 x time on 2)).

    .venv/bin/python benchmarks/bench_replay.py [--reps N] [--no-sweep] [--no-hftbacktest]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from sortedcontainers import SortedDict

from router.backtest.book import ReplayBookVenue
from router.sim.cache import read_feed_cached
from router.sim.chunks import line_blocks
from router.sim.feed import DEPTH, SNAPSHOT, TRADE, Grid, read_feed

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT.parent / "shared/data/binance/usdm_ethusdt_20240808.gz"
FULL_SHARED = Path("/work/shared/data/binance/usdm_ethusdt_20240808.gz")
SAMPLE = ROOT / "tests/data/binance/usdm_ethusdt_20240808_first12s.gz"
GRID = ("0.01", "0.001")
WARM_FLOOR = 2e6  # issue 17: book levels/s replayed from the cache
GZIP_FLOOR = 2.0  # issue 17: times faster than the plain baseline, from the gzip


def _replay(events: list[tuple], materialize: bool = False) -> int:
    """Push a feed's events through a fresh venue; the levels applied. The L2 book is then
    synced; ``materialize`` also builds the matching engine's book from it (what the first
    read by the router does, once)."""
    venue = ReplayBookVenue("perp", "ETH/USDT:USDT", Grid(*GRID), kind="perp")
    on_depth, on_trade, on_snapshot = venue.on_depth, venue.on_trade, venue.on_snapshot
    for event in events:
        kind = event[3]
        if kind == DEPTH:
            on_depth(event[4])
        elif kind == TRADE:
            on_trade(event[4])
        elif kind == SNAPSHOT:
            on_snapshot(event[4])
    if materialize:
        venue.sync()
    assert venue.l2.state == "synced"
    return venue.l2.levels_applied


def warm_cache(path: Path, cache: Path) -> int:
    feed, hit = read_feed_cached(path, Grid(*GRID), cache, tickers=False)
    assert hit
    return _replay(feed.events)


def from_gzip(path: Path) -> int:
    return _replay(read_feed(path, Grid(*GRID), tickers=False).events)


def warm_cache_materialized(path: Path, cache: Path) -> int:
    feed, hit = read_feed_cached(path, Grid(*GRID), cache, tickers=False)
    assert hit
    return _replay(feed.events, materialize=True)


def gunzip_blocks(path: Path) -> int:
    """Decompression alone, as the parser does it (zlib-ng, whole-line blocks); bytes out."""
    return sum(map(len, line_blocks(path.read_bytes(), True)))


def gunzip_stdlib(path: Path) -> int:
    """Decompression alone with the stdlib in one call (what the parser did before); bytes out."""
    return len(gzip.decompress(path.read_bytes()))


def parse_only(path: Path) -> int:
    """``read_feed(..., tickers=False)`` without the replay; events out."""
    return len(read_feed(path, Grid(*GRID), tickers=False).events)


def plain_baseline(path: Path) -> int:
    """SortedDict books keyed by integer ticks, json.loads of depth lines and the snapshot only."""
    bids: SortedDict = SortedDict()
    asks: SortedDict = SortedDict()
    levels = 0
    with gzip.open(path, "rt") as f:
        for line in f:
            if "depthUpdate" in line:
                data = json.loads(line.split(" ", 1)[1])["data"]
                sides = ((data["b"], bids), (data["a"], asks))
            elif '"lastUpdateId"' in line:
                data = json.loads(line.split(" ", 1)[1])
                data = data.get("data", data)
                bids.clear()
                asks.clear()
                sides = ((data["bids"], bids), (data["asks"], asks))
            else:
                continue
            for rows, book in sides:
                for p, q in rows:
                    levels += 1
                    ticks = int(p.replace(".", ""))
                    lots = int(q.replace(".", ""))
                    if lots:
                        book[ticks] = lots
                    else:
                        book.pop(ticks, None)
    return levels


def hftbacktest_replay(npz: Path | None, data=None) -> int:
    """Load (unless ``data`` is given) and replay the converted file to its end; rows replayed."""
    import numpy
    from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest

    if data is None:
        data = numpy.load(npz)["data"]
    asset = (
        BacktestAsset()
        .data([data])
        .linear_asset(1.0)
        .constant_order_latency(0, 0)
        .risk_adverse_queue_model()
        .no_partial_fill_exchange()
        .trading_value_fee_model(0.0, 0.0)
        .tick_size(0.01)
        .lot_size(0.001)
    )
    hbt = HashMapMarketDepthBacktest([asset])
    hbt.elapse(10**18)  # one call: the whole file (the end of data stops it)
    hbt.close()
    return len(data)


def _time(fn, *args) -> tuple[float, float, int]:
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return time.process_time() - c0, time.perf_counter() - t0, out


def bench_file(path: Path, reps: int, with_hft: bool, tmp: Path) -> None:
    cache = tmp / "cache"
    read_feed_cached(path, Grid(*GRID), cache, tickers=False)  # the cold run fills the cache
    runs: list[tuple[str, object, tuple]] = [
        ("crossroute, warm cache", warm_cache, (path, cache)),
        ("crossroute, warm + engine", warm_cache_materialized, (path, cache)),
        ("crossroute, from gzip", from_gzip, (path,)),
        ("plain baseline", plain_baseline, (path,)),
        ("  of which: parse only", parse_only, (path,)),
        ("  of which: gunzip", gunzip_blocks, (path,)),
        ("  stdlib gzip.decompress", gunzip_stdlib, (path,)),
    ]
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    wall: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    sizes: dict[str, int] = {}
    for _ in range(reps):
        for name, fn, args in runs:
            c, w, sizes[name] = _time(fn, *args)
            cpu[name].append(c)
            wall[name].append(w)
    med = {name: statistics.median(v) for name, v in cpu.items()}
    if with_hft:
        # hftbacktest runs in a child process: importing it (numba, llvmlite, polars) makes this
        # process's allocations slower, which would count against the rows above.
        child = subprocess.run(
            [sys.executable, __file__, "--hft-only", str(path), "--reps", str(reps)],
            capture_output=True,
            text=True,
            check=True,
        )
        hft = json.loads(child.stdout.splitlines()[-1])
        print(f"  hftbacktest convert (once, child process): {hft['convert_cpu_s']:.2f} s CPU")
        for name in ("hftbacktest warm", "hftbacktest preloaded"):
            runs.append((name, hftbacktest_replay, ()))
            med[name], sizes[name] = hft[name]["cpu_s"], hft[name]["rows"]
            wall[name] = [hft[name]["wall_s"]]
    base = med["plain baseline"]
    for name, _, _ in runs:
        if name.startswith("  "):  # the parts of the gzip path: time only
            print(
                f"  {name:<24} {sizes[name]:>8} {'bytes' if 'unzip' in name or 'gzip' in name else 'events':<6} "
                f"CPU {med[name] * 1000:7.1f} ms"
            )
            continue
        unit = "rows" if name.startswith("hftbacktest") else "levels"
        print(
            f"  {name:<24} {sizes[name]:>8} {unit:<6} CPU {med[name] * 1000:7.1f} ms "
            f"{sizes[name] / med[name] / 1e6:6.2f} M {unit}/s   wall {statistics.median(wall[name]) * 1000:7.1f} ms"
            f"   x{base / med[name]:.2f} vs baseline"
        )
    if path.name == FULL.name:  # the floors are the full capture's
        warm_rate = sizes["crossroute, warm cache"] / med["crossroute, warm cache"]
        gzip_ratio = base / med["crossroute, from gzip"]
        print(
            f"  FLOOR warm replay >= {WARM_FLOOR / 1e6:.0f} M levels/s: {warm_rate / 1e6:.2f} M "
            f"-> {'MET' if warm_rate >= WARM_FLOOR else 'NOT MET'}"
        )
        print(
            f"  FLOOR from gzip >= {GZIP_FLOOR:.0f}x the plain baseline: x{gzip_ratio:.2f} "
            f"-> {'MET' if gzip_ratio >= GZIP_FLOOR else 'NOT MET'}   (load average {os.getloadavg()[0]:.2f})"
        )
    if with_hft:
        for ours, theirs in (
            ("crossroute, warm cache", "hftbacktest warm"),
            ("crossroute, from gzip", "hftbacktest warm"),
        ):
            print(f"  time {ours} / {theirs}: {med[ours] / med[theirs]:.2f}")
    for name, fn, args in (runs[0], runs[2]):
        gc.collect()
        tracemalloc.start()
        fn(*args)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"  peak traced memory, {name}: {peak / 2**20:.1f} MiB")


def hft_only(path: Path, reps: int) -> None:
    """The hftbacktest rows of one file (run as a child process); prints one JSON line."""
    import numpy
    from hftbacktest.data.utils import binancefutures

    with tempfile.TemporaryDirectory() as tmpdir:
        npz = Path(tmpdir) / f"{path.stem}.hft.npz"
        c0 = time.process_time()
        binancefutures.convert(str(path), output_filename=str(npz), buffer_size=2_000_000)
        out: dict[str, object] = {"convert_cpu_s": time.process_time() - c0}
        loaded = numpy.load(npz)["data"]
        hftbacktest_replay(None, loaded)  # numba compiles on the first call: not timed
        rows = {"hftbacktest warm": (npz,), "hftbacktest preloaded": (None, loaded)}
        cpu: dict[str, list[float]] = {name: [] for name in rows}
        wall: dict[str, list[float]] = {name: [] for name in rows}
        for _ in range(reps):
            for name, args in rows.items():
                c, w, size = _time(hftbacktest_replay, *args)
                cpu[name].append(c)
                wall[name].append(w)
        for name in rows:
            out[name] = {
                "cpu_s": statistics.median(cpu[name]),
                "wall_s": statistics.median(wall[name]),
                "rows": size,
            }
    print(json.dumps(out))


def bench_sweep(tmp: Path) -> None:
    from router.backtest.sweep import run_sweep

    grid = {
        "backtest.latency.order_ms": [0, 50, 200, 500],
        "strategy.slices": [6, 12, 18, 24],
    }
    config = ROOT / "config/examples/backtest-twap.toml"
    cache = tmp / "sweep-cache"
    run_sweep(config, {"strategy.slices": [6]}, cache_dir=cache)  # warm the cache
    times = {}
    cpus = {}
    results = {}
    load = os.getloadavg()[0]
    for workers in (1, 2):
        t0, c0 = time.perf_counter(), _cpu_with_children()
        results[workers] = run_sweep(config, grid, workers=workers, cache_dir=cache)
        times[workers] = time.perf_counter() - t0
        cpus[workers] = _cpu_with_children() - c0
    assert results[1] == results[2]
    eff = times[1] / (2 * times[2])
    print(
        f"sweep 16 runs (twap, warm cache): 1 worker {times[1]:.2f} s, 2 workers {times[2]:.2f} s "
        f"wall; speed-up x{times[1] / times[2]:.2f}, efficiency {eff:.0%} "
        f"(load average before: {load:.2f} on {os.cpu_count()} cpus)"
    )
    print(
        f"  CPU for the 16 runs: 1 worker {cpus[1]:.2f} s, 2 workers {cpus[2]:.2f} s "
        f"(parent + workers): CPU efficiency {cpus[1] / cpus[2]:.0%}"
    )


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its waited-for children (the worker processes)."""
    import resource

    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--no-hftbacktest", action="store_true")
    parser.add_argument("--hft-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hft_only is not None:
        hft_only(args.hft_only, args.reps)
        return
    full = FULL if FULL.exists() else FULL_SHARED
    files = [SAMPLE] + ([full] if full.exists() else [])
    print(
        f"python {platform.python_version()}  {platform.machine()}  cpus {os.cpu_count()}  "
        f"reps {args.reps}"
    )
    with tempfile.TemporaryDirectory() as tmpdir:
        for path in files:
            print(path.name)
            bench_file(path, args.reps, not args.no_hftbacktest, Path(tmpdir))
        if not args.no_sweep:
            bench_sweep(Path(tmpdir))


if __name__ == "__main__":
    main()
