"""Spot on credit: a sell beyond holdings borrows the base, a buy beyond cash borrows the quote.

Both are liabilities counted at full value in equity, with their weight above 1 as initial and
maintenance margin (default 1.1 / 1.05), per-asset borrow limits, and interest on the simulated
clock paid to the market (the lender), so the double entry holds.
"""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.margin import LedgerLeg, MarginInputError, MarginLedger, MarginRejected
from router.margin.account import YEAR_NS
from router.margin.projection import MARKET
from router.margin.quantities import SCALE

from .helpers import perp


def spot(side: str, size: str, price: str, asset: str = "ETH", fee: str = "0") -> LedgerLeg:
    return LedgerLeg("spot", asset, side, size, price, fee)


def eth_ledger(usdc: str = "600", **terms: str) -> tuple[MarginLedger, str]:
    ledger = MarginLedger()
    ledger.add_asset("ETH", **terms)
    ledger.add_market("ETH-PERP", "ETH", max_leverage=20)
    ledger.set_mark("ETH", "3000")
    ledger.set_mark("ETH-PERP", "3000")
    sub = ledger.open_subaccount("desk", "main")
    ledger.deposit(sub, "USDC", usdc)
    return ledger, sub


def test_a_spot_sell_beyond_holdings_is_a_margined_base_borrow():
    ledger, sub = eth_ledger()
    # 600 USDC, sell 10 ETH at 3,000: USDC 30,600, ETH -10 (value -30,000): equity 600;
    # IM = (1.1 - 1) x 30,000 = 3,000 > 600: refused, naming required and available
    result = ledger.check_leg(sub, spot("sell", "10", "3000"))
    assert not result.accepted and result.limit == "headroom"
    assert (result.required, result.available) == (Decimal("3000"), Decimal("600"))
    assert result.shortfall == Decimal("2400")
    with pytest.raises(MarginRejected):
        ledger.apply_leg(sub, spot("sell", "10", "3000"))
    # 1 ETH fits: IM 300, headroom 300
    ledger.apply_leg(sub, spot("sell", "1", "3000"))
    summary = ledger.summary(sub)
    assert summary["initial_margin"] == Decimal("300")
    assert summary["maintenance_margin"] == Decimal("150")
    assert summary["equity"] == Decimal("600") and summary["headroom"] == Decimal("300")
    ledger._check()


def test_a_spot_buy_beyond_cash_is_a_margined_quote_borrow():
    ledger, sub = eth_ledger()
    # buy 10 ETH at 3,000 with 600 USDC: USDC -29,400 (a quote borrow), ETH +30,000 at weight 1:
    # equity 600, IM = 0.1 x 29,400 = 2,940
    result = ledger.check_leg(sub, spot("buy", "10", "3000"))
    assert not result.accepted
    assert (result.required, result.available) == (Decimal("2940"), Decimal("600"))
    ledger.apply_leg(sub, spot("buy", "1.2", "3000"))  # borrows 3,000: IM 300
    assert ledger.summary(sub)["initial_margin"] == Decimal("300")
    ledger._check()


def test_a_borrow_moving_against_the_account_becomes_liquidatable():
    ledger, sub = eth_ledger("10000")
    ledger.apply_leg(sub, spot("sell", "10", "3000"))  # IM 3,000, headroom 7,000
    assert ledger.summary(sub)["headroom"] == Decimal("7000")
    # equity(P) = 40,000 - 10 P; MM = 0.05 x 10 P: breach when 40,000 < 10.5 P, P > 3,809.52...
    ledger.set_mark("ETH", "3809.52")
    assert ledger.liquidatable() == []
    ledger.set_mark("ETH", "3809.53")
    assert ledger.liquidatable() == [sub]
    ledger._check()


def test_configured_weights_and_the_borrow_limit():
    ledger, sub = eth_ledger(
        "100000", initial_liability_weight="1.5", maintenance_liability_weight="1.2"
    )
    ledger.apply_leg(sub, spot("sell", "10", "3000"))
    assert ledger.summary(sub)["initial_margin"] == Decimal("15000")
    assert ledger.summary(sub)["maintenance_margin"] == Decimal("6000")
    ledger.set_borrow_terms("ETH", "1.5", "1.2", borrow_limit="12")
    result = ledger.check_leg(sub, spot("sell", "3", "3000"))
    assert not result.accepted and result.limit == "borrow_limit" and result.asset == "ETH"
    assert (result.required, result.available) == (Decimal("13"), Decimal("12"))
    assert ledger.check_leg(sub, spot("sell", "2", "3000")).accepted
    # quote borrows have their own limit
    ledger.set_borrow_terms("USDC", borrow_limit="1000")
    result = ledger.check_leg(sub, spot("buy", "44", "3000"))  # USDC 130,000 - 132,000
    assert not result.accepted and result.limit == "borrow_limit" and result.asset == "USDC"
    ledger._check()


@pytest.mark.parametrize(
    "terms",
    [
        {"initial_liability_weight": "0.9"},
        {"initial_liability_weight": "1.1", "maintenance_liability_weight": "1.2"},
        {"borrow_limit": "-1"},
        {"borrow_rate": "-0.01"},
        {"borrow_rate": "1e-2"},
    ],
)
def test_bad_borrow_terms_are_refused_naming_the_field(terms):
    ledger = MarginLedger()
    with pytest.raises(MarginInputError) as exc:
        ledger.add_asset("ETH", **terms)
    assert exc.value.field in terms
    assert "ETH" not in ledger.assets


def test_interest_accrues_on_the_simulated_clock_and_the_market_is_the_lender():
    ledger, sub = eth_ledger("10000", borrow_rate="0.1")
    ledger.set_borrow_terms("USDC", borrow_rate="0.05")
    ledger.apply_leg(sub, spot("sell", "2", "3000"))
    charged = ledger.accrue_interest(YEAR_NS // 2)
    # 2 ETH x 10% x 1/2 year = 0.1 ETH owed more, worth 300 USDC at the mark
    assert ledger.balance(sub, "ETH") == Decimal("-2.1")
    assert charged == Decimal("300")
    assert ledger.holdings(MARKET, "ETH") == Decimal("2.1")
    ledger.accrue_interest(0)
    assert ledger.balance(sub, "ETH") == Decimal("-2.1")
    with pytest.raises(MarginInputError):
        ledger.accrue_interest(-1)
    ledger._check()


def test_interest_rounds_up_against_the_borrower():
    ledger, sub = eth_ledger("10000", borrow_rate="0.1")
    ledger.apply_leg(sub, spot("sell", "0.000000000000000001", "3000"))  # one wei
    ledger.accrue_interest(1)
    assert ledger.balance(sub, "ETH") == Decimal("-0.000000000000000002")
    ledger._check()


legs = st.lists(
    st.tuples(
        st.sampled_from(["spot", "perp"]),
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 2_000),  # size in 0.01 ETH
        st.integers(-300, 300),  # worst price offset from the 3,000 mark, in USDC
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(legs, st.sampled_from(["600", "10000", "50000"]))
def test_no_accepted_leg_leaves_headroom_negative(sequence, usdc):
    """Any mix of spot borrows (base and quote) and perps: with marks fixed, an accepted leg
    never takes headroom below zero, a refused one changes nothing, and the books balance."""
    ledger, sub = eth_ledger(usdc, initial_weight="0.8", maintenance_weight="0.9")
    for kind, side, size, offset in sequence:
        leg = LedgerLeg(
            kind,
            "ETH" if kind == "spot" else "ETH-PERP",
            side,
            str(Decimal(size) / 100),
            str(3000 + offset),
            "1",
        )
        before = ledger.snapshot()
        try:
            ledger.apply_leg(sub, leg)
        except MarginRejected:
            assert ledger.snapshot() == before
            continue
        assert ledger.headroom(sub) >= 0
    ledger._check()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 500)), max_size=8),
    st.lists(st.integers(0, YEAR_NS), min_size=1, max_size=4),
)
def test_interest_conserves_every_asset(trades, periods):
    ledger, sub = eth_ledger("20000", borrow_rate="0.2")
    ledger.set_borrow_terms("USDC", borrow_rate="0.07")
    other = ledger.open_subaccount("desk", "other")
    ledger.deposit(other, "USDC", "50000")
    for side, size in trades:
        for who in (sub, other):
            try:
                ledger.apply_leg(who, spot(side, str(Decimal(size) / 100), "3000"))
            except MarginRejected:
                pass
        ledger.apply_leg(other, perp("buy", "0.1", "3000", "ETH-PERP"))
    for elapsed in periods:
        ledger.accrue_interest(elapsed)
        ledger._check()  # per asset: subaccounts + market + fund + fees == net deposits


def test_liquidation_buys_back_a_spot_short_at_the_mark():
    ledger, sub = eth_ledger("10000")
    ledger.apply_leg(sub, spot("sell", "10", "3000"))
    ledger.set_mark("ETH", "3850")  # equity 1,500 < MM 1,925
    result = ledger.liquidate(sub)
    assert result.triggered and result.steps and result.reason is None
    step = result.steps[0]
    assert (step.kind, step.symbol) == ("spot", "ETH") and step.closed_units > 0
    assert step.price_units == 3850 * SCALE and step.mm_after < step.mm_before
    summary = ledger.summary(sub)
    # the smallest buy-back that restores equity >= MM x 1.1: not the whole short
    assert 0 < step.closed_units < 10 * SCALE
    assert summary["maintenance_equity"] >= summary["maintenance_margin"] * Decimal("1.1")
    ledger._check()


def test_liquidation_sells_collateral_to_repay_a_quote_borrow():
    ledger, sub = eth_ledger("600", initial_weight="0.9", maintenance_weight="0.95")
    ledger.deposit(sub, "USDC", "3000")
    ledger.apply_leg(sub, spot("buy", "5", "3000"))  # USDC -11,400 against 5 ETH
    ledger.set_mark("ETH", "2400")  # 5 x 2,400 x 0.95 = 11,400 ... MM 570: breached
    result = ledger.liquidate(sub)
    assert [s.kind for s in result.steps] == ["spot"]
    assert result.steps[0].closed_units < 0  # a sale of ETH
    assert ledger.balance(sub, "USDC") > Decimal("-11400")
    ledger._check()


def test_a_short_squeeze_beyond_equity_ends_flat_with_bad_debt_paid_by_the_fund():
    ledger, sub = eth_ledger("10000")
    ledger.apply_leg(sub, spot("sell", "30", "3000"))  # IM 9,000 on equity 10,000
    ledger.set_mark("ETH", "4000")  # owes 120,000 against 100,000 of cash
    result = ledger.liquidate(sub)
    assert result.steps[-1].closed_units == 30 * SCALE
    assert ledger.balance(sub, "ETH") == 0
    assert ledger.balance(sub, "USDC") == 0
    assert result.bad_debt_units == 20_000 * SCALE
    ledger._check()


@settings(max_examples=120, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["spot", "perp"]), st.sampled_from(["buy", "sell"])),
        min_size=1,
        max_size=6,
    ),
    st.integers(1, 40),
    st.integers(-60, 80),
    st.integers(-60, 80),
)
def test_liquidation_reduces_risk_and_ends_healthy_flat_or_with_bad_debt(
    trades, size_tenths, spot_move_pct, perp_move_pct
):
    ledger, sub = eth_ledger("5000", initial_weight="0.8", maintenance_weight="0.9")
    for kind, side in trades:
        leg = LedgerLeg(
            kind, "ETH" if kind == "spot" else "ETH-PERP", side, str(size_tenths / 10), "3000"
        )
        try:
            ledger.apply_leg(sub, leg)
        except MarginRejected:
            pass
    ledger.set_mark("ETH", str(3000 * (100 + spot_move_pct) // 100))
    ledger.set_mark("ETH-PERP", str(3000 * (100 + perp_move_pct) // 100))
    state = ledger.subs[sub]
    gross_before = state.totals[6]
    fund_before = ledger.holdings("insurance_fund", "USDC")
    result = ledger.liquidate(sub)
    ledger._check()
    if not result.triggered:
        return
    assert result.steps or result.bad_debt_units or result.reason
    for step in result.steps:
        assert step.mm_after <= step.mm_before + 1  # a step never adds requirement
    assert state.totals[6] <= gross_before  # gross exposure never grows
    summary = ledger.summary(sub)
    flat = not state.positions and all(a == "USDC" for a in state.balances)
    healthy = summary["maintenance_equity"] >= summary["maintenance_margin"]
    assert healthy or flat
    if flat and result.bad_debt_units:
        assert ledger.balance(sub, "USDC") == 0
        assert ledger.holdings("insurance_fund", "USDC") < fund_before + Decimal(
            result.bad_debt_units
        )


def test_capital_efficiency_is_netting_not_collateral_reuse():
    from router.margin.report import margin_report

    ledger, sub = eth_ledger("10000", initial_weight="0.9", maintenance_weight="0.95")
    ledger.deposit(sub, "ETH", "10")
    # a naked perp long next to ETH collateral: same side, nothing offsets, nothing saved
    ledger.apply_leg(sub, perp("buy", "10", "3000", "ETH-PERP"))
    eff = margin_report(ledger, sub)["capital_efficiency"]
    assert eff["saving"] == "0.00000000"
    assert eff["isolated_requirement"] == "4500.00000000"  # IM 1,500 + haircut 3,000
    # hedge it: the short offsets the spot long
    ledger.apply_leg(sub, perp("sell", "20", "3000", "ETH-PERP"))
    eff = margin_report(ledger, sub)["capital_efficiency"]
    assert eff == {
        "cross_requirement": "0.00000000",
        "isolated_requirement": "4500.00000000",
        "saving": "4500.00000000",
    }


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["spot", "perp"]), st.sampled_from(["buy", "sell"]), st.integers(1, 50)
        ),
        min_size=1,
        max_size=6,
    ),
    st.integers(-30, 30),
)
def test_capital_efficiency_saving_is_zero_for_one_exposure_and_never_negative(trades, basis):
    from router.margin.efficiency import exposures
    from router.margin.report import margin_report

    ledger, sub = eth_ledger("100000", initial_weight="0.8", maintenance_weight="0.9")
    ledger.set_mark("ETH-PERP", str(3000 + basis))
    for kind, side, size in trades:
        name = "ETH" if kind == "spot" else "ETH-PERP"
        try:
            ledger.apply_leg(sub, LedgerLeg(kind, name, side, str(size), "3000"))
        except MarginRejected:
            pass
    eff = margin_report(ledger, sub)["capital_efficiency"]
    saving = Decimal(eff["saving"])
    assert saving >= 0
    items = [n for group in exposures(ledger, sub).values() for n, _ in group]
    if len(items) <= 1 or all(n > 0 for n in items) or all(n < 0 for n in items):
        assert saving == 0
