"""adapters/ccxt.py against the venue server on loopback through the unmodified ccxt client:
the same plan as the all-in-process market, exact fills, and errors mapped by retryability."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

sys.path.insert(0, str(Path(__file__).parent))
from test_venue_server_support import Clock, ccxt_client

from adapters.ccxt import CcxtAdapter
from router.app import DEFAULT_CONFIG, build_margin, load_market
from router.execution.executor import Executor
from router.execution.faults import Fault, inject_faults
from router.execution.order import MultiLegOrder, OrderLeg
from router.model.errors import AdapterError
from router.model.orders import LegOrder
from router.plan import plan_route
from router.server.build import build_server

BOOK = "binance-book"


async def _served(clock: Clock | None = None):
    market = load_market(DEFAULT_CONFIG)
    server = build_server(market, clock_ms=clock or Clock())
    runner = web.AppRunner(server.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, server, market, f"http://127.0.0.1:{runner.addresses[0][1]}"


def _adapter(market, base: str, *, secret: str | None = None) -> CcxtAdapter:
    account = market.config.accounts[0]
    venue = market.venue_config(BOOK)
    client = ccxt_client(
        f"{base}/v/{BOOK}", key=account.api_key, secret=secret or account.api_secret
    )
    return CcxtAdapter(
        BOOK,
        client,
        venue.symbol,
        quote_decimals=market.assets[venue.quote].decimals,
        leg_cost=venue.leg_cost,
        taker_fee_pips=venue.taker_fee_pips,
        owns_exchange=True,
    )


@pytest.mark.parametrize(
    "side, qty", [("buy", Decimal("60")), ("sell", Decimal("25")), ("buy", Decimal("3"))]
)
async def test_route_through_ccxt_gives_the_same_plan_as_in_process(
    side: str, qty: Decimal
) -> None:
    runner, _server, served_market, base = await _served()
    adapter = _adapter(served_market, base)
    try:
        await adapter.refresh()
        local = load_market(DEFAULT_CONFIG)
        in_process = local.adapters_for("ETH/USDC")
        through_ccxt = [
            adapter if a.name == BOOK else a
            for a in load_market(DEFAULT_CONFIG).adapters_for("ETH/USDC")
        ]
        expected = plan_route(in_process, "ETH/USDC", side, qty).to_json_dict()
        got = plan_route(through_ccxt, "ETH/USDC", side, qty).to_json_dict()
        assert got == expected
        assert any(leg["venue"] == BOOK for leg in got["legs"])
        assert adapter.quote(side, Decimal("1")) == local.adapters[BOOK].quote(side, Decimal("1"))
    finally:
        await adapter.close()
        await runner.cleanup()


async def test_execute_fills_exactly_as_quoted_and_moves_balances_by_it() -> None:
    runner, server, market, base = await _served()
    adapter = _adapter(market, base)
    try:
        await adapter.refresh()
        quoted = adapter.quote("buy", Decimal("2"))
        usdc0 = server.ledger.free("desk-a", "USDC")
        fill = await adapter.execute(LegOrder(BOOK, "buy", Decimal("2"), "leg-1"))
        assert fill.status == "filled" and fill.filled_qty == Decimal("2")
        assert (fill.quote_amount, fill.fee) == (quoted.quote_amount, quoted.fee)
        assert usdc0 - server.ledger.free("desk-a", "USDC") == int(fill.quote_amount.scaleb(6))
        # refused by the venue (not enough ETH to sell): a rejected fill, nothing raised or moved
        snapshot = server.ledger.snapshot()
        await adapter.refresh()
        rejected = await adapter.execute(
            LegOrder(BOOK, "sell", Decimal("150"), "leg-2")
        )  # holds 100
        assert rejected.status == "rejected" and "InsufficientFunds" in rejected.reason
        assert server.ledger.snapshot() == snapshot
    finally:
        await adapter.close()
        await runner.cleanup()


async def test_ccxt_errors_become_adapter_errors_by_retryability() -> None:
    clock = Clock()
    runner, _server, market, base = await _served(clock)
    wrong = _adapter(market, base, secret="wrong-secret")
    stale = _adapter(market, base)
    try:
        # ccxt's default load_markets reads the signed currency list (as against Binance), so a
        # wrong secret fails at the first refresh, not retryable
        with pytest.raises(AdapterError) as info:
            await wrong.refresh()
        assert info.value.retryable is False and "AuthenticationError" in str(info.value)
        await stale.refresh()
        clock.offset_ms = 120_000
        with pytest.raises(AdapterError) as info:
            await stale.execute(LegOrder(BOOK, "buy", Decimal("1"), "leg-4"))
        assert info.value.retryable is True and "InvalidNonce" in str(info.value)
    finally:
        await wrong.close()
        await stale.close()
        await runner.cleanup()
    gone = _adapter(market, base)
    try:
        with pytest.raises(AdapterError) as info:  # the server is gone: a network error, retryable
            await gone.refresh()
        assert info.value.retryable is True
    finally:
        await gone.close()


async def test_order_status_and_holdings_come_from_the_exchange_by_client_id() -> None:
    """Reconciliation through ccxt: fetch_order by origClientOrderId (long ids mapped to a short
    deterministic one), None for an id the exchange never saw, and the base balance it reports."""
    runner, _server, market, base = await _served()
    adapter = _adapter(market, base)
    try:
        await adapter.refresh()
        before = await adapter.holdings()
        long_id = "basis-0001.spot-long.r0.binance-book.with-a-long-suffix"
        sent = LegOrder(BOOK, "buy", Decimal("2"), long_id, Decimal("2800"))
        fill = await adapter.execute(sent)
        assert fill.status == "filled" and fill.filled_qty == 2
        # had the reply been lost, the exchange's books say the same
        known = await adapter.order_status(long_id)
        assert known is not None
        assert (known.filled_qty, known.quote_amount, known.fee, known.status) == (
            fill.filled_qty,
            fill.quote_amount,
            fill.fee,
            "filled",
        )
        assert await adapter.order_status("never-sent-1") is None
        after = await adapter.holdings()
        assert after["ETH"] - before["ETH"] == 2
    finally:
        await adapter.close()
        await runner.cleanup()


async def test_a_lost_reply_through_ccxt_is_reconciled_from_the_exchange() -> None:
    """The executor over the ccxt adapter with the reply of its first child lost: the child is
    resolved by client order id on the exchange and the holdings are the exchange's balance."""
    runner, _server, market, base = await _served()
    adapter = _adapter(market, base)
    try:
        await adapter.refresh()
        local = load_market(DEFAULT_CONFIG)
        gate = build_margin(local).gate
        adapters = inject_faults({BOOK: adapter}, [Fault(BOOK, "lost_reply")])
        executor = Executor(adapters, gate, instruments={BOOK: "spot"})
        order = MultiLegOrder(
            "ccxt-1", (OrderLeg("spot", "spot", "ETH/USDC", "buy", qty=Decimal("3")),)
        )
        report = await executor.execute(order)
        assert report.status == "filled", report.reason
        (child,) = report.legs[0].children
        assert (child.status, child.fault, child.queries) == ("filled", "error", 1)
        assert report.venue_holdings == {BOOK: {"ETH": Decimal(3)}}
        assert report.residual_exposure == {"ETH": Decimal(3)}
    finally:
        await adapter.close()
        await runner.cleanup()
