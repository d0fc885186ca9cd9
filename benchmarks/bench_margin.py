"""Margin core benchmark: pre-trade check latency and liquidation scan, each against a naive
full recomputation measured in the same run. Plain script, fixed seed:

    .venv/bin/python benchmarks/bench_margin.py
"""

from __future__ import annotations

import random
import statistics
import time
from decimal import Decimal

from router.margin import LedgerLeg, MarginLedger
from router.margin.projection import IM


def build(
    n_positions: int, n_assets: int, n_subs: int, seed: int = 7
) -> tuple[MarginLedger, list[str]]:
    rng = random.Random(seed)
    ledger = MarginLedger()
    for a in range(n_assets - 1):
        ledger.add_asset(f"A{a}", "0.8", "0.9")
        ledger.set_mark(f"A{a}", str(rng.randint(1, 5000)))
    for p in range(n_positions):
        ledger.add_market(
            f"P{p}-PERP", f"P{p}", tiers=[("0", 50), ("1000000", 20), ("5000000", 10)]
        )
        ledger.set_mark(f"P{p}-PERP", str(rng.randint(10, 100000)))
    subs = []
    for s in range(n_subs):
        sub = ledger.open_subaccount("bench", f"s{s}")
        ledger.deposit(sub, "USDC", "10000000")
        for a in range(n_assets - 1):
            ledger.deposit(sub, f"A{a}", str(rng.randint(1, 100)))
        for p in range(n_positions):
            price = ledger.marks[f"P{p}-PERP"].price_units
            ledger.apply_leg(
                sub,
                LedgerLeg(
                    "perp",
                    f"P{p}-PERP",
                    rng.choice(["buy", "sell"]),
                    str(Decimal(rng.randint(1, 1000)) / 100),
                    str(Decimal(price) / 10**8),
                ),
            )
        subs.append(sub)
    return ledger, subs


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def naive_check(ledger: MarginLedger, sub_id: str, leg: LedgerLeg) -> bool:
    """Baseline: apply the leg to a scenario, then recompute every figure from scratch."""
    scen = ledger.projection(sub_id)
    scen.trade_perp(leg.symbol, leg.signed_units, leg.price_units, leg.fee_units)
    sub = ledger.subs[sub_id]
    totals = [0] * 7
    for asset in set(sub.balances) | set(scen.balances):
        figs = ledger.asset_figures(asset, scen.balance(asset))
        totals[0] += figs[0]
    for symbol in set(sub.positions) | set(scen.positions):
        pos = scen.position(symbol)
        if pos is not None:
            figs = ledger.position_figures(sub, pos)
            totals[2] += figs[1]
            totals[3] += figs[2]
            totals[IM] += figs[3]
    return totals[0] + totals[2] + totals[3] - totals[IM] >= 0


def bench_check(n_positions: int, rounds: int = 2000) -> None:
    ledger, (sub,) = build(n_positions, 10, 1)
    rng = random.Random(11)
    legs = []
    for _ in range(rounds):
        sym = f"P{rng.randrange(n_positions)}-PERP"
        price = ledger.marks[sym].price_units
        legs.append(
            LedgerLeg(
                "perp", sym, rng.choice(["buy", "sell"]), "0.5", str(Decimal(price) / 10**8), "1"
            )
        )
    ledger.journal._lines.clear()
    fast, slow = [], []
    for leg in legs:
        t0 = time.perf_counter_ns()
        ledger.check_leg(sub, leg)
        t1 = time.perf_counter_ns()
        naive_check(ledger, sub, leg)
        t2 = time.perf_counter_ns()
        fast.append((t1 - t0) / 1000)
        slow.append((t2 - t1) / 1000)
    print(
        f"pre-trade check, {n_positions} positions, 10 assets, {rounds} legs: "
        f"incremental p50 {statistics.median(fast):.1f} us p99 {percentile(fast, 0.99):.1f} us | "
        f"naive full recompute p50 {statistics.median(slow):.1f} us p99 {percentile(slow, 0.99):.1f} us"
    )


def bench_scan(n_subs: int, n_positions: int = 5, repeats: int = 5) -> None:
    ledger, _subs = build(n_positions, 3, n_subs)
    fast, slow = [], []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        cached = ledger.liquidatable()
        t1 = time.perf_counter_ns()
        naive = []
        for sub_id in sorted(ledger.subs):
            t = ledger.recompute_totals(ledger.subs[sub_id])
            if t[1] + t[2] + t[3] < t[5]:
                naive.append(sub_id)
        t2 = time.perf_counter_ns()
        assert cached == naive
        fast.append((t1 - t0) / 1e6)
        slow.append((t2 - t1) / 1e6)
    print(
        f"liquidation scan, {n_subs} subaccounts x {n_positions} positions: cached median "
        f"{statistics.median(fast):.2f} ms | naive recompute median {statistics.median(slow):.2f} ms"
    )


if __name__ == "__main__":
    for n in (10, 50):
        bench_check(n)
    for n in (1000, 10_000):
        bench_scan(n)
