"""Append-only decision journal: one JSON object per line, byte-identical for identical inputs.

Determinism comes from three rules: timestamps come from an injected clock in integer
nanoseconds (never the wall clock), keys are written in sorted order with fixed separators, and
every ``Decimal`` is written as its exact fixed-point string (``format(d, "f")``), never a float.
Each record carries ``seq`` (0, 1, 2, ... per journal), ``t_ns`` and ``prev`` (the link of the
previous line: the journal is a hash chain, see :mod:`router.margin.journal`) besides its own fields.

Keyed chain: with a :class:`ChainKey` (a secret from ``$CROSSROUTE_JOURNAL_KEY`` or the file named
by ``$CROSSROUTE_JOURNAL_KEY_FILE``), a line's link is HMAC-SHA256(key, line) instead of SHA-256:
whoever edits, drops or reorders entries cannot recompute the chain without the key, so the audit
detects any rewrite. Without a key the chain is plain SHA-256 (tamper-evident only against a head
printed elsewhere: ``crossroute audit --head``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.margin.journal import GENESIS, ChainBreak, line_hash, verify_chain
from router.margin.journal import Journal as HashChainedLines
from router.model.errors import ConfigError, CrossrouteError, ExecutionError

__all__ = [
    "GENESIS",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "ChainKey",
    "DecisionJournal",
    "StepClock",
    "encode_record",
    "line_hash",
    "load_chain_key",
    "read_journal",
    "verify_chain",
    "verify_keyed_chain",
]


KEY_ENV = "CROSSROUTE_JOURNAL_KEY"
KEY_FILE_ENV = "CROSSROUTE_JOURNAL_KEY_FILE"
MIN_KEY_BYTES = 16


@dataclass(frozen=True, slots=True)
class ChainKey:
    """The secret that links a journal's lines (None: unkeyed, plain SHA-256)."""

    secret: bytes | None = None

    def __repr__(self) -> str:  # never print the secret
        return f"ChainKey(scheme={self.scheme!r}, key_id={self.key_id!r})"

    @property
    def scheme(self) -> str:
        return "sha256" if self.secret is None else "hmac-sha256"

    @property
    def key_id(self) -> str | None:
        """A public fingerprint of the key (16 hex digits) so an audit can tell a wrong key."""
        if self.secret is None:
            return None
        return hashlib.sha256(b"crossroute journal key id\0" + self.secret).hexdigest()[:16]

    def link(self, line: str) -> str:
        """The chain link of one line (without its newline): HMAC-SHA256 or SHA-256, hex."""
        if self.secret is None:
            return line_hash(line)
        return hmac.new(self.secret, line.encode("utf-8"), hashlib.sha256).hexdigest()

    def head_of_file(self, path: str | Path) -> str:
        """The link of a journal file's last non-empty line, or GENESIS. O(file size)."""
        path = Path(path)
        if not path.exists():
            return GENESIS
        last = None
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    last = line.rstrip("\n")
        return GENESIS if last is None else self.link(last)


def load_chain_key(
    key_file: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> ChainKey:
    """The journal key: the file ``key_file`` (or ``$CROSSROUTE_JOURNAL_KEY_FILE``), else the text
    of ``$CROSSROUTE_JOURNAL_KEY``, else no key. A key shorter than 16 bytes, or a key file that
    cannot be read, is a ConfigError (the command exits 2)."""
    environ = os.environ if environ is None else environ
    source = key_file if key_file is not None else environ.get(KEY_FILE_ENV) or None
    if source is not None:
        try:
            secret = Path(source).read_bytes().strip()
        except OSError as exc:
            raise ConfigError(
                str(source), "journal key file", str(source), f"a readable file ({exc.strerror})"
            ) from None
        where = str(source)
    elif environ.get(KEY_ENV):
        secret, where = environ[KEY_ENV].encode("utf-8"), f"${KEY_ENV}"
    else:
        return ChainKey(None)
    if len(secret) < MIN_KEY_BYTES:
        raise ConfigError(
            where,
            "journal key",
            f"{len(secret)} bytes",
            f"a secret of at least {MIN_KEY_BYTES} bytes",
        )
    return ChainKey(secret)


def verify_keyed_chain(
    lines: Iterable[str], key: ChainKey, start: str = GENESIS
) -> tuple[str, ChainBreak | None]:
    """:func:`router.margin.journal.verify_chain` with ``key``'s links. O(total size)."""
    return verify_chain(lines, start, None if key.secret is None else key.link)


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


class _NotPlain(Exception):
    """Raised by :func:`_fast_plain` on a value it cannot convert (internal)."""


def _fast_plain(value: Any) -> Any:
    """:func:`_plain` without the key paths, which only an error needs: the same result for every
    value :func:`_plain` accepts, :class:`_NotPlain` for every other. O(size).

    The exact built-in types a record is made of are dispatched on ``type()`` first (no ABC
    ``isinstance`` walk: a journal write converts ~20 nested values); every other value (a
    subclass, another mapping, a set) takes :func:`_general_plain`, the same rules as before."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is Decimal:
        if not value.is_finite():
            raise _NotPlain
        return format(value, "f")
    if kind is dict:
        # str(k) of an exact str is k itself
        return {k if type(k) is str else str(k): _fast_plain(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_fast_plain(v) for v in value]
    return _general_plain(value)


def _general_plain(value: Any) -> Any:
    """:func:`_fast_plain` for values of any other type (by ``isinstance``, as :func:`_plain`)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _NotPlain
        return format(value, "f")
    if isinstance(value, float):
        raise _NotPlain
    if isinstance(value, Mapping):
        return {str(k): _fast_plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_fast_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_fast_plain(v) for v in value]
    raise _NotPlain


def plain_data(value: Any, path: str = "record") -> Any:
    """``value`` as JSON-ready plain data (Decimal -> fixed-point str, tuples -> lists, keys ->
    str); ExecutionError naming the field at ``path`` otherwise. The fast path builds no key
    paths; only a refused value is walked again to name the field. O(size)."""
    try:
        return _fast_plain(value)
    except _NotPlain:
        return _plain(value, path)  # raises, naming the field


def _dumps(plain: Any) -> str:
    """Canonical JSON of already plain data: sorted keys, no spaces, no NaN."""
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), allow_nan=False)


def encode_record(record: Mapping[str, Any]) -> str:
    """One record as its canonical JSON line (no trailing newline): sorted keys, no spaces. O(size)."""
    return _dumps(plain_data(record))


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
        key: ChainKey | None = None,
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
        self.key = key if key is not None else ChainKey(None)
        if self.path is not None and self.key.secret is not None:
            # a file continues its own chain, linked with this key
            self._start = self._head = self.key.head_of_file(self.path)
        self._clock: Callable[[], int] = clock if clock is not None else StepClock()
        self._last_t_ns = 0

    def append(self, event: str, **fields: Any) -> str:
        """Append one record ``{"event", "seq", "t_ns", "prev", **fields}`` and return its line."""
        return self._add(event, fields)[1]

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one record; returns it as plain data (decimals as strings)."""
        return self._add(event, fields)[0]

    def _add(self, event: str, fields: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Append one record; returns it as plain data and as the line written (encoded once:
        the line is the record's canonical encoding, so neither caller converts it again)."""
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
        body = plain_data(fields)
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
        line = _dumps(record)  # plain already: converting it again would change nothing
        self._emit(line)
        return record, line

    def _emit(self, line: str) -> None:
        """Keep and mirror one line; the head becomes its link under this journal's key."""
        super()._emit(line)
        if self.key.secret is not None:
            self._head = self.key.link(line)

    def verify(self) -> ChainBreak | None:
        """Re-verify this journal's own chain under its key; None when intact. O(size)."""
        return verify_keyed_chain(self._lines, self.key, self._start)[1]

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
