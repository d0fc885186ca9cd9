"""Benchmark: hedged multi-leg execution on the default market with the perpetual layered in.

Workloads ("orders"): 1 leg (buy 10 ETH spot), 2 legs (the basis trade), 4 legs (two basis pairs
of 5 ETH) and 4 legs with faults (the first child of each spot leg rejected, so every leg is
re-routed, through :class:`router.execution.faults.FaultInjectingVenue`). Each is timed end to end
(planning, leg ordering, margin checks, child orders, bookings, reconciliation of the venues'
holdings, default price protection, mark refreshes, journal) on a freshly built market, and against a baseline in the same run: the same
executor with a margin gate that accepts everything and books nothing (what the margin checks
cost). Median and p90 of ``--repeat`` runs; fixed inputs, so every run does the same work.

    .venv/bin/python benchmarks/bench_execution.py [--repeat 30] [--cpu]

``--cpu`` times the thread's CPU time instead of the wall clock: on a machine loaded by other
jobs, the wall clock mostly measures waiting for a core (the workloads never sleep).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from router.app import build_margin, load_market  # noqa: E402
from router.execution.executor import Executor  # noqa: E402
from router.execution.faults import Fault, inject_faults  # noqa: E402
from router.execution.gate import MarginCheck  # noqa: E402
from router.execution.journal import DecisionJournal, StepClock  # noqa: E402
from router.execution.order import Hedge, MultiLegOrder, OrderLeg  # noqa: E402

CONFIG = ROOT / "config" / "default.toml"
SPOT, PERP = "ETH/USDC", "ETH/USDC:USDC"
D = Decimal


class AcceptAll:
    """Baseline gate: no margin math at all."""

    def check(self, legs):
        return MarginCheck(True, D(0), tuple(D(0) for _ in legs))

    def apply(self, fill):
        return None

    def summary(self):
        return {
            "equity": D(0),
            "initial_margin": D(0),
            "maintenance_margin": D(0),
            "headroom": D(0),
        }

    def capital_efficiency(self):
        return {"cross_requirement": D(0), "isolated_requirement": D(0), "saved": D(0)}


def basis_pair(tag: str, qty: str) -> tuple[OrderLeg, OrderLeg]:
    return (
        OrderLeg(f"{tag}-spot", "spot", SPOT, "buy", qty=D(qty)),
        OrderLeg(f"{tag}-perp", "perp", PERP, "sell", hedge=Hedge(f"{tag}-spot")),
    )


WORKLOADS = {
    "1 leg": (MultiLegOrder("w1", (OrderLeg("spot", "spot", SPOT, "buy", qty=D(10)),)), False),
    "2 legs (basis)": (MultiLegOrder("w2", basis_pair("a", "10")), False),
    "4 legs": (MultiLegOrder("w4", basis_pair("a", "5") + basis_pair("b", "5")), False),
    "4 legs, faults": (MultiLegOrder("w4f", basis_pair("a", "5") + basis_pair("b", "5")), True),
}


def run_once(
    order: MultiLegOrder, faults: bool, baseline: bool, cpu: bool = False
) -> tuple[float, int]:
    market = load_market(CONFIG)
    journal = DecisionJournal(clock=StepClock())
    setup = build_margin(market, journal=None if baseline else journal)
    instruments = market.instruments()
    adapters = dict(market.adapters)
    if faults:  # the first child of every spot venue is rejected (the user-facing fault wrapper)
        spot = [Fault(name, "reject", 0) for name, kind in instruments.items() if kind == "spot"]
        adapters = inject_faults(adapters, spot)
    gate = AcceptAll() if baseline else setup.gate
    # wired as `crossroute execute` wires it: marks refresh from the venues between children
    executor = Executor(
        adapters,
        gate,
        journal=journal,
        instruments=instruments,
        marks=lambda: setup.live_marks(market),
    )
    clock = time.thread_time_ns if cpu else time.perf_counter_ns
    start = clock()
    report = asyncio.run(executor.execute(order))
    elapsed = clock() - start
    assert report.status == "filled", report.reason
    return elapsed / 1e6, sum(len(leg.children) for leg in report.legs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--cpu", action="store_true", help="thread CPU time, not wall clock")
    args = parser.parse_args()
    print(
        f"{'workload':<18} {'children':>8} {'median ms':>10} {'p90 ms':>8} {'baseline ms':>12} {'margin share':>13}"
    )
    for name, (order, faults) in WORKLOADS.items():
        ours, base, children = [], [], 0
        for _ in range(args.repeat):
            ms, children = run_once(order, faults, baseline=False, cpu=args.cpu)
            ours.append(ms)
            base.append(run_once(order, faults, baseline=True, cpu=args.cpu)[0])
        median, baseline = statistics.median(ours), statistics.median(base)
        p90 = statistics.quantiles(ours, n=10)[-1]
        share = (median - baseline) / median * 100
        print(
            f"{name:<18} {children:>8} {median:>10.2f} {p90:>8.2f} {baseline:>12.2f} {share:>12.0f}%"
        )


if __name__ == "__main__":
    main()
