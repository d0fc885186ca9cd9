"""Pools replayed from Uniswap-v3-shaped events: every recorded result checked against the pool's
exact math while the pool is as recorded; bad files name file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.backtest.engine import load_spec, run_backtest
from router.sim.errors import FeedError
from router.sim.pool_events import HEADER, PoolReplay, read_pool_events

ROOT = Path(__file__).resolve().parents[4]
SAMPLE = ROOT / "tests/data/uniswap/eth_usdt_v3_sample.csv"
EXAMPLE = ROOT / "config/examples/backtest-pool-replay.toml"


def test_the_sample_replays_exactly_to_its_last_recorded_state() -> None:
    events = read_pool_events(SAMPLE)
    replay = PoolReplay(events, 500, 10)
    assert replay.advance(events[10].timestamp_ns) == 10  # up to a time: only what is due
    replay.advance(10**20)
    assert replay.exact and replay.applied == len(events) - 1
    last_swap = [e for e in events if e.event == "Swap"][-1]
    pool = replay.pool
    assert (pool.sqrt_price_x96, pool.liquidity, pool.tick) == (
        last_swap.sqrt_price_x96,
        last_swap.liquidity,
        last_swap.tick,
    )


def _tampered(tmp_path: Path, line: int, column: str, value: str) -> Path:
    rows = SAMPLE.read_text().splitlines()
    cells = rows[line - 1].split(",")
    cells[HEADER.index(column)] = value
    rows[line - 1] = ",".join(cells)
    out = tmp_path / "events.csv"
    out.write_text("\n".join(rows) + "\n")
    return out


@pytest.mark.parametrize(
    "line, column, value",
    [
        (6, "sqrt_price_x96", "4103990000000000000000000"),  # a swap that ended elsewhere
        (6, "tick", "-197374"),
        (3, "amount0", "1"),  # a mint that did not pay what the pool asks
    ],
)
def test_a_result_the_pool_math_does_not_give_names_the_row(tmp_path, line, column, value) -> None:
    path = _tampered(tmp_path, line, column, value)
    replay = PoolReplay(read_pool_events(path), 500, 10)
    with pytest.raises(FeedError) as info:
        replay.advance(10**20)
    assert info.value.field == f"{path}:{line}"


@pytest.mark.parametrize(
    "line, column, value, allowed",
    [
        (6, "event", "Flash", "event"),
        (6, "amount0", "1.5", "amount0"),
        (6, "owner", "someone", "owner: empty"),
        (3, "tick_lower", "", "tick_lower: required"),
        (6, "block_number", "19999999", "order"),
        (2, "event", "Swap", "Initialize"),
    ],
)
def test_bad_rows_are_refused_naming_file_and_line(tmp_path, line, column, value, allowed) -> None:
    path = _tampered(tmp_path, line, column, value)
    with pytest.raises(FeedError) as info:
        read_pool_events(path)
    assert info.value.field == f"{path}:{line}" and allowed in info.value.allowed


def test_a_bad_header_or_path_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "e.csv"
    bad.write_text("a,b\n")
    with pytest.raises(FeedError) as info:
        read_pool_events(bad)
    assert info.value.field == f"{bad}:1"
    with pytest.raises(FeedError) as info:
        read_pool_events(tmp_path / "missing.csv")
    assert info.value.field == "path"


def test_a_backtest_replays_the_pool_and_leaves_the_recording_when_it_trades_there() -> None:
    spec = load_spec(EXAMPLE, overrides={"backtest.compare_single_venue": False})
    traded = run_backtest(spec)
    assert traded["pool_replays"]["uni-v3-replayed"] == {"events_applied": 43, "as_recorded": False}
    untouched = run_backtest(spec, route_venues=["binance-spot"])
    assert untouched["pool_replays"]["uni-v3-replayed"]["as_recorded"] is True


def test_events_on_a_non_clmm_pool_are_refused() -> None:
    from router.sim.errors import BacktestError

    with pytest.raises(BacktestError) as info:
        load_spec(
            EXAMPLE,
            overrides={
                "venues": [{"name": "p", "kind": "amm", "symbol": "ETH/USDT", "events": "x"}]
            },
        )
    assert info.value.field == "venues[0].events"
