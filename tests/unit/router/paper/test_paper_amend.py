"""Amending a working gtc order: a new limit and/or size; refusals change nothing; replayed alike."""

from __future__ import annotations

import pytest

from router.paper.service import PaperError, PaperService

CONFIG = "config/default.toml"
GTC = {
    "client_id": "g",
    "account": "desk-a",
    "symbol": "ETH/USDC",
    "side": "buy",
    "qty": "2",
    "limit": "2000",
    "tif": "gtc",
}


async def test_amend_changes_limit_and_size_and_a_restart_replays_it(tmp_path):
    db = tmp_path / "p.db"
    service = PaperService(CONFIG, db=db)
    await service.open()
    await service.command("order", GTC)
    doc = await service.command("amend", {"client_id": "g", "limit": "2100", "qty": "3"})
    assert doc["amended"] == {"limit": "2100", "qty": "3"} and doc["remaining_qty"] == "3"
    work = service.desk.state.working["g"]
    assert str(work.leg.limit_price) == "2100" and str(work.remaining) == "3"
    # An amend to a limit above the market works the order at the next tick.
    await service.command("amend", {"client_id": "g", "limit": "3000"})
    await service.tick(1)
    assert service.order_doc("g")["status"] == "filled"
    digest = service.state_digest()
    service._check()
    service.close()
    again = PaperService(CONFIG, db=db)
    await again.open()
    assert again.state_digest() == digest
    again.close()


@pytest.mark.parametrize(
    "body,status,field",
    [
        ({"client_id": "g"}, 400, "limit"),  # nothing to change
        ({"client_id": "g", "limit": "1e3"}, 400, "limit"),
        ({"client_id": "g", "qty": "-1"}, 400, "qty"),
        ({"client_id": "g", "price": "1"}, 400, "price"),
        ({"client_id": "nope", "limit": "1"}, 404, "client_id"),
        ({"client_id": "i", "limit": "1"}, 409, "client_id"),  # an ioc order, finished
    ],
)
async def test_refused_amends_change_nothing(body, status, field):
    service = PaperService(CONFIG)
    await service.open()
    await service.command("order", GTC)
    await service.command("order", {**GTC, "client_id": "i", "tif": "ioc", "limit": "3000"})
    before = (service.state_digest(), service.store.counts(), service.recoveries)
    with pytest.raises(PaperError) as refused:
        await service.command("amend", body)
    assert (refused.value.status, refused.value.field) == (status, field)
    assert (service.state_digest(), service.store.counts(), service.recoveries) == before


async def test_amend_below_the_filled_size_is_refused():
    service = PaperService(CONFIG)
    await service.open()
    # A gtc buy at a limit that fills part now: binance-book's best ask level is finite.
    doc = await service.command("order", {**GTC, "qty": "500", "limit": "2687"})
    filled = 500 - float(doc["remaining_qty"])
    assert doc["status"] == "partially_filled" and filled > 0
    with pytest.raises(PaperError) as refused:
        await service.command("amend", {"client_id": "g", "qty": "0.0001"})
    assert refused.value.status == 409 and "already filled" in refused.value.allowed
