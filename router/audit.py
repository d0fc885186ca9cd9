"""Verify a decision journal: its hash chain, and a replay of every run from its recorded inputs.

A journal written by ``crossroute execute`` is a hash chain of JSON lines (each entry's ``prev``
is the link of the line before: HMAC-SHA256 with the journal key when one is configured, else
SHA-256; :mod:`router.execution.journal`). Every run starts with a ``run_header`` entry that
records its inputs: the order, the account, the SHA-256 of the market config (canonical: the parsed
config as sorted JSON, so comments and layout do not count), and for a keyed chain the key's
public id; it ends with a ``run_end`` entry whose link is the run's head (printed by execute, and
recorded in the file as the next run header's ``prev``). The audit

1. reads the file strictly (UTF-8, one JSON object per line, newline-terminated);
2. verifies the chain under the key (an edited, dropped, inserted or reordered entry breaks it;
   with a key, nobody without it can recompute the chain after a rewrite);
   with ``--head H`` it verifies the prefix that ends at the entry whose link is H (a run's head),
   so a head printed earlier still vouches for its runs after later runs were appended, and any
   dropped, swapped or rewritten run before it makes H unfindable;
3. for each run, checks that the config given to the audit is the one the run used, rebuilds the
   market and the account's margin from it, re-runs the order with a fresh step clock, and
   compares the replayed journal with the recorded one entry by entry: every margin decision,
   child order, fill, funding, liquidation and the capital-efficiency figures are recomputed;
4. reports the first entry that differs (line number, event, which fields, both versions).

Everything is deterministic (integer nanosecond step clocks, exact venues, exact ledger), so an
untouched journal replays byte for byte. O(journal size + replay cost).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.app import build_margin, close_ccxt_venues
from router.config.protection import ProtectionConfig
from router.execution.executor import DEFAULT_CHILD_TIMEOUT_SECS, Executor
from router.execution.faults import Fault, faults_from_dict, inject_faults
from router.execution.journal import ChainKey, DecisionJournal, StepClock, encode_record
from router.execution.multihop import run_multihop
from router.execution.order import MultiLegOrder, order_from_dict
from router.margin.journal import GENESIS
from router.model.errors import ConfigError, CrossrouteError
from router.protection import DEFAULT_BAND_BPS, DEFAULT_MAX_FIXED_COST_SHARE, MAX_BAND_BPS
from venues.values import parse_decimal, parse_int, parse_positive

__all__ = [
    "HEADER_EVENT",
    "AuditReport",
    "ExecutionProtection",
    "audit_journal",
    "config_digest",
    "order_from_record",
    "replay_run",
    "run_recorded",
    "write_run_header",
]

HEADER_EVENT = "run_header"
RUN_END_EVENT = "run_end"


@dataclass(frozen=True)
class ExecutionProtection:
    """The price-protection settings of one execute run (:mod:`router.protection`): the default
    band for legs without a limit (None: lifted with --no-limit) and the fixed-cost share above
    which an order is refused."""

    band_bps: int | None = DEFAULT_BAND_BPS
    max_fixed_cost_share: Decimal = DEFAULT_MAX_FIXED_COST_SHARE

    def to_json_dict(self) -> dict[str, Any]:
        return {"band_bps": self.band_bps, "max_fixed_cost_share": self.max_fixed_cost_share}

    @classmethod
    def from_json_dict(cls, data: Any) -> ExecutionProtection:
        """The settings a run header recorded (defaults when it recorded none)."""
        if data is None:
            return cls()
        if not isinstance(data, dict) or set(data) != {"band_bps", "max_fixed_cost_share"}:
            raise ConfigError("<journal>", "protection", data, "band_bps, max_fixed_cost_share")
        band = data["band_bps"]
        if band is not None:
            band = parse_int(
                "protection.band_bps", band, minimum=1, maximum=MAX_BAND_BPS, error=_journal_error
            )
        share = parse_decimal(
            "protection.max_fixed_cost_share",
            data["max_fixed_cost_share"],
            minimum=0,
            maximum=1,
            error=_journal_error,
        )
        return cls(band, share)


def _journal_error(field: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError("<journal>", field, value, allowed)


HEADER_VERSION = 1


def config_digest(config: Any) -> str:
    """SHA-256 (hex) of a MarketConfig's content: every field but the file name, as sorted JSON
    with decimal strings. Two files that parse to the same market have the same digest. O(size)."""
    if not dataclasses.is_dataclass(config):
        raise ConfigError("<config>", "config", type(config).__name__, "a parsed MarketConfig")
    data = {k: v for k, v in dataclasses.asdict(config).items() if k != "file"}
    if getattr(config, "protection", None) == ProtectionConfig():
        # A market without a [protection] table digests as it did before the table existed, so
        # the journals recorded then still audit (what a run used is in its header anyway).
        del data["protection"]
    # The journal's own canonical encoding: one definition of "canonical" for lines and digests.
    return hashlib.sha256(encode_record(data).encode("utf-8")).hexdigest()


def write_run_header(
    journal: DecisionJournal,
    market: Any,
    order: MultiLegOrder,
    command: str = "execute",
    *,
    faults: Sequence[Fault] = (),
    child_timeout_secs: Decimal = DEFAULT_CHILD_TIMEOUT_SECS,
    protection: ExecutionProtection | None = None,
) -> None:
    """Record a run's inputs as its first entry: what an auditor needs to replay it (the fault
    schedule and the child timeout too, when faults were injected)."""
    injected: dict[str, Any] = {}
    if faults:
        injected = {
            "faults": [f.to_json_dict() for f in faults],
            "child_timeout_secs": child_timeout_secs,
        }
    if protection is not None and protection != ExecutionProtection():
        injected["protection"] = protection.to_json_dict()
    if journal.key.secret is not None:
        injected["chain"] = journal.key.scheme
        injected["key_id"] = journal.key.key_id
    journal.write(
        HEADER_EVENT,
        version=HEADER_VERSION,
        command=command,
        config_sha256=config_digest(market.config),
        config_file=Path(str(market.config.file).split(" + ")[0]).name,
        account=order.account,
        order=order.to_json_dict(),
        **injected,
    )


def order_from_record(data: Any) -> MultiLegOrder:
    """Rebuild an order from its ``to_json_dict`` form (as recorded in a run header)."""
    if not isinstance(data, dict) or not isinstance(data.get("legs"), list):
        raise ConfigError("<journal>", "order", data, "an order as recorded by execute")
    head = {k: v for k, v in data.items() if k != "legs" and v is not None}
    legs = []
    for raw in data["legs"]:
        if not isinstance(raw, dict):
            raise ConfigError("<journal>", "order.legs", raw, "leg tables")
        leg = {k: v for k, v in raw.items() if v is not None and v != []}
        if "follows" not in leg:
            leg.pop("ratio", None)
        legs.append(leg)
    order = order_from_dict({"order": head, "legs": legs}, "<journal>")
    if json.loads(encode_record(order.to_json_dict())) != data:
        raise ConfigError("<journal>", "order", data, "an order that round-trips exactly")
    return order


def run_recorded(
    market: Any,
    order: MultiLegOrder,
    journal: DecisionJournal,
    *,
    faults: Sequence[Fault] = (),
    child_timeout_secs: Decimal = DEFAULT_CHILD_TIMEOUT_SECS,
    protection: ExecutionProtection | None = None,
) -> Any:
    """Run ``order`` on ``market`` for the order's account with everything recorded in
    ``journal``: the run header, the margin setup (:func:`router.app.build_margin`), every
    executor decision. ``faults`` are injected between the executor and the venues
    (:mod:`router.execution.faults`). The one code path of ``crossroute execute`` and of the
    audit's replay. Returns the ExecutionReport. The market's venues change (they trade)."""
    protection = protection or ExecutionProtection()
    write_run_header(
        journal,
        market,
        order,
        faults=faults,
        child_timeout_secs=child_timeout_secs,
        protection=protection,
    )
    margin = build_margin(market, order.account, journal=journal)
    adapters = inject_faults(market.adapters, faults)
    executor = Executor(
        adapters,
        margin.gate,
        journal=journal,
        instruments=market.instruments(),
        child_timeout_secs=child_timeout_secs,
        band_bps=protection.band_bps,
        max_fixed_cost_share=protection.max_fixed_cost_share,
        marks=lambda: margin.live_marks(market),
    )
    report = asyncio.run(_execute_then_close(executor, order, market, adapters))
    # The run's last entry: its link is the run's head, and the next run's header chains from it.
    journal.write(RUN_END_EVENT, client_id=order.client_id, status=report.status)
    return report


async def _execute_then_close(
    executor: Executor, order: MultiLegOrder, market: Any, adapters: dict[str, Any]
) -> Any:
    """Run the order (hop by hop when its leg has from/to), then close the ccxt venues' HTTP
    sessions inside the same event loop."""
    try:
        if order.legs[0].multihop:
            spot = market.spot_adapters(adapters)
            return await run_multihop(executor, spot, market.asset_decimals(), order)
        return await executor.execute(order)
    finally:
        await close_ccxt_venues(market)


def replay_run(
    market: Any,
    order: MultiLegOrder,
    prev: str,
    header: Any = None,
    key: ChainKey | None = None,
) -> DecisionJournal:
    """Re-run one recorded run on a fresh ``market``: fresh step clock, the chain continued from
    ``prev``, the fault schedule and child timeout of the run ``header`` (if any). Returns the
    replayed journal."""
    header = header if isinstance(header, dict) else {}
    faults = faults_from_dict({"faults": header.get("faults", [])}, "<journal>")
    timeout = parse_positive(
        "child_timeout_secs",
        header.get("child_timeout_secs", str(DEFAULT_CHILD_TIMEOUT_SECS)),
        error=lambda f, v, a: ConfigError("<journal>", f, v, a),
    )
    protection = ExecutionProtection.from_json_dict(header.get("protection"))
    journal = DecisionJournal(clock=StepClock(), prev=prev, key=key)
    run_recorded(
        market, order, journal, faults=faults, child_timeout_secs=timeout, protection=protection
    )
    return journal


@dataclass
class AuditReport:
    """The outcome: ``verified`` when the chain holds and every run replays identically.

    ``difference`` (None when verified) names the first entry that differs: ``line`` (1-based),
    ``event``, ``reason``, and where it applies ``fields`` (keys that differ), ``recorded`` and
    ``replayed`` values of those keys. ``events`` counts the verified entries by kind."""

    journal: str
    entries: int
    head: str
    chain_ok: bool
    runs: int
    replayed_entries: int
    verified: bool
    difference: dict[str, Any] | None = None
    events: dict[str, int] = field(default_factory=dict)
    keyed: bool = False
    run_heads: list[str | None] = field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "journal": self.journal,
            "entries": self.entries,
            "head": self.head,
            "chain_ok": self.chain_ok,
            "runs": self.runs,
            "replayed_entries": self.replayed_entries,
            "verified": self.verified,
            "difference": self.difference,
            "events": dict(sorted(self.events.items())),
            "keyed": self.keyed,
            "run_heads": list(self.run_heads),
        }


def _read_lines(path: Path) -> tuple[list[str | None], str | None]:
    """Lines of the file (None for one that is not UTF-8), and a problem with the file's framing."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            str(path), "--journal", str(path), f"a readable journal file ({exc.strerror})"
        ) from None
    if not data:
        raise ConfigError(str(path), "--journal", str(path), "a journal with at least one entry")
    problem = (
        None
        if data.endswith(b"\n")
        else "the file does not end with a newline (truncated or edited)"
    )
    raw = data.split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    lines: list[str | None] = []
    for chunk in raw:
        try:
            lines.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(None)
    return lines, problem


def _diff_fields(recorded: Any, replayed: Any) -> list[str]:
    if not isinstance(recorded, dict) or not isinstance(replayed, dict):
        return []
    return sorted(k for k in set(recorded) | set(replayed) if recorded.get(k) != replayed.get(k))


def audit_journal(
    journal_path: str | Path,
    config: Any,
    *,
    expected_head: str | None = None,
    key: ChainKey | None = None,
) -> AuditReport:
    """Audit the journal at ``journal_path`` against ``config`` (a MarketConfig, or a path or
    paths for :func:`router.config.load_config`). Raises ConfigError only when the journal or the
    config cannot be read at all; everything else ends in the report."""
    from router.app import build_market
    from router.config import MarketConfig, load_config

    key = key if key is not None else ChainKey(None)
    path = Path(journal_path)
    market_config = config if isinstance(config, MarketConfig) else load_config(config)
    for index, venue in enumerate(market_config.venues):
        if venue.kind == "ccxt":  # a replay re-trades every run: on a real exchange, for real
            raise ConfigError(
                market_config.file,
                f"venues[{index}].kind",
                venue.kind,
                "in-process venues only (amm | clmm | orderbook): a replay would send the "
                "recorded orders to the ccxt exchange again",
            )
    digest = config_digest(market_config)
    lines, framing = _read_lines(path)
    report = AuditReport(
        str(path), len(lines), GENESIS, True, 0, 0, False, keyed=key.secret is not None
    )
    differences: list[dict[str, Any]] = []

    def differ(index: int, reason: str, **extra: Any) -> None:
        record = records[index] if index < len(records) else None
        event = record.get("event") if isinstance(record, dict) else None
        differences.append({"line": index + 1, "event": event, "reason": reason, **extra})

    # 1. strict reading
    records: list[dict[str, Any] | None] = []
    for line in lines:
        record = None
        if line is not None:
            try:
                parsed = json.loads(line)
                record = parsed if isinstance(parsed, dict) else None
            except json.JSONDecodeError:
                record = None
        records.append(record)
    for index, record in enumerate(records):
        if record is None:
            differences.append(
                {
                    "line": index + 1,
                    "event": None,
                    "reason": "malformed entry (not a UTF-8 JSON object)",
                }
            )
            break
    # 2. the chain, under the key; with --head, only the prefix that the head names
    prev = GENESIS
    links: list[str] = []
    for index, line in enumerate(lines):
        record = records[index]
        if record is None:
            report.chain_ok = False
            break
        if record.get("prev") != prev:
            report.chain_ok = False
            differ(
                index,
                "prev link does not match the entry before (an entry was edited, removed, "
                "inserted or moved, or the journal was chained with another key)",
                recorded=record.get("prev"),
                expected=prev,
            )
            break
        prev = key.link(line)  # type: ignore[arg-type]
        links.append(prev)
        if expected_head is not None and prev == expected_head:
            break
    if expected_head is not None and report.chain_ok:
        if expected_head not in links:
            differences.append(
                {
                    "line": len(lines),
                    "event": None,
                    "reason": "the head names no entry of this journal (a run before it was "
                    "dropped, swapped or rewritten, or it is another journal or key)",
                    "expected": expected_head,
                }
            )
        else:
            # the prefix H vouches for: everything up to the entry whose link is H
            end = links.index(expected_head) + 1
            lines, records, framing = lines[:end], records[:end], None
            report.entries = end
            last = records[-1]
            if not isinstance(last, dict) or last.get("event") != RUN_END_EVENT:
                differ(end - 1, "the head names an entry inside a run, not a run's head")
    # the head of the (prefix of the) file as it is (what a run printed, if nothing was changed)
    report.head = key.link(lines[-1]) if lines and lines[-1] is not None else GENESIS
    # 3. replay run by run
    starts = [
        i for i, r in enumerate(records) if isinstance(r, dict) and r.get("event") == HEADER_EVENT
    ]
    if not starts or starts[0] != 0:
        differ(
            0,
            f"no {HEADER_EVENT} entry first: the run's inputs are not recorded, it cannot be replayed",
        )
    bounds = list(zip(starts, starts[1:] + [len(records)]))
    report.runs = len(bounds)
    verified: Counter[str] = Counter()
    for start, end in bounds:
        header = records[start]
        assert header is not None
        if header.get("key_id") != key.key_id:
            differ(
                start,
                "the journal was chained with another key than the one given to the audit"
                if header.get("key_id") and key.key_id
                else "the journal is keyed: give its key ($CROSSROUTE_JOURNAL_KEY or "
                "$CROSSROUTE_JOURNAL_KEY_FILE)"
                if header.get("key_id")
                else "the audit has a key but this run was not chained with one",
                recorded=header.get("key_id"),
                replayed=key.key_id,
            )
            break
        report.run_heads.append(links[end - 1] if end - 1 < len(links) else None)
        if header.get("config_sha256") != digest:
            differ(
                start,
                "the config given to the audit is not the one this run used",
                recorded=header.get("config_sha256"),
                replayed=digest,
            )
            break
        try:
            order = order_from_record(header.get("order"))
            replayed = replay_run(
                build_market(market_config), order, str(header.get("prev")), header, key
            )
        except CrossrouteError as exc:
            differ(start, f"the recorded inputs cannot be replayed: {exc}")
            break
        new_lines = replayed.lines()
        found = None
        for offset in range(max(end - start, len(new_lines))):
            index = start + offset
            if offset >= len(new_lines):
                found = (index, "the journal has entries the replay does not produce", {})
                break
            if index >= end:
                found = (
                    index,
                    f"the journal ends early: the replay continues with {new_lines[offset][:120]}",
                    {},
                )
                break
            if lines[index] != new_lines[offset]:
                mine = records[index]
                theirs = json.loads(new_lines[offset])
                keys = _diff_fields(mine, theirs)
                found = (
                    index,
                    "the entry differs from the replay",
                    {
                        "fields": keys,
                        "recorded": {k: (mine or {}).get(k) for k in keys}
                        if mine is not None
                        else lines[index],
                        "replayed": {k: theirs.get(k) for k in keys},
                    },
                )
                break
            verified[str(records[index].get("event"))] += 1  # type: ignore[union-attr]
        if found is not None:
            index, reason, extra = found
            differ(
                min(index, len(records) - 1) if index >= len(records) else index, reason, **extra
            )
            break
        report.replayed_entries += len(new_lines)
    if framing is not None:
        differences.append({"line": len(lines), "event": None, "reason": framing})
    report.events = dict(verified)
    if differences:
        report.difference = min(differences, key=lambda d: d["line"])
    report.verified = not differences
    return report
