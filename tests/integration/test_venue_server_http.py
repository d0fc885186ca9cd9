"""The venue server over raw HTTP: malformed requests of every kind get a Binance-style error,
never a 500, and change nothing; auth, replay, rate limits, request size and the depth stream."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_venue_server_support import KEY_A, KEY_B, SECRET_A, SECRET_B, Clock, serve

from router.server.app import ServerLimits
from router.server.auth import sign


def _state(server) -> tuple:
    engine = server.engine
    orders = {
        oid: (r.status, r.executed_base_units, r.reserved_units) for oid, r in engine.orders.items()
    }
    books = {
        name: (m.book.depth("bids"), m.book.depth("asks")) if hasattr(m, "book") else None
        for name, m in engine.by_name.items()
    }
    return server.ledger.snapshot(), orders, books, {k: len(v) for k, v in engine.trades.items()}


def _signed(params: dict, secret: str = SECRET_A, *, now_ms: int | None = None) -> str:
    query = urlencode(
        {**params, "timestamp": now_ms if now_ms is not None else time.time_ns() // 10**6}
    )
    return f"{query}&signature={sign(secret, query)}"


def _raw_signed(query: str, secret: str = SECRET_A) -> str:
    return f"{query}&signature={sign(secret, query)}"


async def _call(
    session, method: str, url: str, *, key: str | None = KEY_A, body: str | None = None, **kwargs
) -> tuple[int, dict]:
    headers = {"X-MBX-APIKEY": key} if key else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    async with session.request(method, url, headers=headers, data=body, **kwargs) as response:
        text = await response.text()
        return response.status, json.loads(text)


GOOD_ORDER = {
    "symbol": "ETHUSDC",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "1",
    "price": "2990",
}

MALFORMED_ORDERS = [
    ({**GOOD_ORDER, "quantity": "abc"}, -1100),
    ({**GOOD_ORDER, "quantity": "-1"}, -1100),
    ({**GOOD_ORDER, "quantity": "1e3"}, -1100),
    ({**GOOD_ORDER, "quantity": "NaN"}, -1100),
    ({**GOOD_ORDER, "quantity": "0"}, -1013),
    ({**GOOD_ORDER, "quantity": "0.00001"}, -1013),  # off the 0.0001 step: LOT_SIZE
    ({**GOOD_ORDER, "price": "2990.001"}, -1013),  # off the 0.01 tick: PRICE_FILTER
    # 29 significant digits: a 28-digit context would round this onto the tick grid and accept it
    ({**GOOD_ORDER, "quantity": "0.0001", "price": "999999999.00000000000000000001"}, -1013),
    ({**GOOD_ORDER, "price": "0"}, -1013),
    ({**GOOD_ORDER, "price": "99999999999999999999999"}, -1100),
    ({**GOOD_ORDER, "quantity": "0.001"}, -1013),  # 2.99 below the 10 USDC NOTIONAL
    ({k: v for k, v in GOOD_ORDER.items() if k != "quantity"}, -1102),
    ({k: v for k, v in GOOD_ORDER.items() if k != "price"}, -1102),
    ({k: v for k, v in GOOD_ORDER.items() if k != "timeInForce"}, -1102),
    ({k: v for k, v in GOOD_ORDER.items() if k != "side"}, -1102),
    ({k: v for k, v in GOOD_ORDER.items() if k != "symbol"}, -1102),
    ({**GOOD_ORDER, "side": "HOLD"}, -1117),
    ({**GOOD_ORDER, "type": "STOP_LOSS"}, -1020),  # a Binance type the venues do not model
    ({**GOOD_ORDER, "type": "BRACKET"}, -1116),
    ({**GOOD_ORDER, "timeInForce": "GTD"}, -1115),
    ({**GOOD_ORDER, "symbol": "BTCUSDC"}, -1121),
    ({**GOOD_ORDER, "symbol": "eth/usdc"}, -1100),
    ({**GOOD_ORDER, "newClientOrderId": "x" * 37}, -1100),
    ({**GOOD_ORDER, "quantity": "1000"}, -2010),  # 2.99M USDC > 250k: insufficient balance
    ({**GOOD_ORDER, "symbol": "ETHUSDT", "type": "LIMIT"}, -1116),  # the pool takes MARKET only
    ({**GOOD_ORDER, "type": "MARKET", "timeInForce": ""}, -1106),  # a MARKET order with a price
]


@pytest.mark.parametrize(
    "params, code", MALFORMED_ORDERS, ids=[str(i) for i in range(len(MALFORMED_ORDERS))]
)
async def test_malformed_order_is_refused_with_its_code_and_changes_nothing(
    params: dict, code: int
) -> None:
    async with serve() as (base, server), aiohttp.ClientSession() as session:
        before = _state(server)
        status, body = await _call(session, "POST", f"{base}/api/v3/order", body=_signed(params))
        assert 400 <= status < 500 and body["code"] == code, body
        assert _state(server) == before
        server.engine._check()


async def test_auth_failures_and_replays_are_refused_and_change_nothing() -> None:
    clock = Clock()
    async with serve(clock) as (base, server), aiohttp.ClientSession() as session:
        before = _state(server)
        url = f"{base}/api/v3/order"
        # no key, unknown key, wrong secret, tampered body, missing / duplicated signature
        cases = [
            (dict(key=None, body=_signed(GOOD_ORDER)), 401, -2014),
            (dict(key="nobody", body=_signed(GOOD_ORDER)), 401, -2015),
            (dict(body=_signed(GOOD_ORDER, SECRET_B)), 400, -1022),
            (dict(body=_signed(GOOD_ORDER).replace("quantity=1", "quantity=2")), 400, -1022),
            (dict(body=urlencode({**GOOD_ORDER, "timestamp": clock()})), 400, -1102),
            (dict(body=_signed(GOOD_ORDER) + "&signature=00"), 400, -1101),
            (dict(body=_signed(GOOD_ORDER, now_ms=clock() - 10_000)), 400, -1021),
            (dict(body=_signed(GOOD_ORDER, now_ms=clock() + 5_000)), 400, -1021),
            (dict(body=_signed({**GOOD_ORDER, "recvWindow": 70000})), 400, -1131),
            (dict(body=_signed({**GOOD_ORDER, "recvWindow": "soon"})), 400, -1100),
            (dict(body=_raw_signed(urlencode(GOOD_ORDER) + "&timestamp=yesterday")), 400, -1100),
        ]
        for kwargs, status_code, code in cases:
            status, body = await _call(session, "POST", url, **kwargs)
            assert (status, body["code"]) == (status_code, code), (kwargs, body)
        assert _state(server) == before
        # a valid signed order is accepted once; the identical request again is a replay
        payload = _signed(GOOD_ORDER)
        status, first = await _call(session, "POST", url, body=payload)
        assert status == 200 and first["status"] == "NEW"
        after_first = _state(server)
        status, again = await _call(session, "POST", url, body=payload)
        assert (status, again["code"]) == (400, -1021)
        assert _state(server) == after_first
        # key B cannot see or cancel A's order
        query = _signed({"symbol": "ETHUSDC", "orderId": first["orderId"]}, SECRET_B)
        status, body = await _call(session, "GET", f"{url}?{query}", key=KEY_B)
        assert body["code"] == -2013
        status, body = await _call(session, "DELETE", f"{url}?{query}", key=KEY_B)
        assert body["code"] == -2011
        assert _state(server) == after_first


async def test_unknown_paths_methods_and_public_calls_are_binance_shaped() -> None:
    async with serve() as (base, server), aiohttp.ClientSession() as session:
        before = _state(server)
        checks = [
            ("GET", "/api/v3/nothing", 400, -1020),
            ("PUT", "/api/v3/order", 400, -1020),
            ("GET", "/api/v3/depth", 400, -1102),
            ("GET", "/api/v3/depth?symbol=ETHUSDC&limit=0", 400, -1100),
            ("GET", "/api/v3/depth?symbol=ETHUSDC&limit=x", 400, -1100),
            ("GET", "/api/v3/depth?symbol=NOPE", 400, -1121),
            ("GET", "/api/v3/depth?symbol=ETHUSDC&symbol=ETHUSDC", 400, -1101),
            ("GET", "/api/v3/depth?symbol=%FF%FE", 400, -1100),
            ("GET", "/api/v3/exchangeInfo?symbols=notjson", 400, -1100),
            ("GET", "/api/v3/ticker/24hr?symbol=NOPE", 400, -1121),
            ("GET", "/v/nowhere/api/v3/depth?symbol=ETHUSDC", 400, -1020),
            ("GET", "/api/v3/account", 401, -2014),
            ("GET", "/fapi/v1/depth?symbol=ETHUSDC", 400, -1121),
        ]
        for method, path, status_code, code in checks:
            status, body = await _call(session, method, base + path, key=None)
            assert (status, body["code"]) == (status_code, code), (path, body)
        status, body = await _call(
            session, "GET", f"{base}/api/v3/depth?symbol=ETHUSDC&limit=1", key=None
        )
        assert status == 200 and body["bids"] == [["2999.50", "12.5000"]]
        status, body = await _call(
            session, "GET", f"{base}/api/v3/ticker/24hr?symbol=ETHUSDC", key=None
        )
        assert status == 200 and body["bidPrice"] == "2999.50" and body["askPrice"] == "3000.50"
        status, body = await _call(session, "GET", f"{base}/v/uni-v2/api/v3/exchangeInfo", key=None)
        assert [s["symbol"] for s in body["symbols"]] == ["ETHUSDT"]
        assert _state(server) == before


async def test_oversized_bodies_queries_and_parameter_floods_are_refused() -> None:
    limits = ServerLimits(max_body_bytes=1024, max_query_bytes=512, max_params=10)
    async with serve(limits=limits) as (base, server), aiohttp.ClientSession() as session:
        before = _state(server)
        status, body = await _call(session, "POST", f"{base}/api/v3/order", body="a=" + "x" * 5000)
        assert status == 413 and body["code"] == -1101
        status, body = await _call(
            session, "GET", f"{base}/api/v3/depth?symbol=" + "A" * 600, key=None
        )
        assert status == 414 and body["code"] == -1101
        flood = "&".join(f"p{i}=1" for i in range(11))
        status, body = await _call(session, "GET", f"{base}/api/v3/depth?{flood}", key=None)
        assert status == 400 and body["code"] == -1101
        assert _state(server) == before


async def test_rate_limit_answers_429_with_retry_after_then_recovers_next_window() -> None:
    clock = Clock(now_ms=1_700_000_000_000)
    async with (
        serve(clock, limits=ServerLimits(weight_per_minute=12)) as (base, _server),
        aiohttp.ClientSession() as session,
    ):
        url = f"{base}/api/v3/depth?symbol=ETHUSDC&limit=5"  # weight 5
        statuses = []
        for _ in range(3):
            async with session.get(url) as response:
                statuses.append(response.status)
                if response.status == 429:
                    assert (await response.json())["code"] == -1003
                    retry_after = int(response.headers["Retry-After"])
        assert statuses == [200, 200, 429]
        assert 1 <= retry_after <= 60
        clock.now_ms += retry_after * 1000
        async with session.get(url) as response:
            assert response.status == 200
        # signed requests count per API key: account weighs 20 > 12, refused and not counted ...
        query = _signed({}, now_ms=clock.now_ms)
        status, body = await _call(session, "GET", f"{base}/api/v3/account?{query}")
        assert (status, body["code"]) == (429, -1003)
        # ... so the key still has 12: two openOrders reads (6 each) pass, which the address's
        # budget (5 already spent) could not have paid for
        for _ in range(2):
            query = _signed({"symbol": "ETHUSDC"}, now_ms=clock.now_ms)
            status, body = await _call(session, "GET", f"{base}/api/v3/openOrders?{query}")
            assert (status, body) == (200, [])


SIGNED_READS = [
    ("GET", "/api/v3/order", {"symbol": "ETHUSDC"}, -1102),  # neither id
    ("GET", "/api/v3/order", {"symbol": "ETHUSDC", "orderId": "abc"}, -1100),
    ("GET", "/api/v3/order", {"symbol": "ETHUSDC", "orderId": "0"}, -1100),
    ("GET", "/api/v3/order", {"symbol": "ETHUSDC", "orderId": "999"}, -2013),
    ("DELETE", "/api/v3/order", {"symbol": "ETHUSDC", "origClientOrderId": "nope"}, -2011),
    ("DELETE", "/api/v3/order", {"orderId": "1"}, -1102),
    ("GET", "/api/v3/openOrders", {"symbol": "NOPE"}, -1121),
    ("GET", "/api/v3/myTrades", {}, -1102),
    ("GET", "/api/v3/myTrades", {"symbol": "ETHUSDC", "limit": "1001"}, -1100),
    ("GET", "/api/v3/myTrades", {"symbol": "ETHUSDC", "fromId": "-1"}, -1100),
    ("GET", "/api/v3/myTrades", {"symbol": "ETHUSDC", "startTime": "soon"}, -1100),
    ("GET", "/fapi/v1/userTrades", {"symbol": "ETHUSDC"}, -1121),  # ETHUSDC is spot only
    ("GET", "/fapi/v3/positionRisk", {"symbol": "ETHUSDC"}, -1121),
    ("GET", "/fapi/v1/leverageBracket", {"symbols": "[1]"}, -1100),
    ("POST", "/api/v3/order", {**GOOD_ORDER, "newOrderRespType": "ALL"}, -1100),
]


@pytest.mark.parametrize(
    "method, path, params, code",
    SIGNED_READS,
    ids=[f"{m} {p} {sorted(q)}" for m, p, q, _ in SIGNED_READS],
)
async def test_signed_endpoints_refuse_bad_parameters_by_code_and_change_nothing(
    method, path, params, code
) -> None:
    async with serve() as (base, server), aiohttp.ClientSession() as session:
        before = _state(server)
        status, body = await _call(session, method, f"{base}{path}?{_signed(params)}")
        assert 400 <= status < 500 and body["code"] == code, body
        assert _state(server) == before


async def test_depth_stream_sends_a_snapshot_and_the_change_after_a_trade() -> None:
    async with serve() as (base, _server), aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{base}/ws/ethusdc@depth5") as ws:
            first = json.loads((await ws.receive()).data)
            assert first["asks"][0] == ["3000.50", "8.0000"]
            status, _ = await _call(
                session,
                "POST",
                f"{base}/api/v3/order",
                body=_signed(
                    {"symbol": "ETHUSDC", "side": "BUY", "type": "MARKET", "quantity": "1"}
                ),
            )
            assert status == 200
            second = json.loads((await ws.receive()).data)
            assert second["asks"][0] == ["3000.50", "7.0000"]
        with pytest.raises(
            aiohttp.WSServerHandshakeError
        ) as info:  # unknown symbol: -1121, no upgrade
            async with session.ws_connect(f"{base}/ws/nope@depth"):
                pass
        assert info.value.status == 400


async def test_fuzzed_requests_never_get_a_500_and_refusals_change_nothing() -> None:
    import random

    rng = random.Random(20240808)  # fixed seed: the same 300 requests every run
    alphabet = "aZ09=&%.-_ \x00\u00e9"
    paths = [
        "/api/v3/order",
        "/api/v3/depth",
        "/api/v3/account",
        "/api/v3/openOrders",
        "/api/v3/myTrades",
        "/fapi/v1/order",
        "/fapi/v3/positionRisk",
        "/api/v3/ticker/24hr",
    ]
    async with serve() as (base, server), aiohttp.ClientSession() as session:
        for _ in range(300):
            params = {
                **GOOD_ORDER,
                "quantity": rng.choice(["1", "0.5", "x", "", "1" * 30, "-0", "0.0001"]),
            }
            for name in rng.sample(sorted(params), k=rng.randint(0, 2)):
                params.pop(name)
            query = _signed(params)
            mutation = rng.randint(0, 3)
            if mutation == 1:
                at = rng.randrange(len(query))
                query = query[:at] + rng.choice(alphabet) + query[at + 1 :]
            elif mutation == 2:
                query += "&" + "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))
            method = rng.choice(["GET", "POST", "DELETE"])
            path = rng.choice(paths)
            before = _state(server)
            as_body = method == "POST" and rng.random() < 0.7
            url = base + path + ("" if as_body else "?" + query)
            headers = {"X-MBX-APIKEY": rng.choice([KEY_A, KEY_B, "", "k" * 300])}
            async with session.request(
                method,
                url,
                headers=headers,
                data=query.encode("utf-8", "surrogatepass") if as_body else None,
            ) as response:
                text = await response.text()
                assert response.status < 500, (method, url, text)
                if response.status != 200:
                    assert set(json.loads(text)) == {"code", "msg"}
                    assert _state(server) == before, (method, url, text)
        server.engine._check()
