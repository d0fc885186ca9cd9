"""Binance's rules on the REST surface a bot uses, over raw HTTP: closePosition, margin type,
position mode, cancelReplace results, unsupported order types, klines and aggTrades shapes."""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from router.server.auth import sign

sys.path.insert(0, str(Path(__file__).parent))
from test_venue_server_support import KEY_A, SECRET_A, serve

_counter = iter(range(10**9))


async def _call(session, method: str, url: str, params: dict | None = None, *, signed=True):
    headers = {}
    data = None
    if signed:
        query = urlencode(
            {
                **(params or {}),
                "timestamp": time.time_ns() // 10**6,
                "recvWindow": 5000 + next(_counter) % 1000,
            }
        )
        data = f"{query}&signature={sign(SECRET_A, query)}"
        headers = {"X-MBX-APIKEY": KEY_A, "Content-Type": "application/x-www-form-urlencoded"}
    elif params:
        url = f"{url}?{urlencode(params)}"
    async with session.request(method, url, data=data, headers=headers) as response:
        return response.status, json.loads(await response.text())


async def test_usdm_rules_close_position_margin_type_and_position_mode() -> None:
    async with serve() as (base, server), aiohttp.ClientSession() as session:
        perp = f"{base}/v/perp/fapi/v1"
        status, body = await _call(
            session,
            "POST",
            f"{perp}/order",
            {"symbol": "ETHUSDT", "side": "SELL", "type": "MARKET", "closePosition": "true"},
        )
        assert (status, body["code"]) == (400, -2022)  # nothing to close
        status, body = await _call(
            session,
            "POST",
            f"{perp}/order",
            {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.3"},
        )
        assert status == 200 and body["executedQty"].startswith("0.3")
        status, body = await _call(
            session,
            "POST",
            f"{perp}/order",
            {"symbol": "ETHUSDT", "side": "SELL", "type": "MARKET", "closePosition": "true"},
        )
        assert status == 200 and Decimal(body["executedQty"]) == Decimal("0.3")
        assert server.ledger.position("desk-a", "perp").size_lots == 0
        for margin_type, code in (("ISOLATED", -1020), ("CROSSED", -4046), ("BOTH", -1100)):
            status, body = await _call(
                session,
                "POST",
                f"{perp}/marginType",
                {"symbol": "ETHUSDT", "marginType": margin_type},
            )
            assert (status, body["code"]) == (400, code), body
        status, body = await _call(
            session, "POST", f"{perp}/leverage", {"symbol": "ETHUSDT", "leverage": "21"}
        )
        assert body["code"] == -4028  # the bracket's maximum is 20
        status, body = await _call(
            session, "POST", f"{perp}/positionSide/dual", {"dualSidePosition": "false"}
        )
        assert body["code"] == -4059  # already one-way
        status, body = await _call(
            session,
            "POST",
            f"{perp}/order",
            {
                "symbol": "ETHUSDT",
                "side": "BUY",
                "type": "STOP_MARKET",
                "quantity": "1",
                "stopPrice": "3100",
            },
        )
        assert (status, body["code"]) == (400, -1020)
        status, body = await _call(session, "GET", f"{perp}/income", {})
        kinds = {row["incomeType"] for row in body}
        assert kinds == {"COMMISSION", "REALIZED_PNL"}
        pnl = sum(Decimal(r["income"]) for r in body if r["incomeType"] == "REALIZED_PNL")
        assert pnl == (Decimal(2999) - Decimal(3001)) * Decimal("0.3")
        status, body = await _call(
            session, "GET", f"{perp}/premiumIndex", {"symbol": "ETHUSDT"}, signed=False
        )
        assert body["markPrice"] == "3000.0" and body["lastFundingRate"] == "0"
        status, body = await _call(
            session, "GET", f"{perp}/klines", {"symbol": "ETHUSDT", "interval": "1m"}, signed=False
        )
        (bar,) = body
        assert (
            bar[1] == "3001.0"
            and bar[4] == "2999.0"
            and Decimal(bar[5]) == Decimal("0.6")
            and bar[8] == 2
        )
        assert Decimal(bar[9]) == Decimal("0.3")  # taker buy volume: the opening buy
        status, body = await _call(
            session, "GET", f"{perp}/klines", {"symbol": "ETHUSDT", "interval": "1M"}, signed=False
        )
        assert (status, body["code"]) == (400, -1120)
        status, body = await _call(
            session, "GET", f"{perp}/aggTrades", {"symbol": "ETHUSDT"}, signed=False
        )
        assert [(t["a"], t["p"], t["m"]) for t in body] == [
            (1, "3001.0", False),
            (2, "2999.0", True),
        ]


async def test_spot_cancel_replace_results_and_quote_quantity_rules() -> None:
    async with serve() as (base, server), aiohttp.ClientSession() as session:
        spot = f"{base}/v/book/api/v3"
        status, body = await _call(
            session,
            "POST",
            f"{spot}/order",
            {
                "symbol": "ETHUSDC",
                "side": "BUY",
                "type": "MARKET",
                "quantity": "1",
                "quoteOrderQty": "100",
            },
        )
        assert (status, body["code"]) == (400, -1102)  # one of the two, not both
        status, body = await _call(
            session,
            "POST",
            f"{spot}/order",
            {
                "symbol": "ETHUSDC",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "1",
                "price": "2990",
                "quoteOrderQty": "100",
            },
        )
        assert (status, body["code"]) == (400, -1106)
        status, body = await _call(
            session,
            "POST",
            f"{spot}/order",
            {"symbol": "ETHUSDC", "side": "BUY", "type": "MARKET", "quoteOrderQty": "100.0000001"},
        )
        assert (status, body["code"]) == (400, -1111)  # USDC has 6 decimals
        before = server.ledger.snapshot()
        status, body = await _call(
            session,
            "POST",
            f"{spot}/order/cancelReplace",
            {
                "symbol": "ETHUSDC",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "1",
                "price": "2990",
                "cancelReplaceMode": "STOP_ON_FAILURE",
                "cancelOrderId": "999",
            },
        )
        assert (status, body["code"]) == (400, -2022)
        assert (
            body["data"]["cancelResult"] == "FAILURE"
            and body["data"]["newOrderResult"] == "NOT_ATTEMPTED"
        )
        assert server.ledger.snapshot() == before
        status, placed = await _call(
            session,
            "POST",
            f"{spot}/order",
            {
                "symbol": "ETHUSDC",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "1",
                "price": "2990",
            },
        )
        # the replacement fails (10 000 ETH is more than the account holds): partial failure
        status, body = await _call(
            session,
            "POST",
            f"{spot}/order/cancelReplace",
            {
                "symbol": "ETHUSDC",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "10000",
                "price": "2990",
                "cancelReplaceMode": "STOP_ON_FAILURE",
                "cancelOrderId": placed["orderId"],
            },
        )
        assert (status, body["code"]) == (400, -2021)
        assert (
            body["data"]["cancelResult"] == "SUCCESS"
            and body["data"]["newOrderResponse"]["code"] == -2010
        )
        assert server.engine.open_orders("desk-a", "spot") == []
        server.engine._check()
