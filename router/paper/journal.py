"""The paper service's decision journal: simulated-time stamps, drained to the store after each commit."""

from __future__ import annotations

from typing import Any

from router.execution.journal import DecisionJournal

__all__ = ["PaperJournal"]


class _LineWindow(list):
    """The journal's line list, emptied after each durable commit (the lines live in SQLite).

    ``len()`` counts every line ever appended, because the journal numbers each record with
    ``len(self._lines)``: draining must not restart ``seq``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0

    def __len__(self) -> int:
        return self.offset + super().__len__()

    def drain(self) -> list[tuple[int, str]]:
        lines = [(self.offset + i, line) for i, line in enumerate(list.__iter__(self))]
        self.offset += super().__len__()
        self.clear()
        return lines


class PaperJournal(DecisionJournal):
    """The decision journal with simulated-time stamps, drained to the store after each commit."""

    def __init__(self, clock: Any) -> None:
        super().__init__(None, clock=clock)
        self._lines = _LineWindow()

    @property
    def seq(self) -> int:
        """The number of lines written so far (the next line's seq)."""
        return len(self._lines)

    def drain(self) -> list[tuple[int, str]]:
        """The lines written since the last drain, with their seq; forgets them. O(lines)."""
        return self._lines.drain()
