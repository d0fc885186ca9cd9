"""A resting venue-server order taken by the router's flow is settled in the venue server's balances."""

from __future__ import annotations

import time
from decimal import Decimal

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from router.paper.api import create_paper_app
from router.paper.service import PaperService
from router.server.auth import sign

VENUE = "/venue/v/binance-book/api/v3"


async def _signed(session, server, account, method, path, query):
    query = f"{query}&timestamp={int(time.time() * 1000)}"
    url = server.make_url(f"{path}?{query}&signature={sign(account.api_secret, query)}")
    async with session.request(method, url, headers={"X-MBX-APIKEY": account.api_key}) as response:
        return response.status, await response.json()


@pytest.fixture
async def paper(tmp_path):
    service = PaperService("config/default.toml", db=tmp_path / "v.db")
    app = create_paper_app(service)
    await service.open()
    server = TestServer(app)
    await server.start_server()
    session = aiohttp.ClientSession()
    yield service, server, session
    await session.close()
    await server.close()
    service.close()


def _balances(data):
    return {b["asset"]: (Decimal(b["free"]), Decimal(b["locked"])) for b in data["balances"]}


async def test_a_routed_paper_order_taking_a_venue_server_limit_settles_both_sides_exactly(paper):
    service, server, session = paper
    account = service.market.accounts["desk-a"]
    async with session.post(server.make_url("/api/market/step"), json={"ticks": 2}) as response:
        assert response.status == 200
    book = service.market.venues["binance-book"]
    # One tick above the best bid: inside the makers' spread, so it rests at the top of the asks.
    price = book.ticks_to_price(book.best_bid() + 1)
    status, before = await _signed(session, server, account, "GET", f"{VENUE}/account", "")
    assert status == 200, before
    status, placed = await _signed(
        session,
        server,
        account,
        "POST",
        f"{VENUE}/order",
        f"symbol=ETHUSDC&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.5&price={price}",
    )
    assert status == 200 and placed["status"] == "NEW", placed
    assert book.best_ask() == book.price_to_ticks(price)

    order = {
        "client_id": "taker",
        "account": "desk-a",
        "symbol": "ETH/USDC",
        "side": "buy",
        "qty": "0.5",
        "venues": ["binance-book"],
    }
    async with session.post(server.make_url("/api/orders"), json=order) as response:
        ack = await response.json()
        assert response.status == 200 and ack["status"] == "filled", ack
    assert Decimal(ack["legs"][0]["avg_price"]) > price  # taker fee inside the all-in price

    status, after = await _signed(session, server, account, "GET", f"{VENUE}/account", "")
    notional = price * Decimal("0.5")
    quanta = book.price_to_ticks(price) * book.qty_to_lots("0.5")
    fee_quanta = -(-quanta * book.maker_fee_pips // 1_000_000)  # the maker fee, rounded up per fill
    fee = fee_quanta * book.quanta_to_quote(1)
    b0, b1 = _balances(before), _balances(after)
    assert b1["ETH"] == (
        b0["ETH"][0] - Decimal("0.5"),
        b0["ETH"][1],
    )  # the locked base is delivered
    assert b1["USDC"] == (b0["USDC"][0] + notional - fee, b0["USDC"][1])
    status, got = await _signed(
        session,
        server,
        account,
        "GET",
        f"{VENUE}/order",
        f"symbol=ETHUSDC&orderId={placed['orderId']}",
    )
    assert got["status"] == "FILLED" and Decimal(got["executedQty"]) == Decimal("0.5")
    status, trades = await _signed(
        session, server, account, "GET", f"{VENUE}/myTrades", "symbol=ETHUSDC"
    )
    assert [
        (t["isMaker"], Decimal(t["price"]), Decimal(t["qty"]), Decimal(t["commission"]))
        for t in trades
    ] == [(True, price, Decimal("0.5"), fee)]

    # The venue server's balances survive a restart: the replay settles the same fill again.
    digest = service.state_digest()
    again = PaperService("config/default.toml", db=service.store.path)
    create_paper_app(again)
    await again.open()
    assert again.state_digest() == digest
    again.close()


async def test_a_failed_command_answers_500_json_and_the_service_keeps_working(paper, monkeypatch):
    service, server, session = paper
    before = service.state_digest(), service.store.counts()
    real_commit = service.store.commit

    def disk_full(**kwargs):
        monkeypatch.setattr(service.store, "commit", real_commit)
        raise OSError("disk full")

    monkeypatch.setattr(service.store, "commit", disk_full)
    order = {
        "client_id": "x1",
        "account": "desk-a",
        "symbol": "ETH/USDC",
        "side": "buy",
        "qty": "1",
    }
    async with session.post(server.make_url("/api/orders"), json=order) as response:
        body = await response.json()
        assert response.status == 500 and "rolled back" in body["error"]["message"], body
    assert (service.state_digest(), service.store.counts()) == before
    async with session.post(server.make_url("/api/orders"), json=order) as response:
        assert response.status == 200 and (await response.json())["status"] == "filled"
