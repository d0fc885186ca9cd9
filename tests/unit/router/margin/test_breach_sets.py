"""The breach sets: the ledger's liquidation scan reads the subaccounts it keeps as breached, and
after any mix of bookings, marks, funding, interest, transfers, porting and liquidation they are
exactly the subaccounts a full recompute finds below maintenance (``_check`` compares them too)."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from router.margin import LedgerLeg, MarginError, MarginLedger
from router.margin.book import CROSS_BREACH
from router.margin.projection import C_MAINT, FUND, UPNL, requirements
from router.margin.quantities import SCALE

from .helpers import btc_ledger, perp

SUBS = ("a", "b", "c", "d")


def naive_liquidatable(ledger: MarginLedger) -> list[str]:
    """Every subaccount recomputed from scratch: cross maintenance equity below cross MM (the
    quote borrow's included), or an isolated bucket below its own MM."""
    quote = ledger.quote_asset
    found = []
    for sub_id, sub in sorted(ledger.subs.items()):
        t = ledger.recompute_totals(sub)
        balance = sub.balances.get(quote, 0)
        mm = requirements(t, balance, ledger.assets[quote])[1]
        short = t[C_MAINT] + t[UPNL] + t[FUND] < mm
        for pos in sub.positions.values():
            figs = ledger.position_figures(sub, pos)
            if pos.mode == "isolated" and pos.isolated_margin_units + figs[1] + figs[2] < figs[4]:
                short = True
        if short:
            found.append(sub_id)
    return found


def _ledger() -> MarginLedger:
    ledger, _ = btc_ledger("1")
    for name in SUBS:
        sub = ledger.open_subaccount("desk", name)
        ledger.deposit(sub, "USDC", "20000")
    return ledger


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("leg"),
            st.sampled_from(SUBS),
            st.sampled_from(["BTC-PERP", "ETH-PERP", "ETH"]),
            st.sampled_from(["buy", "sell"]),
            st.integers(1, 30 * 10**6).map(lambda u: str(u * SCALE // 10**7 / SCALE)),
            st.booleans(),
        ),
        st.tuples(
            st.just("mark"),
            st.sampled_from(["BTC-PERP", "BTC", "ETH-PERP", "ETH"]),
            st.integers(-2500, 2500),
        ),
        st.tuples(st.just("funding"), st.sampled_from(["BTC-PERP", "ETH-PERP"])),
        st.tuples(st.just("interest"), st.integers(1, 10**15)),
        st.tuples(st.just("transfer"), st.sampled_from(SUBS), st.sampled_from(SUBS)),
        st.tuples(st.just("port"), st.sampled_from(SUBS), st.sampled_from(SUBS)),
        st.tuples(st.just("liquidate"), st.sampled_from(SUBS)),
        st.tuples(st.just("quote_terms"), st.sampled_from(["1.05", "1.5", "3"])),
    ),
    max_size=30,
)


def _apply(ledger: MarginLedger, op: tuple) -> None:
    kind = op[0]
    if kind == "leg":
        _, name, symbol, side, size, isolated = op
        price = str(ledger.mark_units(symbol) / SCALE)
        if symbol == "ETH":
            leg = LedgerLeg("spot", "ETH", side, size, price)
        else:
            margin = "3000" if isolated else None
            leg = LedgerLeg("perp", symbol, side, size, price, "0", margin)
        ledger.apply_leg(f"desk/{name}", leg)
    elif kind == "mark":
        _, name, bps = op
        moved = ledger.mark_units(name) * (10_000 + bps) // 10_000
        ledger.set_mark(name, str(moved // 10**10 / 10**8))
    elif kind == "funding":
        ledger.accrue_funding(op[1])
    elif kind == "interest":
        ledger.accrue_interest(op[1])
    elif kind == "transfer":
        ledger.transfer_collateral(f"desk/{op[1]}", f"desk/{op[2]}", "USDC", "1000")
    elif kind == "port":
        ledger.port_position(f"desk/{op[1]}", f"desk/{op[2]}", "BTC-PERP", "0.01")
    elif kind == "liquidate":
        ledger.liquidate(f"desk/{op[1]}")
    else:
        ledger.set_borrow_terms("USDC", op[1], op[1])


@settings(max_examples=80, deadline=None)
@given(ops)
def test_breach_sets_equal_a_full_recompute_after_every_operation(history) -> None:
    ledger = _ledger()
    for op in history:
        try:
            _apply(ledger, op)
        except (MarginError, ValueError, ArithmeticError):
            pass  # refused: nothing changed, and the sets must still be right
        assert ledger.liquidatable() == naive_liquidatable(ledger)
        ledger._check()


def test_a_mark_move_puts_a_cross_account_in_and_out_of_the_breach_sets() -> None:
    ledger, long_id = btc_ledger()
    ledger.apply_leg(long_id, perp("buy", "1", "100000"))
    assert ledger.breaches == {}
    ledger.set_mark("BTC-PERP", "91139.24")  # the worked example's liquidation price
    assert ledger.breaches == {long_id: {CROSS_BREACH}} and ledger.liquidatable() == [long_id]
    ledger.set_mark("BTC-PERP", "91139.25")
    assert ledger.breaches == {} and ledger.liquidatable() == []
    ledger._check()


def test_an_isolated_breach_is_keyed_by_its_symbol_and_cleared_by_liquidation() -> None:
    ledger, sub = btc_ledger()
    ledger.apply_leg(sub, LedgerLeg("perp", "BTC-PERP", "buy", "1", "100000", "0", "2500"))
    ledger.set_mark("BTC-PERP", "97000")
    assert ledger.breaches == {sub: {"BTC-PERP"}}
    ledger.liquidate(sub)
    assert sub not in ledger.breaches
    ledger._check()


def test_clones_and_snapshots_carry_the_breach_sets() -> None:
    ledger, sub = btc_ledger()
    ledger.apply_leg(sub, perp("buy", "1", "100000"))
    ledger.set_mark("BTC-PERP", "90000")
    twin = ledger.clone()
    assert twin.breaches == ledger.breaches == {sub: {CROSS_BREACH}}
    before = ledger.snapshot()
    twin.set_mark("BTC-PERP", "100000")
    assert twin.breaches == {} and ledger.breaches == {sub: {CROSS_BREACH}}
    assert ledger.snapshot() == before
    # the sets are state, not a view: a stale copy of them is caught by _check
    stale = copy.copy(twin)
    stale.breaches = {sub: {CROSS_BREACH}}
    try:
        stale._check()
    except AssertionError:
        pass
    else:
        raise AssertionError("_check accepted breach sets that differ from a full recompute")
