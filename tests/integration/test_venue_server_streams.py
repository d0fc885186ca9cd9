"""The venue server's streams and limits under load: a local book kept from the diff stream as
Binance documents equals /depth after a thousand seeded orders; balances and positions are
conserved across accounts and fees after a seeded flood from concurrent clients; hypothesis
fuzzes every route; weight goes to a key only after its signature verifies."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.server.accounts import decimal_of
from router.server.app import ServerLimits, VenueServer
from router.server.auth import sign

sys.path.insert(0, str(Path(__file__).parent))
from test_venue_server_support import (
    DECIMALS,
    KEY_A,
    KEY_B,
    SECRET_A,
    SECRET_B,
    accounts,
    build_markets,
    serve,
)

ACCOUNTS = {"desk-a": (KEY_A, SECRET_A), "desk-b": (KEY_B, SECRET_B)}
WAIT_S = 10


async def _signed_call(session, method: str, url: str, params: dict, key: str, secret: str):
    query = urlencode({**params, "timestamp": time.time_ns() // 10**6})
    body = f"{query}&signature={sign(secret, query)}"
    headers = {"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"}
    async with session.request(method, url, data=body, headers=headers) as response:
        return response.status, json.loads(await response.text())


def _random_order(rng: random.Random, n: int, symbol: str, tick: str, lot: str) -> dict:
    side = rng.choice(["BUY", "SELL"])
    qty = Decimal(lot) * rng.randint(1, 3000)
    order = {"symbol": symbol, "side": side, "quantity": str(qty), "newClientOrderId": f"o{n}"}
    if rng.random() < 0.2:
        order["type"] = "MARKET"
    else:
        mid = 3000
        offset = rng.randint(-60, 60) * Decimal(tick) * 10
        order.update(
            {
                "type": "LIMIT",
                "timeInForce": rng.choice(["GTC", "GTC", "GTC", "IOC", "FOK"]),
                "price": str(mid + offset),
            }
        )
    return order


def _apply(book: dict[str, dict[Decimal, Decimal]], event: dict) -> None:
    for side, key in (("bids", "b"), ("asks", "a")):
        for price, qty in event[key]:
            if Decimal(qty) == 0:
                book[side].pop(Decimal(price), None)
            else:
                book[side][Decimal(price)] = Decimal(qty)


async def test_local_book_from_the_diff_stream_equals_depth_after_a_thousand_orders() -> None:
    rng = random.Random(15)  # seeded: the same thousand orders every run
    limits = ServerLimits(weight_per_minute=10**6, orders_per_10s=10**6)
    async with serve(limits=limits) as (base, server), aiohttp.ClientSession() as session:
        venue = f"{base}/v/book"
        async with session.ws_connect(f"{venue.replace('http', 'ws', 1)}/ws/ethusdc@depth") as ws:
            events: list[dict] = []

            async def read() -> None:
                async for msg in ws:
                    events.append(json.loads(msg.data))

            reader = asyncio.ensure_future(read())
            # Binance's procedure: buffer events, take a snapshot, drop events with u <= its id
            async with session.get(f"{venue}/api/v3/depth?symbol=ETHUSDC&limit=5000") as r:
                snapshot = await r.json()
            book = {
                side: {Decimal(p): Decimal(q) for p, q in snapshot[side]}
                for side in ("bids", "asks")
            }
            last_u = snapshot["lastUpdateId"]
            for n in range(1000):
                account = rng.choice(list(ACCOUNTS))
                key, secret = ACCOUNTS[account]
                order = _random_order(rng, n, "ETHUSDC", "0.01", "0.0001")
                if n % 7 == 0:
                    open_orders = server.engine.open_orders(account, "spot", "ETHUSDC", "book")
                    if open_orders:
                        target = rng.choice(open_orders)
                        await _signed_call(
                            session,
                            "DELETE",
                            f"{venue}/api/v3/order",
                            {"symbol": "ETHUSDC", "orderId": target.order_id},
                            key,
                            secret,
                        )
                status, body = await _signed_call(
                    session, "POST", f"{venue}/api/v3/order", order, key, secret
                )
                assert status in (200, 400), body
            async with session.get(f"{venue}/api/v3/depth?symbol=ETHUSDC&limit=5000") as r:
                final = await r.json()
            deadline = time.monotonic() + WAIT_S
            while (not events or events[-1]["u"] < final["lastUpdateId"]) and (
                time.monotonic() < deadline
            ):
                await asyncio.sleep(0.01)
            reader.cancel()
            applied = 0
            for event in events:
                if event["u"] <= last_u:
                    continue
                assert event["U"] == last_u + 1, (event["U"], last_u)  # no gap, no overlap
                _apply(book, event)
                last_u = event["u"]
                applied += 1
            assert applied > 100 and last_u == final["lastUpdateId"]
            for side in ("bids", "asks"):
                expected = {Decimal(p): Decimal(q) for p, q in final[side]}
                assert book[side] == expected, side
            server.engine._check()


async def test_seeded_flood_from_concurrent_clients_conserves_balances_and_positions(
    caplog,
) -> None:
    caplog.set_level(logging.WARNING, logger="crossroute.venue_server")
    limits = ServerLimits(weight_per_minute=10**6, orders_per_10s=10**6)
    async with serve(limits=limits) as (base, server), aiohttp.ClientSession() as session:
        start = {
            a: {s: server.ledger.free(a, s) for s in server.ledger.assets}
            for a in server.ledger.accounts
        }
        statuses: list[int] = []

        async def client(seed: int) -> None:
            rng = random.Random(seed)
            account = rng.choice(list(ACCOUNTS))
            key, secret = ACCOUNTS[account]
            for n in range(40):
                if rng.random() < 0.5:
                    order = _random_order(rng, seed * 1000 + n, "ETHUSDC", "0.01", "0.0001")
                    url = f"{base}/v/book/api/v3/order"
                else:
                    order = _random_order(rng, seed * 1000 + n, "ETHUSDT", "0.1", "0.001")
                    url = f"{base}/v/perp/fapi/v1/order"
                status, _ = await _signed_call(session, "POST", url, order, key, secret)
                statuses.append(status)

        await asyncio.gather(*(client(seed) for seed in range(16)))
        assert statuses and set(statuses) <= {200, 400}
        filled = {
            server.engine.orders[t.order_id].venue
            for trades in server.engine.trades.values()
            for t in trades
        }
        assert filled == {"book", "perp"} and statuses.count(200) > 100  # a real flood
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        server.engine._check()
        # every account's balances and positions are exactly its start plus its own fills
        for account in server.ledger.accounts:
            expected = dict(start[account])
            positions: dict[str, Decimal] = {}
            for t in server.engine.trades[account]:
                record = server.engine.orders[t.order_id]
                market = server.engine.by_name[record.venue]
                u = market.units
                sign_ = 1 if t.is_buyer else -1
                fee = int(t.commission.scaleb(u.quote_decimals))
                if record.book_order_id.startswith("perp:"):
                    expected[u.quote] += int(t.realized_pnl.scaleb(u.quote_decimals)) - fee
                    positions[record.venue] = (
                        positions.get(record.venue, Decimal(0)) + sign_ * t.qty
                    )
                else:
                    expected[u.base] += sign_ * int(t.qty.scaleb(u.base_decimals))
                    expected[u.quote] -= sign_ * int(t.quote_qty.scaleb(u.quote_decimals)) + fee
            for asset in server.ledger.assets:
                held = server.ledger.free(account, asset) + server.ledger.locked(account, asset)
                assert held == expected[asset], (
                    account,
                    asset,
                    decimal_of(held - expected[asset], 6),
                )
            for venue, size in positions.items():
                market = server.engine.by_name[venue]
                position = server.ledger.position(account, venue)
                assert position.size_lots * market.step_size == size


# every route the server has (read from the server itself, so a new route is fuzzed too), and
# paths it does not have
_PATHS = [
    (method, path)
    for method, path, *_ in VenueServer(build_markets(), accounts(), DECIMALS)._routes()
] + [("PUT", "/nothing/here"), ("GET", "/api/v3/order/oco"), ("POST", "/sapi/v1/margin/order")]
_NAMES = [
    "symbol",
    "side",
    "type",
    "quantity",
    "quoteOrderQty",
    "price",
    "timeInForce",
    "limit",
    "interval",
    "leverage",
    "reduceOnly",
    "positionSide",
    "closePosition",
    "dualSidePosition",
    "marginType",
    "cancelReplaceMode",
    "cancelOrderId",
    "startTime",
]
_VALUES = st.one_of(
    st.sampled_from(
        [
            "ETHUSDC",
            "ETHUSDT",
            "BUY",
            "SELL",
            "LIMIT",
            "MARKET",
            "LIMIT_MAKER",
            "GTC",
            "GTX",
            "true",
            "LONG",
            "1m",
            "0",
            "1e3",
            "-1",
            "0.000000000000000001",
            "99999999999999999999999",
            "STOP_ON_FAILURE",
            "NaN",
            "",
        ]
    ),
    st.text(max_size=12),
)
_REQUEST = st.tuples(
    st.sampled_from(_PATHS),
    st.dictionaries(st.sampled_from(_NAMES), _VALUES, max_size=8),
    st.booleans(),  # signed or not
    st.sampled_from(["", "/v/book", "/v/perp", "/v/uni-v2", "/v/nowhere"]),
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(requests=st.lists(_REQUEST, min_size=30, max_size=30))
def test_fuzzed_routes_never_answer_500_nor_log_a_traceback(requests, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="crossroute.venue_server")

    async def run() -> None:
        async with serve() as (base, server), aiohttp.ClientSession() as session:
            for (method, path), params, signed, prefix in requests:
                url = base + prefix + path
                if signed:
                    status, body = await _signed_call(session, method, url, params, KEY_A, SECRET_A)
                else:
                    async with session.request(method, url, params=params) as response:
                        status, body = response.status, json.loads(await response.text())
                assert status < 500, (method, url, params, body)
                if status >= 400:
                    assert isinstance(body["code"], int) and body["code"] < 0 and body["msg"]
            server.engine._check()

    caplog.clear()
    asyncio.run(run())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_weight_goes_to_a_key_only_after_its_signature_verifies() -> None:
    limits = ServerLimits(weight_per_minute=300)
    async with serve(limits=limits) as (base, _server), aiohttp.ClientSession() as session:
        headers = {"X-MBX-APIKEY": KEY_A}
        refused = 0
        for _ in range(60):  # someone else's public key, no valid signature: 60 x 20 weight
            url = f"{base}/api/v3/account?timestamp=1&signature=" + "0" * 64
            async with session.get(url, headers=headers) as response:
                refused += response.status in (401, 400, 429)
        assert refused == 60
        # the sender's address is now over its limit; the key's owner is not
        async with session.get(f"{base}/api/v3/depth?symbol=ETHUSDC") as response:
            assert response.status == 429
        status, body = await _signed_call(
            session, "GET", f"{base}/api/v3/account", {}, KEY_A, SECRET_A
        )
        assert status == 200 and body["balances"], body


async def _raw_http(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(65536), WAIT_S)
    writer.close()
    return data


async def test_malformed_http_gets_a_binance_json_error_and_one_log_line(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    async with serve() as (base, _server):
        port = int(base.rsplit(":", 1)[1])
        for payload in (
            b"GET /api/v3/ping HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
            b"GET /api/v3/ping HTTP/9.9\r\nHost: x\r\n\r\n",
            b"GET /api/v3/\x00ping HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /api/v3/ping HTTP/1.1\r\nBad Header Line\r\n\r\n",
        ):
            raw = await _raw_http(port, payload)
            head, _, body = raw.partition(b"\r\n\r\n")
            assert head.split(b" ")[1].startswith(b"4"), raw[:200]
            assert b"application/json" in head
            assert json.loads(body)["code"] == -1000
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.lists(
        st.one_of(
            st.text(max_size=40),
            st.builds(
                lambda method, params, ident: json.dumps(
                    {"method": method, "params": params, "id": ident}
                ),
                st.sampled_from(["SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "ping", "nope"]),
                st.one_of(
                    st.lists(
                        st.sampled_from(
                            ["ethusdc@depth", "ethusdc@trade", "nope@depth", "ethusdc@kline_7m"]
                        ),
                        max_size=3,
                    ),
                    st.integers(),
                    st.none(),
                ),
                st.one_of(st.integers(0, 9), st.text(max_size=3), st.none()),
            ),
        ),
        min_size=5,
        max_size=5,
    )
)
def test_fuzzed_websocket_messages_are_answered_and_the_stream_keeps_working(messages) -> None:
    async def run() -> None:
        async with serve() as (base, _server), aiohttp.ClientSession() as session:
            url = base.replace("http", "ws", 1) + "/v/book/ws"
            async with session.ws_connect(url) as ws:
                for text in messages:
                    await ws.send_str(text)
                    reply = json.loads((await ws.receive(timeout=WAIT_S)).data)
                    assert "result" in reply or "error" in reply
                await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 99}))
                while True:  # partial-depth snapshots may come first; the answer follows
                    reply = json.loads((await ws.receive(timeout=WAIT_S)).data)
                    if reply.get("id") == 99:
                        break
                assert isinstance(reply["result"], list)

    asyncio.run(run())


async def test_user_data_stream_announces_an_order_the_engine_expires() -> None:
    """A resting reduce-only order its shrinking position no longer covers expires, and the
    listenKey stream says so (USD-M private path, as ccxt.pro uses it)."""
    async with serve() as (base, server), aiohttp.ClientSession() as session:
        perp = f"{base}/v/perp/fapi/v1"
        async with session.post(f"{perp}/listenKey", headers={"X-MBX-APIKEY": KEY_A}) as r:
            listen_key = (await r.json())["listenKey"]
        ws_url = f"{base.replace('http', 'ws', 1)}/v/perp/private/ws?listenKey={listen_key}"
        async with session.ws_connect(ws_url) as ws:

            async def order(params: dict) -> dict:
                status, body = await _signed_call(
                    session,
                    "POST",
                    f"{perp}/order",
                    {"symbol": "ETHUSDT", **params},
                    KEY_A,
                    SECRET_A,
                )
                assert status == 200, body
                return body

            await order({"side": "BUY", "type": "MARKET", "quantity": "0.05"})
            kept = await order(
                {
                    "side": "SELL",
                    "type": "LIMIT",
                    "timeInForce": "GTC",
                    "price": "3100",
                    "quantity": "0.03",
                    "reduceOnly": "true",
                }
            )
            cut = await order(
                {
                    "side": "SELL",
                    "type": "LIMIT",
                    "timeInForce": "GTC",
                    "price": "3200",
                    "quantity": "0.03",
                    "reduceOnly": "true",
                }
            )
            assert Decimal(cut["origQty"]) == Decimal("0.02")
            await order({"side": "SELL", "type": "MARKET", "quantity": "0.02"})
            expired = None
            deadline = time.monotonic() + WAIT_S
            while expired is None and time.monotonic() < deadline:
                event = json.loads((await ws.receive(timeout=WAIT_S)).data)
                if event.get("e") == "ORDER_TRADE_UPDATE" and event["o"]["x"] == "EXPIRED":
                    expired = event["o"]
            assert expired is not None and expired["i"] == cut["orderId"] and expired["R"] is True
            assert server.engine.orders[kept["orderId"]].status == "NEW"
