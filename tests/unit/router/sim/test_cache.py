"""Parse once, replay many: the columnar feed cache gives exactly the parsed feeds, and a whole
backtest from the cache writes the same bytes as one from the gzip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from router.sim.cache import cache_key, read_feed_cached
from router.sim.errors import FeedError
from router.sim.feed import Grid, read_feed

ROOT = Path(__file__).resolve().parents[4]
DATA = ROOT / "tests/data/binance"
PERP = DATA / "usdm_ethusdt_20240808_first12s.gz"
SPOT = DATA / "spot_ethusdt_20240808_first90s.gz"
CSV = """local_ts_ns,exch_ts_ns,kind,side,price,qty
1723161254000000000,1723161254000000000,snapshot,bid,2683.80,3.0292
1723161254000000000,1723161254000000000,snapshot,ask,2683.81,31.4395
1723161254100000000,1723161254100000000,depth,bid,2683.79,1.5
1723161254100000000,1723161254100000000,depth,bid,2683.80,0
1723161254200000000,1723161254200000000,trade,sell,2683.79,0.25
"""


@pytest.mark.parametrize(
    "path, grid, tickers",
    [
        (PERP, ("0.01", "0.001"), False),
        (PERP, ("0.01", "0.001"), True),
        (SPOT, ("0.01", "0.0001"), False),
    ],
)
def test_the_cache_returns_exactly_the_parsed_feed(tmp_path: Path, path, grid, tickers) -> None:
    g = Grid(*grid)
    parsed = read_feed(path, g, file_index=3, tickers=tickers)
    first, hit = read_feed_cached(path, g, tmp_path, file_index=3, tickers=tickers)
    again, hit_again = read_feed_cached(path, g, tmp_path, file_index=3, tickers=tickers)
    assert (hit, hit_again) == (False, True)
    assert first == parsed and again == parsed
    assert [type(e[4][3]) for e in again.events if e[3] == 1] == [
        type(e[4][3]) for e in parsed.events if e[3] == 1
    ]
    # Another file index re-bases the sequence numbers only.
    other, _ = read_feed_cached(path, g, tmp_path, file_index=0, tickers=tickers)
    assert other == read_feed(path, g, file_index=0, tickers=tickers)


def test_csv_feeds_with_no_update_ids_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "book.csv"
    source.write_text(CSV)
    g = Grid("0.01", "0.0001")
    read_feed_cached(source, g, tmp_path / "cache")
    cached, hit = read_feed_cached(source, g, tmp_path / "cache")
    assert hit and cached == read_feed(source, g)


def test_the_key_follows_the_file_the_grid_and_the_options(tmp_path: Path) -> None:
    g = Grid("0.01", "0.001")
    keys = {
        cache_key("a" * 64, g, "auto", False),
        cache_key("b" * 64, g, "auto", False),
        cache_key("a" * 64, Grid("0.1", "0.001"), "auto", False),
        cache_key("a" * 64, Grid("0.01", "0.01"), "auto", False),
        cache_key("a" * 64, g, "binance", False),
        cache_key("a" * 64, g, "auto", True),
    }
    assert len(keys) == 6
    source = tmp_path / "book.csv"
    source.write_text(CSV)
    read_feed_cached(source, Grid("0.01", "0.0001"), tmp_path / "c")
    source.write_text(CSV.replace("0.25", "0.5"))  # a changed file is a new entry, not a stale one
    changed, hit = read_feed_cached(source, Grid("0.01", "0.0001"), tmp_path / "c")
    assert not hit and changed.events[-1][4][2] == 5000


def test_a_damaged_entry_is_replaced(tmp_path: Path) -> None:
    g = Grid("0.01", "0.001")
    read_feed_cached(PERP, g, tmp_path)
    (entry,) = tmp_path.glob("*.npz")
    entry.write_bytes(b"not an npz")
    feed, hit = read_feed_cached(PERP, g, tmp_path)
    assert not hit and feed == read_feed(PERP, g)
    assert read_feed_cached(PERP, g, tmp_path)[1]


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"cache_dir": ""}, "cache_dir"),
        ({"cache_dir": 5}, "cache_dir"),
        ({"path": "/no/such/file.gz"}, "path"),
        ({"grid": "0.01"}, "grid"),
        ({"file_index": -1}, "file_index"),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict, field: str) -> None:
    args = {"path": PERP, "grid": Grid("0.01", "0.001"), "cache_dir": tmp_path, **kwargs}
    with pytest.raises(FeedError) as info:
        read_feed_cached(args.pop("path"), args.pop("grid"), args.pop("cache_dir"), **args)
    assert info.value.field == field


def _backtest(config: Path, out: Path, *extra: str) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "router.cli",
            "backtest",
            "--config",
            str(config),
            "--out",
            str(out),
            "--quiet",
            "--no-plots",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr


def test_a_backtest_from_the_cache_writes_the_same_bytes_as_from_the_gzip(tmp_path: Path) -> None:
    config = ROOT / "config/examples/backtest-basis.toml"
    cache = tmp_path / "cache"
    _backtest(config, tmp_path / "gzip", "--no-cache")
    _backtest(config, tmp_path / "cold", "--cache-dir", str(cache))
    _backtest(config, tmp_path / "warm", "--cache-dir", str(cache))
    assert len(list(cache.glob("*.npz"))) == 2
    for name in (
        "results.json",
        "fills.parquet",
        "parents.parquet",
        "margin.parquet",
        "manifest.json",
    ):
        gz = (tmp_path / "gzip" / name).read_bytes()
        assert (tmp_path / "cold" / name).read_bytes() == gz, name
        assert (tmp_path / "warm" / name).read_bytes() == gz, name


def test_a_sweep_through_the_cache_gives_the_same_runs(tmp_path: Path) -> None:
    from router.backtest.sweep import run_sweep

    config = ROOT / "config/examples/backtest-basis.toml"
    grid = {"backtest.end_offset_ms": [6_000, 9_000]}
    plain = run_sweep(config, grid)
    cached = run_sweep(config, grid, cache_dir=tmp_path)
    assert cached == plain and len(list(tmp_path.glob("*.npz"))) == 2


def test_a_cache_dir_that_is_a_file_exits_2_with_one_line(tmp_path: Path, capsys) -> None:
    from router.cli import main

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    config = ROOT / "config/examples/backtest-basis.toml"
    out = tmp_path / "out"
    code = main(
        [
            "backtest",
            "--config",
            str(config),
            "--out",
            str(out),
            "--quiet",
            "--cache-dir",
            str(blocker),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("crossroute: error: cache_dir") and err.count("\n") == 1
    assert not out.exists()
