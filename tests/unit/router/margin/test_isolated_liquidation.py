"""Isolated liquidation: the loss stops at the posted margin; the shortfall is the fund's bad debt."""

from decimal import Decimal

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from router.margin import LedgerLeg
from router.margin.liquidation import _fee
from router.margin.projection import C_MAINT, FUND, FUND_HOLDER, MM, UPNL
from router.margin.quantities import SCALE

from .helpers import btc_ledger, perp

USDC = "USDC"


def isolated_long(margin: str = "2500") -> tuple:
    ledger, sub = btc_ledger()
    ledger.apply_leg(sub, LedgerLeg("perp", "BTC-PERP", "buy", "1", "100000", "0", margin))
    return ledger, sub


def test_worked_example_gap_below_bankruptcy_is_bad_debt_not_a_cross_charge():
    # docs/margin.md, worked example 3: 10,000 USDC, 1 BTC long isolated with 2,500 posted
    ledger, sub = isolated_long()
    assert ledger.balance(sub, USDC) == Decimal("7500")
    assert ledger.liquidation_price(sub, "BTC-PERP") == Decimal("98734.17")
    ledger.set_mark("BTC-PERP", "95000")  # a gap through 97,500 (bankruptcy)
    result = ledger.liquidate(sub)
    assert [s.symbol for s in result.steps] == ["BTC-PERP"]
    assert result.steps[0].fee_units == 0  # the bucket is empty: no fee
    assert result.steps[0].bad_debt_units == result.bad_debt_units == 2500 * SCALE
    assert ledger.balance(sub, USDC) == Decimal("7500")  # cross balance untouched
    assert ledger.holdings(FUND_HOLDER, USDC) == Decimal("-2500")
    assert ledger.holdings("market", USDC) == Decimal("5000")
    events = [e for e in ledger.journal.events() if e["event"] == "bad_debt"]
    assert events == [
        {
            **events[0],
            "subaccount": sub,
            "symbol": "BTC-PERP",
            "mode": "isolated",
            "amount": "2500.00000000",
        }
    ]
    ledger._check()


def test_worked_example_solvent_bucket_pays_the_fee_and_returns_the_rest():
    ledger, sub = isolated_long()
    ledger.set_mark("BTC-PERP", "98000")  # bucket 2,500 - 2,000 = 500
    result = ledger.liquidate(sub)
    assert result.steps[0].fee_units == 490 * SCALE  # 0.5% of 98,000
    assert result.bad_debt_units == 0
    assert ledger.balance(sub, USDC) == Decimal("7510")  # 7,500 + the 10 left in the bucket
    assert ledger.holdings(FUND_HOLDER, USDC) == Decimal("490")
    ledger._check()


def test_fee_larger_than_the_bucket_is_capped_at_the_bucket():
    ledger, sub = isolated_long()
    ledger.set_mark("BTC-PERP", "97700")  # bucket 200 < fee 488.5
    result = ledger.liquidate(sub)
    assert result.steps[0].fee_units == 200 * SCALE and result.bad_debt_units == 0
    assert ledger.balance(sub, USDC) == Decimal("7500")
    ledger._check()


def _held(ledger, sub_id):
    sub = ledger.subs[sub_id]
    return {
        s: (p.size_units, p.cost16, p.funding_index, p.mode, p.isolated_margin_units)
        for s, p in sub.positions.items()
    }


@settings(max_examples=150, deadline=None)
@given(
    usdc=st.integers(20_000, 200_000),
    eth=st.integers(0, 20),
    iso_side=st.sampled_from(["buy", "sell"]),
    iso_hundredths=st.integers(1, 300),
    lev=st.integers(2, 40),
    extra_margin_bps=st.integers(0, 5_000),
    cross_eth=st.integers(-30, 30),
    funding_rounds=st.integers(0, 3),
    gap_permille=st.integers(950, 1_050) | st.integers(0, 3_000),
    fee_bps=st.integers(0, 200),
)
def test_isolated_liquidation_never_touches_cross_balances_or_other_positions(
    usdc,
    eth,
    iso_side,
    iso_hundredths,
    lev,
    extra_margin_bps,
    cross_eth,
    funding_rounds,
    gap_permille,
    fee_bps,
):
    ledger, sub = btc_ledger(str(usdc))
    ledger.liquidation_fee_bps = fee_bps
    if eth:
        ledger.deposit(sub, "ETH", str(eth))
    if cross_eth:
        ledger.apply_leg(
            sub, perp("buy" if cross_eth > 0 else "sell", str(abs(cross_eth)), "3000", "ETH-PERP")
        )
    size = Decimal(iso_hundredths) / 100
    im = size * 100_000 / lev
    margin = (im * (10_000 + extra_margin_bps) / 10_000).quantize(Decimal("0.01"))
    leg = LedgerLeg("perp", "BTC-PERP", iso_side, str(size), "100000", "0", str(margin))
    assume(ledger.check_leg(sub, leg).accepted)  # enough USDC to post the margin
    ledger.apply_leg(sub, leg)
    ledger.set_mark("BTC-PERP", "100100")  # a premium: funding flows into the bucket
    for _ in range(funding_rounds):
        ledger.accrue_funding("BTC-PERP")
    # move against the position by gap_permille of its posted margin: 1,000 = to bankruptcy
    move = min(margin / (size * 100_000) * gap_permille / 1000, Decimal("0.99"))
    ledger.set_mark(
        "BTC-PERP",
        str((100_000 * (1 - move if iso_side == "buy" else 1 + move)).quantize(Decimal("0.01"))),
    )
    s = ledger.subs[sub]
    t = s.totals
    assume(t[C_MAINT] + t[UPNL] + t[FUND] >= t[MM] * 11 // 10)  # the cross part needs no help
    assume(sub in ledger.liquidatable())  # so only the isolated breach fires
    pos, figs = s.positions["BTC-PERP"], s.pos_vals["BTC-PERP"]
    left = pos.isolated_margin_units + figs[1] + figs[2]  # what the bucket holds once closed
    fee_due = _fee(ledger, pos.size_units, ledger.marks["BTC-PERP"].price_units)
    balances = dict(s.balances)
    others = {k: v for k, v in _held(ledger, sub).items() if k != "BTC-PERP"}
    fund = ledger.other.get((FUND_HOLDER, USDC), 0)

    result = ledger.liquidate(sub)

    assert [st.symbol for st in result.steps] == ["BTC-PERP"]
    step = result.steps[0]
    assert step.fee_units == max(0, min(fee_due, left))
    assert step.bad_debt_units == result.bad_debt_units == max(0, -left)
    after = ledger.subs[sub].balances
    returned = max(0, left - step.fee_units)
    assert after.get(USDC, 0) == balances.get(USDC, 0) + returned  # a credit, never a debit
    assert {a: u for a, u in after.items() if a != USDC} == {
        a: u for a, u in balances.items() if a != USDC
    }
    assert _held(ledger, sub) == others  # other positions as they were
    assert ledger.other.get((FUND_HOLDER, USDC), 0) - fund == step.fee_units - step.bad_debt_units
    journaled = sum(
        Decimal(e["amount"])
        for e in ledger.journal.events()
        if e["event"] == "bad_debt" and e["subaccount"] == sub
    )
    assert journaled * SCALE == result.bad_debt_units
    ledger._check()  # assets conserved
    event("bad debt" if step.bad_debt_units else "solvent bucket")
