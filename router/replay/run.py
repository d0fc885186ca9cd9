"""``crossroute margin replay`` as a library call: read the inputs, replay under both modes.

The chosen mode's timeline is the report; the other mode runs on the same events so the report
can set cross against isolated (first liquidation, capital locked) side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.config import MarginConfig, load_config
from router.model.errors import ConfigError
from router.replay.account import account_document
from router.replay.fills import Fill, Symbols, _read_text, journal_marks, parse_time, read_fills
from router.replay.marks import Mark, marks_from_fills, read_marks
from router.replay.timeline import (
    COLLATERAL_VENUE,
    CROSS,
    ISOLATED,
    MODES,
    Replay,
    Timeline,
    iso_time,
)
from venues.values import parse_positive

RULE_PRESETS = ("hyperliquid", "dydx", "binance")
RULES_DIR = Path(__file__).resolve().parents[2] / "config" / "venues"


@dataclass(frozen=True, slots=True)
class ReplayReport:
    rules: str
    timeline: Timeline
    other: Timeline

    def to_json(self) -> dict[str, Any]:
        out = {"rules": self.rules, **self.timeline.to_json()}
        out["comparison"] = {
            t.mode: {
                "first_liquidation": None
                if t.first_liquidation is None
                else t.first_liquidation.to_json()["time"],
                "peak_capital_locked": format(t.peak_capital_locked, "f"),
            }
            for t in sorted((self.timeline, self.other), key=lambda t: t.mode)
        }
        return out


def rules_file(rules: str) -> str:
    """A preset name (hyperliquid, dydx, binance) or a market config path."""
    if rules in RULE_PRESETS:
        return str(RULES_DIR / f"{rules}.toml")
    return rules


def parse_collateral(specs: Sequence[str]) -> dict[str, dict[str, Decimal]]:
    """``[VENUE:]ASSET=AMOUNT`` items: the account's starting collateral, by venue."""
    out: dict[str, dict[str, Decimal]] = {}
    for spec in specs:
        head, sep, amount = spec.partition("=")
        venue, _, asset = head.rpartition(":")
        if not sep or not asset.isascii() or not asset.isalnum() or not asset.isupper():
            raise ConfigError(
                "<command line>", "--collateral", spec, "[VENUE:]ASSET=AMOUNT such as USDC=10000"
            )
        held = out.setdefault(venue or COLLATERAL_VENUE, {})
        if asset in held:
            raise ConfigError("<command line>", "--collateral", spec, "each asset once per venue")
        held[asset] = parse_positive(
            f"--collateral {asset}",
            amount,
            error=lambda f, v, a: ConfigError("<command line>", f, v, a),
        )
    return out


def replay(
    fills_specs: Sequence[str],
    marks_file: str | None,
    rules: str,
    collateral_specs: Sequence[str],
    mode: str = CROSS,
    every_secs: int = 0,
    *,
    subaccount: str | None = None,
    check: bool = False,
) -> ReplayReport:
    if mode not in MODES:
        raise ConfigError("<command line>", "--mode", mode, "cross or isolated")
    if every_secs < 0:
        raise ConfigError("<command line>", "--every", every_secs, "seconds >= 0")
    runs, fills, marks = _inputs(fills_specs, marks_file, rules, collateral_specs, mode, subaccount)
    every_ns = every_secs * 1_000_000_000
    timeline, other = (run.run(fills, marks, every_ns, check=check) for run in runs)
    return ReplayReport(rules, timeline, other)


def account_at(
    fills_specs: Sequence[str],
    marks_file: str | None,
    rules: str,
    collateral_specs: Sequence[str],
    at: str,
    subaccount: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """The replayed account (cross margin) as it stood at ``at`` (ISO 8601 UTC), as an account
    document for the stress engine; returns (a name for it, the document). ConfigError for a
    time before the first fill or after the last event (nothing to stand on)."""
    at_ns = parse_time("--at", at)
    runs, fills, marks = _inputs(
        fills_specs, marks_file, rules, collateral_specs, CROSS, subaccount
    )
    first = fills[0].time_ns
    last = max(fills[-1].time_ns, marks[-1].time_ns if marks else first)
    if not first <= at_ns <= last:
        raise ConfigError(
            "<command line>",
            "--at",
            at,
            f"a time from the first fill {iso_time(first)} to the last event {iso_time(last)}",
        )
    run = runs[0]
    ledger, sub_id = run.state_at(fills, marks, at_ns)
    name = f"replay of {', '.join(fills_specs)} at {iso_time(at_ns)}"
    return name, account_document(ledger, sub_id, run.rules)


def _inputs(
    fills_specs: Sequence[str],
    marks_file: str | None,
    rules: str,
    collateral_specs: Sequence[str],
    mode: str,
    subaccount: str | None = None,
) -> tuple[list[Replay], list[Fill], list[Mark]]:
    """The two runs (``mode`` first, then the other), the fills of one subaccount and the marks,
    all validated."""
    path = rules_file(rules)
    config = load_config(path)
    if config.margin is None:
        raise ConfigError(path, "margin", None, "a [margin] table with the rules")
    collateral = parse_collateral(collateral_specs)
    runs = [Replay(config.margin, path, collateral, m) for m in (mode, _other(mode))]
    fills: list[Fill] = read_fills(fills_specs, Symbols(runs[0].symbols()))
    if not fills:
        raise ConfigError(fills_specs[0], "fills", 0, "at least one fill")
    fills = select_subaccount(fills, subaccount)
    if marks_file:
        marks = read_marks(marks_file, runs[0].mark_names())
    else:
        marks = _journal_marks(fills_specs, config.margin) or marks_from_fills(fills)
    return runs, fills, marks


def select_subaccount(fills: list[Fill], subaccount: str | None) -> list[Fill]:
    """The fills of one subaccount (``ACCOUNT/SUB``; ``None``: the only one the fills name).

    A replay rebuilds one margin account: fills of several subaccounts booked into one would net
    positions that each subaccount holds apart, so they are never mixed silently."""
    named = sorted({f"{f.account}/{f.subaccount}" for f in fills})
    if subaccount is None:
        if len(named) > 1:
            raise ConfigError(
                "<command line>",
                "--subaccount",
                None,
                f"one of {', '.join(named)}: the fills name {len(named)} subaccounts and a "
                "replay rebuilds one",
            )
        return fills
    chosen = [f for f in fills if f"{f.account}/{f.subaccount}" == subaccount]
    if not chosen:
        raise ConfigError(
            "<command line>", "--subaccount", subaccount, f"one of {', '.join(named)}"
        )
    return chosen


def _journal_marks(fills_specs: Sequence[str], margin: MarginConfig) -> list[Mark]:
    """The marks an execute journal recorded (its ledger's own prices), when a fills file is one."""
    by_name = {spec.name: spec.symbol for spec in margin.markets}
    out: list[Mark] = []
    for spec in fills_specs:
        path = spec.rpartition("=")[2] if "=" in spec else spec
        text = _read_text(Path(path))
        if text.lstrip().startswith("{"):
            out += [
                Mark(t, by_name.get(name, name), price) for t, name, price in journal_marks(text)
            ]
    return sorted(out, key=lambda m: m.time_ns)


def _other(mode: str) -> str:
    return ISOLATED if mode == CROSS else CROSS
