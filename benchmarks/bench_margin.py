"""Margin core benchmark: pre-trade check latency and liquidation scan, each against a naive
full recomputation measured in the same run, and a liquidation cascade of 1,000 accounts through
the simulated venues against one account's. Plain script, fixed seed:

    .venv/bin/python benchmarks/bench_margin.py

Every subaccount holds 10 assets of which half are borrowed (spot sold beyond holdings) and n
perp positions; the checked legs mix spot (borrowing further or repaying) and perp legs.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from router.app import DEFAULT_CONFIG
from router.config import load_config
from router.margin import LedgerLeg, MarginLedger
from router.margin.projection import C_INIT, C_MAINT, FUND, GROSS, IM, MM, UPNL, requirements
from router.margin.quantities import to_decimal, to_text
from router.stress.engine import StressEngine, load_portfolio
from router.stress.scenarios import shock


def build(
    n_positions: int, n_assets: int, n_subs: int, seed: int = 7, deposit: str = "10000000"
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
        ledger.deposit(sub, "USDC", deposit)
        for a in range(n_assets - 1):
            if a % 2:  # a borrow: sold beyond holdings
                price = to_decimal(ledger.marks[f"A{a}"].price_units)
                size = str(Decimal(rng.randint(1, 100)) / 10)
                ledger.apply_leg(sub, LedgerLeg("spot", f"A{a}", "sell", size, str(price)))
            else:
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
                    str(to_decimal(price)),
                ),
            )
        subs.append(sub)
    return ledger, subs


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def naive_totals(ledger: MarginLedger, sub_id: str, scen) -> list[int]:
    """Every figure of the projected subaccount recomputed from scratch. O(assets + positions)."""
    sub = ledger.subs[sub_id]
    totals = [0] * 7
    for asset in set(sub.balances) | set(scen.balances):
        figs = ledger.asset_figures(asset, scen.balance(asset))
        for index, at in ((C_INIT, 0), (C_MAINT, 1), (GROSS, 2), (IM, 3), (MM, 4)):
            totals[index] += figs[at]
    for symbol in set(sub.positions) | set(scen.positions):
        pos = scen.position(symbol)
        if pos is not None:
            figs = ledger.position_figures(sub, pos)
            for index, at in ((UPNL, 1), (FUND, 2), (IM, 3), (MM, 4), (GROSS, 5)):
                totals[index] += figs[at]
    return totals


def naive_check(ledger: MarginLedger, sub_id: str, leg: LedgerLeg) -> bool:
    """Baseline: apply the leg to a projection, then recompute every figure from scratch."""
    scen = ledger.projection(sub_id)
    if leg.kind == "spot":
        scen.trade_spot(leg.symbol, leg.signed_units, leg.price_units, leg.fee_units)
    else:
        scen.trade_perp(leg.symbol, leg.signed_units, leg.price_units, leg.fee_units)
    totals = naive_totals(ledger, sub_id, scen)
    quote = ledger.quote_asset
    im = requirements(totals, scen.balance(quote), ledger.assets[quote])[0]
    return totals[C_INIT] + totals[UPNL] + totals[FUND] - im >= 0


def bench_check(n_positions: int, rounds: int = 2000) -> None:
    ledger, (sub,) = build(n_positions, 10, 1)
    rng = random.Random(11)
    legs = []
    for i in range(rounds):
        if i % 2:
            sym = f"A{rng.randrange(9)}"
            kind = "spot"
        else:
            sym = f"P{rng.randrange(n_positions)}-PERP"
            kind = "perp"
        price = ledger.marks[sym].price_units
        legs.append(
            LedgerLeg(kind, sym, rng.choice(["buy", "sell"]), "0.5", str(to_decimal(price)), "1")
        )
    ledger.journal._lines.clear()
    fast, slow = [], []
    for leg in legs:
        t0 = time.perf_counter_ns()
        result = ledger.check_leg(sub, leg)
        t1 = time.perf_counter_ns()
        naive = naive_check(ledger, sub, leg)
        t2 = time.perf_counter_ns()
        assert result.accepted == naive or result.limit != "headroom", (leg, result)
        fast.append((t1 - t0) / 1000)
        slow.append((t2 - t1) / 1000)
    borrowed = sum(1 for u in ledger.subs[sub].balances.values() if u < 0)
    print(
        f"pre-trade check, {n_positions} positions, 10 assets ({borrowed} borrowed), {rounds} legs "
        f"(half spot): incremental p50 {statistics.median(fast):.1f} us p99 "
        f"{percentile(fast, 0.99):.1f} us | naive full recompute p50 "
        f"{statistics.median(slow):.1f} us p99 {percentile(slow, 0.99):.1f} us"
    )


def naive_scan(ledger: MarginLedger) -> list[str]:
    """Baseline: every subaccount's totals recomputed from scratch, then the maintenance test."""
    naive = []
    quote = ledger.quote_asset
    for sub_id in sorted(ledger.subs):
        state = ledger.subs[sub_id]
        t = ledger.recompute_totals(state)
        mm = requirements(t, state.balances.get(quote, 0), ledger.assets[quote])[1]
        if t[C_MAINT] + t[UPNL] + t[FUND] < mm or ledger.isolated_breach(state):
            naive.append(sub_id)
    return naive


def bench_scan(n_subs: int, n_positions: int = 5, repeats: int = 5) -> None:
    """The scan on a calm book (nothing breached), then after a 40% drop of every perp mark
    breached a share of the subaccounts (thin collateral), each against the naive recompute."""
    ledger, _subs = build(n_positions, 3, n_subs, deposit="150000")
    for label in ("calm", "after a -40% shock"):
        if label != "calm":
            for name in sorted(ledger.markets):
                ledger.set_mark(name, str(to_decimal(ledger.mark_units(name) * 6 // 10)))
        fast, slow = [], []
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            cached = ledger.liquidatable()
            t1 = time.perf_counter_ns()
            naive = naive_scan(ledger)
            t2 = time.perf_counter_ns()
            assert cached == naive
            fast.append((t1 - t0) / 1e6)
            slow.append((t2 - t1) / 1e6)
        print(
            f"liquidation scan, {n_subs} subaccounts x {n_positions} positions, {label} "
            f"({len(cached)} breached): breach sets median {statistics.median(fast):.3f} ms "
            f"max {max(fast):.3f} ms | naive recompute median {statistics.median(slow):.2f} ms"
        )


ACCOUNT = """[collateral]
USDC = "60000"
[[positions]]
symbol = "ETH-PERP"
size = "200"
entry = "3000"
mark = "3000"
max_leverage = 20
"""


def bench_cascade(crowd: int = 1000, repeats: int = 3) -> None:
    """An 8% ETH drop on the default market: ``crowd`` accounts like ACCOUNT liquidate into the
    same simulated venues (each round's orders consume the books and pools, the marks follow the
    venues, the next round liquidates again), against one account alone."""
    market = load_config(DEFAULT_CONFIG)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "account.toml"
        path.write_text(ACCOUNT)
        engine = StressEngine(load_portfolio(path), market)
    timings: dict[int, list[float]] = {1: [], crowd: []}
    rounds = {}
    for _ in range(repeats):
        for size in (1, crowd):
            t0 = time.perf_counter_ns()
            result = engine.run(shock("eth-8", {"ETH": "-0.08"}, crowd=size))
            timings[size].append((time.perf_counter_ns() - t0) / 1e6)
            rounds[size] = (result.cascade_rounds, len(result.liquidations))
    print(
        f"liquidation cascade through the simulated venues, {crowd} accounts: median "
        f"{statistics.median(timings[crowd]):.1f} ms ({rounds[crowd][0]} rounds, "
        f"{rounds[crowd][1]} liquidation steps) | one account median "
        f"{statistics.median(timings[1]):.1f} ms ({rounds[1][0]} rounds)"
    )


def _venue_accounts(n: int) -> tuple[object, object, list[str]]:
    """The default market and a ledger with ``n`` subaccounts, each 0.2 ETH-PERP long at 20x on
    30 USDC, then the ETH-PERP mark 4% down (every account due)."""
    from router.app import build_margin, load_market

    market = load_market()
    setup = build_margin(market)
    ledger = setup.ledger
    mark = ledger.marks["ETH-PERP"].price_units
    subs = []
    for i in range(n):
        sub = ledger.open_subaccount("crowd", f"s{i}")
        ledger.deposit(sub, "USDC", "30")
        ledger.apply_leg(sub, LedgerLeg("perp", "ETH-PERP", "buy", "0.2", to_text(mark)))
        subs.append(sub)
    ledger.set_mark("ETH-PERP", to_text(mark * 96 // 100))
    return market, setup, subs


def bench_venue_cascade(n: int = 1000, repeats: int = 3) -> None:
    """``n`` distinct subaccounts liquidated one after the other by the margin core's loop, every
    step routed through the default market's venues (the perp book, consumed account after
    account) and booked as filled, the oracle marks held at the shocked level, rounds until none
    is due; against the same accounts liquidated at the mark (no venues) in the same run."""
    import asyncio

    from router.execution.liquidation import VenueFiller, liquidate_through_venues

    venue_ms, mark_ms = [], []
    steps = blocked = 0
    for _ in range(repeats):
        market, setup, _subs = _venue_accounts(n)
        ledger = setup.ledger
        names = {name: symbol for symbol, name in setup.perp_markets.items()}

        async def cascade(ledger=ledger, market=market, names=names) -> tuple:
            taken = stuck = 0
            for _round in range(25):
                due = ledger.liquidatable()
                if not due:
                    break
                for sub in due:
                    filler = VenueFiller(market.adapters, names, ledger.quote_asset, f"b-{sub}")
                    result = await liquidate_through_venues(ledger, sub, filler)
                    taken += len(result.steps)
                    stuck += result.ended == "blocked"
            return taken, stuck

        t0 = time.perf_counter_ns()
        steps, blocked = asyncio.run(cascade())
        venue_ms.append((time.perf_counter_ns() - t0) / 1e6)
        ledger._check()
        _market, setup, _subs = _venue_accounts(n)
        t0 = time.perf_counter_ns()
        for sub in setup.ledger.liquidatable():
            setup.ledger.liquidate(sub)
        mark_ms.append((time.perf_counter_ns() - t0) / 1e6)
    print(
        f"liquidation of {n} distinct subaccounts through the venues (one loop, fills booked as "
        f"filled): median {statistics.median(venue_ms):.1f} ms "
        f"({steps} steps, {blocked} blocked by depth) | at the mark, no venues: median "
        f"{statistics.median(mark_ms):.1f} ms"
    )


if __name__ == "__main__":
    for n in (10, 50):
        bench_check(n)
    for n in (1000, 10_000):
        bench_scan(n)
    bench_cascade()
    bench_venue_cascade()
