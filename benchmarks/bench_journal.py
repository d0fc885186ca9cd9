"""Benchmark: the decision journal's per-record cost on a typical `plan` record (four venue
quotes, a margin check), against the path-tracking conversion it replaced, in the same process.

``write`` is :meth:`DecisionJournal.write` (one conversion, canonical JSON, hash link); the
baseline ``two passes`` converts the record with the path-tracking ``_plain`` twice and then
encodes it, as ``write`` did before. Thread CPU time, median of ``--repeat`` batches.

    .venv/bin/python benchmarks/bench_journal.py [--repeat 7] [--writes 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from router.execution.journal import DecisionJournal, StepClock, _plain  # noqa: E402

D = Decimal
RECORD = {
    "client_id": "basis-0001",
    "leg": "spot-long",
    "stage": "round",
    "round": 0,
    "remaining": D("10"),
    "legs": [
        {
            "venue": f"venue-{i}",
            "qty": D("2.5000"),
            "quote_amount": D("6712.123456"),
            "fee": D("3.1"),
            "leg_cost": D("0"),
        }
        for i in range(4)
    ],
    "check": {
        "accepted": True,
        "headroom_before": D("1241542.45"),
        "headroom_after": [D("1237478.27576800")] * 3,
    },
}


def per_write_us(writes: int, baseline: bool) -> float:
    journal = DecisionJournal(clock=StepClock())
    start = time.thread_time_ns()
    for seq in range(writes):
        if baseline:
            body = _plain(RECORD, "record")
            record = {"event": "plan", "seq": seq, "t_ns": seq, "prev": journal.head, **body}
            json.dumps(_plain(record, "record"), sort_keys=True, separators=(",", ":"))
        else:
            journal.write("plan", **RECORD)
    return (time.thread_time_ns() - start) / writes / 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--writes", type=int, default=2000)
    args = parser.parse_args()
    ours = [per_write_us(args.writes, baseline=False) for _ in range(args.repeat)]
    base = [per_write_us(args.writes, baseline=True) for _ in range(args.repeat)]
    print(f"{'write (one pass, hashed)':<28} {statistics.median(ours):8.1f} us")
    print(f"{'two passes (no hash)':<28} {statistics.median(base):8.1f} us")


if __name__ == "__main__":
    main()
