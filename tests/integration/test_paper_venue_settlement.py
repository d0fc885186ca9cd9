"""A resting venue-server order taken by the router's flow is settled in the venue server's balances."""

from __future__ import annotations

import itertools
import time
from decimal import Decimal

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from router.paper.api import create_paper_app
from router.paper.service import PaperService
from router.server.auth import sign

VENUE = "/venue/v/binance-book/api/v3"


_CALLS = itertools.count()


async def _signed(session, server, account, method, path, query):
    # recvWindow differs per call: two equal calls in one millisecond are not a replayed request.
    query = f"{query}&recvWindow={5000 + next(_CALLS)}&timestamp={int(time.time() * 1000)}"
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


PERP = "/venue/v/perp-book/fapi"


async def _perp_settings(session, server, account):
    status, dual = await _signed(
        session, server, account, "GET", f"{PERP}/v1/positionSide/dual", ""
    )
    assert status == 200, dual
    status, config = await _signed(
        session, server, account, "GET", f"{PERP}/v1/symbolConfig", "symbol=ETHUSDC"
    )
    assert status == 200, config
    return dual["dualSidePosition"], [(c["symbol"], c["leverage"]) for c in config]


async def test_perp_settings_set_through_the_venue_api_survive_a_restart_that_replays_the_log(
    paper,
):
    """Leverage and hedge mode are logged like orders: a restart replaying the log after the last
    snapshot (here there is none: the whole log) restores them, and the hedge-mode order placed after
    the switch replays instead of being refused (-4061) on a one-way account."""
    service, server, session = paper
    account = service.market.accounts["desk-a"]
    assert await _perp_settings(session, server, account) == (False, [("ETHUSDC", 20)])
    status, body = await _signed(
        session, server, account, "POST", f"{PERP}/v1/leverage", "symbol=ETHUSDC&leverage=3"
    )
    assert status == 200 and body["leverage"] == 3, body
    status, body = await _signed(
        session, server, account, "POST", f"{PERP}/v1/positionSide/dual", "dualSidePosition=true"
    )
    assert status == 200, body
    # Refused calls change nothing and log nothing.
    status, body = await _signed(
        session, server, account, "POST", f"{PERP}/v1/positionSide/dual", "dualSidePosition=true"
    )
    assert status == 400 and body["code"] == -4059, body
    book = service.market.venues["perp-book"]
    price = book.ticks_to_price(book.best_bid() - 10)
    status, placed = await _signed(
        session,
        server,
        account,
        "POST",
        f"{PERP}/v1/order",
        f"symbol=ETHUSDC&side=BUY&positionSide=LONG&type=LIMIT&timeInForce=GTC"
        f"&quantity=0.5&price={price}",
    )
    assert status == 200 and placed["status"] == "NEW", placed
    settings = await _perp_settings(session, server, account)
    assert settings == (True, [("ETHUSDC", 3)])
    digest = service.state_digest()
    counts = service.store.counts()  # three venue commands logged, no snapshot: all replayed
    assert (counts["events"], counts["snapshots"]) == (3, 0), counts

    again = PaperService("config/default.toml", db=service.store.path)
    app = create_paper_app(again)
    await again.open()
    restarted = TestServer(app)
    await restarted.start_server()
    try:
        assert again.state_digest() == digest
        assert await _perp_settings(session, restarted, account) == settings
    finally:
        await restarted.close()
        again.close()
