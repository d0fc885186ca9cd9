"""Synthetic markets for backtest tests: a CSV book (the documented user format) whose touch moves
by a fixed step every interval, so every latency effect has an exact, predictable size."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

T0 = 1_723_161_254_000_000_000  # ns


def moving_book_csv(
    path: Path,
    *,
    steps: int = 100,
    interval_ms: int = 100,
    step: str = "0.10",
    start: str = "1000.00",
    size: str = "100",
    local_delay_ms: int = 0,
    stop_ms: int | None = None,
    gap_ms: tuple[int, int] | None = None,
) -> Path:
    """A one-level-a-side book: bid ``start``, ask ``start + 0.01``, both moving up by ``step``
    every ``interval_ms`` (``steps`` times); ``stop_ms``: no more rows after that time; ``gap_ms``:
    no rows in that window (the book catches up at its end)."""
    rows = ["local_ts_ns,exch_ts_ns,kind,side,price,qty"]
    bid, tick, move = Decimal(start), Decimal("0.01"), Decimal(step)
    delay = local_delay_ms * 1_000_000
    rows.append(f"{T0 + delay},{T0},snapshot,bid,{bid},{size}")
    rows.append(f"{T0 + delay},{T0},snapshot,ask,{bid + tick},{size}")
    for k in range(1, steps + 1):
        ts = T0 + k * interval_ms * 1_000_000
        if stop_ms is not None and ts - T0 > stop_ms * 1_000_000:
            break
        new = bid + move
        if gap_ms is not None and gap_ms[0] * 1_000_000 < ts - T0 < gap_ms[1] * 1_000_000:
            continue
        for side, old_price, new_price in (("bid", bid, new), ("ask", bid + tick, new + tick)):
            rows.append(f"{ts + delay},{ts},depth,{side},{old_price},0")
            rows.append(f"{ts + delay},{ts},depth,{side},{new_price},{size}")
        bid = new
    path.write_text("\n".join(rows) + "\n")
    return path


def book_spec(csv: Path, strategy: dict, **backtest) -> dict:
    """A backtest declaration over one synthetic CSV book, no fees, no pools."""
    return {
        "backtest": {"seed": 1, "compare_single_venue": False, **backtest},
        "data": [
            {
                "path": str(csv),
                "venue": "book",
                "symbol": "ETH/USDT",
                "tick_size": "0.01",
                "lot_size": "0.0001",
                "quote_decimals": 8,
            }
        ],
        "strategy": strategy,
    }


@pytest.fixture
def moving_book(tmp_path: Path):
    """``moving_book(name="book.csv", **options)`` writes :func:`moving_book_csv` in tmp_path."""

    def make(name: str = "book.csv", **options) -> Path:
        return moving_book_csv(tmp_path / name, **options)

    return make


@pytest.fixture
def spec_of():
    """``spec_of(csv, strategy, **backtest)``: the parsed spec of :func:`book_spec`."""
    from router.backtest.engine import parse_spec

    def make(
        csv: Path, strategy: dict, data: dict | None = None, venues: list | None = None, **backtest
    ):
        raw = book_spec(csv, strategy, **backtest)
        raw["data"][0].update(data or {})
        if venues:
            raw["venues"] = venues
        return parse_spec(raw, csv.parent, str(csv.with_suffix(".toml")))

    return make
