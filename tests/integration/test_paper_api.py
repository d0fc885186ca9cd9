"""The paper service's HTTP API in process: every route against openapi.json, bad requests,
concurrent clients, idempotency and the websocket stream."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from router.paper.api import create_paper_app
from router.paper.openapi import load_document, operations, response_schema, validate
from router.paper.service import PaperService

DOC = load_document()


def _template(path: str) -> str:
    for _, template in operations(DOC):
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if (re.match(pattern, path) and "{" in template) or template == path:
            return template
    raise AssertionError(f"{path} is not documented")


class Api:
    def __init__(self, server: TestServer, service: PaperService) -> None:
        self.server = server
        self.service = service
        self.session = aiohttp.ClientSession()

    async def call(self, method: str, path: str, body=None, *, raw: bytes | None = None):
        url = self.server.make_url(path)
        kwargs = {"data": raw} if raw is not None else ({"json": body} if body is not None else {})
        async with self.session.request(method, url, **kwargs) as response:
            data = await response.json()
        schema = response_schema(DOC, method, _template(path.split("?")[0]), response.status)
        assert schema is not None, f"{method} {path} answered {response.status}, not documented"
        problems = validate(DOC, schema, data)
        assert not problems, problems[:5]
        return response.status, data


@pytest.fixture
async def api(tmp_path):
    service = PaperService("config/default.toml", db=tmp_path / "paper.db")
    await service.open()
    server = TestServer(create_paper_app(service))
    await server.start_server()
    client = Api(server, service)
    yield client
    await client.session.close()
    await server.close()
    service.close()


ORDER = {"client_id": "o1", "account": "desk-a", "symbol": "ETH/USDC", "side": "buy", "qty": "2"}


async def test_every_documented_json_route_answers_with_its_schema(api):
    assert (await api.call("POST", "/api/market/step", {"ticks": 3}))[0] == 200
    assert (await api.call("POST", "/api/orders", ORDER))[1]["status"] == "filled"
    perp = {
        "client_id": "p1",
        "account": "desk-a",
        "symbol": "ETH/USDC:USDC",
        "side": "sell",
        "qty": "4",
    }
    assert (await api.call("POST", "/api/orders", perp))[1]["status"] == "filled"
    multi = {
        "client_id": "m1",
        "account": "desk-a",
        "legs": [
            {"id": "spot", "symbol": "ETH/USDC", "side": "buy", "qty": "3"},
            {
                "id": "hedge",
                "instrument": "perp",
                "symbol": "ETH/USDC:USDC",
                "side": "sell",
                "follows": "spot",
            },
        ],
    }
    status, order = await api.call("POST", "/api/orders", multi)
    assert order["status"] == "filled" and [
        Decimal(leg["filled_qty"]) for leg in order["legs"]
    ] == [3, 3]
    gtc = {
        "client_id": "g1",
        "account": "desk-a",
        "symbol": "ETH/USDC",
        "side": "buy",
        "qty": "1",
        "limit": "2000",
        "tif": "gtc",
    }
    assert (await api.call("POST", "/api/orders", gtc))[1]["status"] == "open"
    assert (await api.call("POST", "/api/accounts/desk-a/subaccounts", {"name": "hedge"}))[0] == 200
    transfer = {
        "account": "desk-a",
        "from": "main",
        "to": "hedge",
        "asset": "USDC",
        "amount": "1000",
    }
    assert (await api.call("POST", "/api/transfers", transfer))[0] == 200
    for path in (
        "/api/health",
        "/api/status",
        "/api/market",
        "/api/quote?symbol=ETH/USDC&side=buy&qty=5",
        "/api/orders",
        "/api/orders?account=desk-a&limit=2",
        "/api/orders/o1",
        "/api/accounts",
        "/api/accounts/desk-a",
        "/api/fills",
        "/api/fills?after=1&limit=2",
        "/api/journal?limit=5",
        "/api/routes",
        "/api/pnl?account=desk-a",
    ):
        status, _ = await api.call("GET", path)
        assert status == 200, path
    status, cancelled = await api.call("DELETE", "/api/orders/g1")
    assert status == 200 and cancelled["status"] == "cancelled"
    account = (await api.call("GET", "/api/accounts/desk-a"))[1]
    main = next(s for s in account["subaccounts"] if s["name"] == "main")
    assert (
        main["positions"][0]["symbol"] == "ETH-PERP"
        and main["positions"][0]["liquidation_price"] is not None
    )
    api.service._check()


BADORDER = {**ORDER, "client_id": "b1"}
BAD = [
    ("POST", "/api/orders", {**BADORDER, "account": "nobody"}, 404),
    ("POST", "/api/orders", {**BADORDER, "qty": 2.5}, 400),
    ("POST", "/api/orders", {**BADORDER, "qty": "-1"}, 400),
    ("POST", "/api/orders", {**BADORDER, "side": "hold"}, 400),
    ("POST", "/api/orders", {**BADORDER, "symbol": "BTC/USDC"}, 400),
    ("POST", "/api/orders", {**BADORDER, "venues": ["nowhere"]}, 400),
    ("POST", "/api/orders", {**BADORDER, "colour": "red"}, 400),
    ("POST", "/api/orders", {**BADORDER, "client_id": "bad id!"}, 400),
    ("POST", "/api/orders", {**BADORDER, "tif": "gtc"}, 400),
    ("POST", "/api/orders", {"client_id": "m", "account": "desk-a", "legs": []}, 400),
    ("POST", "/api/orders", None, 400),
    ("DELETE", "/api/orders/unknown", None, 404),
    ("GET", "/api/orders/unknown", None, 404),
    ("GET", "/api/orders?limit=0", None, 400),
    ("GET", "/api/orders?account=nobody", None, 404),
    ("GET", "/api/orders?what=1", None, 400),
    ("GET", "/api/accounts/nobody", None, 404),
    ("POST", "/api/accounts/nobody/subaccounts", {"name": "x"}, 404),
    ("POST", "/api/accounts/desk-a/subaccounts", {"name": "main"}, 400),
    ("POST", "/api/accounts/desk-a/subaccounts", {"name": "a/b"}, 400),
    (
        "POST",
        "/api/transfers",
        {"account": "desk-a", "from": "main", "to": "main", "asset": "USDC", "amount": "1"},
        400,
    ),
    (
        "POST",
        "/api/transfers",
        {"account": "desk-a", "from": "main", "to": "nope", "asset": "USDC", "amount": "1"},
        404,
    ),
    (
        "POST",
        "/api/transfers",
        {"account": "desk-a", "from": "main", "to": "x", "asset": "USDC", "amount": 1},
        400,
    ),
    ("POST", "/api/market/step", {"ticks": 0}, 400),
    ("POST", "/api/market/step", {"ticks": "1"}, 400),
    ("GET", "/api/quote?symbol=ETH/USDC&side=buy", None, 400),
    ("GET", "/api/quote?symbol=ETH/USDC&side=buy&qty=abc", None, 400),
    ("GET", "/api/quote?symbol=XYZ/USDC&side=buy&qty=1", None, 400),
    ("GET", "/api/fills?after=-5", None, 400),
    ("GET", "/api/fills?account=nobody", None, 404),
    ("GET", "/api/journal?limit=x", None, 400),
    ("GET", "/api/routes?limit=99", None, 400),
    ("GET", "/api/pnl?account=nobody", None, 404),
    ("GET", "/api/pnl?what=1", None, 400),
    ("GET", "/api/orders?limit=1001", None, 400),
    ("GET", "/api/orders?limit=1&limit=2", None, 400),
    ("GET", "/api/fills?limit=abc", None, 400),
    ("GET", "/api/journal?after=-2", None, 400),
    ("GET", "/api/quote?symbol=ETH/USDC&side=hold&qty=1", None, 400),
    ("GET", "/api/quote?symbol=ETH/USDC&side=buy&qty=-1", None, 400),
    ("GET", "/api/routes?limit=0", None, 400),
    ("POST", "/api/market/step?now=1", {"ticks": 1}, 400),
]


@pytest.mark.parametrize("method,path,body,status", BAD, ids=[f"{m} {p} {s}" for m, p, _, s in BAD])
async def test_bad_request_is_a_clear_4xx_and_changes_nothing(api, method, path, body, status):
    await api.call("POST", "/api/orders", ORDER)
    if path.endswith("/transfers") and body.get("to") == "x":
        await api.call("POST", "/api/accounts/desk-a/subaccounts", {"name": "x"})
    before = api.service.state_digest()
    counts = api.service.store.counts()
    got, data = await api.call(
        method, path, body, raw=b"not json" if body is None and method == "POST" else None
    )
    assert got == status, data
    assert data["error"]["message"] and data["error"]["allowed"] is not None
    assert api.service.state_digest() == before
    assert api.service.store.counts() == counts


async def test_reused_client_id_for_another_order_is_409_and_the_same_order_is_idempotent(api):
    first = (await api.call("POST", "/api/orders", ORDER))[1]
    again = (await api.call("POST", "/api/orders", ORDER))[1]
    assert again == first
    before = api.service.state_digest()
    status, _ = await api.call("POST", "/api/orders", {**ORDER, "qty": "3"})
    assert status == 409 and api.service.state_digest() == before


async def test_concurrent_clients_cannot_corrupt_an_account(api):
    """40 clients, 5 of them racing with one client id: one order per id, fills add up exactly."""
    service = api.service
    sub = "desk-a/main"
    eth0, usdc0 = service.ledger.balance(sub, "ETH"), service.ledger.balance(sub, "USDC")

    async def client(i: int):
        async with aiohttp.ClientSession() as session:
            cid = "same" if i < 5 else f"c{i}"
            body = {
                "client_id": cid,
                "account": "desk-a",
                "symbol": "ETH/USDC",
                "side": "buy" if i % 3 else "sell",
                "qty": f"{1 + i % 4}.5",
            }
            if cid == "same":
                body = {
                    "client_id": cid,
                    "account": "desk-a",
                    "symbol": "ETH/USDC",
                    "side": "buy",
                    "qty": "1",
                }
            async with session.post(api.server.make_url("/api/orders"), json=body) as response:
                return response.status, await response.json()

    results = await asyncio.gather(*(client(i) for i in range(40)))
    assert all(status == 200 for status, _ in results)
    assert len({data["client_id"] for _, data in results}) == 36
    fills = service.store.fills(limit=1000)
    assert len({f["fill_id"] for f in fills}) == len(fills)
    assert sum(1 for f in fills if f["client_id"] == "same") == len(results[0][1]["fill_ids"])
    eth = sum((Decimal(f["qty"]) if f["side"] == "buy" else -Decimal(f["qty"])) for f in fills)
    usdc = sum(
        (-Decimal(f["quote_amount"]) if f["side"] == "buy" else Decimal(f["quote_amount"]))
        for f in fills
    )
    assert service.ledger.balance(sub, "ETH") - eth0 == eth
    assert service.ledger.balance(sub, "USDC") - usdc0 == usdc
    service._check()


async def test_websocket_streams_fills_and_account_changes(api):
    async with api.session.ws_connect(api.server.make_url("/api/stream")) as ws:
        assert (await ws.receive_json())["type"] == "hello"
        await api.call("POST", "/api/orders", ORDER)
        seen = set()
        while not {"fill", "account"} <= seen:
            msg = await asyncio.wait_for(ws.receive_json(), 10)
            seen.add(msg["type"])
            if msg["type"] == "fill":
                assert msg["fill"]["client_id"] == "o1"


async def test_venue_server_shares_the_market_and_its_orders_survive_a_replay(api, tmp_path):
    import time

    from router.server.auth import sign  # type: ignore[attr-defined]
    from router.server.build import build_server  # noqa: F401 - the mounted app is this server

    account = api.service.market.accounts["desk-a"]
    query = f"symbol=ETHUSDC&side=BUY&type=MARKET&quantity=0.5&timestamp={int(time.time() * 1000)}"
    signature = sign(account.api_secret, query)
    async with api.session.post(
        api.server.make_url(f"/venue/v/binance-book/api/v3/order?{query}&signature={signature}"),
        headers={"X-MBX-APIKEY": account.api_key},
    ) as response:
        body = await response.json()
        assert response.status == 200, body
    digest = api.service.state_digest()
    again = PaperService("config/default.toml", db=api.service.store.path)
    create_paper_app(again)  # attaches the venue server, whose calls the replay re-runs
    await again.open()
    assert again.state_digest() == digest
    again.close()
