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
    assert raw["coverage"]["binance-perp"]["stale"][-1][2] == "data ended"
    assert raw["scenario"] == "backtest-basis"


def test_stale_spans_are_banded_by_cause_with_one_legend_entry_each() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from router.backtest.plots import _mark_coverage

    s = 1_000_000_000
    coverage = {
        "book": {
            "first_ts_ns": 0,
            "last_ts_ns": 100 * s,  # beyond the plot: no end line
            "stale_after_ms": 1000,
            "stale": [
                [10 * s, 20 * s, "gap"],
                [30 * s, 40 * s, "out of sync (update-id gap)"],
                [50 * s, 60 * s, "out of sync (update-id gap)"],
                [200 * s, None, "data ended"],  # after the plot: not drawn
            ],
        }
    }
    fig, ax = plt.subplots()
    _mark_coverage(ax, coverage, 0, 90 * s)
    handles, labels = ax.get_legend_handles_labels()
    assert labels == ["book stale: no fresh data", "book stale: book out of sync"]
    assert [h.get_hatch() for h in handles] == [None, "///"]
    assert len(ax.patches) == 3
    plt.close(fig)
