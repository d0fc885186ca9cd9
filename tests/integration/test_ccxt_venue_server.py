"""The unmodified ccxt binance / binanceusdm clients trade against the venue server on loopback."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import ccxt
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_venue_server_support import Clock, ccxt_client, serve


def _usdt_wallet(balance: dict) -> Decimal:
    (row,) = [a for a in balance["info"]["assets"] if a["asset"] == "USDT"]
    return Decimal(row["walletBalance"])


def _balances(info: dict) -> dict[str, tuple[Decimal, Decimal]]:
    return {b["asset"]: (Decimal(b["free"]), Decimal(b["locked"])) for b in info["balances"]}


async def test_spot_round_trip_moves_balances_exactly_by_fills_and_fees() -> None:
    async with serve() as (base, server):
        client = ccxt_client(base)
        try:
            markets = await client.load_markets()
            assert {"ETH/USDC", "ETH/USDT"} <= set(markets)
            market = markets["ETH/USDC"]
            assert market["precision"]["price"] == 0.01 and market["precision"]["amount"] == 0.0001
            assert market["limits"]["cost"]["min"] == 10

            book = await client.fetch_order_book("ETH/USDC", 5)
            assert book["bids"][0] == [2999.5, 12.5] and book["asks"][0] == [3000.5, 8.0]
            ticker = await client.fetch_ticker("ETH/USDC")
            assert ticker["bid"] == 2999.5 and ticker["ask"] == 3000.5

            before = _balances((await client.fetch_balance())["info"])
            assert before["USDC"] == (Decimal("250000"), Decimal("0"))

            # market buy 0.5 at 3000.50: notional 1500.25, taker fee 5 bp rounded up = 0.750125
            bought = await client.create_order("ETH/USDC", "market", "buy", 0.5)
            assert bought["status"] == "closed" and bought["filled"] == 0.5
            after_buy = _balances((await client.fetch_balance())["info"])
            assert after_buy["USDC"][0] == before["USDC"][0] - Decimal("1500.25") - Decimal(
                "0.750125"
            )
            assert after_buy["ETH"][0] == before["ETH"][0] + Decimal("0.5")

            # a resting limit buy locks notional plus the maker-fee bound, and cancel gives it back
            rest = await client.create_order("ETH/USDC", "limit", "buy", 1, 2990)
            assert rest["status"] == "open"
            locked = _balances((await client.fetch_balance())["info"])["USDC"]
            assert locked[1] == Decimal("2990") + Decimal("0.299") + Decimal("0.000001") * 10000
            assert locked[0] + locked[1] == after_buy["USDC"][0]
            open_orders = await client.fetch_open_orders("ETH/USDC")
            assert [o["id"] for o in open_orders] == [rest["id"]]
            assert (await client.fetch_order(rest["id"], "ETH/USDC"))["status"] == "open"
            cancelled = await client.cancel_order(rest["id"], "ETH/USDC")
            assert cancelled["status"] == "canceled"
            assert _balances((await client.fetch_balance())["info"])["USDC"] == after_buy["USDC"]

            # limit sell that crosses: fills at the bid 2999.50, proceeds minus the taker fee
            sold = await client.create_order("ETH/USDC", "limit", "sell", 0.25, 2999.5)
            assert sold["status"] == "closed"
            after_sell = _balances((await client.fetch_balance())["info"])
            notional = Decimal("2999.50") * Decimal("0.25")
            fee = Decimal(sold["info"]["fills"][0]["commission"])
            assert fee == Decimal(
                "0.374938"
            )  # 5 bp of 749.875, rounded up to the micro-USDC quantum
            assert after_sell["USDC"][0] == after_buy["USDC"][0] + notional - fee
            assert after_sell["ETH"][0] == after_buy["ETH"][0] - Decimal("0.25")

            trades = await client.fetch_my_trades("ETH/USDC")
            assert [(t["side"], t["amount"]) for t in trades] == [("buy", 0.5), ("sell", 0.25)]
            assert (
                sum(Decimal(t["info"]["commission"]) for t in trades) == Decimal("0.750125") + fee
            )

            # a pool market: exact-output swap priced by the pool's own integer math
            pool_buy = await client.create_order("ETH/USDT", "market", "buy", 0.5)
            quote_in = Decimal(pool_buy["info"]["cummulativeQuoteQty"])
            usdt = _balances((await client.fetch_balance())["info"])["USDT"][0]
            assert usdt == Decimal("100000") - quote_in
            server.engine._check()
        finally:
            await client.close()


async def test_spot_errors_map_to_ccxt_exceptions_and_change_nothing() -> None:
    clock = Clock()
    async with serve(clock) as (base, server):
        client = ccxt_client(base)
        wrong = ccxt_client(base, secret="not-the-secret")
        try:
            await client.load_markets()
            snapshot = server.ledger.snapshot()
            with pytest.raises(ccxt.AuthenticationError):
                await wrong.fetch_balance()
            with pytest.raises(ccxt.InsufficientFunds):
                await client.create_order("ETH/USDC", "limit", "buy", 1000, 2990)
            with pytest.raises(ccxt.OrderNotFound):
                await client.fetch_order("999999", "ETH/USDC")
            with pytest.raises(ccxt.OrderNotFound):
                await client.cancel_order("999999", "ETH/USDC")
            # Below the 10 USDC minimum notional: Binance's -1013 "Filter failure: NOTIONAL".
            # ccxt 4.5.90 maps -1013 to BadRequest unless the body names LOT_SIZE or PRICE_FILTER.
            with pytest.raises((ccxt.InvalidOrder, ccxt.BadRequest)) as info:
                await client.create_order("ETH/USDC", "limit", "buy", 0.001, 2990)
            assert "-1013" in str(info.value) and "NOTIONAL" in str(info.value)
            with pytest.raises(ccxt.InvalidOrder):  # off the tick grid: PRICE_FILTER
                await client.create_order(
                    "ETH/USDC", "limit", "buy", 1, 2990.001, params={"price": "2990.001"}
                )
            clock.offset_ms = 120_000  # server two minutes ahead: the client's timestamp is stale
            with pytest.raises(ccxt.InvalidNonce):
                await client.fetch_balance()
            assert server.ledger.snapshot() == snapshot
            assert server.engine.open_orders("desk-a", "spot") == []
        finally:
            await client.close()
            await wrong.close()


async def test_each_key_sees_only_its_own_orders_and_balances() -> None:
    async with serve() as (base, server):
        a, b = ccxt_client(base), ccxt_client(base, key="key-b", secret="secret-b")
        try:
            await a.load_markets()
            await b.load_markets()
            order = await a.create_order("ETH/USDC", "limit", "buy", 1, 2990)
            assert await b.fetch_open_orders("ETH/USDC") == []
            with pytest.raises(ccxt.OrderNotFound):
                await b.fetch_order(order["id"], "ETH/USDC")
            with pytest.raises(ccxt.OrderNotFound):
                await b.cancel_order(order["id"], "ETH/USDC")
            assert (await b.fetch_balance())["total"]["USDC"] == 1000
            assert await b.fetch_my_trades("ETH/USDC") == []
            # a's ask inside the spread is hit by b's market buy: both sides settle exactly, a as maker
            ask = await a.create_order("ETH/USDC", "limit", "sell", 0.2, 3000)
            a0 = _balances((await a.fetch_balance())["info"])
            b0 = _balances((await b.fetch_balance())["info"])
            bought = await b.create_order("ETH/USDC", "market", "buy", 0.2)
            assert bought["status"] == "closed" and bought["average"] == 3000.0
            a1 = _balances((await a.fetch_balance())["info"])
            b1 = _balances((await b.fetch_balance())["info"])
            taker_fee = Decimal(bought["info"]["fills"][0]["commission"])
            (maker_trade,) = await a.fetch_my_trades("ETH/USDC")
            assert maker_trade["info"]["isMaker"] is True and maker_trade["order"] == ask["id"]
            maker_fee = Decimal(maker_trade["info"]["commission"])
            assert taker_fee == Decimal("0.3") and maker_fee == Decimal("0.06")  # 5 bp, 1 bp of 600
            assert b1["USDC"][0] == b0["USDC"][0] - Decimal("600") - taker_fee
            assert b1["ETH"][0] == b0["ETH"][0] + Decimal("0.2")
            assert a1["USDC"][0] == a0["USDC"][0] + Decimal("600") - maker_fee
            assert a1["ETH"] == (a0["ETH"][0], a0["ETH"][1] - Decimal("0.2"))
            assert (await a.fetch_order(ask["id"], "ETH/USDC"))["status"] == "closed"
            server.engine._check()
        finally:
            await a.close()
            await b.close()


async def test_perpetual_round_trip_with_binanceusdm() -> None:
    async with serve() as (base, server):
        client = ccxt_client(base, "binanceusdm")
        try:
            markets = await client.load_markets()
            assert list(markets) == ["ETH/USDT:USDT"]
            book = await client.fetch_order_book("ETH/USDT:USDT", 5)
            assert book["asks"][0] == [3001.0, 30.0]
            wallet0 = _usdt_wallet(await client.fetch_balance())
            bought = await client.create_order("ETH/USDT:USDT", "market", "buy", 1)
            assert bought["status"] == "closed" and bought["average"] == 3001.0
            positions = await client.fetch_positions(["ETH/USDT:USDT"])
            assert positions[0]["contracts"] == 1.0 and positions[0]["entryPrice"] == 3001.0
            sold = await client.create_order("ETH/USDT:USDT", "market", "sell", 1)
            assert sold["status"] == "closed"
            wallet1 = _usdt_wallet(await client.fetch_balance())
            # realised (2999 - 3001) * 1 = -2; taker fees 5 bp of 3001 and of 2999
            assert wallet1 == wallet0 - 2 - Decimal("1.5005") - Decimal("1.4995")
            trades = await client.fetch_my_trades("ETH/USDT:USDT")
            assert [Decimal(t["info"]["realizedPnl"]) for t in trades] == [0, -2]
            rest = await client.create_order("ETH/USDT:USDT", "limit", "buy", 1, 2900)
            assert [o["id"] for o in await client.fetch_open_orders("ETH/USDT:USDT")] == [
                rest["id"]
            ]
            assert (await client.cancel_order(rest["id"], "ETH/USDT:USDT"))["status"] == "canceled"
            # Binance futures' -4164 below the 5 USDT minimum notional. ccxt maps -4164 to
            # InvalidOrder only for fapi.binance.com URLs; on any other host it is an ExchangeError.
            with pytest.raises(ccxt.ExchangeError) as info:
                await client.create_order("ETH/USDT:USDT", "limit", "buy", 0.001, 2900)
            assert '"code":-4164' in str(info.value)
            with pytest.raises(ccxt.InsufficientFunds):
                await client.create_order("ETH/USDT:USDT", "limit", "buy", 900, 2900)
            brackets = await client.fetch_leverage_tiers(["ETH/USDT:USDT"])
            assert brackets["ETH/USDT:USDT"][0]["maxLeverage"] == 20
            server.engine._check()
        finally:
            await client.close()
