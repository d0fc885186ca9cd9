"""Data that ends: a venue whose feed ended or gapped is stale (no quotes, no routing, no mids,
no marks, no funding on them), the report says when, and a window outside the data is an error."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from router.backtest.coverage import coverage_of
from router.backtest.engine import load_spec, parse_spec, run_backtest
from router.backtest.report import stale_lines, summarise
from router.sim.errors import BacktestError

from .conftest import T0

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
    short = summary["coverage"]["short"]
    stale_from, stale_to, reason = short["stale"][-1]
    assert reason == "data ended" and stale_to is None
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
    (cover,) = summary["coverage"].values()
    ((gap_from, gap_to, reason), _end) = cover["stale"]
    assert reason == "gap" and gap_to - gap_from == 2_500 * NS_MS
    assert not any(gap_from <= f["ts_ns"] < gap_to for f in summary["fills"])
    held = [e for e in summary["executions"] if "stale now: book" in e.get("error", "")]
    assert held and all(gap_from <= e["ts_ns"] < gap_to for e in held)
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
    stale_from = summary["coverage"]["binance-perp"]["stale"][-1][0]
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


def _spot_depth(local_ns: int, exch_ms: int, first: int, last: int, bid: str) -> str:
    ask = Decimal(bid) + Decimal("0.01")
    data = (
        f'{{"e":"depthUpdate","E":{exch_ms},"s":"ETHUSDT","U":{first},"u":{last},'
        f'"b":[["{bid}","5"]],"a":[["{ask}","5"]]}}'
    )
    return f'{local_ns} {{"stream":"ethusdt@depth@100ms","data":{data}}}'


def _spot_snapshot(local_ns: int, last_id: int, bid: str) -> str:
    ask = Decimal(bid) + Decimal("0.01")
    return f'{local_ns} {{"lastUpdateId":{last_id},"bids":[["{bid}","5"]],"asks":[["{ask}","5"]]}}'


def test_a_sync_loss_is_reported_as_an_interval_and_holds_the_children(tmp_path, spec_of) -> None:
    """A Binance spot capture: updates every 100 ms, ids skip at 2.0 s (the book empties and
    waits), a new snapshot at 3.0 s resyncs it. The report lists [2.0 s, 3.0 s, out of sync],
    the children due inside are held back, and the text says when."""
    t0_ms = T0 // NS_MS
    lines, update_id = [_spot_snapshot(T0, 100, "1000.00")], 100
    for k in range(1, 61):
        exch_ms = t0_ms + 100 * k
        update_id += 6 if k == 20 else 1  # five ids lost at 2.0 s
        lines.append(_spot_depth(exch_ms * NS_MS, exch_ms, update_id, update_id, "1000.00"))
        if k == 30:
            lines.append(_spot_snapshot(exch_ms * NS_MS, update_id, "1000.00"))
    path = tmp_path / "spot.jsonl"
    path.write_text("\n".join(lines) + "\n")
    twap = {"kind": "twap", "side": "buy", "qty": "4", "duration_s": "4", "slices": 4}
    # The first event is at 100 ms (the snapshot line has no exchange time: it takes the first
    # one seen), so the TWAP starts at 500 ms and sends at 0.5, 1.5, 2.5 and 3.5 s.
    spec = spec_of(path, twap, data={"format": "binance"}, start_offset_ms=400)
    summary = summarise(run_backtest(spec))
    (cover,) = summary["coverage"].values()
    lost = [s for s in cover["stale"] if s[2] == "out of sync (update-id gap)"]
    assert lost == [[T0 + 2_000 * NS_MS, T0 + 3_000 * NS_MS, "out of sync (update-id gap)"]]
    assert summary["books"]["book"]["gaps"] == 1
    # The child at 2.5 s is held back (the TWAP catches up at 3.5 s); the others fill.
    assert all(not T0 + 2_000 * NS_MS <= f["ts_ns"] < T0 + 3_000 * NS_MS for f in summary["fills"])
    held = [e for e in summary["executions"] if "error" in e]
    assert [e["ts_ns"] for e in held] == [T0 + 2_500 * NS_MS]
    assert Decimal(summary["parents"][0]["filled_qty"]) == 4
    assert stale_lines(summary)[0] == (
        "stale: book from 2024-08-08T23:54:16.000Z to 2024-08-08T23:54:17.000Z "
        "(out of sync (update-id gap))"
    )
