"""Voluntary trades on isolated positions: a loss beyond the bucket is refused, never charged to cross.

Liquidation books such a loss as the insurance fund's bad debt; a trader closing by hand must top
the bucket up first (``add_isolated_margin``) or leave the position to liquidation.
"""

from decimal import Decimal

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from router.margin import (
    IsolatedBucketRejected,
    LedgerLeg,
    MarginError,
    MarginInputError,
    MarginRejected,
)
from router.margin.projection import FUND_HOLDER
from router.margin.quantities import INDEX_SCALE, SCALE, ceil_div, floor_div

from .helpers import btc_ledger, perp

USDC = "USDC"
ALLOWED = "add isolated margin first, or let liquidation close it"


def isolated_long(margin: str = "2500", usdc: str = "10000") -> tuple:
    ledger, sub = btc_ledger(usdc)
    ledger.apply_leg(sub, LedgerLeg("perp", "BTC-PERP", "buy", "1", "100000", "0", margin))
    return ledger, sub


def bucket_units(ledger, sub: str, symbol: str = "BTC-PERP") -> int:
    """Posted margin + upnl + unsettled funding of an isolated position, from the ledger's caches."""
    s = ledger.subs[sub]
    pos, figs = s.positions[symbol], s.pos_vals[symbol]
    return pos.isolated_margin_units + figs[1] + figs[2]


def frozen(ledger) -> tuple:
    return ledger.snapshot(), ledger.journal.text()


def assert_unchanged(ledger, before: tuple) -> None:
    snap, journal = before
    assert ledger.snapshot() == snap
    # a refusal may journal itself (reject_leg), never a state change
    assert ledger.journal.text().startswith(journal)
    assert all(
        e["event"] in ("reject_leg", "check_leg")
        for e in ledger.journal.events()[journal.count("\n") :]
    )
    ledger._check()


# --- the worked example of docs/margin.md ----------------------------------------------------------


def test_worked_example_close_below_bankruptcy_is_refused_and_changes_nothing():
    ledger, sub = isolated_long()
    ledger.set_mark("BTC-PERP", "95000")  # bankruptcy is 97,500
    before = frozen(ledger)
    result = ledger.check_leg(sub, perp("sell", "1", "95000"))
    assert not result.accepted and result.limit == "isolated_bucket" and result.asset == USDC
    assert (result.required, result.available, result.shortfall) == (
        0,
        Decimal("-2500"),
        Decimal("2500"),
    )
    with pytest.raises(IsolatedBucketRejected) as info:
        ledger.apply_leg(sub, perp("sell", "1", "95000"))
    err = info.value
    assert isinstance(err, MarginRejected) and isinstance(err, MarginError)
    assert (err.subaccount, err.symbol, err.limit, err.asset) == (
        sub,
        "BTC-PERP",
        "isolated_bucket",
        USDC,
    )
    assert err.shortfall == Decimal("2500") and err.allowed == ALLOWED
    for text in (sub, "BTC-PERP", "2500", ALLOWED):
        assert text in str(err)
    assert_unchanged(ledger, before)
    assert ledger.balance(sub, USDC) == Decimal("7500")


def test_worked_example_top_up_then_close_settles_inside_the_bucket():
    ledger, sub = isolated_long()
    ledger.set_mark("BTC-PERP", "95000")
    ledger.add_isolated_margin(sub, "BTC-PERP", "3000")
    assert ledger.balance(sub, USDC) == Decimal("4500")
    assert ledger.position(sub, "BTC-PERP").isolated_margin_units == 5500 * SCALE
    assert bucket_units(ledger, sub) == 500 * SCALE
    ledger.apply_leg(sub, perp("sell", "1", "95000"))
    assert ledger.position(sub, "BTC-PERP") is None
    assert ledger.balance(sub, USDC) == Decimal("5000")  # 4,500 + the 500 left in the bucket
    assert ledger.holdings(FUND_HOLDER, USDC) == 0  # the fund pays nothing
    assert ledger.holdings("market", USDC) == Decimal("5000")
    events = [e for e in ledger.journal.events() if e["event"] == "add_isolated_margin"]
    assert events == [
        {
            **events[0],
            "subaccount": sub,
            "symbol": "BTC-PERP",
            "amount": "3000.00000000",
            "isolated_margin": "5500.00000000",
        }
    ]
    ledger._check()


def test_partial_close_of_a_bankrupt_bucket_is_refused_too():
    # selling half realises 2,500 (cash 0) but the half still held is 2,500 under water
    ledger, sub = isolated_long()
    ledger.set_mark("BTC-PERP", "95000")
    before = frozen(ledger)
    with pytest.raises(IsolatedBucketRejected) as info:
        ledger.apply_leg(sub, perp("sell", "0.5", "95000"))
    assert info.value.shortfall == Decimal("2500")
    assert_unchanged(ledger, before)


def test_close_above_bankruptcy_returns_the_rest_to_cross():
    ledger, sub = isolated_long()
    ledger.set_mark("BTC-PERP", "98000")
    ledger.apply_leg(sub, perp("sell", "1", "98000"))
    assert ledger.balance(sub, USDC) == Decimal("8000")  # 7,500 + 2,500 - 2,000
    ledger._check()


def test_a_fee_that_empties_the_bucket_past_zero_is_refused_by_the_fee():
    ledger, sub = isolated_long()
    ledger.set_mark("BTC-PERP", "97500")  # exactly at bankruptcy: bucket 0
    assert ledger.check_leg(sub, perp("sell", "1", "97500")).accepted
    result = ledger.check_leg(sub, LedgerLeg("perp", "BTC-PERP", "sell", "1", "97500", "0.01"))
    assert result.limit == "isolated_bucket" and result.shortfall == Decimal("0.01")


def test_a_closing_leg_may_carry_the_missing_margin_itself():
    ledger, sub = isolated_long()
    ledger.set_mark("BTC-PERP", "95000")
    ledger.apply_leg(sub, LedgerLeg("perp", "BTC-PERP", "sell", "1", "95000", "0", "2500"))
    assert ledger.balance(sub, USDC) == Decimal("5000") and ledger.holdings(FUND_HOLDER, USDC) == 0
    ledger._check()


def test_refused_close_in_a_multi_leg_check_reports_the_isolated_bucket():
    ledger, sub = isolated_long()
    ledger.set_mark("BTC-PERP", "95000")
    result = ledger.check_legs(
        sub, [perp("sell", "1", "95000"), perp("buy", "1", "3000", "ETH-PERP")]
    )
    assert result.given_failure.limit == "isolated_bucket" and result.given_failure.leg_index == 0
    assert not result.accepted  # no order makes the close acceptable


def test_liquidation_still_closes_the_bankrupt_bucket_as_bad_debt():
    ledger, sub = isolated_long()
    ledger.set_mark("BTC-PERP", "95000")
    with pytest.raises(IsolatedBucketRejected):
        ledger.apply_leg(sub, perp("sell", "1", "95000"))
    assert ledger.liquidate(sub).bad_debt_units == 2500 * SCALE
    assert ledger.balance(sub, USDC) == Decimal("7500")
    ledger._check()


# --- add_isolated_margin ----------------------------------------------------------------------------


def test_top_up_moves_the_liquidation_price_away_and_keeps_cross_headroom():
    ledger, sub = isolated_long()
    headroom = ledger.headroom(sub)
    assert ledger.liquidation_price(sub, "BTC-PERP") == Decimal("98734.17")
    ledger.add_isolated_margin(sub, "BTC-PERP", "2500")
    # bucket 5,000 + (P - 100,000) < P/80  <=>  P < 95,000 x 80/79 = 96,202.53...
    assert ledger.liquidation_price(sub, "BTC-PERP") == Decimal("96202.53")
    assert ledger.headroom(sub) == headroom - 2500
    ledger._check()


def test_top_up_beyond_cross_headroom_is_rejected_and_changes_nothing():
    ledger, sub = isolated_long()
    ledger.apply_leg(sub, perp("buy", "50", "3000", "ETH-PERP"))  # IM 6,000 of the 7,500 cross
    before = frozen(ledger)
    with pytest.raises(MarginRejected) as info:
        ledger.add_isolated_margin(sub, "BTC-PERP", "1500.01")
    assert (info.value.limit, info.value.shortfall, info.value.asset) == (
        "headroom",
        Decimal("0.01"),
        USDC,
    )
    assert ledger.snapshot() == before[0] and ledger.journal.text() == before[1]
    ledger.add_isolated_margin(sub, "BTC-PERP", "1500")  # exactly to zero headroom is fine
    assert ledger.headroom(sub) == 0
    ledger._check()


BAD_TOP_UPS = [
    ("nobody", "BTC-PERP", "1"),
    ("desk/b", "BTC-PERP", "1"),  # no such subaccount / no position
    ("desk/main", "NOPE-PERP", "1"),
    ("desk/main", "ETH-PERP", "1"),  # unknown / held cross
    ("desk/main", None, "1"),
    ("desk/main", "BTC-PERP", "0"),
    ("desk/main", "BTC-PERP", "-5"),
    ("desk/main", "BTC-PERP", 1.5),
    ("desk/main", "BTC-PERP", "nan"),
    ("desk/main", "BTC-PERP", "inf"),
    ("desk/main", "BTC-PERP", "1e-9"),
    ("desk/main", "BTC-PERP", "7500.01"),  # finer than 1e-8 / over the balance
    ("desk/main", "BTC-PERP", None),
    ("desk/main", "BTC-PERP", "ten"),
]


@pytest.mark.parametrize("args", BAD_TOP_UPS, ids=[str(i) for i in range(len(BAD_TOP_UPS))])
def test_add_isolated_margin_rejects_bad_input_and_changes_nothing(args):
    ledger, sub = isolated_long()
    ledger.open_subaccount("desk", "b")
    ledger.apply_leg(sub, perp("buy", "1", "3000", "ETH-PERP"))
    before = frozen(ledger)
    with pytest.raises(MarginInputError) as info:
        ledger.add_isolated_margin(*args)
    assert info.value.field in ("subaccount", "symbol", "amount")
    assert ledger.snapshot() == before[0] and ledger.journal.text() == before[1]
    ledger._check()


# --- properties ------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    usdc=st.integers(20_000, 200_000),
    iso_side=st.sampled_from(["buy", "sell"]),
    iso_hundredths=st.integers(1, 300),
    lev=st.integers(2, 40),
    extra_margin_bps=st.integers(0, 5_000),
    cross_eth=st.integers(-30, 30),
    funding_rounds=st.integers(0, 3),
    gap_permille=st.integers(900, 1_100) | st.integers(0, 3_000),
    close_pct=st.integers(1, 100) | st.just(100) | st.integers(101, 200),
    slip_bps=st.integers(-100, 100),
    fee_cents=st.integers(0, 50_000),
)
def test_voluntary_trade_never_charges_cross_or_the_fund_for_an_isolated_loss(
    usdc,
    iso_side,
    iso_hundredths,
    lev,
    extra_margin_bps,
    cross_eth,
    funding_rounds,
    gap_permille,
    close_pct,
    slip_bps,
    fee_cents,
):
    ledger, sub = btc_ledger(str(usdc))
    if cross_eth:
        ledger.apply_leg(
            sub, perp("buy" if cross_eth > 0 else "sell", str(abs(cross_eth)), "3000", "ETH-PERP")
        )
    size = Decimal(iso_hundredths) / 100
    margin = (size * 100_000 / lev * (10_000 + extra_margin_bps) / 10_000).quantize(Decimal("0.01"))
    leg = LedgerLeg("perp", "BTC-PERP", iso_side, str(size), "100000", "0", str(margin))
    assume(ledger.check_leg(sub, leg).accepted)
    ledger.apply_leg(sub, leg)
    ledger.set_mark("BTC-PERP", "100100")  # a premium: funding flows through the bucket
    for _ in range(funding_rounds):
        ledger.accrue_funding("BTC-PERP")
    # move against the position by gap_permille of its posted margin: 1,000 = to bankruptcy
    move = min(margin / (size * 100_000) * gap_permille / 1000, Decimal("0.99"))
    mark = (100_000 * (1 - move if iso_side == "buy" else 1 + move)).quantize(Decimal("0.01"))
    ledger.set_mark("BTC-PERP", str(mark))
    fill = (mark * (10_000 + slip_bps) / 10_000).quantize(Decimal("0.01"))
    close_size = (size * close_pct / 100).quantize(Decimal("0.01"))
    assume(close_size > 0)
    trade = LedgerLeg(
        "perp",
        "BTC-PERP",
        "sell" if iso_side == "buy" else "buy",
        str(close_size),
        str(fill),
        str(Decimal(fee_cents) / 100),
    )
    s = ledger.subs[sub]
    pos = s.positions["BTC-PERP"].copy()
    cross_usdc, fund = s.balances.get(USDC, 0), ledger.other.get((FUND_HOLDER, USDC), 0)
    before = frozen(ledger)

    result = ledger.check_leg(sub, trade)

    if result.accepted:
        ledger.apply_leg(sub, trade)
        after_pos = s.positions.get("BTC-PERP")
        # a voluntary trade never debits cross for the isolated position: it can only be credited
        assert s.balances.get(USDC, 0) >= cross_usdc
        assert ledger.other.get((FUND_HOLDER, USDC), 0) == fund  # nor touches the fund
        if after_pos is not None:  # never a negative bucket
            assert after_pos.isolated_margin_units >= 0 and bucket_units(ledger, sub) >= 0
        ledger._check()
        event("accepted close" if after_pos is None else "accepted, still open")
    else:
        with pytest.raises(MarginRejected):
            ledger.apply_leg(sub, trade)
        assert_unchanged(ledger, before)
        event(f"refused: {result.limit}")
    if close_pct == 100 and result.limit in (None, "isolated_bucket"):
        # a full close is refused exactly when the bucket's cash would end below zero
        units = trade.size_units * (1 if pos.size_units > 0 else -1)
        owed = ceil_div(
            pos.size_units * (ledger.funding_index["BTC-PERP"] - pos.funding_index), INDEX_SCALE
        )
        left = (
            pos.isolated_margin_units
            - owed
            + floor_div(units * trade.price_units - pos.cost16, SCALE)
            - trade.fee_units
        )
        assert result.accepted == (left >= 0)
        if not result.accepted:
            assert result.shortfall * SCALE == -left
