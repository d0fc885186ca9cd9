"""Latency that changes outcomes, by an exact and explained amount, on a market moving up by
0.10 every 100 ms (tests/unit/router/backtest/conftest.py): a buy that takes 500 ms to arrive
pays 5 steps more per unit; a decision on a 500 ms old feed sees a mid 5 steps lower."""

from __future__ import annotations

from decimal import Decimal

import pytest

from router.backtest.engine import run_backtest
from router.backtest.latency import LatencyModel, parse_latency
from router.backtest.report import COMPONENTS, summarise
from router.sim.errors import BacktestError

TWAP = {"kind": "twap", "side": "buy", "qty": "10", "duration_s": "5", "slices": 5}
MOVE_PER_MS = Decimal("0.10") / 100  # the synthetic market's drift
T0 = 1_723_161_254_000_000_000  # its first event (conftest.T0)


def _parent(spec) -> dict:
    (parent,) = summarise(run_backtest(spec))["parents"]
    assert sum(Decimal(parent[c]) for c in COMPONENTS) == Decimal(parent["shortfall"])
    return parent


def test_order_latency_makes_the_same_twap_pay_the_move_during_the_flight(
    moving_book, spec_of
) -> None:
    csv = moving_book()
    fast = _parent(spec_of(csv, TWAP, start_offset_ms=1_000))
    slow = _parent(
        spec_of(csv, TWAP, start_offset_ms=1_000, latency={"model": "constant", "order_ms": 500})
    )
    assert Decimal(fast["filled_qty"]) == Decimal(slow["filled_qty"]) == 10
    # Same decisions (same seen touch, so the same spread and drift) ...
    for key in ("spread", "drift"):
        assert Decimal(fast[key]) == Decimal(slow[key])
    # ... but each leg executes 500 ms later: 10 units x 500 ms x 0.001/ms = 5 more, all impact.
    extra = 10 * 500 * MOVE_PER_MS
    assert Decimal(slow["shortfall"]) - Decimal(fast["shortfall"]) == extra
    assert Decimal(slow["impact"]) - Decimal(fast["impact"]) == extra


def test_feed_latency_moves_the_decision_not_the_execution(moving_book, spec_of) -> None:
    csv = moving_book()
    fresh = _parent(spec_of(csv, TWAP, start_offset_ms=1_000))
    stale = _parent(
        spec_of(csv, TWAP, start_offset_ms=1_000, latency={"model": "constant", "feed_ms": 500})
    )
    # The fills are the same (orders go out at the same times, reach the book at once) ...
    assert Decimal(stale["avg_price"]) == Decimal(fresh["avg_price"])
    # ... but the arrival mid and every decision mid were seen 500 ms late, 0.5 lower: the
    # shortfall against the (seen) arrival mid grows by 10 x 0.5, and so does impact.
    assert Decimal(stale["arrival_mid"]) == Decimal(fresh["arrival_mid"]) - Decimal("0.5")
    assert Decimal(stale["shortfall"]) - Decimal(fresh["shortfall"]) == 5
    assert Decimal(stale["drift"]) == Decimal(fresh["drift"])


def test_a_limit_set_at_decision_time_rejects_legs_the_market_ran_away_from(
    moving_book, spec_of
) -> None:
    csv = moving_book()
    latency = {"model": "constant", "order_ms": 500}
    # 1 bp of 1000 is 0.10: the market moves 0.50 while the order flies.
    spec = spec_of(csv, TWAP, start_offset_ms=1_000, latency=latency, price_protection_bps=1)
    summary = summarise(run_backtest(spec))
    assert summary["fills"] == []
    errors = [e for e in summary["executions"] if "error" in e]
    assert len(errors) == 5

    def ask_at(ts_ns: int) -> Decimal:
        return Decimal("1000.01") + Decimal("0.10") * ((ts_ns - T0) // 100_000_000)

    for e in errors:  # the limit was above the ask seen at decision, below the ask at arrival
        assert ask_at(e["ts_ns"] - 500_000_000) < Decimal(e["limit_price"]) < ask_at(e["ts_ns"])
    # 60 bps is enough: everything fills.
    wide = spec_of(csv, TWAP, start_offset_ms=1_000, latency=latency, price_protection_bps=60)
    assert Decimal(_parent(wide)["filled_qty"]) == 10


def test_acks_reach_the_strategy_after_the_response_latency(moving_book, spec_of) -> None:
    csv = moving_book()
    latency = {"model": "constant", "order_ms": 20, "response_ms": 300}
    summary = summarise(run_backtest(spec_of(csv, TWAP, start_offset_ms=1_000, latency=latency)))
    for fill in summary["fills"]:
        assert fill["ack_ts_ns"] - fill["ts_ns"] == 300_000_000
        assert fill["ts_ns"] - fill["decision_ts_ns"] == 20_000_000


def test_per_venue_latency_overrides_the_default(moving_book, spec_of) -> None:
    csv = moving_book()
    latency = {"model": "constant", "order_ms": 500, "venues": {"book": {"order_ms": 0}}}
    per_venue = _parent(spec_of(csv, TWAP, start_offset_ms=1_000, latency=latency))
    none = _parent(spec_of(csv, TWAP, start_offset_ms=1_000))
    assert per_venue["shortfall"] == none["shortfall"]


def test_recorded_latency_draws_from_the_files_gaps_and_depends_on_the_seed(
    moving_book, spec_of
) -> None:
    csv = moving_book(local_delay_ms=40)  # every recorded gap is 40 ms (offset 40 ms: 0 left)
    spec = spec_of(csv, TWAP, start_offset_ms=1_000, latency={"model": "recorded", "order_ms": 7})
    summary = summarise(run_backtest(spec))
    assert {f["ts_ns"] - f["decision_ts_ns"] for f in summary["fills"]} == {7_000_000}
    gaps = [0, 10_000_000, 20_000_000]
    model = LatencyModel(parse_latency({"model": "recorded"}), 3, [("v", gaps, 0)])
    draws = [model.order("v") for _ in range(200)]
    assert set(draws) == set(gaps)
    again = LatencyModel(parse_latency({"model": "recorded"}), 3, [("v", gaps, 0)])
    assert [again.order("v") for _ in range(200)] == draws


def test_feed_arrivals_never_overtake_each_other() -> None:
    model = LatencyModel(parse_latency({"model": "constant", "jitter_ms": 50}), 5, [("v", [], 0)])
    arrivals = [model.arrival(0, ts * 1_000_000, 0) for ts in range(0, 1_000, 3)]
    assert arrivals == sorted(arrivals)
    assert all(a >= ts * 1_000_000 for a, ts in zip(arrivals, range(0, 1_000, 3)))


@pytest.mark.parametrize(
    "raw, field",
    [
        ({"model": "gauss"}, "backtest.latency.model"),
        ({"order_ms": -1}, "backtest.latency.order_ms"),
        ({"feed_ms": "5"}, "backtest.latency.feed_ms"),
        ({"response_ms": 10**9}, "backtest.latency.response_ms"),
        ({"venues": {"x": {"order_ms": 1}}}, "backtest.latency.venues.x"),
        ({"venues": {"book": {"speed": 1}}}, "backtest.latency.venues.book"),
        ({"typo_ms": 1}, "backtest.latency.typo_ms"),
    ],
)
def test_bad_latency_names_the_key(moving_book, spec_of, raw: dict, field: str) -> None:
    with pytest.raises(BacktestError) as info:
        spec_of(moving_book(), TWAP, latency=raw)
    assert info.value.field == field
