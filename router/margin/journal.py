"""Append-only, hash-chained journal of margin decisions as JSON lines, byte-identical for identical inputs.

Each entry is one line: ``{"event": ..., "prev": h, "seq": n, ...}`` with sorted keys, compact
separators, numbers as decimal strings or ints, and no wall-clock time (callers pass ``now_ns``
explicitly when a time matters). ``prev`` is the SHA-256 (hex) of the previous line's UTF-8 bytes
(:data:`GENESIS` for the first line of a file), so that editing, dropping, inserting or reordering
any line breaks the chain at the first changed place; :attr:`Journal.head` is the hash of the last
line, the one number a run prints so that anyone can check the file later. O(size of the entry)
per append.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.margin.errors import MarginInputError

__all__ = ["GENESIS", "ChainBreak", "Journal", "last_line_hash", "line_hash", "verify_chain"]

# The "previous hash" of the first entry of a journal file.
GENESIS = "0" * 64


def line_hash(line: str) -> str:
    """SHA-256 hex digest of one journal line (without its newline). O(len(line))."""
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def last_line_hash(path: str | Path) -> str:
    """The chain head of an existing journal file: the hash of its last non-empty line, or
    GENESIS for a missing or empty file. O(file size)."""
    path = Path(path)
    if not path.exists():
        return GENESIS
    last = None
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                last = line.rstrip("\n")
    return GENESIS if last is None else line_hash(last)


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place a chain does not verify: ``index`` (0-based line), what was expected and found."""

    index: int
    reason: str
    expected: str | None = None
    found: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "line": self.index + 1,
            "reason": self.reason,
            "expected": self.expected,
            "found": self.found,
        }


def verify_chain(lines: Iterable[str], start: str = GENESIS) -> tuple[str, ChainBreak | None]:
    """Check that every line is a JSON object whose ``prev`` is the hash of the line before it.

    Returns ``(head, None)`` when the whole chain verifies (head = hash of the last line, or
    ``start`` for no lines) or ``(hash so far, ChainBreak)`` at the first line that does not.
    O(total size).
    """
    prev = start
    for index, line in enumerate(lines):
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return prev, ChainBreak(index, f"not a JSON line ({exc})")
        if not isinstance(record, dict):
            return prev, ChainBreak(index, "not a JSON object")
        found = record.get("prev")
        if found != prev:
            return prev, ChainBreak(
                index,
                "prev hash does not match the previous line",
                prev,
                found if isinstance(found, str) else repr(found),
            )
        prev = line_hash(line)
    return prev, None


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not journalable: {type(value).__name__}")


class Journal:
    """In-memory append-only list of hash-chained JSON lines, optionally mirrored to a file.

    A file that already holds lines is appended to and its chain continued (``prev`` of the first
    new line is the hash of the file's last line). ``prev`` (in-memory journals only) starts the
    chain at a given hash: a replay continues the chain of the run it re-creates.
    """

    def __init__(self, path: str | None = None, *, prev: str | None = None) -> None:
        if prev is not None and (
            path is not None
            or not isinstance(prev, str)
            or len(prev) != 64
            or any(c not in "0123456789abcdef" for c in prev)
        ):
            raise MarginInputError(
                "prev",
                prev,
                "64 lowercase hex digits, and no path (a file continues its own chain)",
            )
        self._lines: list[str] = []
        self._path = path
        self._start = (
            prev if prev is not None else GENESIS if path is None else last_line_hash(path)
        )
        self._head = self._start

    @property
    def head(self) -> str:
        """SHA-256 hex of the last line written (or of the file's last line before this journal)."""
        return self._head

    @property
    def start(self) -> str:
        """The ``prev`` of this journal's first line (GENESIS unless it continues a file)."""
        return self._start

    def _emit(self, line: str) -> None:
        """Keep and mirror one encoded line; advance the chain head."""
        self._lines.append(line)
        self._head = line_hash(line)
        if self._path is not None:
            with open(self._path, "a", encoding="utf-8", newline="\n") as fh:
                fh.write(line + "\n")

    def append(self, event: str, **fields: Any) -> str:
        record = {"event": event, "seq": len(self._lines), **fields, "prev": self._head}
        line = json.dumps(
            record, sort_keys=True, separators=(",", ":"), default=_default, allow_nan=False
        )
        self._emit(line)
        return line

    def lines(self) -> tuple[str, ...]:
        return tuple(self._lines)

    def text(self) -> str:
        return "".join(line + "\n" for line in self._lines)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._lines]

    def verify(self) -> ChainBreak | None:
        """Re-verify this journal's own chain; None when intact. O(size)."""
        return verify_chain(self._lines, self._start)[1]

    def __len__(self) -> int:
        return len(self._lines)
