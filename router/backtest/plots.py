"""The backtest's PNG plots: price with fills, cumulative cost, margin headroom.

Every plot has a UTC time axis (concise date ticks), units on both axes (asset names), a legend
for every colour and marker, the scenario in its title, and each data file's end and stale gaps
marked (a dashed line where a file's data ends, a shaded band while a venue is stale). A plot with
nothing to show is not drawn: :func:`write_plots` returns it among the skipped, with the reason.
Floats only for drawing; every reported figure stays Decimal elsewhere.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.backtest.coverage import FEED_REASONS

__all__ = ["write_plots"]

_MARKERS = {"buy": "^", "sell": "v"}
_GAP_FACTOR = 3  # mid samples further apart than 3 intervals are a gap in the line, not a slope


def _utc(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC)


def _quote_asset(symbols: list[str]) -> str:
    quotes = sorted({s.partition(":")[0].partition("/")[2] for s in symbols if "/" in s})
    return "/".join(quotes) or "quote"


def _time_axis(ax: Any) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=9, tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    ax.set_xlabel("exchange time (UTC)")
    ax.grid(True, alpha=0.25)


def _mark_coverage(ax: Any, coverage: dict[str, dict], t_min: int, t_max: int) -> None:
    """A dashed line where each file's data ends; while a venue is stale, a shaded band (its feed
    was silent or had ended) or a hatched one (its book was out of sync or had no snapshot yet),
    each kind in the legend once per venue; only what falls inside the plot."""
    colours = ["tab:gray", "tab:brown", "tab:olive", "tab:pink"]
    for i, (venue, cover) in enumerate(sorted(coverage.items())):
        colour = colours[i % len(colours)]
        if cover["last_ts_ns"] <= t_max:
            ax.axvline(
                _utc(cover["last_ts_ns"]),
                color=colour,
                linestyle="--",
                linewidth=1,
                label=f"{venue} data ends",
            )
        labelled: set[bool] = set()
        for start, to, reason in cover["stale"]:
            end = to if to is not None else t_max
            if start >= t_max or end <= t_min or end <= start:
                continue
            silent = reason in FEED_REASONS
            label = (
                f"{venue} stale: no fresh data" if silent else f"{venue} stale: book out of sync"
            )
            ax.axvspan(
                _utc(max(start, t_min)),
                _utc(min(end, t_max)),
                facecolor=colour if silent else "none",
                edgecolor=colour,
                alpha=0.15 if silent else 0.6,
                hatch=None if silent else "///",
                linewidth=0,
                label=None if silent in labelled else label,
            )
            labelled.add(silent)


def _broken(points: list[tuple[int, float]], gap_ns: int) -> tuple[list, list]:
    """x, y with a None between samples further apart than ``gap_ns`` (matplotlib breaks there)."""
    xs: list = []
    ys: list = []
    last = None
    for ts, value in points:
        if last is not None and ts - last > gap_ns:
            xs.append(_utc((ts + last) // 2))
            ys.append(float("nan"))
        xs.append(_utc(ts))
        ys.append(value)
        last = ts
    return xs, ys


def _finish(plt: Any, fig: Any, ax: Any, path: Path, ylabel: str, title: str) -> str:
    _time_axis(ax)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path.name


def write_plots(
    raw: dict[str, Any],
    out: Path,
    arb_interval_ns: int,
    costs: dict[str, list[tuple[int, Decimal]]],
) -> tuple[list[str], dict]:
    """Draw the plots of a run into ``out``; (files written, {skipped file: reason}).

    ``costs``: per parent label, its cumulative shortfall after each fill (ts ns, quote), as
    :func:`router.backtest.report.cumulative_costs` computes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenario = raw.get("scenario") or "backtest"
    coverage = raw.get("coverage", {})
    parents = raw["parents"]
    mids = raw["mids"]
    fills = [f for p in parents for f in p.fills]
    stamps = [m["ts_ns"] for m in mids] + [f["ts_ns"] for f in fills]
    stamps += [m["ts_ns"] for m in raw["margin"]]
    written: list[str] = []
    skipped: dict[str, str] = {}
    if not stamps:
        for name in ("price_fills.png", "cumulative_cost.png", "margin_headroom.png"):
            skipped[name] = "nothing happened in the window (no mids, fills or margin samples)"
        return written, skipped
    t_min, t_max = min(stamps), max(stamps)
    symbols = sorted({m["symbol"] for m in mids} | {p.symbol for p in parents})
    quote = _quote_asset(symbols)

    # price with fills
    fig, ax = plt.subplots(figsize=(10, 4.2))
    for symbol in sorted({m["symbol"] for m in mids}):
        points = [(m["ts_ns"], float(m["mid"])) for m in mids if m["symbol"] == symbol]
        xs, ys = _broken(points, _GAP_FACTOR * arb_interval_ns)
        ax.plot(xs, ys, linewidth=1.2, label=f"{symbol} mid (sampled while fresh)")
    venues = sorted({f["venue"] for f in fills})
    palette = plt.get_cmap("tab10")
    for i, venue in enumerate(venues):
        for side, marker in _MARKERS.items():
            mine = [f for f in fills if f["venue"] == venue and f["side"] == side]
            if mine:
                ax.scatter(
                    [_utc(f["ts_ns"]) for f in mine],
                    [float(f["quote_amount"] / f["qty"]) for f in mine],
                    marker=marker,
                    s=28,
                    color=palette(i % 10),
                    edgecolors="black",
                    linewidths=0.4,
                    zorder=3,
                    label=f"{side} fill on {venue} (all-in avg)",
                )
    _mark_coverage(ax, coverage, t_min, t_max)
    bases = sorted({s.partition("/")[0] for s in symbols})
    written.append(
        _finish(
            plt,
            fig,
            ax,
            out / "price_fills.png",
            f"price ({quote} per {'/'.join(bases)})",
            f"{scenario}: mids and child fills",
        )
    )

    # cumulative cost
    if fills:
        fig, ax = plt.subplots(figsize=(10, 4.2))
        for label, points in costs.items():
            if points:
                ax.step(
                    [_utc(t) for t, _ in points],
                    [float(v) for _, v in points],
                    where="post",
                    marker="o",
                    markersize=3,
                    label=label,
                )
        ax.axhline(0, color="black", linewidth=0.6)
        _mark_coverage(ax, coverage, t_min, t_max)
        written.append(
            _finish(
                plt,
                fig,
                ax,
                out / "cumulative_cost.png",
                f"cumulative shortfall ({quote}; + = cost)",
                f"{scenario}: cost against the arrival mid",
            )
        )
    else:
        skipped["cumulative_cost.png"] = "no fills in this run"

    # margin headroom
    margin = raw["margin"]
    if margin:
        fig, ax = plt.subplots(figsize=(10, 4.2))
        xs = [_utc(m["ts_ns"]) for m in margin]
        ax.plot(xs, [float(m["headroom"]) for m in margin], label="headroom")
        ax.plot(xs, [float(m["initial_margin"]) for m in margin], label="initial margin")
        ax.plot(xs, [float(m["maintenance_margin"]) for m in margin], label="maintenance margin")
        stale = [m for m in margin if m.get("stale_marks")]
        if stale:
            ax.scatter(
                [_utc(m["ts_ns"]) for m in stale],
                [float(m["headroom"]) for m in stale],
                marker="|",
                color="tab:red",
                s=12,
                zorder=3,
                label="a mark is stale (kept, no funding)",
            )
        _mark_coverage(ax, coverage, t_min, t_max)
        written.append(
            _finish(
                plt,
                fig,
                ax,
                out / "margin_headroom.png",
                quote,
                f"{scenario}: margin of account backtest/main",
            )
        )
    else:
        skipped["margin_headroom.png"] = "no margin account in this run"
    return written, skipped
