"""USD-M funding, brackets and liquidation price from the margin core, on the server's clock."""

from __future__ import annotations

import json
import sys
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal
from pathlib import Path

import aiohttp
from hypothesis import given, settings
from hypothesis import strategies as st

from router.app import DEFAULT_CONFIG, load_market
from router.margin.funding import PREMIUM_SAMPLE_MS, binance_rate_units, premium_units
from router.margin.quantities import PLACES, RATE_SCALE
from router.server.build import build_server
from router.server.risk import PerpRisk, PerpRules

sys.path.insert(0, str(Path(__file__).parent))
from test_venue_server_rest_rules import _call
from test_venue_server_support import KEY_A, Clock, serve

HOUR_MS = 3_600_000
START_MS = 1_700_000_000_000  # a multiple of nothing in particular: 03:33:20 UTC
CAP = Decimal("0.0005")
# a resting bid above the book's best bid: it lifts the perp's mid above the index
LIFTING_BID = {
    "symbol": "ETHUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.1",
    "price": "3000.6",
}


async def _settled(session, base: str, clock: Clock) -> tuple[dict, list, list]:
    perp = f"{base}/fapi/v1"
    _, before = await _call(session, "GET", f"{base}/fapi/v2/account", {})
    _, index = await _call(session, "GET", f"{perp}/premiumIndex", {"symbol": "ETHUSDT"})
    clock.now_ms = index["nextFundingTime"]  # the boundary is reached: the next call settles it
    _, income = await _call(session, "GET", f"{perp}/income", {"incomeType": "FUNDING_FEE"})
    _, history = await _call(session, "GET", f"{perp}/fundingRate", {"symbol": "ETHUSDT"})
    return before, income, history


async def test_funding_fee_is_size_times_mark_times_rate_and_moves_the_wallet() -> None:
    clock = Clock(START_MS)
    async with serve(market_clock=clock) as (base, server), aiohttp.ClientSession() as session:
        perp = f"{base}/fapi/v1"
        _, body = await _call(
            session,
            "POST",
            f"{perp}/order",
            {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "1.5"},
        )
        assert body["status"] == "FILLED"
        # a resting bid above the old best bid lifts the mid above the index: longs pay
        _, body = await _call(session, "POST", f"{perp}/order", LIFTING_BID)
        assert body["status"] == "NEW"
        _, premium = await _call(session, "GET", f"{perp}/premiumIndex", {"symbol": "ETHUSDT"})
        mark, index = Decimal(premium["markPrice"]), Decimal(premium["indexPrice"])
        interval = 8 * HOUR_MS
        assert premium["nextFundingTime"] == START_MS - START_MS % interval + interval
        rate = max(-CAP, min(CAP, ((mark - index) / index).quantize(Decimal("1e-12"), ROUND_DOWN)))
        assert rate > 0 and Decimal(premium["lastFundingRate"]) == rate

        before, income, history = await _settled(session, base, clock)
        (row,) = income
        size = Decimal("1.5")
        # Binance: funding fee = position size x mark x rate; a long pays a positive rate,
        # rounded against the account to USDT's 6 decimals
        expected = (-size * mark * rate).quantize(Decimal("1e-6"), ROUND_FLOOR)
        assert (row["incomeType"], row["asset"], Decimal(row["income"])) == (
            "FUNDING_FEE",
            "USDT",
            expected,
        )
        assert row["time"] == premium["nextFundingTime"]
        (settled,) = history
        assert (settled["symbol"], settled["fundingTime"]) == ("ETHUSDT", row["time"])
        assert (Decimal(settled["fundingRate"]), Decimal(settled["markPrice"])) == (rate, mark)
        _, after = await _call(session, "GET", f"{base}/fapi/v2/account", {})
        wallet = {a["asset"]: Decimal(a["walletBalance"]) for a in after["assets"]}
        wallet_before = {a["asset"]: Decimal(a["walletBalance"]) for a in before["assets"]}
        assert wallet["USDT"] - wallet_before["USDT"] == expected
        assert {k: v for k, v in wallet.items() if k != "USDT"} == {
            k: v for k, v in wallet_before.items() if k != "USDT"
        }
        # the other account holds no position: its wallet is untouched, no funding row
        assert server.ledger.free("desk-b", "USDT") == 1000 * 10**6
        assert "desk-b" not in server.risk.payments
        # the same boundary is never settled twice; the next one is an interval later
        _, again = await _call(session, "GET", f"{perp}/income", {"incomeType": "FUNDING_FEE"})
        assert again == income
        _, premium2 = await _call(session, "GET", f"{perp}/premiumIndex", {"symbol": "ETHUSDT"})
        assert premium2["nextFundingTime"] == premium["nextFundingTime"] + interval
        server.ledger._check()


async def test_user_data_stream_announces_the_funding_fee() -> None:
    clock = Clock(START_MS)
    async with serve(market_clock=clock) as (base, _server), aiohttp.ClientSession() as session:
        perp = f"{base}/fapi/v1"
        async with session.post(f"{perp}/listenKey", headers={"X-MBX-APIKEY": KEY_A}) as r:
            listen_key = (await r.json())["listenKey"]
        ws_url = f"{base.replace('http', 'ws', 1)}/private/ws?listenKey={listen_key}"
        async with session.ws_connect(ws_url) as ws:
            order = {"symbol": "ETHUSDT", "side": "SELL", "type": "MARKET", "quantity": "2"}
            await _call(session, "POST", f"{perp}/order", order)
            before, income, _ = await _settled(session, base, clock)
            (row,) = income
            assert Decimal(row["income"]) != 0
            while True:  # the order's events come first; the funding update follows them
                event = json.loads((await ws.receive(timeout=10)).data)
                if event.get("e") == "ACCOUNT_UPDATE" and event["a"]["m"] == "FUNDING_FEE":
                    break
            wallet = {b["a"]: Decimal(b["wb"]) for b in event["a"]["B"]}
            paid_before = next(
                Decimal(a["walletBalance"]) for a in before["assets"] if a["asset"] == "USDT"
            )
            assert wallet["USDT"] == paid_before + Decimal(row["income"])
            assert event["E"] == row["time"]


async def test_leverage_brackets_and_liquidation_price_come_from_the_margin_core() -> None:
    async with serve() as (base, _server), aiohttp.ClientSession() as session:
        perp = f"{base}/fapi/v1"
        _, brackets = await _call(session, "GET", f"{perp}/leverageBracket", {"symbol": "ETHUSDT"})
        (bracket,) = brackets[0]["brackets"] if isinstance(brackets, list) else brackets["brackets"]
        assert (bracket["initialLeverage"], bracket["maintMarginRatio"], bracket["cum"]) == (
            20,
            0.025,
            0,
        )
        await _call(
            session,
            "POST",
            f"{perp}/order",
            {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "80"},
        )
        _, rows = await _call(session, "GET", f"{base}/fapi/v2/positionRisk", {"symbol": "ETHUSDT"})
        (row,) = rows
        _, account = await _call(session, "GET", f"{base}/fapi/v2/account", {})
        wallet = Decimal(
            next(a for a in account["assets"] if a["asset"] == "USDT")["walletBalance"]
        )
        q, entry = Decimal(row["positionAmt"]), Decimal(row["entryPrice"])
        # Binance's cross formula for one position, one bracket: (q*E - W) / (q*(1 - mmr))
        exact = (q * entry - wallet) / (q * (1 - Decimal("0.025")))
        liq = Decimal(row["liquidationPrice"])
        # the margin core's price is the largest cent at which the account is below maintenance
        assert exact > 0 and exact - Decimal("0.01") <= liq <= exact
        assert liq == liq.quantize(Decimal("0.01"))


async def test_funding_settles_on_the_interval_average_premium_not_the_last_one() -> None:
    """The premium moves mid-interval (a resting bid lifts the mid, then is cancelled): the
    settled rate is Binance's formula on the premium sampled every 5 s of the market clock, each
    sample point taking the premium that held at it, not the premium at settlement."""
    clock = Clock(START_MS)
    async with serve(market_clock=clock) as (base, server), aiohttp.ClientSession() as session:
        perp = f"{base}/fapi/v1"
        market = {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "1.5"}
        assert (await _call(session, "POST", f"{perp}/order", market))[1]["status"] == "FILLED"
        _, resting = await _call(session, "POST", f"{perp}/order", LIFTING_BID)
        _, first = await _call(session, "GET", f"{perp}/premiumIndex", {"symbol": "ETHUSDT"})
        boundary = first["nextFundingTime"]
        middle = START_MS + (boundary - START_MS) // 3  # a third of the way: the bid rested so far
        clock.now_ms = middle
        cancel = {"symbol": "ETHUSDT", "orderId": resting["orderId"]}
        assert (await _call(session, "DELETE", f"{perp}/order", cancel))[1]["status"] == "CANCELED"
        _, last = await _call(session, "GET", f"{perp}/premiumIndex", {"symbol": "ETHUSDT"})
        clock.now_ms = boundary
        _, income = await _call(session, "GET", f"{perp}/income", {"incomeType": "FUNDING_FEE"})
        _, (settled,) = await _call(session, "GET", f"{perp}/fundingRate", {"symbol": "ETHUSDT"})

        def units(row: dict) -> int:
            return premium_units(
                int(Decimal(row["markPrice"]).scaleb(PLACES)),
                int(Decimal(row["indexPrice"]).scaleb(PLACES)),
            )

        p1, p2 = units(first), units(last)
        assert p1 != p2  # the premium moved
        step = PREMIUM_SAMPLE_MS
        samples = [p1] * (middle // step - START_MS // step) + [p2] * (
            boundary // step - middle // step
        )
        spec = server.risk.core_market(next(iter(server.risk.rules)))
        terms = (
            spec.funding_interest_units,
            spec.funding_band_units,
            spec.funding_cap_units,
            spec.funding_interval_hours,
        )
        average = Decimal(binance_rate_units(samples, *terms)) / RATE_SCALE
        at_the_end = Decimal(binance_rate_units([p2], *terms)) / RATE_SCALE
        assert Decimal(settled["fundingRate"]) == average != at_the_end
        (row,) = income
        mark = Decimal(last["markPrice"])
        expected = (-Decimal("1.5") * mark * average).quantize(Decimal("1e-6"), ROUND_FLOOR)
        assert Decimal(row["income"]) == expected


@settings(max_examples=40, deadline=None)
@given(
    moves=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=40 * 60_000),  # ms since the previous request
            st.integers(min_value=299_000, max_value=301_000),  # mark, cents
            st.integers(min_value=299_000, max_value=301_000),  # index, cents
        ),
        min_size=1,
        max_size=12,
    ),
    interest_bp=st.integers(min_value=0, max_value=3),
    band_bp=st.integers(min_value=0, max_value=10),
)
def test_settled_rate_is_binances_formula_on_the_sampled_premiums(
    moves, interest_bp, band_bp
) -> None:
    """Requests at any times with any prices: every interval settles at Binance's formula over
    its 5-second sample points, each point taking the premium of the first request at or after
    it (the prices that held until then); the list formula, not the running sum."""
    bp = Decimal("0.0001")
    rules = PerpRules(
        "ETH-PERP",
        "ETH",
        max_leverage=20,
        funding_interest=interest_bp * bp,
        funding_band=band_bp * bp,
        funding_interval_hours=1,
    )
    risk = PerpRisk({"perp": rules}, START_MS)
    now, requests, events = START_MS, [], []
    for dt, mark_cents, index_cents in moves:
        now += dt
        mark, index = Decimal(mark_cents) / 100, Decimal(index_cents) / 100
        requests.append((now, premium_units(mark_cents * 10**16, index_cents * 10**16)))
        events += risk.settle("perp", mark, index, now)
    spec = risk.core_market("perp")
    step, previous = PREMIUM_SAMPLE_MS, START_MS
    # every boundary the clock reached settled once, in order
    first = START_MS - START_MS % HOUR_MS + HOUR_MS
    assert [e.time_ms for e in events] == list(range(first, now + 1, HOUR_MS))
    for event in events:
        points = range((previous // step + 1) * step, event.time_ms + 1, step)
        samples = [next(p for t, p in requests if t >= point) for point in points]
        expected = binance_rate_units(
            samples,
            spec.funding_interest_units,
            spec.funding_band_units,
            spec.funding_cap_units,
            spec.funding_interval_hours,
        )
        assert event.rate == Decimal(expected) / RATE_SCALE
        previous = event.time_ms


# ---- the pure parts: PerpRisk over the margin core ------------------------------------------
RULES = {"perp": PerpRules("ETH-PERP", "ETH", max_leverage=20)}


@settings(max_examples=60, deadline=None)
@given(
    size_lots=st.integers(min_value=-(10**7), max_value=10**7).filter(bool),
    mark_cents=st.integers(min_value=1, max_value=10**9),
    premium_bps=st.integers(min_value=-20, max_value=20),
)
def test_payment_is_rounded_against_the_account(size_lots, mark_cents, premium_bps) -> None:
    risk = PerpRisk(RULES, START_MS)
    mark = Decimal(mark_cents) / 100
    index = (mark / (1 + Decimal(premium_bps) / 10_000)).quantize(Decimal("1e-8"))
    if index <= 0:
        return
    (event,) = risk.settle("perp", mark, index, START_MS + 8 * HOUR_MS)
    # the core's rate: the premium over the 1e-8 marks, truncated to 1e-12, capped
    premium = ((mark - index) / index).quantize(Decimal("1e-12"), ROUND_DOWN)
    assert event.rate == max(-CAP, min(CAP, premium))
    size = Decimal(size_lots) / 1000
    paid = risk.pay("acct", "perp", "ETHUSDT", "USDT", size, event, 6)
    exact = -size * event.mark * event.rate
    if paid is None:  # a receipt below one base unit rounds to nothing: nothing is recorded
        assert 0 <= exact < Decimal("1e-6") and "acct" not in risk.payments
        return
    assert paid.income <= exact < paid.income + Decimal("1e-6")  # never in the account's favour
    assert paid.income == paid.income.quantize(Decimal("1e-6"))


def test_settle_catches_up_every_missed_boundary_once() -> None:
    risk = PerpRisk(RULES, START_MS)
    first = risk.next_funding_ms("perp")
    assert risk.settle("perp", Decimal(3000), Decimal(3000), first - 1) == []
    events = risk.settle("perp", Decimal(3000), Decimal(3000), first + 16 * HOUR_MS)
    assert [e.time_ms for e in events] == [first, first + 8 * HOUR_MS, first + 16 * HOUR_MS]
    assert risk.settle("perp", Decimal(3000), Decimal(3000), first + 16 * HOUR_MS) == []


def test_liquidation_price_is_where_the_core_says_maintenance_is_breached() -> None:
    risk = PerpRisk(RULES, START_MS)
    wallet, size, entry, mark = Decimal(1000), Decimal(-2), Decimal(3000), Decimal(3010)
    prices = risk.liquidation_prices(wallet, [("perp", size, size * entry, mark)])
    liq = prices["perp"]
    assert liq is not None
    exact = (size * entry - wallet) / (size * (1 + Decimal("0.025")))  # a short: q < 0
    assert exact <= liq <= exact + Decimal("0.01")
    # at the price the core reports the account's equity is below its maintenance margin
    equity = wallet + size * (liq - entry)
    assert equity < abs(size) * liq * Decimal("0.025")


def test_brackets_are_the_rule_sets_tiers() -> None:
    """Binance-style brackets: maintenance rate and amount per tier, continuous at each floor."""
    tiers = (
        {
            "notional_from": "0",
            "max_leverage": 125,
            "maintenance_margin_rate": "0.004",
            "maintenance_amount": "0",
        },
        {
            "notional_from": "50000",
            "max_leverage": 100,
            "maintenance_margin_rate": "0.005",
            "maintenance_amount": "50",
        },
        {
            "notional_from": "250000",
            "max_leverage": 75,
            "maintenance_margin_rate": "0.0065",
            "maintenance_amount": "425",
        },
    )
    risk = PerpRisk({"perp": PerpRules("ETH-PERP", "ETH", tiers=tiers)}, START_MS)
    rows = risk.brackets("perp")
    assert [
        (r["bracket"], r["initialLeverage"], r["notionalFloor"], r["notionalCap"]) for r in rows
    ] == [(1, 125, 0, 50000), (2, 100, 50000, 250000), (3, 75, 250000, 9_000_000_000_000)]
    assert [(r["maintMarginRatio"], r["cum"]) for r in rows] == [
        (0.004, 0),
        (0.005, 50),
        (0.0065, 425),
    ]
    assert risk.max_leverage("perp") == 125
    # MM = notional x rate - cum of the bracket the notional falls in
    assert (
        risk.maintenance("perp", Decimal(-100), Decimal(3000))
        == Decimal(300000) * Decimal("0.0065") - 425
    )


def test_default_config_index_is_the_median_of_the_spot_mids() -> None:
    server = build_server(load_market(DEFAULT_CONFIG))
    row = server._premium_index({"symbol": "ETHUSDC"}, "")
    mids = sorted(
        server._mid(m).quantize(Decimal("1e-8"))
        for m in server.engine.by_name.values()
        if m.kind == "spot" and (m.units.base, m.units.quote) == ("ETH", "USDC")
    )
    assert len(mids) == 4
    assert Decimal(row["indexPrice"]) == (mids[1] + mids[2]) / 2  # no outlier beyond 100 bps
    assert Decimal(row["markPrice"]) == Decimal("2684.50")  # the perp book's mid
    assert server._leverage_bracket({}, "", "")[0]["brackets"][0]["initialLeverage"] == 20
