"""State machine over the hash-chained journal: writes, refused writes, reopening the file (a new
run continuing the chain), and in-memory journals continuing a recorded head. Invariants: every
journal's own `_check()`, and the whole file verifies as one chain ending at the last head."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from router.execution.journal import DecisionJournal, StepClock
from router.margin.journal import GENESIS, verify_chain
from router.model.errors import ExecutionError


class JournalChain(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "j.jsonl"
        self.journal = DecisionJournal(self.path, clock=StepClock())
        self.memory = DecisionJournal(clock=StepClock())
        self.written = 0

    def teardown(self) -> None:
        self.dir.cleanup()

    @rule(
        event=st.sampled_from(["plan", "fill", "margin_check"]),
        qty=st.decimals(0, 10**6, places=8),
        note=st.text(max_size=8),
    )
    def write(self, event: str, qty: Decimal, note: str) -> None:
        self.journal.write(event, qty=qty, note=note)
        self.memory.write(event, qty=qty)
        self.written += 1

    @rule(bad=st.sampled_from([{"price": 1.5}, {"seq": 1}, {"prev": "x"}, {"obj": object()}]))
    def refused_write_changes_nothing(self, bad: dict) -> None:
        head, lines = self.journal.head, self.path.read_text() if self.path.exists() else ""
        try:
            self.journal.write("bad", **bad)
        except ExecutionError:
            pass
        else:  # pragma: no cover - the rule only offers refused fields
            raise AssertionError("a bad field was accepted")
        assert self.journal.head == head
        assert (self.path.read_text() if self.path.exists() else "") == lines

    @rule()
    def reopen(self) -> None:
        """A new run appends to the same file and continues its chain."""
        head = self.journal.head
        self.journal = DecisionJournal(self.path, clock=StepClock())
        assert self.journal.start == head

    @rule()
    def continue_in_memory(self) -> None:
        """A replay continues the recorded head: its first line links to it."""
        replay = DecisionJournal(clock=StepClock(), prev=self.memory.head)
        replay.write("replayed")
        assert verify_chain(replay.lines(), self.memory.head)[1] is None

    @invariant()
    def chains_hold(self) -> None:
        self.journal._check()
        self.memory._check()
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        assert len(lines) == self.written
        head, broken = verify_chain(lines)
        assert broken is None and head == (self.journal.head if lines else GENESIS)


TestJournalChain = JournalChain.TestCase
TestJournalChain.settings = settings(max_examples=25, stateful_step_count=15, deadline=None)
