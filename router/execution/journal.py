"""Append-only decision journal: one JSON object per line, byte-identical for identical inputs.

Determinism comes from three rules: timestamps come from an injected clock in integer
nanoseconds (never the wall clock), keys are written in sorted order with fixed separators, and
every ``Decimal`` is written as its exact fixed-point string (``format(d, "f")``), never a float.
Each record carries ``seq`` (0, 1, 2, ... per journal), ``t_ns`` and ``prev`` (the SHA-256 of the
previous line: the journal is a hash chain, see :mod:`router.margin.journal`) besides its own fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.margin.journal import GENESIS, line_hash, verify_chain
from router.margin.journal import Journal as HashChainedLines
from router.model.errors import CrossrouteError, ExecutionError

__all__ = [
    "GENESIS",
    "DecisionJournal",
    "StepClock",
    "encode_record",
    "line_hash",
    "read_journal",
    "verify_chain",
]


@dataclass(slots=True)
class StepClock:
    """A deterministic clock: each call returns the previous reading plus ``step_ns``.

    Units: integer nanoseconds. The first call returns ``start_ns``. O(1).
    """

    start_ns: int = 0
    step_ns: int = 1_000_000
    _next_ns: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        for name in ("start_ns", "step_ns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ExecutionError(
                    f"{name}={value!r} is invalid; allowed: an integer >= 0",
                    field=name,
                    value=value,
                    allowed="an integer >= 0",
                )
        self._next_ns = self.start_ns

    def __call__(self) -> int:
        now_ns = self._next_ns
        self._next_ns += self.step_ns
        return now_ns


def _plain(value: Any, path: str) -> Any:
    """Convert ``value`` to JSON-ready plain data: Decimal -> str, tuples -> lists, keys -> str."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ExecutionError(
                f"journal field {path}={value!r} is invalid; allowed: a finite Decimal",
                field=path,
                value=value,
                allowed="a finite Decimal",
            )
        # Fixed-point, never exponent form: "0.00000000", not "0E-8" (a risk desk reads these).
        return format(value, "f")
    if isinstance(value, float):
        # Any float, finite or not: it would make the journal depend on repr details and invite
        # binary rounding into an audit trail; the caller must decide on the decimal string itself.
        raise ExecutionError(
            f"journal field {path}={value!r} is a float; allowed: Decimal or str",
            field=path,
            value=value,
            allowed="Decimal or str",
        )
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v, path) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise ExecutionError(
        f"journal field {path} has type {type(value).__name__}; allowed: "
        "None, bool, int, str, Decimal, mappings and sequences of those",
        field=path,
        value=repr(value),
        allowed="JSON-like data with Decimals",
    )


def encode_record(record: Mapping[str, Any]) -> str:
    """One record as its canonical JSON line (no trailing newline): sorted keys, no spaces. O(size)."""
    return json.dumps(
        _plain(record, "record"), sort_keys=True, separators=(",", ":"), allow_nan=False
    )


class DecisionJournal(HashChainedLines):
    """The decision journal: the one journal of a run (executor, margin core, audit, paper).

    It is the margin core's hash-chained JSON lines (:class:`router.margin.journal.Journal`, the
    chain and its line format) plus an injected clock and strict fields; nothing else in the
    program defines a journal.

    Reuses :class:`router.margin.journal.Journal` (same line format: sorted keys, compact
    separators, decimal strings) so that the margin ledger and the executor can write to one
    journal. Every record gets ``t_ns`` from ``clock`` (integer nanoseconds; default a
    :class:`StepClock`, never the wall clock), and fields are validated strictly: a float, NaN or
    an unknown type raises ExecutionError and appends nothing. ``path`` (optional) receives every
    line as it is written; an existing file is appended to, never truncated, and its hash chain
    continued; ``prev`` starts an in-memory journal's chain at a recorded hash (replays).
    O(size) per record.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        clock: Callable[[], int] | None = None,
        prev: str | None = None,
    ) -> None:
        if clock is not None and not callable(clock):
            raise ExecutionError(
                f"clock={clock!r} is invalid; allowed: a callable returning int ns",
                field="clock",
                value=repr(clock),
                allowed="a callable returning int ns",
            )
        try:
            super().__init__(None if path is None else str(path), prev=prev)
        except CrossrouteError as exc:
            raise ExecutionError(
                str(exc), field="prev", value=prev, allowed="64 hex digits, no path"
            ) from None
        self.path = None if path is None else Path(path)
        self._clock: Callable[[], int] = clock if clock is not None else StepClock()
        self._last_t_ns = 0

    def append(self, event: str, **fields: Any) -> str:
        """Append one record ``{"event", "seq", "t_ns", "prev", **fields}`` and return its line."""
        return encode_record(self.write(event, **fields))

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one record; returns it as plain data (decimals as strings)."""
        if not isinstance(event, str) or not event:
            raise ExecutionError(
                f"event={event!r} is invalid; allowed: a non-empty string",
                field="event",
                value=event,
                allowed="a non-empty string",
            )
        reserved = {"event", "seq", "t_ns", "prev"} & fields.keys()
        if reserved:
            name = sorted(reserved)[0]
            raise ExecutionError(
                f"journal field {name!r} is reserved; allowed: other names",
                field=name,
                value=fields[name],
                allowed="a non-reserved name",
            )
        # Encode before reading the clock so a rejected record leaves clock and journal untouched.
        body = _plain(fields, "record")
        t_ns = self._clock()
        if isinstance(t_ns, bool) or not isinstance(t_ns, int) or t_ns < self._last_t_ns:
            allowed = f"an integer >= {self._last_t_ns} (ns, never going back)"
            raise ExecutionError(
                f"clock returned {t_ns!r}; allowed: {allowed}",
                field="t_ns",
                value=t_ns,
                allowed=allowed,
            )
        self._last_t_ns = t_ns
        record = {"event": event, "seq": len(self._lines), "t_ns": t_ns, "prev": self.head, **body}
        line = encode_record(record)
        self._emit(line)
        return record

    def _check(self) -> None:
        """Assert the invariants: seq runs 0, 1, 2, ...; t_ns never decreases; every line is the
        canonical encoding of its own record (sorted keys, no floats); the hash chain verifies."""
        assert self.verify() is None, self.verify()
        last_t_ns = -1
        for seq, line in enumerate(self._lines):
            record = json.loads(line)
            assert record["seq"] == seq, (seq, record["seq"])
            t_ns = record.get("t_ns", last_t_ns)
            assert isinstance(t_ns, int) and t_ns >= last_t_ns, (seq, t_ns, last_t_ns)
            last_t_ns = t_ns
            assert encode_record(record) == line, line

    def records(self) -> list[dict[str, Any]]:
        """Every record written through this object, decoded (decimals stay strings)."""
        return self.events()


def read_journal(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the records of a JSON-lines journal file in order; a bad line raises ExecutionError."""
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ExecutionError(
                    f"{path}:{number}: not a JSON line ({exc.msg})",
                    field="line",
                    value=number,
                    allowed="one JSON object per line",
                ) from exc
