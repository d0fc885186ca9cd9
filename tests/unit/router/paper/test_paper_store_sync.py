"""The store's fsync policy: commands always at synchronous=FULL, the tick watermark alone without
an fsync (and the connection back at FULL after it), WAL checkpoints between ticks only."""

from __future__ import annotations

import pytest

from router.paper.store import CHECKPOINT_COMMITS, Store


def _synchronous(store: Store) -> int:
    return store._db.execute("PRAGMA synchronous").fetchone()[0]


def test_a_command_cannot_skip_the_fsync_and_the_connection_stays_full(tmp_path):
    store = Store(tmp_path / "p.db")
    assert _synchronous(store) == 2  # FULL
    store.commit(tick=3, durable=False)
    assert _synchronous(store) == 2 and store.ticks_done() == 3
    with pytest.raises(ValueError, match="durably"):
        store.commit(tick=4, event=("step", 3, 0, {"ticks": 1}, {"tick": 4}), durable=False)
    assert store.last_event_seq() == 0 and store.ticks_done() == 3  # refused: nothing written
    seq = store.commit(tick=4, event=("step", 3, 0, {"ticks": 1}, {"tick": 4}))
    assert seq == 1 and _synchronous(store) == 2
    store.close()
    again = Store(tmp_path / "p.db")  # the acknowledged count matches what the database holds
    assert again.last_event_seq() == 1 and again.ticks_done() == 4
    again.close()


def test_an_order_doc_that_is_the_result_is_stored_identically_in_both_tables(tmp_path):
    store = Store(tmp_path / "p.db")
    doc = {"client_id": "a", "account": "x", "subaccount": "x/main", "status": "filled"}
    doc |= {"seq": 1, "updated_t_ns": 5, "legs": [{"qty": "1.5"}]}
    store.commit(tick=0, event=("order", 0, 5, {"client_id": "a"}, doc), orders=[doc])
    assert store.order("a") == doc == next(store.events()).result
    store.close()


def test_checkpoints_run_between_ticks_after_enough_commits(tmp_path):
    store = Store(tmp_path / "p.db")
    assert not store.maybe_checkpoint()  # nothing to copy yet
    for tick in range(CHECKPOINT_COMMITS - 1):
        store.commit(tick=tick, event=("step", tick, 0, {"ticks": 1}, {"tick": tick + 1}))
    assert not store.maybe_checkpoint()
    store.commit(tick=CHECKPOINT_COMMITS, durable=False)
    db_bytes = (tmp_path / "p.db").stat().st_size  # the commits so far live in the WAL only
    assert store.maybe_checkpoint()
    assert (tmp_path / "p.db").stat().st_size > db_bytes  # copied into the database file
    assert not store.maybe_checkpoint()
    assert store.last_event_seq() == CHECKPOINT_COMMITS - 1
    store.close()


def test_an_in_memory_store_never_checkpoints():
    store = Store(":memory:")
    for tick in range(CHECKPOINT_COMMITS + 1):
        store.commit(tick=tick)
    assert not store.maybe_checkpoint()
    store.close()
