"""adapters/ccxt.py with a stub exchange: snapshot parsing, exact quotes, error mapping, and
refused inputs leaving the adapter unchanged. No ccxt exception escapes."""

from __future__ import annotations

import copy
import re
from decimal import Decimal

import ccxt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.ccxt import CcxtAdapter, decimal_from_ccxt
from router.model.errors import AdapterError, RouteError
from router.model.orders import LegOrder


class StubExchange:
    """Just enough of a ccxt.async_support exchange; ``fail`` raises on the next call."""

    def __init__(self, bids=None, asks=None, *, tick=0.01, step=0.001, min_cost=10.0) -> None:
        self.bids = bids if bids is not None else [[2999.5, 1.5], [2999.0, 2.0]]
        self.asks = asks if asks is not None else [[3000.5, 1.0], [3001.0, 3.25]]
        self.market = {
            "precision": {"price": tick, "amount": step},
            "taker": 0.001,
            "limits": {"amount": {"min": step}, "cost": {"min": min_cost}},
        }
        self.fail: Exception | None = None
        self.orders: list[tuple] = []
        self.result: dict = {}

    def _maybe_fail(self) -> None:
        if self.fail is not None:
            raise self.fail

    async def load_markets(self):
        self._maybe_fail()
        return {"ETH/USDC": self.market}

    async def fetch_order_book(self, symbol, limit=None):
        self._maybe_fail()
        return {"bids": self.bids, "asks": self.asks}

    async def create_order(self, symbol, type, side, amount, price=None, params=None):
        self._maybe_fail()
        self.orders.append((symbol, type, side, amount, params, price))
        return self.result

    async def close(self):
        pass


async def _adapter(**kwargs) -> tuple[CcxtAdapter, StubExchange]:
    exchange = StubExchange(**kwargs)
    adapter = CcxtAdapter(
        "cx", exchange, "ETH/USDC", quote_decimals=6, taker_fee_pips=500, leg_cost=Decimal("1.5")
    )
    await adapter.refresh()
    return adapter, exchange


def _state(adapter: CcxtAdapter) -> dict:
    return copy.deepcopy({k: v for k, v in vars(adapter).items() if k != "exchange"})


def test_decimal_from_ccxt_uses_the_shortest_repr_never_binary_noise() -> None:
    assert decimal_from_ccxt(0.1, "x", "v") == Decimal("0.1")
    assert decimal_from_ccxt(3000.5, "x", "v") == Decimal("3000.5")
    assert decimal_from_ccxt("1.25", "x", "v") == Decimal("1.25")
    for bad in (None, True, float("nan"), float("inf"), "abc"):
        with pytest.raises(AdapterError):
            decimal_from_ccxt(bad, "x", "v")


async def test_quote_sweeps_levels_with_fee_per_level_rounded_up_and_leg_cost() -> None:
    adapter, _ = await _adapter()
    leg = adapter.quote("buy", Decimal("2"))
    # 1 @ 3000.5 + 1 @ 3001; fees 1.50025 and 1.5005 rounded up to the 0.00001 quantum
    notional = Decimal("3000.5") + Decimal("3001")
    fee = Decimal("1.50025") + Decimal("1.5005")
    assert leg.fee == Decimal("3.000750")
    assert leg.quote_amount == notional + fee + Decimal("1.5")
    sell = adapter.quote("sell", Decimal("1.5"))
    # 2.249625 rounded up to the 0.00001 quantum is 2.24963
    assert sell.fee == Decimal("2.24963")
    assert sell.quote_amount == Decimal("4499.25") - Decimal("2.24963") - Decimal("1.5")
    curve = adapter.depth_curve("buy")
    assert [s.qty for s in curve.segments] == [1.0, 3.25] and curve.fixed_cost == 1.5
    assert adapter.base_quantum() == Decimal("0.001") and adapter.min_qty() == Decimal("0.004")


@settings(max_examples=60)
@given(st.integers(1, 4250))
def test_quote_for_quote_buys_the_most_steps_within_the_budget(steps: int) -> None:
    import asyncio

    adapter, _ = asyncio.run(_adapter(min_cost=0.0))
    qty = Decimal(steps) / 1000
    budget = adapter.quote("buy", qty).quote_amount
    leg = adapter.quote_for_quote("buy", budget)
    assert leg.qty == qty or (leg.qty > qty and leg.quote_amount == budget)
    assert leg.quote_amount <= budget
    # The most steps: one step more costs more than the budget (or the book runs out).
    one_more = leg.qty + adapter.base_quantum()
    if one_more <= Decimal("4.25"):
        assert adapter.quote("buy", one_more).quote_amount > budget


async def test_refused_inputs_raise_and_leave_the_adapter_unchanged() -> None:
    adapter, exchange = await _adapter()
    before = _state(adapter)
    bad = [  # (call, the message must name this)
        (lambda: adapter.quote("hold", Decimal("1")), "side='hold'"),
        (lambda: adapter.quote("buy", 1.0), "qty=1.0"),
        (lambda: adapter.quote("buy", Decimal("-1")), "qty=Decimal('-1')"),
        (lambda: adapter.quote("buy", Decimal("0.0001")), "amount step 0.001"),
        (lambda: adapter.quote("buy", Decimal("100")), "the book holds 4.25"),
        (lambda: adapter.quote("buy", Decimal("0.001")), "notional 3.0005 below the minimum 10"),
        (lambda: adapter.quote_for_quote("sell", Decimal("1e9")), "does not receive"),
        (lambda: adapter.quote_for_quote("buy", Decimal("0")), "quote_amount=Decimal('0')"),
        (lambda: adapter.quote_for_quote("buy", "100"), "quote_amount='100'"),
        (lambda: adapter.quote_for_quote("buy", Decimal("1")), "does not buy one step"),
        (lambda: adapter.quote_for_quote("both", Decimal("100")), "side='both'"),
        (lambda: adapter.depth_curve("both"), "side='both'"),
    ]
    for call, named in bad:
        with pytest.raises(RouteError, match=re.escape(named)):
            call()
        assert _state(adapter) == before
    for order, named in (
        (LegOrder("other", "buy", Decimal("1"), "c"), "order.venue='other'"),
        (LegOrder("cx", "buy", Decimal("1"), ""), "order.client_order_id=''"),
        (LegOrder("cx", "buy", Decimal("1.0001"), "c"), "order.qty=Decimal('1.0001')"),
        (LegOrder("cx", "buy", Decimal("1"), "c", Decimal("-3")), "order.limit_price"),
        ("not an order", "order='not an order'"),
    ):
        with pytest.raises(RouteError, match=re.escape(named)):
            await adapter.execute(order)  # type: ignore[arg-type]
    assert exchange.orders == [] and _state(adapter) == before


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"name": ""}, "name=''"),
        ({"symbol": "ETHUSDC"}, "symbol='ETHUSDC'"),
        ({"quote_decimals": 37}, "quote_decimals=37"),
        ({"quote_decimals": True}, "quote_decimals=True"),
        ({"taker_fee_pips": 1_000_000}, "taker_fee_pips=1000000"),
        ({"depth_limit": 0}, "depth_limit=0"),
        ({"leg_cost": Decimal("-1")}, "leg_cost=Decimal('-1')"),
        ({"leg_cost": 1.5}, "leg_cost=1.5"),
        ({"exchange": object()}, "exchange='object'"),
    ],
)
def test_constructor_refuses_each_bad_argument_by_name(kwargs, named) -> None:
    args = {
        "name": "cx",
        "exchange": StubExchange(),
        "symbol": "ETH/USDC",
        "quote_decimals": 6,
    } | kwargs
    name, exchange, symbol = args.pop("name"), args.pop("exchange"), args.pop("symbol")
    with pytest.raises(RouteError, match=re.escape(named)):
        CcxtAdapter(name, exchange, symbol, **args)


async def test_reads_before_the_first_refresh_raise_instead_of_using_an_empty_book() -> None:
    adapter = CcxtAdapter("cx", StubExchange(), "ETH/USDC", quote_decimals=6)
    for call in (
        adapter.base_quantum,
        adapter.min_qty,
        lambda: adapter.depth_curve("buy"),
        lambda: adapter.quote("buy", Decimal("1")),
    ):
        with pytest.raises(RouteError, match="no snapshot yet"):
            call()
    with pytest.raises(RouteError, match="no snapshot yet"):
        await adapter.execute(LegOrder("cx", "buy", Decimal("1"), "c1"))


async def test_unlisted_market_is_a_non_retryable_adapter_error() -> None:
    exchange = StubExchange()
    adapter = CcxtAdapter("cx", exchange, "ETH/USDC", quote_decimals=6, market_symbol="BTC/USDC")
    with pytest.raises(AdapterError, match="is not listed") as info:
        await adapter.refresh()
    assert info.value.retryable is False and adapter.tick is None


async def test_malformed_exact_strings_in_a_fill_raise_adapter_error_not_decimal_errors() -> None:
    adapter, exchange = await _adapter()
    exchange.result = {
        "status": "filled",
        "info": {"executedQty": "1.0x", "cummulativeQuoteQty": "3000.5"},
    }
    with pytest.raises(AdapterError, match="info.executedQty"):
        await adapter.execute(LegOrder("cx", "buy", Decimal("1"), "c-1"))


async def test_off_grid_book_is_refused_and_the_old_snapshot_stays() -> None:
    adapter, exchange = await _adapter()
    before = _state(adapter)
    exchange.asks = [[3000.555, 1.0]]
    with pytest.raises(AdapterError):
        await adapter.refresh()
    assert _state(adapter) == before


@pytest.mark.parametrize(
    "error, retryable",
    [
        (ccxt.RequestTimeout("t"), True),
        (ccxt.NetworkError("n"), True),
        (ccxt.DDoSProtection("d"), True),
        (ccxt.InvalidNonce("n"), True),
        (ccxt.ExchangeNotAvailable("x"), True),
        (ccxt.AuthenticationError("a"), False),
        (ccxt.BadSymbol("b"), False),
        (ccxt.ExchangeError("e"), False),
    ],
)
async def test_ccxt_errors_map_to_adapter_errors_by_retryability(error, retryable) -> None:
    adapter, exchange = await _adapter()
    exchange.fail = error
    with pytest.raises(AdapterError) as info:
        await adapter.refresh()
    assert info.value.retryable is retryable
    with pytest.raises(AdapterError) as info:
        await adapter.execute(LegOrder("cx", "buy", Decimal("1"), "c1"))
    assert info.value.retryable is retryable


@pytest.mark.parametrize(
    "error",
    [
        ccxt.InsufficientFunds("f"),
        ccxt.InvalidOrder("o"),
        ccxt.OrderNotFound("n"),
        ccxt.BadRequest("b"),
    ],
)
async def test_venue_refusals_are_rejected_fills(error) -> None:
    adapter, exchange = await _adapter()
    exchange.fail = error
    fill = await adapter.execute(LegOrder("cx", "buy", Decimal("1"), "c1"))
    assert fill.status == "rejected" and type(error).__name__ in fill.reason


async def test_execute_uses_binance_exact_strings_and_reports_partial_fills() -> None:
    adapter, exchange = await _adapter()
    exchange.result = {
        "status": "expired",
        "filled": 0.5,
        "cost": 1500.25,
        "info": {
            "executedQty": "0.500",
            "cummulativeQuoteQty": "1500.25",
            "fills": [{"commission": "0.750125"}],
        },
    }
    fill = await adapter.execute(LegOrder("cx", "buy", Decimal("1"), "c-1"))
    assert fill.status == "partial" and fill.filled_qty == Decimal("0.5")
    assert fill.quote_amount == Decimal("1500.25") + Decimal("0.750125") + Decimal("1.5")
    # a limit IOC order: without a child limit, at the worst level the snapshot's quote reaches
    assert exchange.orders[0][:4] == ("ETH/USDC", "limit", "buy", "1")
    assert exchange.orders[0][4] == {"newClientOrderId": "c-1", "timeInForce": "IOC"}
    assert Decimal(exchange.orders[0][5]) == adapter.asks[0][0]
    limit = await adapter.execute(
        LegOrder("cx", "buy", Decimal("1"), "c-2", limit_price=Decimal("3000"))
    )
    assert limit.status == "rejected" and len(exchange.orders) == 1


@settings(max_examples=60, deadline=None)
@given(
    side=st.sampled_from(["buy", "sell"]),
    qty_lots=st.integers(1, 5000),
    limit_cents=st.integers(250_000, 350_000),
)
async def test_ioc_price_keeps_any_fill_within_the_child_limit(side, qty_lots, limit_cents) -> None:
    """A fill entirely at the IOC price (the worst the exchange may give) stays within the child's
    all-in limit, fee and leg cost included; one tick looser would not."""
    adapter, _ = await _adapter()
    qty, limit = Decimal(qty_lots) / 1000, Decimal(limit_cents) / 100
    order = LegOrder("cx", side, qty, "c-1", limit_price=limit)
    price = adapter.ioc_price(order, None)  # type: ignore[arg-type]  # the quote is unused with a limit
    fee = Decimal(500) / 1_000_000

    def avg(p: Decimal) -> Decimal:
        per_unit = p * (1 + fee) if side == "buy" else p * (1 - fee)
        return per_unit + (adapter.leg_cost / qty if side == "buy" else -adapter.leg_cost / qty)

    assert price % adapter.tick == 0
    tick = adapter.tick
    if side == "buy":
        assert avg(price) <= limit < avg(price + tick)
    else:
        assert avg(price) >= limit > avg(price - tick)


async def test_a_snapshot_older_than_the_allowed_age_is_refused_until_refreshed() -> None:
    now = [100.0]
    exchange = StubExchange()
    adapter = CcxtAdapter(
        "cx",
        exchange,
        "ETH/USDC",
        quote_decimals=6,
        max_snapshot_age_secs=Decimal("2"),
        clock=lambda: now[0],
    )
    await adapter.refresh()
    quote = adapter.quote("buy", Decimal("1"))
    now[0] += 2.5
    with pytest.raises(AdapterError) as info:
        adapter.quote("buy", Decimal("1"))
    assert "older than the allowed 2 s" in str(info.value) and info.value.details["not_sent"]
    with pytest.raises(AdapterError):
        await adapter.execute(LegOrder("cx", "buy", Decimal("1"), "c-9"))
    assert exchange.orders == []  # nothing was sent on the stale book
    await adapter.refresh()
    assert adapter.quote("buy", Decimal("1")) == quote
