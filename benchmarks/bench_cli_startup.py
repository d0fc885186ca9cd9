"""Start-up cost of `crossroute route --side buy --qty 1`: wall time and `python -X importtime`.

Each run is a fresh interpreter (what a user waits for), measured against a baseline in the same
process: the bare interpreter (`python -c pass`). Pass other source trees to compare them in the
same run, e.g. the commit before the lazy command registry:

    git archive 8f1d305 | (mkdir -p /tmp/before && tar -x -C /tmp/before)
    .venv/bin/python benchmarks/bench_cli_startup.py /tmp/before .

Each tree runs with PYTHONPATH=tree and cwd=tree (so it routes its own config/default.toml).
Reports medians of RUNS runs, interleaved so that machine load hits every variant alike.
"""

from __future__ import annotations

import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 9
ROUTE = ["-m", "router.cli", "route", "--side", "buy", "--qty", "1"]
# "import time: self [us] | cumulative | name": a top-level import has exactly one space of indent
_TOP_LEVEL = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$")


def _cpu_children_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(args: list[str], tree: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, sum of top-level cumulative import times in µs) of one fresh interpreter.

    CPU time (user + sys of the child) is what the command costs on an idle machine; wall time
    also counts waiting for a core on a busy one."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cpu_start = _cpu_children_s()
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    wall = time.perf_counter() - start
    cpu = _cpu_children_s() - cpu_start
    imports_us = sum(
        int(match.group(1))
        for line in result.stderr.splitlines()
        if (match := _TOP_LEVEL.match(line))
    )
    return wall, cpu, imports_us


def main(trees: list[Path]) -> None:
    variants = [("python -c pass (baseline)", ["-c", "pass"], trees[0])]
    variants += [(f"route ({tree})", ROUTE, tree) for tree in trees]
    samples: dict[str, list[tuple[float, float, int]]] = {name: [] for name, _, _ in variants}
    for _ in range(RUNS):
        for name, args, tree in variants:
            samples[name].append(_run(args, tree))
    print(f"bench_cli_startup  python {sys.version.split()[0]}  cpus={os.cpu_count()}  runs={RUNS}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print("| command | wall p50 s | CPU p50 s | importtime total p50 ms |")
    print("|---|---:|---:|---:|")
    for name, runs in samples.items():
        wall = statistics.median(run[0] for run in runs)
        cpu = statistics.median(run[1] for run in runs)
        imports = statistics.median(run[2] for run in runs) / 1000
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {imports:.1f} |")


if __name__ == "__main__":
    main([Path(arg).resolve() for arg in sys.argv[1:]] or [Path(__file__).resolve().parents[1]])
