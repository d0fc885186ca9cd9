from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.margin import (
    LedgerLeg,
    MarginError,
    MarginInputError,
    MarginLedger,
    MarginRejected,
    RiskLimits,
)
from router.margin.funding import exact_payment, funding_rate_units
from router.margin.quantities import SCALE

from .helpers import btc_ledger, perp


def test_worked_example_liquidation_prices_long_and_short():
    ledger, long_id = btc_ledger()
    short_id = ledger.open_subaccount("desk", "short")
    ledger.deposit(short_id, "USDC", "10000")
    ledger.apply_leg(long_id, perp("buy", "1", "100000"))
    ledger.apply_leg(short_id, perp("sell", "1", "100000"))
    assert ledger.liquidation_price(long_id, "BTC-PERP") == Decimal("91139.24")
    assert ledger.liquidation_price(short_id, "BTC-PERP") == Decimal("108641.98")
    ledger.set_mark("BTC-PERP", "91139.25")
    assert ledger.liquidatable() == []
    ledger.set_mark("BTC-PERP", "91139.24")
    assert ledger.liquidatable() == [long_id]
    ledger._check()


def test_check_leg_reports_headroom_shortfall_in_quote():
    ledger, sub = btc_ledger()
    result = ledger.check_leg(sub, perp("buy", "5", "100000", fee="10"))
    assert not result.accepted and result.limit == "headroom" and result.asset == "USDC"
    # IM 12,500 vs equity 10,000 - 10 fee
    assert result.required == Decimal("12500") and result.available == Decimal("9990")
    assert result.shortfall == Decimal("2510")


def test_invalid_price_blocks_increase_but_not_reduce():
    ledger, sub = btc_ledger()
    ledger.apply_leg(sub, perp("buy", "1", "100000"))
    ledger.set_mark("BTC-PERP", "100000", "stale")
    assert ledger.check_leg(sub, perp("buy", "0.1", "100000")).limit == "price_invalid"
    assert ledger.check_leg(sub, perp("sell", "0.5", "99000")).accepted


def test_max_notional_and_gross_limits_name_the_limit():
    ledger = MarginLedger()
    ledger.add_market("BTC-PERP", "BTC", max_leverage=40)
    ledger.set_mark("BTC-PERP", "100000")
    sub = ledger.open_subaccount(
        "d", "s", RiskLimits.parse(max_notional={"BTC-PERP": "150000"}, max_gross_leverage="3")
    )
    ledger.deposit(sub, "USDC", "100000")
    r = ledger.check_leg(sub, perp("buy", "2", "100000"))
    assert r.limit == "max_notional" and r.asset == "BTC-PERP" and r.shortfall == Decimal("50000")
    ledger2, _sub2 = btc_ledger()
    # limits are immutable; use a fresh subaccount with a gross cap
    s3 = ledger2.open_subaccount("d", "g", RiskLimits.parse(max_gross_leverage="2"))
    ledger2.deposit(s3, "USDC", "10000")
    r = ledger2.check_leg(s3, perp("buy", "0.3", "100000"))
    assert r.limit == "max_gross_leverage" and r.shortfall == Decimal("10000")


def test_sequence_is_reordered_risk_reducing_first():
    ledger, sub = btc_ledger("3000")
    ledger.apply_leg(sub, perp("buy", "1", "100000"))  # headroom 500
    legs = [perp("buy", "5", "3000", "ETH-PERP"), perp("sell", "1", "100000")]
    result = ledger.check_legs(sub, legs)
    assert result.accepted and result.order == (1, 0) and result.reordered
    assert result.given_failure.limit == "headroom"
    assert all(step.headroom_after >= 0 for step in result.steps)


def test_sequence_without_any_valid_order_is_rejected():
    ledger, sub = btc_ledger("1000")
    legs = [perp("buy", "1", "100000"), perp("buy", "1", "3000", "ETH-PERP")]
    result = ledger.check_legs(sub, legs)
    assert not result.accepted and result.order == () and result.given_failure is not None


def test_funding_rate_is_clamped_and_payments_cancel():
    assert funding_rate_units(101 * SCALE, 100 * SCALE, 500_000_000) == 500_000_000
    assert funding_rate_units(1_000_001 * SCALE // 10_000, 100 * SCALE, 500_000_000) == 1_000_000
    assert funding_rate_units(99 * SCALE, 100 * SCALE, 500_000_000) == -500_000_000
    ledger, long_id = btc_ledger()
    short_id = ledger.open_subaccount("desk", "short")
    ledger.deposit(short_id, "USDC", "10000")
    ledger.apply_leg(long_id, perp("buy", "0.3", "100000"))
    ledger.apply_leg(short_id, perp("sell", "0.3", "100000"))
    ledger.set_mark("BTC-PERP", "100020")
    rate = ledger.accrue_funding("BTC-PERP")
    assert rate == Decimal("0.0002")
    delta = ledger.funding_index["BTC-PERP"]
    assert (
        exact_payment(ledger.subs[long_id].positions["BTC-PERP"].size_units, delta)
        + exact_payment(ledger.subs[short_id].positions["BTC-PERP"].size_units, delta)
        == 0
    )
    # long pays 0.3 * 100000 * 0.0002 = 6, settled lazily on the next change
    before = ledger.balance(long_id, "USDC")
    ledger.apply_leg(long_id, perp("sell", "0.1", "100020"))
    assert ledger.balance(long_id, "USDC") == before - Decimal("6") + Decimal("2")
    ledger._check()


def test_port_and_transfer_require_initial_margin_on_both_sides():
    ledger, a = btc_ledger()
    b = ledger.open_subaccount("desk", "b")
    ledger.deposit(b, "USDC", "1000")
    ledger.apply_leg(a, perp("buy", "1", "100000"))
    before = ledger.snapshot()
    with pytest.raises(MarginRejected) as exc:
        ledger.port_position(a, b, "BTC-PERP", "1")  # b needs 2,500 IM, has 1,000
    assert exc.value.subaccount == b and exc.value.shortfall == Decimal("1500")
    assert ledger.snapshot() == before
    ledger.port_position(a, b, "BTC-PERP", "0.4")
    assert ledger.position(b, "BTC-PERP").size_units == 4 * SCALE // 10
    with pytest.raises(MarginRejected):
        ledger.transfer_collateral(a, b, "USDC", "9000")
    ledger.transfer_collateral(a, b, "USDC", "100")
    ledger._check()


def test_port_keeps_the_entry_price_unless_asked_to_trade_at_the_mark():
    ledger, a = btc_ledger()
    b = ledger.open_subaccount("desk", "b")
    ledger.deposit(b, "USDC", "5000")
    ledger.apply_leg(a, perp("buy", "1", "100000"))
    ledger.set_mark("BTC-PERP", "101000")
    cash_a, cash_b = ledger.balance(a, "USDC"), ledger.balance(b, "USDC")
    ledger.port_position(a, b, "BTC-PERP", "0.25")
    # entry kept on both sides, no PnL realised, no cash moved
    assert ledger.position(b, "BTC-PERP").entry_price == Decimal("100000")
    assert ledger.position(a, "BTC-PERP").entry_price == Decimal("100000")
    assert (ledger.balance(a, "USDC"), ledger.balance(b, "USDC")) == (cash_a, cash_b)
    assert ledger.summary(b)["equity"] == Decimal("5000") + Decimal("250")
    # at the mark: the source realises 0.25 x 1,000 and the destination's new part enters at mark
    ledger.port_position(a, b, "BTC-PERP", "0.25", at_mark=True)
    assert ledger.balance(a, "USDC") == cash_a + Decimal("250")
    assert ledger.position(b, "BTC-PERP").entry_price == Decimal("100500")
    ledger._check()


def test_port_at_entry_refuses_to_net_against_an_opposite_position():
    ledger, a = btc_ledger()
    b = ledger.open_subaccount("desk", "b")
    ledger.deposit(b, "USDC", "5000")
    ledger.apply_leg(a, perp("buy", "1", "100000"))
    ledger.apply_leg(b, perp("sell", "0.1", "100000"))
    before = ledger.snapshot()
    with pytest.raises(MarginInputError, match="same side"):
        ledger.port_position(a, b, "BTC-PERP", "0.5")
    assert ledger.snapshot() == before
    ledger.port_position(a, b, "BTC-PERP", "0.5", at_mark=True)
    ledger._check()


def test_liquidation_cancels_orders_reduces_in_order_and_pays_the_fund():
    ledger, sub = btc_ledger()
    ledger.apply_leg(sub, perp("buy", "1", "100000"))
    ledger.apply_leg(sub, perp("sell", "5", "3000", "ETH-PERP"))
    ledger.add_open_order(sub, "o-1")
    seen = []
    ledger.order_cancel_hooks.append(lambda s, ids: seen.append((s, ids)))
    ledger.set_mark("BTC-PERP", "91000")
    assert ledger.liquidatable() == [sub]
    result = ledger.liquidate(sub)
    assert seen == [(sub, ["o-1"])] and result.cancelled_orders == ["o-1"]
    assert result.steps[0].symbol == "BTC-PERP"  # the larger MM goes first
    assert ledger.liquidatable() == []
    assert ledger.holdings("insurance_fund", "USDC") > 0
    ledger._check()


def test_bad_debt_is_taken_by_the_fund():
    ledger, sub = btc_ledger()
    ledger.apply_leg(sub, perp("buy", "1", "100000"))
    ledger.set_mark("BTC-PERP", "85000")
    result = ledger.liquidate(sub)
    assert result.bad_debt_units == 5000 * SCALE
    assert ledger.balance(sub, "USDC") == 0
    assert ledger.holdings("insurance_fund", "USDC") == Decimal("-5000")
    ledger._check()


def test_identical_inputs_give_byte_identical_journals():
    def run() -> str:
        ledger, sub = btc_ledger()
        ledger.apply_leg(sub, perp("buy", "1", "100000", fee="5"))
        ledger.check_legs(sub, [perp("buy", "1", "3000", "ETH-PERP"), perp("sell", "1", "100000")])
        ledger.set_mark("BTC-PERP", "91000")
        ledger.liquidate(sub)
        return ledger.journal.text()

    assert run() == run()


BAD_CALLS = [
    ("deposit", ("desk/main", "USDC", "nan")),
    ("deposit", ("desk/main", "USDC", 1.5)),
    ("deposit", ("desk/main", "DOGE", "1")),
    ("deposit", ("nobody", "USDC", "1")),
    ("deposit", ("desk/main", "USDC", "-1")),
    ("withdraw", ("desk/main", "USDC", "20000")),
    ("withdraw", ("desk/main", "USDC", "inf")),
    ("set_leverage", ("desk/main", "BTC-PERP", 41)),
    ("set_leverage", ("desk/main", "XRP-PERP", 2)),
    ("set_mark", ("BTC-PERP", "-1")),
    ("set_mark", ("BTC-PERP", "1", "weird")),
    ("set_mark", ("USDC", "1")),
    ("check_leg", ("desk/main", "not a leg")),
    ("check_leg", ("nobody", None)),
    ("check_legs", ("desk/main", [])),
    ("apply_leg", ("desk/main", perp("buy", "50", "100000"))),
    ("port_position", ("desk/main", "desk/main", "BTC-PERP", "1")),
    ("port_position", ("desk/main", "desk/b", "BTC-PERP", "5")),
    ("transfer_collateral", ("desk/main", "desk/b", "USDC", "1e-9")),
    ("transfer_collateral", ("desk/main", "desk/b", "ETH", "1")),
    ("liquidation_price", ("desk/main", "ETH-PERP")),
    ("liquidate", ("ghost",)),
    ("add_asset", ("ETH",)),
    ("add_asset", ("SOL", "1.5")),
    ("add_market", ("BTC-PERP", "BTC")),
    ("add_market", ("SOL-PERP", "SOL")),
    ("open_subaccount", ("desk", "main")),
    ("add_open_order", ("desk/main", "")),
    ("accrue_funding", ("NOPE",)),
    ("headroom", ("x",)),
]


@pytest.mark.parametrize(
    "method,args", BAD_CALLS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(BAD_CALLS)]
)
def test_every_public_method_rejects_bad_input_and_changes_nothing(method, args):
    ledger, sub = btc_ledger()
    ledger.open_subaccount("desk", "b")
    ledger.apply_leg(sub, perp("buy", "1", "100000"))
    before, journal = ledger.snapshot(), ledger.journal.text()
    with pytest.raises(MarginError):
        getattr(ledger, method)(*args)
    assert ledger.snapshot() == before and ledger.journal.text().startswith(journal)
    ledger._check()


def test_leg_rejects_bad_fields():
    for kwargs in (
        {"size": "-1"},
        {"size": float("nan")},
        {"worst_price": "inf"},
        {"side": "hold"},
        {"kind": "option"},
        {"fee": "-0.1"},
    ):
        fields = {
            "kind": "perp",
            "symbol": "BTC-PERP",
            "side": "buy",
            "size": "1",
            "worst_price": "1",
            **kwargs,
        }
        with pytest.raises(MarginError):
            LedgerLeg(**fields)


def test_funding_needs_valid_oracle_and_changes_nothing():
    ledger, _sub = btc_ledger()
    ledger.set_mark("BTC", "100000", "stale")
    before = ledger.snapshot()
    with pytest.raises(MarginError):
        ledger.accrue_funding("BTC-PERP")
    assert ledger.snapshot() == before


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["BTC-PERP", "ETH-PERP"]),
            st.sampled_from(["buy", "sell"]),
            st.integers(1, 300),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_accepted_prefixes_never_leave_negative_headroom(specs):
    ledger, sub = btc_ledger("20000")
    legs = [
        perp(side, str(Decimal(n) / 100), "100000" if sym == "BTC-PERP" else "3000", sym)
        for sym, side, n in specs
    ]
    result = ledger.check_legs(sub, legs)
    if result.accepted:
        assert sorted(result.order) == list(range(len(legs)))
        for i in result.order:
            ledger.apply_leg(sub, legs[i])
            assert ledger.headroom(sub) >= 0
    ledger._check()


def test_clone_shares_no_mutable_state_but_the_frozen_configuration():
    ledger, sub = btc_ledger()
    ledger.apply_leg(sub, perp("buy", "1", "100000"))
    twin = ledger.clone()
    assert twin.snapshot() == ledger.snapshot() and type(twin) is MarginLedger
    shared_config = {"assets", "markets"}  # dicts of frozen values, never mutated after set-up
    for name, value in vars(ledger).items():
        if isinstance(value, (dict, list, set)) and name not in shared_config:
            assert getattr(twin, name) is not value, name
    twin.set_mark("BTC-PERP", "90000")
    twin.liquidate(sub)
    twin._check()
    ledger._check()
    assert ledger.position(sub, "BTC-PERP").size_units == SCALE
