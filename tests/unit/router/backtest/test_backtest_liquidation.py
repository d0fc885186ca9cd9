"""A backtest account liquidated through the replayed venues, as execute, paper and stress do.

A leveraged perp long plus ETH bought on quote credit, held through a replay that falls: the
margin core's loop closes it step by step on the replayed books and the pool at the prices they
show at that moment (the depth walked), the venues keep what was taken (the mark moves), no step
adds risk, and each liquidation ends above maintenance, flat or with bad debt booked; results.json
carries it as structured data, byte-identical on a re-run.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from router.backtest.engine import parse_spec, run_backtest
from router.backtest.report import liquidation_lines, summarise

T0 = 1_723_161_254_000_000_000  # ns
INTERVAL_NS = 100_000_000
START, STEP, GAP = Decimal("1000.00"), Decimal("1.00"), Decimal("0.50")
TOP = Decimal("0.5")  # the top level of each side is thin: a liquidation walks into the second


def falling_book_csv(path: Path, steps: int = 100) -> Path:
    """Two levels a side: bid p (``TOP``) and p - GAP (100), ask p + 0.01 (``TOP``) and
    p + GAP + 0.01 (100), p falling by STEP every 100 ms from START."""
    rows = ["local_ts_ns,exch_ts_ns,kind,side,price,qty"]

    def levels(p: Decimal) -> list[tuple[str, Decimal, Decimal]]:
        tick = Decimal("0.01")
        return [
            ("bid", p, TOP),
            ("bid", p - GAP, Decimal(100)),
            ("ask", p + tick, TOP),
            ("ask", p + GAP + tick, Decimal(100)),
        ]

    p = START
    rows += [f"{T0},{T0},snapshot,{side},{price},{qty}" for side, price, qty in levels(p)]
    for k in range(1, steps + 1):
        ts = T0 + k * INTERVAL_NS
        old, new = levels(p), levels(p - STEP)
        for side in ("bid", "ask"):  # bids first: a falling book never crosses in between
            rows += [f"{ts},{ts},depth,{side},{price},0" for s, price, _ in old if s == side]
            rows += [f"{ts},{ts},depth,{side},{price},{q}" for s, price, q in new if s == side]
        p -= STEP
    path.write_text("\n".join(rows) + "\n")
    return path


def spec_for(tmp_path: Path):
    spot = falling_book_csv(tmp_path / "spot.csv")
    perp = falling_book_csv(tmp_path / "perp.csv")
    raw = {
        "backtest": {"seed": 1, "compare_single_venue": False, "arb_interval_ms": 100},
        "data": [
            {
                "path": str(spot),
                "venue": "spot-book",
                "symbol": "ETH/USDT",
                "tick_size": "0.01",
                "lot_size": "0.0001",
                "quote_decimals": 8,
            },
            {
                "path": str(perp),
                "venue": "perp-book",
                "symbol": "ETH/USDT:USDT",
                "instrument": "perp",
                "tick_size": "0.01",
                "lot_size": "0.001",
                "quote_decimals": 8,
            },
        ],
        "venues": [
            {
                "name": "pool",
                "kind": "amm",
                "symbol": "ETH/USDT",
                "fee_pips": 3000,
                "gas": "0",
                "base_reserve": "50",
            }
        ],
        "margin": {
            "quote": "USDT",
            "balances": {"USDT": "1000"},
            "assets": {"ETH": {"initial_weight": "0.9", "maintenance_weight": "0.95"}},
            "markets": {"ETH/USDT:USDT": {"name": "ETH-PERP", "oracle": "ETH", "max_leverage": 20}},
        },
        "strategy": {
            "kind": "router.backtest.examples.leveraged:LeveragedLong",
            "perp_symbol": "ETH/USDT:USDT",
            "perp_qty": "10",
            "spot_symbol": "ETH/USDT",
            "spot_qty": "2",  # 1,000 USDT held: about 1,000 of it is borrowed
        },
    }
    return parse_spec(raw, tmp_path, str(tmp_path / "liquidation.toml"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("liquidation")
    first = json.dumps(summarise(run_backtest(spec_for(tmp))), indent=2, sort_keys=True)
    again = json.dumps(summarise(run_backtest(spec_for(tmp))), indent=2, sort_keys=True)
    return first, again


def _bid_at(ts_ns: int) -> Decimal:
    """The replayed top bid at ``ts_ns`` (the update at that time already applied)."""
    return START - STEP * ((ts_ns - T0) // INTERVAL_NS)


def test_results_are_byte_identical_on_a_rerun(run) -> None:
    first, again = run
    assert first == again


def test_the_account_is_liquidated_through_the_venues_at_their_then_prices(run) -> None:
    summary = json.loads(run[0])
    assert summary["executions"][0]["status"] == "filled"  # the positions were opened
    liquidations = summary["liquidations"]
    assert liquidations
    kinds = {step["kind"] for liq in liquidations for step in liq["steps"]}
    assert kinds == {"perp", "spot"}  # the perp and the ETH held against the quote debt
    venues = {fill["venue"] for liq in liquidations for s in liq["steps"] for fill in s["fills"]}
    assert venues == {"perp-book", "spot-book", "pool"}
    for liq in liquidations:
        for step in liq["steps"]:
            qty, price, mark = Decimal(step["qty"]), Decimal(step["price"]), Decimal(step["mark"])
            fills = step["fills"]
            assert {f["side"] for f in fills} == {step["side"]} == {"sell"}  # longs are sold
            assert sum(Decimal(f["qty"]) for f in fills) == qty
            # the booked price is the venues' all-in average, a sale's floored to the 1e-18 grid
            quote = sum(Fraction(f["quote_amount"]) for f in fills)
            assert price == Decimal(math.floor(quote / Fraction(qty) * 10**18)) / 10**18
            # what filling there cost against the mark, exactly
            assert Decimal(step["cost"]) == qty * (mark - price) > 0
            if step["kind"] == "perp":
                # the perp book as it then was: the top bid, then the level below it
                (fill,) = fills
                bid = _bid_at(liq["ts_ns"])
                top = min(qty, TOP)
                assert Decimal(fill["quote_amount"]) == top * bid + (qty - top) * (bid - GAP)
                assert mark == bid + Decimal("0.005")  # the mid the step was decided at
                if qty > TOP:
                    # the book keeps what the liquidation took: its mid (the mark) moved down
                    after = Decimal(liq["marks_after"]["ETH-PERP"])
                    assert after == (bid - GAP + bid + Decimal("0.01")) / 2 < mark


def test_no_step_adds_risk_and_each_liquidation_ends_above_maintenance_flat_or_in_bad_debt(
    run,
) -> None:
    summary = json.loads(run[0])
    samples = summary["margin"]
    for liq in summary["liquidations"]:
        assert liq["subaccount"] == "backtest/main" and liq["steps"]
        for step in liq["steps"]:
            assert Decimal(step["mm_after"]) <= Decimal(step["mm_before"])
        assert liq["ended"] in ("above_maintenance", "flat") or Decimal(liq["bad_debt"]) > 0
        # the sample taken right after it (same time) shows where it left the account
        after = [s for s in samples if s["ts_ns"] == liq["ts_ns"]][-1]
        if liq["ended"] == "above_maintenance":
            assert Decimal(after["maintenance_excess"]) >= 0


def test_the_command_prints_one_line_per_liquidation(run) -> None:
    summary = json.loads(run[0])
    lines = liquidation_lines(summary)
    assert len(lines) == len(summary["liquidations"])
    first, step = summary["liquidations"][0], summary["liquidations"][0]["steps"][0]
    assert lines[0] == (
        f"liquidation at 2024-08-08T23:54:18.900Z: sell {step['qty']} ETH-PERP at "
        f"{step['price']} on perp-book; ended {first['ended']}, bad debt {first['bad_debt']}"
    )
