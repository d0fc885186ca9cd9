"""Spot swaps of two assets (multi-hop route hops: ETH/USDT, ETH/WBTC, USDC/USDT) book both
assets exactly, keep the double entry, and never leave negative headroom when accepted."""

from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from router.margin import (
    LedgerLeg,
    MarginInputError,
    MarginLedger,
    MarginRejected,
    OraclePriceError,
    SpotSwap,
)
from router.margin.projection import MARKET
from router.margin.quantities import QUANTUM


def usd_ledger(usdc: str = "10000") -> tuple[MarginLedger, str]:
    """USDC-margined, with USDT (at par-ish), ETH and WBTC as collateral."""
    ledger = MarginLedger()
    ledger.add_asset("ETH", "0.9", "0.95")
    ledger.add_asset("USDT", "0.98", "0.99")
    ledger.add_asset("WBTC", "0.9", "0.95")
    for name, price in (("ETH", "3000"), ("USDT", "0.9998"), ("WBTC", "60000")):
        ledger.set_mark(name, price)
    sub = ledger.open_subaccount("desk", "main")
    ledger.deposit(sub, "USDC", usdc)
    return ledger, sub


def test_a_usdc_for_usdt_swap_books_both_stablecoins_exactly():
    ledger, sub = usd_ledger()
    # the hop the old gate refused: USDC is the margin asset, so no spot leg could name it
    result = ledger.apply_swap(sub, SpotSwap("USDC", "1000", "USDT", "999.87"))
    assert result.accepted
    assert ledger.balance(sub, "USDC") == Decimal("9000")
    assert ledger.balance(sub, "USDT") == Decimal("999.87")
    assert ledger.holdings(MARKET, "USDC") == Decimal("1000")
    assert ledger.holdings(MARKET, "USDT") == Decimal("-999.87")
    ledger._check()


def test_an_eth_for_usdt_hop_books_usdt_not_usdc():
    ledger, sub = usd_ledger()
    ledger.apply_swap(sub, SpotSwap("USDC", "3000", "ETH", "1"))
    # sell 1 ETH on ETH/USDT: the USDT received is USDT, valued at its mark, and USDC is untouched
    ledger.apply_swap(sub, SpotSwap("ETH", "1", "USDT", "2995.123456"))
    assert ledger.balance(sub, "ETH") == 0
    assert ledger.balance(sub, "USDT") == Decimal("2995.123456")
    assert ledger.balance(sub, "USDC") == Decimal("7000")
    # USDT at 0.9998 and weight 0.98 counts for less than USDC would have
    assert ledger.summary(sub)["equity"] < Decimal("7000") + Decimal("2995.123456")
    ledger._check()


def test_a_swap_beyond_headroom_is_refused_naming_the_shortfall_and_changes_nothing():
    ledger, sub = usd_ledger("1000")
    before = ledger.snapshot()
    # borrow 10 ETH (30,000 of liability at weight 1.1) for WBTC: IM far above equity
    swap = SpotSwap("ETH", "10", "WBTC", "0.5")
    check = ledger.check_swaps(sub, [swap])
    assert not check.accepted and check.given_failure is not None
    assert check.given_failure.limit == "headroom" and check.given_failure.shortfall > 0
    with pytest.raises(MarginRejected, match="headroom"):
        ledger.apply_swap(sub, swap)
    assert ledger.snapshot() == before


def test_a_risk_increasing_swap_needs_a_valid_mark():
    ledger, sub = usd_ledger()
    ledger.set_mark("WBTC", "60000", "stale")
    result = ledger.check_swaps(sub, [SpotSwap("USDC", "600", "WBTC", "0.01")])
    assert not result.accepted
    assert result.given_failure is not None and result.given_failure.limit == "price_invalid"
    assert result.given_failure.asset == "WBTC"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("ETH", "1", "ETH", "1"), "get_asset"),
        (("ETH", 1.5, "USDT", "1"), "give"),
        (("ETH", "0", "USDT", "1"), "give"),
        (("ETH", "1", "USDT", "-1"), "get"),
        (("", "1", "USDT", "1"), "give_asset"),
    ],
)
def test_a_malformed_swap_is_refused_naming_the_field(args, field):
    with pytest.raises(MarginInputError) as err:
        SpotSwap(*args)
    assert err.value.details["field"] == field


def test_a_swap_of_an_unknown_or_unmarked_asset_is_refused_and_changes_nothing():
    ledger, sub = usd_ledger()
    before = ledger.snapshot()
    with pytest.raises(MarginInputError):
        ledger.apply_swap(sub, SpotSwap("USDC", "1", "DAI", "1"))
    ledger.add_asset("DAI")
    before = ledger.snapshot()
    with pytest.raises(OraclePriceError):
        ledger.apply_swap(sub, SpotSwap("USDC", "1", "DAI", "1"))
    with pytest.raises(MarginInputError):
        ledger.apply_swap(sub, "USDC->DAI")
    assert ledger.snapshot() == before


def test_check_swaps_mixes_swaps_and_legs_and_finds_an_order_that_passes():
    ledger, sub = usd_ledger("1000")
    ledger.set_borrow_terms("USDT", borrow_limit="0")  # USDT cannot be borrowed
    moves = [
        SpotSwap("USDT", "900", "ETH", "0.3"),  # needs the USDT of the next move first
        SpotSwap("USDC", "1000", "USDT", "999.8"),
        LedgerLeg("spot", "ETH", "sell", "0.3", "2900"),
    ]
    result = ledger.check_swaps(sub, moves)
    assert result.given_failure is not None
    assert result.given_failure.limit == "borrow_limit" and result.given_failure.asset == "USDT"
    assert result.accepted and result.reordered
    assert result.order.index(1) < result.order.index(0)
    # booking in that order gives what the check said, step by step
    for i, step in zip(result.order, result.steps):
        move = moves[i]
        booked = (
            ledger.apply_swap(sub, move)
            if isinstance(move, SpotSwap)
            else ledger.apply_leg(sub, move)
        )
        assert booked.headroom_after == step.headroom_after
    ledger._check()


ASSETS = ("USDC", "USDT", "ETH", "WBTC")
PRICES = {
    "USDC": Decimal(1),
    "USDT": Decimal("0.9998"),
    "ETH": Decimal(3000),
    "WBTC": Decimal(60000),
}


@st.composite
def swaps(draw: st.DrawFn) -> SpotSwap:
    give, get = draw(st.permutations(ASSETS))[:2]
    # worth between 1 and 60,000 USDC, at a rate from 5% worse to 2% better than the marks
    value = Decimal(draw(st.integers(1, 60_000)))
    skew = Decimal(draw(st.integers(-500, 200))) / 10_000
    give_qty = (value / PRICES[give]).quantize(QUANTUM) or QUANTUM
    get_qty = (value * (1 + skew) / PRICES[get]).quantize(QUANTUM) or QUANTUM
    return SpotSwap(give, give_qty, get, get_qty)


@settings(max_examples=60, deadline=None)
@given(st.lists(swaps(), min_size=1, max_size=12))
def test_swaps_conserve_assets_and_never_leave_negative_headroom(moves):
    ledger, sub = usd_ledger("2000")
    for swap in moves:
        before = ledger.snapshot()
        headroom_before = ledger.headroom(sub)
        held = {a: ledger.balance(sub, a) for a in ASSETS}
        try:
            result = ledger.apply_swap(sub, swap)
        except MarginRejected:
            assert ledger.snapshot() == before  # a refusal changes nothing
            continue
        after = ledger.headroom(sub)
        assert after == result.headroom_after
        # accepted: headroom >= 0, or a pure reduction that did not lower it
        assert after >= 0 or (not result.risk_increasing and after >= headroom_before)
        # exactly the two amounts moved, nothing else
        moved = {a: ledger.balance(sub, a) - held[a] for a in ASSETS}
        assert moved[swap.give_asset] == -Decimal(str(swap.give))
        assert moved[swap.get_asset] == Decimal(str(swap.get))
        assert all(moved[a] == 0 for a in ASSETS if a not in (swap.give_asset, swap.get_asset))
        ledger._check()  # the double entry holds per asset (the market took the other sides)


@settings(max_examples=80, deadline=None)
@example(side="buy", size=50, price=300_000, held=-3, usdc=50)  # reduce a short, borrow USDC
@example(side="buy", size=300, price=300_000, held=-3, usdc=50)  # close it exactly
@example(side="sell", size=150, price=300_000, held=1, usdc=50)  # sell through zero
@given(
    side=st.sampled_from(["buy", "sell"]),
    size=st.integers(1, 800),  # hundredths of ETH: around the held amounts
    price=st.integers(250_000, 350_000),  # cents
    held=st.integers(-3, 3),  # whole ETH already held (negative: borrowed)
    usdc=st.integers(50, 20_000),
)
def test_a_swap_against_the_margin_asset_is_judged_and_booked_as_the_spot_leg(
    side, size, price, held, usdc
):
    """Two independent descriptions of one trade: a spot leg at a price, and the swap of exactly
    the quote it pays (rounded up) or receives (rounded down) for its base."""
    qty, px = Decimal(size) / 100, Decimal(price) / 100
    quote = qty * px  # exact at 1e-4: on the ledger grid either way

    def fresh() -> tuple[MarginLedger, str]:
        ledger, sub = usd_ledger(str(usdc))
        if held > 0:
            ledger.deposit(sub, "ETH", str(held))
        elif held < 0:  # borrowed ETH, sold for USDT: a buy-back may borrow USDC
            ledger.deposit(sub, "USDT", str(-held * 3000))
            ledger.apply_swap(sub, SpotSwap("ETH", str(-held), "USDT", str(-held * 2990)))
        return ledger, sub

    leg_ledger, sub = fresh()
    swap_ledger, _ = fresh()
    leg = LedgerLeg("spot", "ETH", side, qty, px)
    if side == "buy":
        swap = SpotSwap("USDC", quote, "ETH", qty)
    else:
        swap = SpotSwap("ETH", qty, "USDC", quote)
    by_leg = leg_ledger.check_legs(sub, [leg])
    by_swap = swap_ledger.check_swaps(sub, [swap])
    assert by_leg.accepted == by_swap.accepted
    first_leg = by_leg.steps[0] if by_leg.accepted else by_leg.given_failure
    first_swap = by_swap.steps[0] if by_swap.accepted else by_swap.given_failure
    assert first_leg is not None and first_swap is not None
    assert (first_leg.headroom_after, first_leg.risk_increasing, first_leg.limit) == (
        first_swap.headroom_after,
        first_swap.risk_increasing,
        first_swap.limit,
    )
    if by_leg.accepted:
        leg_ledger.apply_leg(sub, leg)
        swap_ledger.apply_swap(sub, swap)
        for asset in ("USDC", "ETH"):
            assert leg_ledger.balance(sub, asset) == swap_ledger.balance(sub, asset)
        assert leg_ledger.summary(sub) == swap_ledger.summary(sub)
