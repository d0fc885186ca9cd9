"""Orders logged before they run (router/paper/store.py): the command's fsync'd commit on the log
connection overlaps the routing; the result follows without an fsync. A result commit lost (a
kill or power cut between the two commits) is completed on the next start from the same state,
to the same rows; a refusal after logging leaves no trace."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from router.paper.service import PaperError, PaperService
from router.paper.store import Store

CONFIG = "config/default.toml"

PREFIX: list[tuple[str, dict[str, Any]]] = [
    ("step", {"ticks": 3}),
    (
        "order",
        {"client_id": "a1", "account": "desk-a", "symbol": "ETH/USDC", "side": "buy", "qty": "2"},
    ),
    (
        "order",
        {
            "client_id": "g1",
            "account": "desk-a",
            "symbol": "ETH/USDC",
            "side": "sell",
            "qty": "1",
            "limit": "2683",
            "tif": "gtc",
        },
    ),
]
LAST = {"client_id": "z9", "account": "desk-a", "symbol": "ETH/USDC", "side": "sell", "qty": "1.5"}


def _rows(path: Path) -> dict[str, list[tuple]]:
    db = sqlite3.connect(path)
    rows = {
        table: db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
        for table in ("events", "orders", "fills", "journal")
    }
    db.close()
    return rows


async def _prefix(path: Path) -> PaperService:
    service = PaperService(CONFIG, db=path)
    await service.open()
    for kind, body in PREFIX:
        await service.command(kind, body)
    await service.tick(4)  # ticks whose journal lines go with the next command's commit
    return service


async def test_an_order_is_logged_durably_before_its_result_and_acked_with_both(tmp_path):
    service = await _prefix(tmp_path / "p.db")
    doc = await service.command("order", LAST)
    store = service.store
    # committed before the ack: another connection (as another process would) sees it
    last = _rows(tmp_path / "p.db")["events"][-1]  # seq, kind, tick, t_ns, body, result
    kind, body, result = last[1], last[4], last[5]
    assert (kind, body) == (
        "order",
        '{"account":"desk-a","client_id":"z9","qty":"1.5","side":"sell","symbol":"ETH/USDC"}',
    )
    assert store.order("z9") == doc and result != ""
    # the write connection commits with FULL (the logged command's fsync the ack waits for);
    # reads go to the other connection, so a lookup while the worker commits does not wait
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert store._read is not store._db and store._log_thread is not None
    service.close()


async def test_a_lost_result_commit_is_completed_on_start_to_the_same_rows(tmp_path):
    twin = await _prefix(tmp_path / "twin.db")
    await twin.command("order", LAST)
    digest = twin.state_digest()
    twin.close()

    # Killed between the two commits: the command is in the log (fsync'd), its result is not.
    service = await _prefix(tmp_path / "p.db")
    logged = service.store.log_command("order", service.sim.tick, service.sim.t_ns, LAST)
    seq = logged.seq()
    service.store.close()
    lost = _rows(tmp_path / "p.db")
    assert lost["events"][-1][0] == seq and lost["events"][-1][-1] == ""
    assert not any(row[0] == "z9" for row in lost["orders"])

    again = PaperService(CONFIG, db=tmp_path / "p.db")
    replayed = await again.open()
    assert replayed == len(PREFIX) + 1  # the logged order ran once more, on the same state
    assert again.state_digest() == digest
    again._check()
    again.close()
    assert _rows(tmp_path / "p.db") == _rows(tmp_path / "twin.db")

    # and it is an ordinary history from then on: a restart replays it like any other
    third = PaperService(CONFIG, db=tmp_path / "p.db")
    await third.open()
    assert third.state_digest() == digest
    third.close()


async def test_a_logged_order_refused_on_start_is_deleted(tmp_path):
    service = await _prefix(tmp_path / "p.db")
    before = _rows(tmp_path / "p.db")
    digest = service.state_digest()
    taken = {**LAST, "client_id": "a1"}  # a1 is another order's id: the desk refuses it (409)
    service.store.log_command("order", service.sim.tick, service.sim.t_ns, taken).seq()
    service.store.close()
    again = PaperService(CONFIG, db=tmp_path / "p.db")
    assert await again.open() == len(PREFIX)
    assert again.state_digest() == digest
    again.close()
    after = _rows(tmp_path / "p.db")
    assert after["events"] == before["events"] and after["orders"] == before["orders"]


@pytest.mark.parametrize("memory", [False, True])
async def test_an_order_refused_after_logging_leaves_no_event(tmp_path, memory):
    service = PaperService(CONFIG, db=None if memory else tmp_path / "p.db")
    await service.open()
    await service.command("order", LAST)
    counts = service.store.counts()
    with pytest.raises(PaperError) as info:
        await service.command("order", {**LAST, "qty": "2"})  # the id names another order
    assert info.value.status == 409
    assert service.store.counts() == counts and service.recoveries == 0
    doc = await service.command("order", {**LAST, "client_id": "z10"})
    assert doc["status"] == "filled" and service.store.last_event_seq() == counts["events"] + 1
    service.close()


def test_a_result_goes_only_to_a_logged_command_without_one(tmp_path):
    store = Store(tmp_path / "s.db")
    seq = store.log_command("order", 0, 5, {"client_id": "a"}).seq()
    assert seq == 1
    with pytest.raises(ValueError, match="with its result"):
        store.commit(tick=0, logged=seq)
    store.commit(tick=0, event=("order", 0, 5, {"client_id": "a"}, {"b": 1}), logged=seq)
    with pytest.raises(ValueError, match="not logged without a result"):
        store.commit(tick=0, event=("order", 0, 5, {"client_id": "a"}, {"b": 2}), logged=seq)
    assert next(store.events()).result == {"b": 1}
    store.unlog(seq)  # a command with its result is never taken back
    assert store.last_event_seq() == 1
    store.close()
