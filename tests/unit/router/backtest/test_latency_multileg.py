"""The basis trade (spot leg + perpetual hedge, through the executor) under the latency model, on
a spot and a perpetual book both moving up 0.10 every 100 ms (conftest): each leg reaches its
venue after the order latency and trades on the book then; the hedge is decided when the
leader's fill is acknowledged and sized to it. Expected prices are computed here from the
books' own formula, not read back from a run."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from router.backtest.engine import parse_spec, run_backtest
from router.backtest.report import COMPONENTS, summarise

from .conftest import T0, book_spec

MS = 1_000_000
STEP = Decimal("0.10")  # every 100 ms
TICK = Decimal("0.01")
SPOT_BID0, PERP_BID0 = Decimal("1000.00"), Decimal("998.00")
START_MS = 1_000
BASIS = {
    "kind": "basis",
    "qty": "2",
    "spot_symbol": "ETH/USDT",
    "perp_symbol": "ETH/USDT:USDT",
    "funding_interval_s": "1",
}


def bid_at(bid0: Decimal, ts_ns: int) -> Decimal:
    """The synthetic book's best bid at exchange time ``ts_ns`` (a step lands at each 100 ms)."""
    return bid0 + STEP * ((ts_ns - T0) // (100 * MS))


def _spec(
    tmp_path: Path,
    moving_book,
    *,
    spot_lots: str = "100",
    perp_stop_ms: int | None = None,
    **latency,
):
    spot = moving_book("spot.csv", start=str(SPOT_BID0), size=spot_lots)
    perp = moving_book("perp.csv", start=str(PERP_BID0), stop_ms=perp_stop_ms)
    raw = book_spec(spot, BASIS, start_offset_ms=START_MS, latency={"model": "constant", **latency})
    raw["data"][0]["venue"] = "spot"
    raw["data"].append(
        dict(
            raw["data"][0],
            path=str(perp),
            venue="perp",
            symbol="ETH/USDT:USDT",
            lot_size="0.001",
            stale_after_ms=100,
        )
    )
    raw["margin"] = {
        "quote": "USDT",
        "balances": {"USDT": "10000"},
        "assets": {"ETH": {"initial_weight": "0.9", "maintenance_weight": "0.95"}},
        "markets": {"ETH/USDT:USDT": {"name": "ETH-PERP", "oracle": "ETH", "max_leverage": 20}},
    }
    return parse_spec(raw, tmp_path, str(tmp_path / "basis.toml"))


def _run(spec) -> dict:
    summary = summarise(run_backtest(spec))
    for parent in summary["parents"]:
        assert sum(Decimal(parent[c]) for c in COMPONENTS) == Decimal(parent["shortfall"])
    return summary


def _fills(summary: dict) -> tuple[dict, dict]:
    spot = [f for f in summary["fills"] if f["parent"] == "basis-spot"]
    perp = [f for f in summary["fills"] if f["parent"] == "basis-perp"]
    assert len(spot) == len(perp) == 1
    return spot[0], perp[0]


@pytest.mark.parametrize("order_ms", [0, 500])
def test_each_leg_trades_on_the_book_when_it_arrives(tmp_path, moving_book, order_ms) -> None:
    summary = _run(_spec(tmp_path, moving_book, order_ms=order_ms))
    spot, perp = _fills(summary)
    decided = T0 + START_MS * MS
    # The leader is decided at the start and reaches the spot book order_ms later ...
    assert spot["decision_ts_ns"] == decided
    assert spot["ts_ns"] == decided + order_ms * MS
    assert Decimal(spot["quote_amount"]) == 2 * (bid_at(SPOT_BID0, spot["ts_ns"]) + TICK)
    # ... the hedge is decided when the leader's fill is acknowledged (no response latency here)
    # and sells on the perpetual's book when it gets there, another order_ms later.
    assert perp["decision_ts_ns"] == spot["ack_ts_ns"] == spot["ts_ns"]
    assert perp["ts_ns"] == perp["decision_ts_ns"] + order_ms * MS
    assert Decimal(perp["quote_amount"]) == 2 * bid_at(PERP_BID0, perp["ts_ns"])
    assert summary["executions"][0]["status"] == "filled"


def test_half_a_second_of_latency_costs_the_leader_and_pays_the_hedge(
    tmp_path, moving_book
) -> None:
    fast = {p["name"]: p for p in _run(_spec(tmp_path, moving_book))["parents"]}
    slow_summary = _run(_spec(tmp_path, moving_book, order_ms=500))
    slow = {p["name"]: p for p in slow_summary["parents"]}
    # Same decision for the leader: same arrival mid, spread and drift.
    for key in ("arrival_mid", "spread", "drift"):
        assert fast["basis-spot"][key] == slow["basis-spot"][key]
    # The spot buy arrives 500 ms later: 5 steps of 0.10 higher, on 2 ETH = 1.00 more, all impact.
    move = 2 * 5 * STEP
    spot_extra = Decimal(slow["basis-spot"]["shortfall"]) - Decimal(fast["basis-spot"]["shortfall"])
    assert spot_extra == move
    assert Decimal(slow["basis-spot"]["impact"]) - Decimal(fast["basis-spot"]["impact"]) == move
    # The perp sell is decided 500 ms later (after the leader's flight) and flies 500 ms more:
    # it sells 10 steps higher, 2.00 less shortfall against the arrival mid; of that, 1.00 is the
    # drift to its decision and 1.00 the move during its own flight (impact beyond the drift).
    perp_gain = Decimal(fast["basis-perp"]["shortfall"]) - Decimal(slow["basis-perp"]["shortfall"])
    assert perp_gain == 2 * move
    assert Decimal(fast["basis-perp"]["drift"]) - Decimal(slow["basis-perp"]["drift"]) == move
    # Exactly: the leader pays the move at 1000 + 500 ms, the hedge earns it at 1000 + 1000 ms.
    spot_mid0 = SPOT_BID0 + 10 * STEP + TICK / 2
    perp_mid0 = PERP_BID0 + 10 * STEP + TICK / 2
    assert Decimal(slow["basis-spot"]["shortfall"]) == 2 * (
        SPOT_BID0 + 15 * STEP + TICK - spot_mid0
    )
    assert Decimal(slow["basis-perp"]["shortfall"]) == 2 * (perp_mid0 - (PERP_BID0 + 20 * STEP))
    assert Decimal(slow["basis-spot"]["filled_qty"]) == Decimal(slow["basis-perp"]["filled_qty"])


def test_the_hedge_is_sized_to_the_leaders_actual_fill(tmp_path, moving_book) -> None:
    # The spot ask holds 1.5 ETH: the leader takes it when it arrives (500 ms after the start);
    # re-planned at its acknowledgement, the seen ask is what we took, so nothing more is fillable
    # within the limit and the leader ends partial at 1.5 ...
    summary = _run(_spec(tmp_path, moving_book, spot_lots="1.5", order_ms=500))
    spot, perp = _fills(summary)
    assert Decimal(spot["qty"]) == Decimal("1.5")
    assert Decimal(spot["quote_amount"]) == Decimal("1.5") * (
        bid_at(SPOT_BID0, spot["ts_ns"]) + TICK
    )
    (done,) = summary["executions"]
    assert done["status"] == "partial" and "nothing fillable" in done["reason"]
    # ... and the hedge, decided at that acknowledgement, sells exactly 1.5, not the planned 2,
    # on the perpetual's book 500 ms later.
    assert perp["decision_ts_ns"] == spot["ack_ts_ns"]
    assert Decimal(perp["qty"]) == Decimal("1.5")
    assert Decimal(perp["quote_amount"]) == Decimal("1.5") * bid_at(PERP_BID0, perp["ts_ns"])


def test_a_hedge_reaching_a_venue_whose_data_ended_is_rejected_and_the_leader_unwound(
    tmp_path, moving_book
) -> None:
    # The perpetual's data ends at 1.7 s (stale from 1.8 s). The hedge, decided at 1.5 s on a
    # fresh view, reaches the perp at 2.0 s: rejected. Told so at once (no response latency), the
    # executor finds nothing fillable and unwinds: the spot sell decided at 2.0 s fills at 2.5 s.
    summary = _run(_spec(tmp_path, moving_book, perp_stop_ms=1_700, order_ms=500))
    rejected, done = summary["executions"]
    assert rejected["venue"] == "perp" and rejected["ts_ns"] == T0 + 2_000 * MS
    assert rejected["error"] == "rejected: the venue's data is stale at arrival"
    assert done["status"] == "unwound"
    buy, sell = summary["fills"]
    assert (buy["side"], buy["ts_ns"]) == ("buy", T0 + 1_500 * MS)
    assert Decimal(buy["quote_amount"]) == 2 * (bid_at(SPOT_BID0, buy["ts_ns"]) + TICK)
    assert (sell["side"], sell["decision_ts_ns"], sell["ts_ns"]) == (
        "sell",
        T0 + 2_000 * MS,
        T0 + 2_500 * MS,
    )
    assert Decimal(sell["quote_amount"]) == 2 * bid_at(SPOT_BID0, sell["ts_ns"])
    spot, perp = summary["parents"]
    assert Decimal(spot["filled_qty"]) == 0 == Decimal(perp["filled_qty"])
    # Round trip: bought at the ask at 1.5 s, sold at the bid at 2.5 s, 0.99 higher per ETH.
    assert Decimal(spot["shortfall"]) == Decimal(buy["quote_amount"]) - Decimal(
        sell["quote_amount"]
    )


def test_feed_latency_moves_both_legs_decisions_not_their_fills(tmp_path, moving_book) -> None:
    fresh = _run(_spec(tmp_path, moving_book))
    late = _run(_spec(tmp_path, moving_book, feed_ms=500))
    # Same fills (the orders go out at the same instants and reach the books at once) ...
    assert [(f["ts_ns"], f["quote_amount"]) for f in late["fills"]] == [
        (f["ts_ns"], f["quote_amount"]) for f in fresh["fills"]
    ]
    # ... but both legs were decided on books seen 500 ms late, 5 steps lower: the arrival mids
    # are 0.50 lower, so against them the buy cost 2 x 0.50 more and the sell 2 x 0.50 less.
    before = {p["name"]: p for p in fresh["parents"]}
    for parent in late["parents"]:
        assert (
            Decimal(parent["arrival_mid"])
            == Decimal(before[parent["name"]]["arrival_mid"]) - 5 * STEP
        )
        moved = Decimal(parent["shortfall"]) - Decimal(before[parent["name"]]["shortfall"])
        assert moved == (1 if parent["side"] == "buy" else -1) * 2 * 5 * STEP
    for fill in late["fills"]:
        bid0 = SPOT_BID0 if fill["parent"] == "basis-spot" else PERP_BID0
        assert Decimal(fill["decision_bid"]) == bid_at(bid0, fill["decision_ts_ns"] - 500 * MS)
