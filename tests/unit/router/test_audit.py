"""The audit trail: hash-chained journals, replay of recorded runs, and tamper detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.app import DEFAULT_CONFIG, load_market
from router.audit import audit_journal, config_digest, order_from_record, replay_run
from router.config import load_config
from router.execution.journal import DecisionJournal, StepClock
from router.execution.order import load_order
from router.margin.journal import GENESIS, line_hash, verify_chain
from router.margin.journal import Journal as MarginJournal
from router.model.errors import ConfigError, ExecutionError

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "config" / "examples"
ORDERS = [
    EXAMPLES / "basis-order.toml",
    EXAMPLES / "reverse-basis-order.toml",
    EXAMPLES / "spend-order.toml",
]
CONFIG = load_config(DEFAULT_CONFIG)


def journal_of(*orders: Path) -> str:
    """The journal `crossroute execute --journal` writes for these orders run one after another
    into one file (each run on a fresh market from the config, the chain continued)."""
    text, prev = "", GENESIS
    for path in orders:
        journal = replay_run(load_market(DEFAULT_CONFIG), load_order(path), prev)
        text += journal.text()
        prev = journal.head
    return text


@pytest.fixture(scope="module")
def basis_journal() -> bytes:
    return journal_of(ORDERS[0]).encode()


# -- the chain ------------------------------------------------------------------------------------


def test_every_entry_carries_the_hash_of_the_previous_one(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = DecisionJournal(path, clock=StepClock())
    for i in range(4):
        journal.write("step", i=i)
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["prev"] == GENESIS
    for before, after in zip(lines, lines[1:]):
        assert json.loads(after)["prev"] == line_hash(before)
    assert journal.head == line_hash(lines[-1]) and verify_chain(lines) == (journal.head, None)
    again = DecisionJournal(path, clock=StepClock())  # a second run appends and continues the chain
    again.write("next")
    assert verify_chain(path.read_text().splitlines())[1] is None
    journal._check()


def test_margin_journal_chains_too_and_refuses_a_bad_start() -> None:
    journal = MarginJournal(prev="ab" * 32)
    journal.append("a", x=1)
    assert journal.events()[0]["prev"] == "ab" * 32 and journal.verify() is None
    with pytest.raises(ExecutionError):
        DecisionJournal(prev="xyz")
    with pytest.raises(ExecutionError):
        DecisionJournal("some/path.jsonl", prev="ab" * 32)


def test_verify_chain_names_the_first_break() -> None:
    journal = MarginJournal()
    for i in range(5):
        journal.append("e", i=i)
    lines = list(journal.lines())
    lines[2], lines[3] = lines[3], lines[2]
    _head, broken = verify_chain(lines)
    assert broken is not None and broken.index == 2
    assert verify_chain(["not json"])[1].reason.startswith("not a JSON line")


# -- replay -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ORDERS, ids=lambda p: p.stem)
def test_replay_of_every_example_run_matches(tmp_path: Path, order: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text(journal_of(order))
    report = audit_journal(path, DEFAULT_CONFIG)
    assert report.verified, report.difference
    assert report.chain_ok and report.runs == 1 and report.replayed_entries == report.entries
    assert report.events["run_header"] == 1 and report.events["order_done"] == 1
    assert report.head == line_hash(path.read_text().splitlines()[-1])


def test_several_runs_in_one_file_replay(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text(journal_of(*ORDERS))
    report = audit_journal(path, CONFIG)
    assert report.verified and report.runs == 3


def test_reordered_runs_are_detected(tmp_path: Path) -> None:
    first, second = journal_of(ORDERS[0]), journal_of(ORDERS[1])
    path = tmp_path / "j.jsonl"
    path.write_text(second + first)  # each run alone is fine; the order of the file is not
    report = audit_journal(path, CONFIG)
    assert not report.verified and not report.chain_ok


def test_a_different_config_is_reported_at_the_header(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text(journal_of(ORDERS[0]))
    other = tmp_path / "other.toml"
    other.write_text(
        Path(DEFAULT_CONFIG).read_text().replace("fee_pips = 3000", "fee_pips = 2500", 1)
    )
    report = audit_journal(path, other)
    assert not report.verified and report.difference["line"] == 1
    assert "not the one this run used" in report.difference["reason"]
    # comments and layout do not change the digest: only the parsed market does
    same = tmp_path / "same.toml"
    same.write_text("# a comment\n" + Path(DEFAULT_CONFIG).read_text())
    assert config_digest(load_config(same)) == config_digest(CONFIG)


def test_an_edited_figure_is_reported_with_both_values(
    tmp_path: Path, basis_journal: bytes
) -> None:
    lines = basis_journal.decode().splitlines()
    index = next(i for i, line in enumerate(lines) if '"event":"order_done"' in line)
    record = json.loads(lines[index])
    record["capital_efficiency"]["saved"] = "999999.00000000"
    lines[index] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    for after in range(index + 1, len(lines)):  # an unkeyed chain can be recomputed by anyone
        relinked = json.loads(lines[after])
        relinked["prev"] = line_hash(lines[after - 1])
        lines[after] = json.dumps(relinked, sort_keys=True, separators=(",", ":"))
    path = tmp_path / "j.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = audit_journal(path, CONFIG)
    assert not report.verified and report.chain_ok  # a recomputed chain: only the replay can tell
    diff = report.difference
    assert (
        diff["line"] == index + 1
        and diff["event"] == "order_done"
        and "capital_efficiency" in diff["fields"]
    )
    assert diff["recorded"]["capital_efficiency"]["saved"] == "999999.00000000"
    assert diff["replayed"]["capital_efficiency"]["saved"] != "999999.00000000"


def test_truncation_and_head_mismatch_are_detected(tmp_path: Path, basis_journal: bytes) -> None:
    lines = basis_journal.decode().splitlines()
    path = tmp_path / "j.jsonl"
    path.write_text("\n".join(lines[:-3]) + "\n")
    report = audit_journal(path, CONFIG)
    assert not report.verified and "ends early" in report.difference["reason"]
    path.write_bytes(basis_journal)
    assert audit_journal(path, CONFIG, expected_head=line_hash(lines[-1])).verified
    report = audit_journal(path, CONFIG, expected_head="0" * 64)
    assert not report.verified and "names no entry" in report.difference["reason"]


def test_journal_without_inputs_cannot_be_replayed(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = DecisionJournal(path, clock=StepClock())
    journal.write("order_received", client_id="x")
    report = audit_journal(path, CONFIG)
    assert not report.verified and "run_header" in report.difference["reason"] and report.chain_ok


@pytest.mark.parametrize("content", [b"", None])
def test_unreadable_or_empty_journal_is_a_config_error(
    tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "j.jsonl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError):
        audit_journal(path, CONFIG)


@pytest.mark.parametrize("config", [None, "config/default.toml", {"assets": {}}])
def test_config_digest_refuses_anything_but_a_parsed_config(config) -> None:
    with pytest.raises(ConfigError) as info:
        config_digest(config)
    assert info.value.key == "config" and info.value.value == type(config).__name__


def test_config_digest_changes_with_any_parsed_field(tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text(
        Path(DEFAULT_CONFIG).read_text().replace("fee_pips = 3000", "fee_pips = 3001", 1)
    )
    assert config_digest(load_config(other)) != config_digest(CONFIG)
    assert len(config_digest(CONFIG)) == 64 and int(config_digest(CONFIG), 16) >= 0


def test_order_round_trips_through_the_header() -> None:
    for path in ORDERS:
        order = load_order(path)
        assert order_from_record(order.to_json_dict()) == order
    with pytest.raises(ConfigError):
        order_from_record({"legs": "no"})


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.floats(0, 1, exclude_max=True), flip=st.integers(1, 255))
def test_single_byte_tampering_anywhere_is_detected(
    tmp_path: Path, basis_journal: bytes, position: float, flip: int
) -> None:
    data = bytearray(basis_journal)
    data[int(position * len(data))] ^= flip
    path = tmp_path / "tampered.jsonl"
    path.write_bytes(bytes(data))
    report = audit_journal(path, CONFIG)
    assert not report.verified
    assert report.difference is not None and report.difference["line"] >= 1
