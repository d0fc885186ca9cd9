"""Exact parsing of the Binance capture format and of the CSV format."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.sim.errors import FeedError
from router.sim.feed import DEPTH, SNAPSHOT, TRADE, Grid, read_feed

ROOT = Path(__file__).resolve().parents[4]
SPOT = ROOT / "tests/data/binance/spot_ethusdt_20240808_first90s.gz"
PERP = ROOT / "tests/data/binance/usdm_ethusdt_20240808_first12s.gz"


@settings(max_examples=200)
@given(
    st.decimals(min_value=0, max_value=10**6, places=8, allow_nan=False, allow_infinity=False),
    st.integers(0, 6),
)
def test_grid_ticks_equal_decimal_division_for_any_padding(value: Decimal, pad: int) -> None:
    grid = Grid("0.00000001", "0.001")
    text = format(value, "f") + ("0" * pad if "." in format(value, "f") else "")
    assert grid.ticks(text) == int(value / Decimal("0.00000001"))


@pytest.mark.parametrize("text", ["1.005", "-1.00", "1_0", " 1", "1e3", "", "1.2.3", "١٢"])
def test_grid_refuses_off_grid_or_malformed_prices(text: str) -> None:
    with pytest.raises(FeedError) as err:
        Grid("0.01", "1").ticks(text)
    assert err.value.value == text


def test_grid_non_power_of_ten_tick_is_exact() -> None:
    grid = Grid("0.5", "0.25")
    assert grid.ticks("101.5") == 203 and grid.lots("1.75") == 7
    with pytest.raises(FeedError):
        grid.ticks("101.25")


def test_spot_sample_counts_match_its_readme() -> None:
    feed = read_feed(SPOT, Grid("0.01", "0.0001"))
    assert feed.counts == {"snapshot": 1, "depth": 896, "trade": 1413, "ticker": 6795}
    assert len(feed.sha256) == 64
    keys = [(e[0], e[1]) for e in feed.events]
    assert keys == sorted(keys)
    snap = next(e for e in feed.events if e[3] == SNAPSHOT)
    assert snap[4][0] == 35346513512 and snap[4][1][0] == (268380, 30292)


def test_perp_sample_parses_with_prev_update_ids() -> None:
    feed = read_feed(PERP, Grid("0.01", "0.001"), file_index=1)
    assert feed.counts == {"snapshot": 1, "depth": 231, "trade": 435, "ticker": 2254}
    depth = next(e for e in feed.events if e[3] == DEPTH)
    assert depth[4][2] is not None and depth[1] >> 40 == 1
    # the collector clock is behind Binance's: the offset is negative and the data latency >= 0
    assert feed.clock_offset_ns < 0
    assert all(
        e[2] - e[0] - feed.clock_offset_ns >= 0 for e in feed.events if e[3] in (DEPTH, TRADE)
    )


def _write(tmp_path: Path, lines: list[str], name: str = "x.gz") -> Path:
    path = tmp_path / name
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "line, field",
    [
        ('abc {"stream":"x"}', ":1"),
        ("1 {not json", ":1"),
        ('1 {"stream":"s","data":{"e":"trade","t":1,"p":"1.001","q":"1","T":5,"m":true}}', ".p"),
        ('1 {"stream":"s","data":{"e":"trade","t":1,"p":"1.00","q":"1","T":5,"m":"yes"}}', ".m"),
        ('1 {"stream":"s","data":{"e":"mystery"}}', ":1"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, line: str, field: str) -> None:
    path = _write(tmp_path, [line])
    with pytest.raises(FeedError) as err:
        read_feed(path, Grid("0.01", "1"))
    assert "x.gz:1" in err.value.field and field in err.value.field


def test_csv_groups_levels_into_snapshots_and_updates(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(
        "local_ts_ns,exch_ts_ns,kind,side,price,qty\n"
        "10,5,snapshot,bid,100.00,2\n10,5,snapshot,ask,100.10,3\n"
        "20,15,depth,bid,100.05,1\n20,15,depth,ask,100.10,0\n30,25,trade,sell,100.05,1\n"
    )
    feed = read_feed(path, Grid("0.01", "1"))
    kinds = [e[3] for e in feed.events]
    assert kinds == [SNAPSHOT, DEPTH, TRADE]
    assert feed.events[1][4] == (None, None, None, [(10005, 1)], [(10010, 0)])
    assert feed.events[2][4] == (1, 10005, 1, "sell") and feed.clock_offset_ns == 5


def test_csv_bad_header_and_bad_side_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "a.csv"
    bad.write_text("ts,price\n1,2\n")
    with pytest.raises(FeedError):
        read_feed(bad, Grid("0.01", "1"))
    bad.write_text("local_ts_ns,exch_ts_ns,kind,side,price,qty\n1,1,depth,up,1.00,1\n")
    with pytest.raises(FeedError) as err:
        read_feed(bad, Grid("0.01", "1"))
    assert err.value.field.endswith(":2.side")
