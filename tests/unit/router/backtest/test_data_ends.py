"""Data that ends: a venue whose feed ended or gapped is stale (no quotes, no routing, no mids,
no marks, no funding on them), the report says when, and a window outside the data is an error."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from router.backtest.coverage import coverage_of
from router.backtest.engine import load_spec, parse_spec, run_backtest
from router.backtest.report import summarise
from router.sim.errors import BacktestError

ROOT = Path(__file__).resolve().parents[4]
BASIS = ROOT / "config/examples/backtest-basis.toml"
TWAP = {"kind": "twap", "side": "buy", "qty": "8", "duration_s": "8", "slices": 8}
NS_MS = 1_000_000


def _two_books(moving_book, stop_ms: int) -> dict:
    short = moving_book("short.csv", stop_ms=stop_ms, step="0", start="999.00")
    long = moving_book("long.csv", step="0")
    data = [
        {
            "path": str(path),
            "venue": venue,
            "symbol": "ETH/USDT",
            "tick_size": "0.01",
            "lot_size": "0.0001",
            "quote_decimals": 8,
            "stale_after_ms": 1_000,
        }
        for path, venue in ((short, "short"), (long, "long"))
    ]
    return {
        "backtest": {"seed": 1, "compare_single_venue": False, "start_offset_ms": 500},
        "data": data,
        "strategy": TWAP,
    }


def test_an_ended_feed_stops_quoting_and_the_router_moves_on(moving_book) -> None:
    # "short" is the cheaper book (ask 999.01 vs 1000.01) until its data ends at 3 s.
    raw = _two_books(moving_book, stop_ms=3_000)
    summary = summarise(run_backtest(parse_spec(raw, Path("."))))
    short, _long = summary["coverage"]
    stale_from = short["stale"][-1]["from_ts_ns"]
    assert short["stale"][-1]["reason"] == "data ended" and short["stale"][-1]["to_ts_ns"] is None
    assert stale_from == short["last_ts_ns"] + 1_000 * NS_MS
    by_venue = {f["venue"]: [] for f in summary["fills"]}
    for f in summary["fills"]:
        by_venue[f["venue"]].append(f["ts_ns"])
    assert by_venue["short"] and max(by_venue["short"]) < stale_from
    assert by_venue["long"] and min(by_venue["long"]) >= stale_from
    (parent,) = summary["parents"]
    assert Decimal(parent["filled_qty"]) == 8


def test_a_gap_with_no_alternative_holds_the_children_back_and_says_why(
    moving_book, spec_of
) -> None:
    csv = moving_book(gap_ms=(3_000, 6_000))
    spec = spec_of(csv, TWAP, data={"stale_after_ms": 500}, start_offset_ms=500)
    summary = summarise(run_backtest(spec))
    (cover,) = summary["coverage"]
    (gap, _end) = cover["stale"]
    assert gap["reason"] == "gap" and gap["to_ts_ns"] - gap["from_ts_ns"] == 2_500 * NS_MS
    assert not any(gap["from_ts_ns"] <= f["ts_ns"] < gap["to_ts_ns"] for f in summary["fills"])
    held = [e for e in summary["executions"] if "stale now: book" in e.get("error", "")]
    assert held and all(gap["from_ts_ns"] <= e["ts_ns"] < gap["to_ts_ns"] for e in held)
    # The TWAP catches up after the gap (a child held back is not counted as sent).
    (parent,) = summary["parents"]
    assert Decimal(parent["filled_qty"]) == 8


def test_gaps_are_stale_until_the_next_event() -> None:
    events = [(t * NS_MS, 0, 0, 1, None) for t in (0, 100, 200, 5_000, 5_100)]
    cover = coverage_of("v", events, 1_000 * NS_MS)
    assert cover.stale == (
        (1_200 * NS_MS, 5_000 * NS_MS, "gap"),
        (6_100 * NS_MS, None, "data ended"),
    )
    assert not cover.is_stale(1_199 * NS_MS) and cover.is_stale(1_200 * NS_MS)
    assert not cover.is_stale(5_000 * NS_MS) and cover.is_stale(7_000 * NS_MS)


def test_funding_stops_when_the_perp_data_ends() -> None:
    summary = summarise(run_backtest(load_spec(BASIS)))
    perp = next(c for c in summary["coverage"] if c["venue"] == "binance-perp")
    stale_from = perp["stale"][-1]["from_ts_ns"]
    assert summary["funding"] and all(f["ts_ns"] < stale_from for f in summary["funding"])
    assert summary["funding_skipped"]
    assert all(s["ts_ns"] >= stale_from for s in summary["funding_skipped"])
    late = [m for m in summary["margin"] if m["ts_ns"] >= stale_from]
    assert late and all("ETH-PERP" in m["stale_marks"] for m in late)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"backtest.start_offset_ms": 10**7}, "backtest.start_offset_ms"),
        (
            {"backtest.start_offset_ms": 2_000, "backtest.end_offset_ms": 1_000},
            "backtest.end_offset_ms",
        ),
    ],
)
def test_a_window_outside_the_data_is_an_error(overrides: dict, field: str) -> None:
    with pytest.raises(BacktestError) as info:
        run_backtest(load_spec(BASIS, overrides=overrides))
    assert info.value.field == field


def test_the_cli_exits_2_on_a_window_past_the_data(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "router.cli",
            "backtest",
            "--config",
            str(BASIS),
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text(
        BASIS.read_text()
        .replace("start_offset_ms = 1_500", "start_offset_ms = 100_000_000")
        .replace("../../tests", str(ROOT / "tests"))
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "router.cli",
            "backtest",
            "--config",
            str(bad),
            "--out",
            str(tmp_path / "bad"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "backtest.start_offset_ms" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "bad").exists()
