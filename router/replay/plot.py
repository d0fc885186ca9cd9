"""The replay's picture: equity against the maintenance requirement over time, liquidation marked."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from router.model.errors import ConfigError
from router.replay.run import ReplayReport


def plot_replay(report: ReplayReport, path: str) -> None:
    """Write a PNG to ``path``: maintenance equity and the maintenance requirement (and initial
    equity against the initial requirement, thinner) in the quote asset over UTC time."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError(
            "<command line>", "--plot", path, "the plots extra: pip install 'crossroute[plots]'"
        ) from None
    timeline = report.timeline
    times = [datetime.fromtimestamp(s.time_ns / 1e9, UTC) for s in timeline.samples]
    fig, ax = plt.subplots(figsize=(10, 5), dpi=110)
    ax.plot(
        times,
        [float(s.maintenance_equity) for s in timeline.samples],
        color="tab:blue",
        label="maintenance equity",
    )
    ax.plot(
        times,
        [float(s.maintenance_margin) for s in timeline.samples],
        color="tab:red",
        label="maintenance requirement",
    )
    ax.plot(
        times,
        [float(s.equity) for s in timeline.samples],
        color="tab:blue",
        linewidth=0.8,
        linestyle="--",
        label="initial equity",
    )
    ax.plot(
        times,
        [float(s.initial_margin) for s in timeline.samples],
        color="tab:red",
        linewidth=0.8,
        linestyle="--",
        label="initial requirement",
    )
    liq = timeline.first_liquidation
    if liq is not None:
        at = datetime.fromtimestamp(liq.sample.time_ns / 1e9, UTC)
        ax.axvline(at, color="black", linestyle=":", label=f"first liquidation {at:%H:%M:%S} UTC")
        ax.plot(
            [at],
            [float(liq.sample.maintenance_equity)],
            marker="x",
            color="black",
            markersize=9,
            linestyle="none",
        )
    ax.set_title(f"margin replay under {Path(report.rules).name} rules, {timeline.mode} margin")
    ax.set_xlabel("time (UTC)")
    ax.set_ylabel(f"{timeline.quote}")
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    try:
        fig.savefig(Path(path))
    except OSError as exc:
        raise ConfigError(
            "<command line>", "--plot", path, f"a writable path ({exc.strerror})"
        ) from None
    finally:
        plt.close(fig)
