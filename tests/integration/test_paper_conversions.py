"""``POST /api/orders`` with ``from``/``to``/``qty`` converts assets hop by hop through the executor
(the multi-hop leg of ``crossroute execute``): journaled, durable, replayed; hops quoted in another
asset than USDC book in the margin core as the two-asset swaps they are."""

from __future__ import annotations

from decimal import Decimal

import pytest

from router.paper.api import create_paper_app
from router.paper.service import PaperService
from tests.integration import test_paper_api

SUB = "desk-a/main"


api = test_paper_api.api  # the service on a fresh database behind a real aiohttp server


def _balances(service: PaperService, *assets: str) -> dict[str, Decimal]:
    return {asset: service.ledger.balance(SUB, asset) for asset in assets}


def _convert(client_id: str, source: str, target: str, qty: str, **extra: object) -> dict:
    return {
        "client_id": client_id,
        "account": "desk-a",
        "from": source,
        "to": target,
        "qty": qty,
        **extra,
    }


async def test_a_conversion_spends_exactly_qty_and_books_what_the_hops_delivered(api):
    before = _balances(api.service, "ETH", "USDC")
    status, doc = await api.call("POST", "/api/orders", _convert("cv1", "ETH", "USDC", "3"))
    assert status == 200, doc
    assert doc["kind"] == "conversion" and doc["status"] == "filled", doc
    inventory = {a: Decimal(q) for a, q in doc["multihop"]["inventory"].items()}
    assert inventory["ETH"] == Decimal(-3)
    after = _balances(api.service, "ETH", "USDC")
    assert after["ETH"] - before["ETH"] == Decimal(-3)
    assert after["USDC"] - before["USDC"] == inventory["USDC"] > 0
    # every hop's fills are stored with the order's client id and add up to the legs
    _, fills = await api.call("GET", "/api/fills?account=desk-a")
    mine = [f for f in fills["fills"] if f["client_id"] == "cv1"]
    assert sorted(f["fill_id"] for f in mine) == sorted(doc["fill_ids"]) and mine
    assert sum(Decimal(f["qty"]) for f in mine) == Decimal(3)
    _, journal = await api.call("GET", "/api/journal?limit=1000")
    events = [r["event"] for r in journal["records"] if r.get("client_id") == "cv1"]
    assert "multihop_planned" in events and events[-1] == "order_done", events
    api.service._check()


async def test_a_two_step_conversion_leaves_no_intermediate_and_survives_a_restart(api, tmp_path):
    before = _balances(api.service, "ETH", "USDC", "USDT", "WBTC")
    status, doc = await api.call("POST", "/api/orders", _convert("cv2", "ETH", "WBTC", "2"))
    assert status == 200 and doc["status"] == "filled", doc
    hops = doc["multihop"]["hops"]
    assert hops[0]["from"] == "ETH" and hops[-1]["to"] == "WBTC" and len(hops) >= 1, hops
    # the ledger moved exactly what the venues moved, intermediates included
    inventory = {a: Decimal(q) for a, q in doc["multihop"]["inventory"].items()}
    after = _balances(api.service, "ETH", "USDC", "USDT", "WBTC")
    assert {a: after[a] - before[a] for a in after} == {a: inventory.get(a, 0) for a in after}
    assert inventory["ETH"] == -2 and inventory["WBTC"] > 0
    # what the executor may leave of an intermediate is rounding dust, and reported as such
    residual = {a: Decimal(q) for a, q in doc["residual_exposure"].items()}
    assert all(0 <= q < Decimal("0.01") for q in residual.values()), residual
    again = await api.call("POST", "/api/orders", _convert("cv2", "ETH", "WBTC", "2"))
    assert again == (200, doc)  # idempotent: the same acknowledgement, nothing traded twice
    digest = api.service.state_digest()
    reopened = PaperService("config/default.toml", db=tmp_path / "paper.db")
    create_paper_app(reopened)  # the venue server's state is part of the digest
    assert await reopened.open() >= 1  # the conversion replays to the acknowledged result
    assert reopened.state_digest() == digest
    assert reopened.order_doc("cv2") == doc
    reopened.close()


@pytest.mark.parametrize("source,target,qty", [("ETH", "USDT", "2"), ("USDC", "USDT", "5000")])
async def test_a_hop_quoted_in_another_asset_books_the_swap_it_is(api, source, target, qty):
    """ETH/USDT and USDC/USDT are not quoted in the margin asset: the core books the two assets the
    venue moved (router/margin/swap.py), not a USDC price for USDT's figure."""
    before = _balances(api.service, "ETH", "USDC", "USDT")
    status, doc = await api.call("POST", "/api/orders", _convert("cv3", source, target, qty))
    assert status == 200 and doc["status"] == "filled", doc
    inventory = {a: Decimal(q) for a, q in doc["multihop"]["inventory"].items()}
    after = _balances(api.service, "ETH", "USDC", "USDT")
    assert {a: after[a] - before[a] for a in after} == {a: inventory.get(a, 0) for a in after}
    assert inventory[source] == -Decimal(qty) and inventory[target] > 0
    api.service._check()


BAD = [
    (_convert("b1", "ETH", "ETH", "1"), "to"),
    (_convert("b2", "ETH", "DOGE", "1"), "to"),
    (_convert("b3", "DOGE", "USDC", "1"), "from"),
    ({"client_id": "b4", "account": "desk-a", "from": "ETH", "to": "USDC"}, "qty"),
    (_convert("b5", "ETH", "USDC", "-1"), "qty"),
    (_convert("b6", "ETH", "USDC", "1", tif="gtc"), "tif"),
    (_convert("b7", "ETH", "USDC", "1", side="buy"), "side"),
    (_convert("b8", "ETH", "USDC", "1", max_hops=9), "max_hops"),
    (_convert("b9", "ETH", "USDC", "1", limit="x"), "limit"),
    (_convert("b10", "ETH", "USDC", "1", account="nobody"), "account"),
    (_convert("b11", "ETH", "USDC", "1", on_hedge_failure="pray"), "on_hedge_failure"),
]


@pytest.mark.parametrize("body,field", BAD, ids=[b["client_id"] for b, _ in BAD])
async def test_a_bad_conversion_is_a_clear_4xx_and_changes_nothing(api, body, field):
    before = api.service.state_digest(), api.service.store.counts()
    status, data = await api.call("POST", "/api/orders", body)
    assert status in (400, 404), data
    assert data["error"]["field"] == field and data["error"]["allowed"], data
    assert (api.service.state_digest(), api.service.store.counts()) == before
