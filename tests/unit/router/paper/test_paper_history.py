"""Finished orders live in the store only: snapshots stay flat and old client ids still answer."""

from __future__ import annotations

import pytest

from router.paper.declared import DECLARED
from router.paper.service import PaperError, PaperService
from router.paper.snapshot import Declaration, StateImage
from venues.orderbook import OrderBook

CONFIG = "config/default.toml"


def _order(i: int) -> dict:
    return {
        "client_id": f"o{i}",
        "account": "desk-a",
        "symbol": "ETH/USDC",
        "side": "buy" if i % 2 else "sell",
        "qty": "0.1",
    }


def _state_bytes(service: PaperService) -> int:
    """Compressed snapshot size of every part, without the order books' id sets: the books
    remember every id they ever saw (their duplicate-id contract, venues/orderbook.py), so each
    order's child ids stay there, and that is not ours to drop. (The makers' ladder ids no longer
    add to it per tick: test_paper_makers.py.)"""
    image = service.snapshots.parts[0][0]
    book = DECLARED[OrderBook]
    without_ids = Declaration(tuple(n for n in book.state if n != "_ids"), (*book.wiring, "_ids"))
    core = StateImage(
        image.roots, {**DECLARED, OrderBook: without_ids}, keep=image.objects[len(image.roots) :]
    )
    return len(core.dumps()) + sum(len(part.dumps()) for part, _ in service.snapshots.parts[1:])


async def test_snapshot_size_stays_flat_as_finished_orders_accumulate():
    service = PaperService(CONFIG, snapshot_every=10**9, snapshot_every_ticks=10**9)
    await service.open()
    sizes = {}
    for i in range(1, 401):
        await service.command("order", _order(i))
        if i in (200, 400):
            sizes[i] = _state_bytes(service)
    assert service.store.counts()["orders"] == 400 and service.desk.state.orders == {}
    assert abs(sizes[400] - sizes[200]) <= 1024, sizes  # at most ~5 bytes per finished order
    service._check()


async def test_old_client_ids_answer_idempotently_after_a_restart_from_a_snapshot(tmp_path):
    db = tmp_path / "p.db"
    service = PaperService(CONFIG, db=db, snapshot_every=3, snapshot_every_ticks=10**9)
    await service.open()
    acks = [await service.command("order", _order(i)) for i in range(1, 6)]
    gtc = {
        "client_id": "g",
        "account": "desk-a",
        "symbol": "ETH/USDC",
        "side": "buy",
        "qty": "1",
        "limit": "2000",
        "tif": "gtc",
    }
    open_ack = await service.command("order", gtc)
    # Retries logged after the newest snapshot: the restart replays them against the store.
    assert await service.command("order", _order(1)) == acks[0]
    await service.tick(2)
    digest, counts = service.state_digest(), service.store.counts()
    service.close()

    again = PaperService(CONFIG, db=db)
    assert 0 < await again.open() < counts["events"]  # restarted from a snapshot plus a tail
    assert again.state_digest() == digest and set(again.desk.state.orders) == {"g"}
    for i, ack in enumerate(acks, start=1):
        assert await again.command("order", _order(i)) == ack  # finished: answered from the store
    assert (await again.command("order", gtc))["client_id"] == open_ack["client_id"]
    assert again.store.counts()["fills"] == counts["fills"]  # nothing traded again
    with pytest.raises(PaperError) as reused:
        await again.command("order", {**_order(2), "qty": "0.2"})
    assert reused.value.status == 409 and reused.value.field == "client_id"
    with pytest.raises(PaperError) as done:
        await again.command("cancel", {"client_id": "o3"})
    assert done.value.status == 409 and "filled" in done.value.allowed
    with pytest.raises(PaperError) as retry_id:  # the executor id of gtc order g's first retry
        await again.command("order", {**_order(9), "client_id": "g.1"})
    assert retry_id.value.status == 409
    await again.command("order", {**_order(7), "client_id": "x.1"})
    with pytest.raises(PaperError) as parent:  # a gtc order whose retry ids are taken
        await again.command("order", {**gtc, "client_id": "x"})
    assert parent.value.status == 409
    again._check()
    again.close()
