"""Plots people read: what is drawn, what is skipped and why (the PNGs were looked at by eye;
see docs/backtest.md)."""

from __future__ import annotations

from pathlib import Path

from router.backtest.engine import load_spec, run_backtest
from router.backtest.plots import write_plots
from router.backtest.report import cumulative_costs

ROOT = Path(__file__).resolve().parents[4]
PNG = b"\x89PNG\r\n\x1a\n"


def test_a_run_without_margin_skips_the_headroom_plot_and_says_so(moving_book, spec_of, tmp_path):
    twap = {"kind": "twap", "side": "buy", "qty": "1", "duration_s": "2", "slices": 2}
    raw = run_backtest(spec_of(moving_book(), twap, start_offset_ms=500))
    written, skipped = write_plots(raw, tmp_path, 1_000_000_000, cumulative_costs(raw))
    assert written == ["price_fills.png", "cumulative_cost.png"]
    assert skipped == {"margin_headroom.png": "no margin account in this run"}
    assert all((tmp_path / name).read_bytes()[:8] == PNG for name in written)


def test_a_run_without_fills_skips_the_cost_plot(moving_book, spec_of, tmp_path):
    twap = {"kind": "twap", "side": "buy", "qty": "1", "duration_s": "2", "slices": 2}
    raw = run_backtest(
        spec_of(
            moving_book(),
            twap,
            start_offset_ms=500,
            latency={"order_ms": 500},
            price_protection_bps=1,
        )
    )
    written, skipped = write_plots(raw, tmp_path, 1_000_000_000, cumulative_costs(raw))
    assert written == ["price_fills.png"] and set(skipped) == {
        "cumulative_cost.png",
        "margin_headroom.png",
    }


def test_the_basis_run_draws_all_three_with_the_perp_end_marked(tmp_path):
    raw = run_backtest(load_spec(ROOT / "config/examples/backtest-basis.toml"))
    written, skipped = write_plots(raw, tmp_path, 1_000_000_000, cumulative_costs(raw))
    assert sorted(written) == ["cumulative_cost.png", "margin_headroom.png", "price_fills.png"]
    assert skipped == {}
    # The perp's data ends inside the run: marked as the end and a stale band.
    perp = next(c for c in raw["coverage"] if c["venue"] == "binance-perp")
    assert perp["stale"][-1]["reason"] == "data ended"
    assert raw["scenario"] == "backtest-basis"
