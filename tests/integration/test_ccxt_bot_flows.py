"""Unmodified ccxt.pro bots (REST and websocket), spot and USD-M, against the venue server.

Only the keys and the URLs change (the rewrite in docs/bots.md, loaded from that page); no
client options. Every response kind is checked with ccxt's own unified-structure validators
shipped in the package (ccxt/test/exchange/base), and every balance figure by hand.
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path

import ccxt
import ccxt.pro as ccxtpro
import pytest
from ccxt.test.exchange.base import test_balance as check_balance
from ccxt.test.exchange.base import test_currency as check_currency
from ccxt.test.exchange.base import test_leverage_tier as check_leverage_tier
from ccxt.test.exchange.base import test_market as check_market
from ccxt.test.exchange.base import test_ohlcv as check_ohlcv
from ccxt.test.exchange.base import test_order as check_order
from ccxt.test.exchange.base import test_order_book as check_order_book
from ccxt.test.exchange.base import test_position as check_position
from ccxt.test.exchange.base import test_ticker as check_ticker
from ccxt.test.exchange.base import test_trade as check_trade

sys.path.insert(0, str(Path(__file__).parent))
from bot_support import point_at_venue
from test_venue_server_support import KEY_A, KEY_B, SECRET_A, SECRET_B, serve

PERP = "ETH/USDT:USDT"
WAIT_S = 10  # every websocket wait is bounded


def _spot(base: str, key: str = KEY_A, secret: str = SECRET_A):
    return point_at_venue(ccxtpro.binance({"apiKey": key, "secret": secret}), base + "/v/book")


def _usdm(base: str, key: str = KEY_A, secret: str = SECRET_A):
    return point_at_venue(ccxtpro.binanceusdm({"apiKey": key, "secret": secret}), base + "/v/perp")


def _free(balance: dict, asset: str) -> Decimal:
    (row,) = [b for b in balance["info"]["balances"] if b["asset"] == asset]
    return Decimal(row["free"])


def _validate_all(exchange, method: str, rows, check, *args) -> None:
    assert rows, f"{method} returned nothing to validate"
    for row in rows:
        check(exchange, {}, method, row, *args)


async def test_spot_bot_flow_rest_with_ccxt_validators() -> None:
    async with serve() as (base, server):
        ex = _spot(base)
        try:
            markets = await ex.load_markets()  # with currencies and margin pairs: no options
            assert list(markets) == ["ETH/USDC"]
            for market in markets.values():
                check_market(ex, {}, "loadMarkets", market)
            # ccxt adds a hard-coded BNFCR currency of its own (info None); check the server's
            served = [c for c in ex.currencies.values() if c["info"] is not None]
            assert sorted(c["code"] for c in served) == ["ETH", "USDC", "USDT"]
            for currency in served:
                check_currency(ex, {}, "fetchCurrencies", currency)
            now = ex.milliseconds()
            check_ticker(ex, {}, "fetchTicker", await ex.fetch_ticker("ETH/USDC"), "ETH/USDC")
            book = await ex.fetch_order_book("ETH/USDC")
            check_order_book(ex, {}, "fetchOrderBook", book, "ETH/USDC")
            before = await ex.fetch_balance()
            check_balance(ex, {}, "fetchBalance", before)

            # market buy by quote amount: the largest lot count whose notional fits 1000 USDC
            bought = await ex.create_market_buy_order_with_cost("ETH/USDC", 1000)
            assert bought["status"] == "closed" and bought["filled"] == 0.3332  # 0.3332 * 3000.50
            check_order(ex, {}, "createOrder", bought, "ETH/USDC", now)
            after = await ex.fetch_balance()
            notional = Decimal("0.3332") * Decimal("3000.50")
            fee = Decimal(bought["info"]["fills"][0]["commission"])
            assert _free(after, "USDC") == _free(before, "USDC") - notional - fee
            assert _free(after, "ETH") == _free(before, "ETH") + Decimal("0.3332")

            # post-only (LIMIT_MAKER) rests; one that would cross is refused and changes nothing
            maker = await ex.create_order("ETH/USDC", "limit", "buy", 0.5, 2950, {"postOnly": True})
            assert maker["status"] == "open" and maker["info"]["type"] == "LIMIT_MAKER"
            snapshot = server.ledger.snapshot()
            with pytest.raises(ccxt.InvalidOrder):
                await ex.create_order("ETH/USDC", "limit", "buy", 0.5, 3001, {"postOnly": True})
            assert server.ledger.snapshot() == snapshot
            # GTX is Binance's post-only time in force on spot too
            gtx = await ex.create_order(
                "ETH/USDC", "limit", "buy", 0.5, 2940, {"timeInForce": "GTX"}
            )
            assert gtx["status"] == "open"

            # cancelReplace (edit_order) moves the order: the old one is canceled, a new one rests
            edited = await ex.edit_order(maker["id"], "ETH/USDC", "limit", "buy", 0.6, 2951)
            assert (
                edited["status"] == "open"
                and edited["amount"] == 0.6
                and edited["id"] != maker["id"]
            )
            assert (await ex.fetch_order(maker["id"], "ETH/USDC"))["status"] == "canceled"
            open_orders = await ex.fetch_open_orders("ETH/USDC")
            assert sorted(o["id"] for o in open_orders) == sorted([gtx["id"], edited["id"]])
            _validate_all(ex, "fetchOpenOrders", open_orders, check_order, "ETH/USDC", now)
            cancelled = await ex.cancel_all_orders("ETH/USDC")
            assert len(cancelled) == 2 and await ex.fetch_open_orders("ETH/USDC") == []
            every = await ex.fetch_orders("ETH/USDC")
            assert [o["status"] for o in every] == ["closed", "canceled", "canceled", "canceled"]
            _validate_all(ex, "fetchOrders", every, check_order, "ETH/USDC", now)

            trades = await ex.fetch_trades("ETH/USDC")
            _validate_all(ex, "fetchTrades", trades, check_trade, "ETH/USDC", now, True)
            mine = await ex.fetch_my_trades("ETH/USDC")
            _validate_all(ex, "fetchMyTrades", mine, check_trade, "ETH/USDC", now, False)
            ohlcv = await ex.fetch_ohlcv("ETH/USDC", "1m")
            _validate_all(ex, "fetchOHLCV", ohlcv, check_ohlcv, "ETH/USDC", now)
            assert sum(Decimal(str(bar[5])) for bar in ohlcv) == Decimal("0.3332")
            after_all = await ex.fetch_balance()
            assert _free(after_all, "USDC") == _free(after, "USDC")  # cancels gave it all back
            server.engine._check()
        finally:
            await ex.close()


async def test_spot_dust_sell_into_the_pool_is_a_filter_failure_not_a_500() -> None:
    async with serve() as (base, server):
        ex = point_at_venue(
            ccxtpro.binance({"apiKey": KEY_A, "secret": SECRET_A}), base + "/v/uni-v2"
        )
        try:
            await ex.load_markets()
            snapshot = server.ledger.snapshot()
            with pytest.raises(ccxt.BadRequest) as info:  # -1013 Filter failure: NOTIONAL
                await ex.create_order("ETH/USDT", "market", "sell", 1e-18)
            assert "-1013" in str(info.value)
            assert server.ledger.snapshot() == snapshot
            # quoteOrderQty into the pool: exact-output swap of the largest base it pays for
            bought = await ex.create_market_buy_order_with_cost("ETH/USDT", 1000)
            assert Decimal(bought["info"]["cummulativeQuoteQty"]) <= 1000
        finally:
            await ex.close()


async def test_usdm_bot_flow_rest_with_ccxt_validators() -> None:
    async with serve() as (base, server):
        ex = _usdm(base, KEY_B, SECRET_B)  # 1000 USDT: a 1 ETH long at 10x has a liquidation price
        try:
            markets = await ex.load_markets()
            assert list(markets) == [PERP]
            check_market(ex, {}, "loadMarkets", markets[PERP])
            now = ex.milliseconds()
            await ex.set_leverage(10, PERP)
            assert (await ex.fetch_leverage(PERP))["longLeverage"] == 10
            with pytest.raises(ccxt.BadRequest):  # above the bracket's 20x: -4028
                await ex.set_leverage(50, PERP)
            with pytest.raises(ccxt.MarginModeAlreadySet):
                await ex.set_margin_mode("cross", PERP)

            bought = await ex.create_order(PERP, "market", "buy", 0.05)
            check_order(ex, {}, "createOrder", bought, PERP, now)
            # reduceOnly: a sell of 0.2 against a 0.05 long closes 0.05 and opens nothing
            closed = await ex.create_order(PERP, "market", "sell", 0.2, None, {"reduceOnly": True})
            assert closed["filled"] == 0.05
            assert [p for p in await ex.fetch_positions([PERP]) if p["contracts"]] == []
            with pytest.raises(ccxt.ExchangeError) as info:  # nothing to reduce: -2022
                await ex.create_order(PERP, "market", "sell", 0.2, None, {"reduceOnly": True})
            assert '"code":-2022' in str(info.value)
            with pytest.raises(ccxt.OperationRejected):  # LONG in one-way mode: -4061
                await ex.create_order(PERP, "market", "buy", 0.1, None, {"positionSide": "LONG"})

            await ex.create_order(PERP, "market", "buy", 1)
            (position,) = await ex.fetch_positions([PERP])
            check_position(ex, {}, "fetchPositions", position, PERP, now)
            assets = (await ex.fetch_balance())["info"]["assets"]
            wallet = Decimal(next(a for a in assets if a["asset"] == "USDT")["walletBalance"])
            # cross liquidation price of the only position, by hand: (q*E - W) / (q*(1 - mmr))
            mmr = Decimal(1) / 40
            expected = (Decimal(3001) - wallet) / (1 - mmr)
            liq = Decimal(position["info"]["liquidationPrice"])
            assert expected > 0 and abs(liq - expected) < Decimal("1e-8")
            balance = await ex.fetch_balance()
            check_balance(ex, {}, "fetchBalance", balance)
            assert {"ETH", "USDC", "USDT"} <= set(balance["total"])  # every asset of the wallet
            tiers = await ex.fetch_leverage_tiers([PERP])
            _validate_all(ex, "fetchLeverageTiers", tiers[PERP], check_leverage_tier)
            ohlcv = await ex.fetch_ohlcv(PERP, "1m")
            _validate_all(ex, "fetchOHLCV", ohlcv, check_ohlcv, PERP, now)
            trades = await ex.fetch_trades(PERP)
            _validate_all(ex, "fetchTrades", trades, check_trade, PERP, now, True)
            ticker = await ex.fetch_ticker(PERP)
            check_ticker(ex, {}, "fetchTicker", ticker, PERP)
            rate = await ex.fetch_funding_rate(PERP)
            assert rate["fundingRate"] == 0 and rate["markPrice"] == 3000.0

            rest = await ex.create_order(PERP, "limit", "buy", 0.5, 2900)
            assert [o["id"] for o in await ex.fetch_open_orders(PERP)] == [rest["id"]]
            await ex.cancel_all_orders(PERP)
            assert await ex.fetch_open_orders(PERP) == []
            orders = await ex.fetch_orders(PERP)
            _validate_all(ex, "fetchOrders", orders, check_order, PERP, now)

            # hedge mode: refused while a position is open, then LONG and SHORT legs side by side
            with pytest.raises(ccxt.OperationRejected):
                await ex.set_position_mode(True)
            await ex.create_order(PERP, "market", "sell", 1, None, {"reduceOnly": True})
            await ex.set_position_mode(True)
            await ex.create_order(PERP, "market", "buy", 0.1, None, {"positionSide": "LONG"})
            await ex.create_order(PERP, "market", "sell", 0.2, None, {"positionSide": "SHORT"})
            sides = {
                p["info"]["positionSide"]: p["contracts"] for p in await ex.fetch_positions([PERP])
            }
            assert sides == {"LONG": 0.1, "SHORT": 0.2}
            with pytest.raises(ccxt.OperationRejected):  # BOTH in hedge mode: -4061
                await ex.create_order(PERP, "market", "buy", 0.1)
            server.engine._check()
        finally:
            await ex.close()


async def test_ccxt_pro_streams_order_book_trades_and_user_data() -> None:
    async with serve() as (base, _server):
        ex, taker = _spot(base), _spot(base, KEY_B, SECRET_B)
        try:
            await ex.load_markets()
            await taker.load_markets()
            book = await asyncio.wait_for(ex.watch_order_book("ETH/USDC"), WAIT_S)
            assert book["asks"][0] == [3000.5, 8.0]
            orders = asyncio.ensure_future(ex.watch_orders("ETH/USDC"))
            await asyncio.sleep(0.3)  # let the user-data subscription land first
            resting = await ex.create_order("ETH/USDC", "limit", "sell", 0.2, 3000)
            seen = await asyncio.wait_for(orders, WAIT_S)
            assert seen[-1]["id"] == resting["id"] and seen[-1]["status"] == "open"
            trades = asyncio.ensure_future(ex.watch_trades("ETH/USDC"))
            mine = asyncio.ensure_future(ex.watch_my_trades("ETH/USDC"))
            await asyncio.sleep(0.3)
            await taker.create_order("ETH/USDC", "market", "buy", 0.2)
            public = await asyncio.wait_for(trades, WAIT_S)
            assert public[-1]["price"] == 3000.0 and public[-1]["amount"] == 0.2
            fills = await asyncio.wait_for(mine, WAIT_S)
            assert fills[-1]["order"] == resting["id"] and fills[-1]["takerOrMaker"] == "maker"
            # the local book ccxt.pro keeps from the diff stream equals the REST book after the
            # next change (a new resting order)
            watched = asyncio.ensure_future(ex.watch_order_book("ETH/USDC"))
            await asyncio.sleep(0.1)
            await taker.create_order("ETH/USDC", "limit", "buy", 0.1, 2999.75)
            book = await asyncio.wait_for(watched, WAIT_S)
            rest = await ex.fetch_order_book("ETH/USDC", 1000)
            assert book["bids"][0] == [2999.75, 0.1]
            assert book["bids"][:5] == rest["bids"][:5] and book["asks"][:5] == rest["asks"][:5]
        finally:
            await ex.close()
            await taker.close()


async def test_ccxt_pro_usdm_streams_and_user_data() -> None:
    async with serve() as (base, _server):
        ex = _usdm(base)
        try:
            await ex.load_markets()
            book = await asyncio.wait_for(ex.watch_order_book(PERP), WAIT_S)
            assert book["asks"][0] == [3001.0, 30.0]
            orders = asyncio.ensure_future(ex.watch_orders(PERP))
            await asyncio.sleep(0.3)
            placed = await ex.create_order(PERP, "market", "buy", 0.5)
            seen = await asyncio.wait_for(orders, WAIT_S)
            assert seen[-1]["id"] == placed["id"]
            positions = asyncio.ensure_future(ex.watch_positions([PERP]))
            await asyncio.sleep(0.3)
            await ex.create_order(PERP, "market", "buy", 0.5)
            (position,) = [
                p for p in await asyncio.wait_for(positions, WAIT_S) if p["symbol"] == PERP
            ]
            assert position["contracts"] == 1.0
            assert ex.orderbooks[PERP]["asks"][0] == [3001.0, 29.0]
            trades = asyncio.ensure_future(ex.watch_trades(PERP))
            await asyncio.sleep(0.3)
            await ex.create_order(PERP, "market", "sell", 0.1)
            public = await asyncio.wait_for(trades, WAIT_S)
            assert public[-1]["price"] == 2999.0
        finally:
            await ex.close()


async def test_ccxt_pro_ticker_book_ticker_ohlcv_and_mark_price_streams() -> None:
    async with serve() as (base, _server):
        ex, taker = _spot(base), _spot(base, KEY_B, SECRET_B)
        perp = _usdm(base)
        try:
            await ex.load_markets()
            await taker.load_markets()
            await perp.load_markets()
            bids_asks = await asyncio.wait_for(ex.watch_bids_asks(["ETH/USDC"]), WAIT_S)
            assert bids_asks["ETH/USDC"]["bid"] == 2999.5 and bids_asks["ETH/USDC"]["ask"] == 3000.5
            ticker = asyncio.ensure_future(ex.watch_ticker("ETH/USDC"))
            ohlcv = asyncio.ensure_future(ex.watch_ohlcv("ETH/USDC", "1m"))
            await asyncio.sleep(0.3)
            await taker.create_order("ETH/USDC", "market", "buy", 0.2)
            assert (await asyncio.wait_for(ticker, WAIT_S))["last"] == 3000.5
            bars = await asyncio.wait_for(ohlcv, WAIT_S)
            assert bars[-1][4] == 3000.5 and bars[-1][5] == 0.2
            mark = await asyncio.wait_for(perp.watch_mark_price(PERP), WAIT_S)
            assert mark["markPrice"] == 3000.0
        finally:
            await ex.close()
            await taker.close()
            await perp.close()
