"""`crossroute margin replay` speed: 100,000 fills with marks every second over a day.

Reports fills/s of the replay (the margin core updated incrementally, one event at a time; CPU
time, median of 5) and whether it meets the 50,000 fills/s floor, of reading the fills CSV, the
timeline's size, the same replay against a baseline that recomputes the account's margin figures
from scratch at every fill (same process, same data), and that the fast path's timeline equals
the checked reference path's (every mark applied, a from-scratch recompute after every event).
Run: .venv/bin/python benchmarks/bench_margin_replay.py
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from router.config import load_config
from router.replay.fills import Symbols, read_fills
from router.replay.marks import read_marks
from router.replay.timeline import Replay, iso_time

RULES = """
[assets]
USDC = { decimals = 6 }
BTC = { decimals = 8 }
ETH = { decimals = 18 }

[margin]
quote = "USDC"

[margin.markets."BTC/USDC:USDC"]
name = "BTC-PERP"
oracle = "BTC"
max_leverage = 20

[margin.markets."ETH/USDC:USDC"]
name = "ETH-PERP"
oracle = "ETH"
max_leverage = 10
"""
START_NS = 1_723_075_200 * 10**9
DAY_S = 86_400
FILLS = 100_000
FLOOR = 50_000  # fills/s on one core (issue 19)


def write_inputs(tmp: Path, seed: int = 7) -> tuple[str, str, str]:
    rng = random.Random(seed)
    prices = {"BTC/USDC:USDC": 60000.0, "ETH/USDC:USDC": 2600.0}
    marks = ["time,symbol,price"]
    by_second: list[dict[str, str]] = []
    for second in range(DAY_S):
        row = {}
        for symbol in prices:
            prices[symbol] *= 1 + rng.gauss(0, 0.0002)
            row[symbol] = f"{prices[symbol]:.2f}"
            marks.append(f"{iso_time(START_NS + second * 10**9)},{symbol},{row[symbol]}")
        by_second.append(row)
    fills = ["time,venue,symbol,side,qty,price,fee,fee_asset"]
    times = sorted(rng.randrange(DAY_S * 10**9) for _ in range(FILLS))
    held = {"BTC/USDC:USDC": 0, "ETH/USDC:USDC": 0}
    for t in times:
        symbol = rng.choice(list(prices))
        lots = rng.randint(1, 5)
        side = "sell" if held[symbol] > 20 or (held[symbol] > -20 and rng.random() < 0.5) else "buy"
        held[symbol] += lots if side == "buy" else -lots
        qty = lots / 1000 if symbol.startswith("BTC") else lots / 100
        price = by_second[t // 10**9][symbol]
        fills.append(
            f"{iso_time(START_NS + t)},{rng.choice(['binance', 'hyperliquid', 'dydx'])},"
            f"{symbol},{side},{qty},{price},0.01,USDC"
        )
    paths = []
    for name, text in (
        ("rules.toml", RULES),
        ("marks.csv", "\n".join(marks)),
        ("fills.csv", "\n".join(fills)),
    ):
        (tmp / name).write_text(text + "\n")
        paths.append(str(tmp / name))
    return paths[0], paths[1], paths[2]


def baseline_seconds(run: Replay, fills: list, marks: list, n: int) -> tuple[float, float]:
    """(incremental, from-scratch) seconds for the first ``n`` fills: the baseline rebuilds the
    margin state from scratch (a fresh ledger re-booking every fill and mark so far) at every
    fill, which is what a tool without an incremental core does to show the state per fill."""
    head = fills[:n]
    until = head[-1].time_ns
    head_marks = [m for m in marks if m.time_ns <= until]
    t0 = time.perf_counter()
    run.run(head, head_marks, every_ns=3600 * 10**9)
    incremental = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k in range(1, n + 1):
        at = head[k - 1].time_ns
        run.run(head[:k], [m for m in head_marks if m.time_ns <= at], every_ns=3600 * 10**9)
    return incremental, time.perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_dir:
        rules_path, marks_path, fills_path = write_inputs(Path(tmp_dir))
        config = load_config(rules_path)
        assert config.margin is not None
        run = Replay(config.margin, rules_path, {"collateral": {"USDC": 10**6}})
        symbols = Symbols(run.symbols())
        t0 = time.perf_counter()
        fills = read_fills([fills_path], symbols)
        t_fills = time.perf_counter() - t0
        t0 = time.perf_counter()
        marks = read_marks(marks_path, run.mark_names())
        t_marks = time.perf_counter() - t0
        replays = []
        for _ in range(5):  # CPU seconds (the machine is shared): median of 5
            t0 = time.process_time()
            timeline = run.run(fills, marks, every_ns=3600 * 10**9)
            replays.append(time.process_time() - t0)
        replay_s = statistics.median(replays)
        events = len(fills) + len(marks)
        print(f"inputs: {len(fills):,} fills, {len(marks):,} marks ({DAY_S:,} s x 2 perps)")
        print(f"read fills CSV: {t_fills:.2f} s = {len(fills) / t_fills:,.0f} fills/s")
        print(f"read marks CSV: {t_marks:.2f} s = {len(marks) / t_marks:,.0f} marks/s")
        n = 200
        incremental, scratch = baseline_seconds(run, fills, marks, n)
        print(
            f"first {n} fills: incremental {n / incremental:,.0f} fills/s, from scratch at every "
            f"fill {n / scratch:,.0f} fills/s (x{scratch / incremental:,.0f})"
        )
        rate = len(fills) / replay_s
        print(
            f"replay (CPU, median of 5): {replay_s:.2f} s = {rate:,.0f} fills/s "
            f"({events / replay_s:,.0f} events/s); timeline {len(timeline.samples):,} samples"
        )
        print(f"FLOOR {FLOOR:,} fills/s: {'MET' if rate >= FLOOR else 'NOT MET'} ({rate:,.0f})")
        # the fast path (held-back marks, fills booked in place) against the reference path
        # (every mark applied, every event checked against a from-scratch recompute)
        head = fills[:2_000]
        head_marks = [m for m in marks if m.time_ns <= head[-1].time_ns]
        fast = json.dumps(run.run(head, head_marks, every_ns=600 * 10**9).to_json())
        checked = json.dumps(run.run(head, head_marks, every_ns=600 * 10**9, check=True).to_json())
        print(f"first {len(head):,} fills: fast timeline == checked timeline: {fast == checked}")
        # a sparse history (1,000 fills in the same day of marks): marks that provably cannot
        # liquidate are held back (the default) against applying every mark (the same run's
        # eager path); CPU seconds, median of 3
        sparse = fills[::100]
        for lazy in (False, True):
            cpu = []
            for _ in range(3):
                t0 = time.process_time()
                run._run(sparse, marks, 3600 * 10**9, False, None, lazy)
                cpu.append(time.process_time() - t0)
            secs = statistics.median(cpu)
            print(
                f"sparse {len(sparse):,} fills + {len(marks):,} marks, "
                f"{'marks held back' if lazy else 'every mark applied'}: "
                f"{(len(sparse) + len(marks)) / secs:,.0f} events/s"
            )


if __name__ == "__main__":
    main()
