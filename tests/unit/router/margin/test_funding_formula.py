"""Funding = clamp(average premium + clamp(interest - premium, ±band)) scaled to the interval
(Binance USD-M's formula; docs/margin.md, "Funding")."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.margin import MarginInputError, MarginLedger
from router.margin.funding import binance_rate_units

from .helpers import perp

BP = 100_000_000  # one basis point in 1e-12 units
INTEREST, BAND, CAP = 1 * BP, 5 * BP, 75 * BP  # Binance: 0.01% interest, 0.05% band, 0.75% cap


@pytest.mark.parametrize(
    ("premiums", "hours", "rate"),
    [
        ([2 * BP], 8, 1 * BP),  # a small premium: F = I = 0.01%
        ([-3 * BP], 8, 1 * BP),
        ([10 * BP], 8, 5 * BP),  # P = 0.1%: F = 0.1% + clamp(-0.09%) = 0.05%
        ([-10 * BP], 8, -5 * BP),  # P = -0.1%: F = -0.1% + 0.05%
        ([100 * BP], 8, 75 * BP),  # beyond the cap
        ([1 * BP, 4 * BP], 8, 1 * BP),  # weighted P = (1 + 2 x 4) / 3 = 3 bp
        ([1 * BP, 10 * BP], 8, 2 * BP),  # P = (1 + 20) / 3 = 7 bp: 7 + clamp(1 - 7, ±5) = 2
    ],
)
def test_binance_examples(premiums, hours, rate):
    assert binance_rate_units(premiums, INTEREST, BAND, CAP, hours) == rate


def test_a_four_hour_interval_halves_interest_and_band():
    assert binance_rate_units([2 * BP], INTEREST, BAND, CAP, 4) == BP // 2
    assert binance_rate_units([10 * BP], INTEREST, BAND, CAP, 4) == 10 * BP - 5 * BP // 2


def test_ledger_funding_with_binance_terms_and_samples():
    ledger = MarginLedger()
    ledger.add_market(
        "BTC-PERP",
        "BTC",
        max_leverage=20,
        funding_cap="0.0075",
        funding_interest="0.0001",
        funding_band="0.0005",
    )
    for name in ("BTC", "BTC-PERP"):
        ledger.set_mark(name, "100000")
    long_id = ledger.open_subaccount("a", "long")
    short_id = ledger.open_subaccount("a", "short")
    for sub in (long_id, short_id):
        ledger.deposit(sub, "USDC", "10000")
    ledger.apply_leg(long_id, perp("buy", "1", "100000"))
    ledger.apply_leg(short_id, perp("sell", "1", "100000"))
    # mark = oracle: premium 0, F = the interest 0.01%: the long owes 10 USDC
    assert ledger.accrue_funding("BTC-PERP") == Decimal("0.0001")
    assert ledger.summary(long_id)["equity"] == Decimal("9990")
    assert ledger.accrue_funding("BTC-PERP", ["0.001", "0.001"]) == Decimal("0.0005")
    assert ledger.summary(short_id)["equity"] == Decimal("10060")
    with pytest.raises(MarginInputError):
        ledger.accrue_funding("BTC-PERP", [])
    with pytest.raises(MarginInputError):
        ledger.accrue_funding("BTC-PERP", ["1e-3"])
    ledger._check()


@settings(max_examples=200)
@given(
    st.lists(st.integers(-200 * BP, 200 * BP), min_size=1, max_size=8),
    st.integers(1, 8),
)
def test_the_rate_stays_within_the_cap_and_the_band_around_interest(premiums, hours):
    rate = binance_rate_units(premiums, INTEREST, BAND, CAP, hours)
    assert -CAP <= rate <= CAP
    interest, band = INTEREST * hours // 8, BAND * hours // 8
    weights = range(1, len(premiums) + 1)
    weighted = sum(w * p for w, p in zip(weights, premiums))
    average = abs(weighted) // sum(weights) * (1 if weighted >= 0 else -1)
    if abs(average - interest) <= band:
        assert rate == max(-CAP, min(CAP, interest))
