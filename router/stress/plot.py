"""Pictures and tables of stress results: a PNG of the two loss distributions, rich tables.

matplotlib with the Agg backend (no display needed); the figure is deterministic for given
numbers. Loss figures are converted to float only here, for drawing.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from router.margin.quantities import SCALE
from router.model.errors import ConfigError
from router.stress.engine import MonteCarloResult, ScenarioResult

__all__ = ["plot_losses", "scenario_table", "tail_table"]


def plot_losses(result: MonteCarloResult, path: str | Path, title: str = "") -> Path:
    """Write a PNG with the cross and isolated loss histograms and their VaR/ES lines (dashed:
    VaR 99%, dotted: ES 99%, each in its mode's colour, named in the legend). ``title`` names
    the account and the scenario; the paths and seed are appended. O(paths)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(path)
    if out.suffix.lower() != ".png":
        raise ConfigError(str(path), "--plot", str(path), "a file name ending in .png")
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    losses = {m: [u / SCALE for u in result.losses[m]] for m in ("cross", "isolated")}
    lo = min(min(v) for v in losses.values())
    hi = max(max(v) for v in losses.values())
    bins = 60 if hi > lo else 1
    for mode, colour in (("cross", "tab:blue"), ("isolated", "tab:orange")):
        stats = result.stats[mode]
        ax.hist(
            losses[mode],
            bins=bins,
            range=(lo, hi if hi > lo else lo + 1),
            alpha=0.5,
            color=colour,
            label=f"{mode}: VaR99 {stats.var:,.0f}, ES99 {stats.es:,.0f}",
        )
        ax.axvline(
            float(stats.var), color=colour, linestyle="--", linewidth=1, label=f"{mode} VaR 99%"
        )
        ax.axvline(
            float(stats.es), color=colour, linestyle=":", linewidth=1, label=f"{mode} ES 99%"
        )
    ax.set_xlabel("loss over the horizon (quote; > 0 = money lost)")
    ax.set_ylabel("paths")
    ax.set_yscale("log")
    runs = f"{result.paths} Monte Carlo paths, seed {result.seed}"
    ax.set_title(f"{title}: {runs}" if title else runs, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        fig.savefig(out, format="png")
    except OSError as exc:
        raise ConfigError(
            str(path), "--plot", str(path), f"a writable path ({exc.strerror})"
        ) from None
    finally:
        plt.close(fig)
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def scenario_table(results: list[tuple[ScenarioResult, ScenarioResult]]) -> Any:
    """A rich Table: per scenario, cross and isolated loss, liquidations, bad debt, worst headroom."""
    from rich.table import Table

    table = Table(title="scenarios (quote; loss > 0 = money lost)")
    for column in (
        "scenario",
        "loss cross",
        "loss isolated",
        "liqs cross",
        "liqs isolated",
        "cascade rounds",
        "bad debt cross",
        "worst headroom",
        "worst maint. excess",
    ):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for cross, iso in results:
        table.add_row(
            cross.name,
            _fmt(cross.loss),
            _fmt(iso.loss),
            str(len(cross.liquidations)),
            str(len(iso.liquidations)),
            str(cross.cascade_rounds),
            _fmt(cross.bad_debt),
            _fmt(cross.worst_headroom),
            _fmt(cross.worst_maintenance_excess),
        )
    return table


def tail_table(result: MonteCarloResult) -> Any:
    """A rich Table of the Monte Carlo tails, cross against isolated."""
    from rich.table import Table

    table = Table(
        title=f"Monte Carlo: {result.paths} paths x {result.steps} steps, seed {result.seed}"
    )
    for column in ("mode", "mean loss", "VaR 99%", "ES 99%", "worst", "paths liquidated"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for mode in ("cross", "isolated"):
        s = result.stats[mode]
        table.add_row(
            mode,
            _fmt(s.mean_loss),
            _fmt(s.var),
            _fmt(s.es),
            _fmt(s.worst),
            f"{s.liquidated_share * 100:.2f}%",
        )
    return table
