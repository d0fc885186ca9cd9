"""Reports: implementation shortfall per parent order, and the run's output files.

Shortfall against the arrival mid M0, in quote, positive = cost, per child fill i of q_i base with
all-in quote amount A_i (buy: paid; sell: received), venue fee f_i and fixed cost c_i, decided
when the reference book's touch was (bid_i, ask_i), mid m_i = (bid_i + ask_i) / 2:

    notional_i = A_i - f_i - c_i (buy)         A_i + f_i + c_i (sell)
    shortfall_i = A_i - q_i M0 (buy)           q_i M0 - A_i (sell)
    spread_i    = q_i (ask_i - m_i) (buy)      q_i (m_i - bid_i) (sell)
    impact_i    = notional_i - q_i ask_i + q_i (m_i - M0) (buy)
                  q_i bid_i - notional_i + q_i (M0 - m_i) (sell)
    fees_i = f_i, fixed_i = c_i

so spread + impact + fees + fixed = shortfall holds exactly in Decimal (no residual, no rounding:
every term is a sum of products of exact decimals). ``impact`` is the price moved by our own
trading and by the market between arrival and the decision (the drift ``q_i (m_i - M0)`` is also
reported alone as ``drift``, a part of impact). A fill on the opposite side of its parent (an
unwind) enters with negative quantity. Per parent, bps = shortfall / (filled qty x M0) x 1e4,
rounded half-even to 4 places for display only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from router.plan import fmt_qty

__all__ = [
    "COMPONENTS",
    "fill_shortfall",
    "parent_shortfall",
    "stale_lines",
    "summarise",
    "to_jsonable",
    "write_outputs",
]

COMPONENTS = ("spread", "impact", "fees", "fixed_costs")
_ZERO = Decimal(0)


def fill_shortfall(side: str, arrival_mid: Decimal, fill: dict) -> dict[str, Decimal]:
    """Shortfall of one fill and its four components (module docstring); exact Decimal."""
    sign = 1 if fill["side"] == side else -1
    q = fill["qty"] * sign
    amount, fee, fixed = fill["quote_amount"] * sign, fill["fee"] * sign, fill["leg_cost"] * sign
    bid, ask = fill["decision_bid"], fill["decision_ask"]
    mid = (bid + ask) / 2
    if side == "buy":
        notional = amount - fee - fixed
        total = amount - q * arrival_mid
        spread = q * (ask - mid)
        impact = notional - q * ask + q * (mid - arrival_mid)
        drift = q * (mid - arrival_mid)
    else:
        notional = amount + fee + fixed
        total = q * arrival_mid - amount
        spread = q * (mid - bid)
        impact = q * bid - notional + q * (arrival_mid - mid)
        drift = q * (arrival_mid - mid)
    return {
        "shortfall": total,
        "spread": spread,
        "impact": impact,
        "fees": fee,
        "fixed_costs": fixed,
        "drift": drift,
        "qty": q,
        "quote_amount": amount,
    }


def parent_shortfall(parent: Any) -> dict[str, Any]:
    """Sum of the fills' shortfalls for one parent order, with its size, average price and bps."""
    sums = {key: _ZERO for key in ("shortfall", *COMPONENTS, "drift", "qty", "quote_amount")}
    for fill in parent.fills:
        for key, value in fill_shortfall(parent.side, parent.arrival_mid, fill).items():
            sums[key] += value
    filled = sums.pop("qty")
    amount = sums.pop("quote_amount")
    bps = None
    if filled:
        bps = (sums["shortfall"] / (filled * parent.arrival_mid) * 10_000).quantize(
            Decimal("0.0001"), ROUND_HALF_EVEN
        )
    return {
        "name": parent.name,
        "symbol": parent.symbol,
        "side": parent.side,
        "qty": parent.qty,
        "filled_qty": filled,
        "unfilled_qty": parent.qty - filled,
        "quote_amount": amount,
        "avg_price": (amount / filled).quantize(Decimal("1e-8"), ROUND_HALF_EVEN)
        if filled
        else None,
        "arrival_ts_ns": parent.arrival_ts_ns,
        "arrival_mid": parent.arrival_mid,
        "shortfall_bps": bps,
        "children": len(parent.fills),
        **sums,
    }


def _utc_text(ts_ns: int) -> str:
    """ISO 8601 UTC to the millisecond (floor), e.g. 2024-08-08T23:47:48.283Z."""
    from datetime import UTC, datetime

    ms, rest_ms = divmod(ts_ns // 1_000_000, 1000)
    return datetime.fromtimestamp(ms, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{rest_ms:03d}Z"


def stale_lines(summary: dict[str, Any]) -> list[str]:
    """One line per stale interval that overlaps the run's window: venue, from, to, why (the
    report's text says when a venue had no usable data)."""
    window = summary.get("window") or {}
    start, end = window.get("start_ts_ns"), window.get("end_ts_ns")
    lines = []
    for venue, cover in sorted(summary.get("coverage", {}).items()):
        for a, b, reason in cover["stale"]:
            if (end is not None and a >= end) or (
                start is not None and b is not None and b <= start
            ):
                continue
            until = (
                "the end of the run"
                if b is None or (end is not None and b >= end)
                else _utc_text(b)
            )
            since = "the start" if start is not None and a <= start else _utc_text(a)
            lines.append(f"stale: {venue} from {since} to {until} ({reason})")
    return lines


def liquidation_lines(summary: dict[str, Any]) -> list[str]:
    """One line per liquidation of the run: when, each step (side, size, instrument, booked
    price, venues), how it ended and the bad debt, e.g. ``liquidation at 2024-08-08T23:54:19.000Z:
    sell 1.534 ETH-PERP at 950.662972620599739243 on perp-book; ended above_maintenance, bad
    debt 0``."""
    lines = []
    for liq in summary.get("liquidations", []):
        steps = "; ".join(
            f"{s['side']} {s['qty']} {s['symbol']} at {s['price']} on "
            + ", ".join(sorted({f["venue"] for f in s["fills"]}))
            for s in liq["steps"]
        )
        lines.append(
            f"liquidation at {_utc_text(liq['ts_ns'])}: {steps or 'no step'}; ended "
            f"{liq['ended']}, bad debt {liq['bad_debt']}"
            + (f" ({liq['reason']})" if liq["reason"] else "")
        )
    return lines


def to_jsonable(value: Any) -> Any:
    """Decimals become strings (exact, trailing zeros dropped: pool amounts carry 18 decimals and
    products more, the value is the same), containers recurse; ints, strs, None stay."""
    if isinstance(value, Decimal):
        return fmt_qty(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return to_jsonable(asdict(value))
    return value


def summarise(
    result: dict[str, Any], comparison: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The JSON summary of a run: parents with shortfall, best single venue per parent, books, margin."""
    parents = [parent_shortfall(p) for p in result["parents"]]
    if comparison:
        for entry in parents:
            best = None
            for venue, other in sorted(comparison.items()):
                match = [p for p in other["parents"] if p.name == entry["name"]]
                if not match:
                    continue
                alt = parent_shortfall(match[0])
                if alt["filled_qty"] != entry["filled_qty"]:
                    continue  # a venue that could not fill the same size is no benchmark
                if best is None or alt["shortfall"] < best["shortfall"]:
                    best = {
                        "venue": venue,
                        "shortfall": alt["shortfall"],
                        "shortfall_bps": alt["shortfall_bps"],
                    }
            entry["best_single_venue"] = best
            entry["improvement"] = None if best is None else best["shortfall"] - entry["shortfall"]
    fills = [dict(fill, parent=p.name) for p in result["parents"] for fill in p.fills]
    return to_jsonable(
        {
            "parents": parents,
            "fills": fills,
            "executions": result["executions"],
            "margin": result["margin"],
            "liquidations": result["liquidations"],
            "funding": result["funding"],
            "arbitrage": result["arbitrage"],
            "books": result["books"],
            "venues": result["venues"],
            "funding_skipped": result.get("funding_skipped", []),
            "coverage": result.get("coverage", {}),
            "window": result.get("window", {}),
            "scenario": result.get("scenario", ""),
            "latency": result.get("latency", {}),
            "queue_model": result.get("queue_model", ""),
            "pool_replays": result.get("pool_replays", {}),
        }
    )


def _table(rows: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, list] = {}
    for row in rows:
        for key in row:
            columns.setdefault(key, [])
    for row in rows:
        for key, column in columns.items():
            value = row.get(key)
            column.append(value if isinstance(value, (int, type(None))) else str(value))
    schema_cols = {
        k: (
            pa.array(v, type=pa.int64())
            if all(isinstance(x, int) or x is None for x in v) and any(x is not None for x in v)
            else pa.array([None if x is None else str(x) for x in v], type=pa.string())
        )
        for k, v in columns.items()
    }
    table = (
        pa.table(schema_cols)
        if schema_cols
        else pa.table({"empty": pa.array([], type=pa.string())})
    )
    pq.write_table(table, path)


def cumulative_costs(raw: dict[str, Any]) -> dict[str, list[tuple[int, Decimal]]]:
    """Per parent ("name (side symbol)"), its shortfall summed over its fills in time order."""
    out = {}
    for p in raw["parents"]:
        total, points = _ZERO, []
        for f in sorted(p.fills, key=lambda f: f["ts_ns"]):
            total += fill_shortfall(p.side, p.arrival_mid, f)["shortfall"]
            points.append((f["ts_ns"], total))
        out[f"{p.name} ({p.side} {p.symbol})"] = points
    return out


def write_outputs(
    out_dir: str | Path,
    summary: dict[str, Any],
    raw: dict[str, Any],
    manifest: dict[str, Any],
    *,
    plots: bool = True,
    arb_interval_ns: int = 1_000_000_000,
) -> list[str]:
    """Write results.json, fills/parents/margin .parquet, PNG plots and manifest.json atomically.

    Everything goes to a temporary sibling directory first and is renamed into place at the end,
    so a failure leaves no half-written output (an existing directory is replaced only then).
    A plot with nothing to show is not drawn; the manifest's ``skipped_plots`` says why.
    ``arb_interval_ns``: the mid sampling interval (a longer silence breaks the mid line).
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        files = ["results.json", "parents.parquet", "fills.parquet", "margin.parquet"]
        (tmp / "results.json").write_text(
            json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        _table(summary["parents"], tmp / "parents.parquet")
        _table(summary["fills"], tmp / "fills.parquet")
        _table(summary["margin"], tmp / "margin.parquet")
        if plots:
            from router.backtest.plots import write_plots

            drawn, skipped = write_plots(raw, tmp, arb_interval_ns, cumulative_costs(raw))
            files += drawn
            manifest = dict(manifest, skipped_plots=skipped)
        manifest = dict(manifest, files=sorted(files + ["manifest.json"]))
        (tmp / "manifest.json").write_text(
            json.dumps(to_jsonable(manifest), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sorted(files + ["manifest.json"])
