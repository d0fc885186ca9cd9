"""Random walks over the ledger; _check() after every step (caches, double entry, sizes)."""

from decimal import Decimal

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from router.margin import LedgerLeg, MarginError
from router.margin.quantities import SCALE

from .helpers import btc_ledger, perp

SUBS = ["desk/main", "desk/b", "desk/c"]


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ledger, _ = btc_ledger("20000")
        for name in ("b", "c"):
            sub = self.ledger.open_subaccount("desk", name)
            self.ledger.deposit(sub, "USDC", "5000")

    @rule(
        sub=st.sampled_from(SUBS),
        sym=st.sampled_from(["BTC-PERP", "ETH-PERP"]),
        side=st.sampled_from(["buy", "sell"]),
        hundredths=st.integers(1, 200),
        fee=st.integers(0, 500),
    )
    def trade(self, sub, sym, side, hundredths, fee):
        price = self.ledger.marks[sym].price_units
        leg = perp(
            side,
            str(Decimal(hundredths) / 100),
            str(Decimal(price) / SCALE),
            sym,
            str(Decimal(fee) / 100),
        )
        self._trade(sub, sym, leg)

    def _isolated(self, pick):
        """The pick-th isolated position of any subaccount (sorted), or None."""
        held = sorted(
            (sub, sym)
            for sub, s in self.ledger.subs.items()
            for sym, p in s.positions.items()
            if p.mode == "isolated"
        )
        return held[pick % len(held)] if held else None

    @rule(pick=st.integers(0, 5), pct=st.integers(1, 100) | st.just(100), fee=st.integers(0, 500))
    def reduce_isolated(self, pick, pct, fee):
        target = self._isolated(pick)
        if target is None:
            return
        sub, sym = target
        held = self.ledger.subs[sub].positions[sym]
        units = max(abs(held.size_units) * pct // 100, 1)
        price = self.ledger.marks[sym].price_units
        side = "sell" if held.size_units > 0 else "buy"
        leg = perp(
            side,
            str(Decimal(units) / SCALE),
            str(Decimal(price) / SCALE),
            sym,
            str(Decimal(fee) / 100),
        )
        self._trade(sub, sym, leg)

    def _trade(self, sub, sym, leg):
        before = self.ledger.headroom(sub)
        held = self.ledger.subs[sub].positions.get(sym)
        isolated = held is not None and held.mode == "isolated"
        usdc = self.ledger.subs[sub].balances.get("USDC", 0)
        result = self.ledger.check_leg(sub, leg)
        if not result.accepted:
            if isolated:
                event(f"isolated trade refused: {result.limit}")
            return
        self.ledger.apply_leg(sub, leg)
        after = self.ledger.headroom(sub)
        assert after >= 0 or (not result.risk_increasing and after >= before)
        if isolated:
            event("isolated trade accepted")
            # a voluntary trade never charges an isolated loss to cross, nor leaves the bucket short
            s = self.ledger.subs[sub]
            assert s.balances.get("USDC", 0) >= usdc
            pos = s.positions.get(sym)
            if pos is not None:
                assert (
                    min(
                        pos.isolated_margin_units,
                        pos.isolated_margin_units + s.pos_vals[sym][1] + s.pos_vals[sym][2],
                    )
                    >= 0
                )

    @rule(
        sub=st.sampled_from(SUBS),
        sym=st.sampled_from(["BTC-PERP", "ETH-PERP"]),
        side=st.sampled_from(["buy", "sell"]),
        hundredths=st.integers(1, 100),
        lev=st.integers(2, 25),
    )
    def open_isolated(self, sub, sym, side, hundredths, lev):
        price = Decimal(self.ledger.marks[sym].price_units) / SCALE
        size = Decimal(hundredths) / 100
        margin = (size * price / lev).quantize(Decimal("0.01"))
        leg = LedgerLeg("perp", sym, side, str(size), str(price), "0", str(margin))
        try:
            if self.ledger.check_leg(sub, leg).accepted:
                self.ledger.apply_leg(sub, leg)
        except MarginError:
            pass  # the symbol is already held cross

    @rule(
        pick=st.integers(0, 5) | st.none(),
        sub=st.sampled_from(SUBS),
        sym=st.sampled_from(["BTC-PERP", "ETH-PERP"]),
        cents=st.integers(1, 300_000),
    )
    def top_up(self, pick, sub, sym, cents):
        # mostly an existing isolated position; pick=None tries any (sub, sym), usually refused
        target = None if pick is None else self._isolated(pick)
        sub, sym = target or (sub, sym)
        s = self.ledger.subs[sub]
        held = s.positions.get(sym)
        margin = None if held is None else held.isolated_margin_units
        usdc, snap = s.balances.get("USDC", 0), self.ledger.snapshot()
        try:
            self.ledger.add_isolated_margin(sub, sym, str(Decimal(cents) / 100))
        except MarginError:
            assert self.ledger.snapshot() == snap
            event("top_up refused")
            return
        event("top_up accepted")
        units = cents * (SCALE // 100)
        assert s.balances.get("USDC", 0) == usdc - units
        assert s.positions[sym].isolated_margin_units == margin + units
        assert self.ledger.headroom(sub) >= 0

    @rule(sym=st.sampled_from(["BTC-PERP", "ETH-PERP"]), bps=st.integers(-1500, 1500))
    def move(self, sym, bps):
        price = self.ledger.marks[sym].price_units
        self.ledger.set_mark(sym, str(Decimal(price * (10_000 + bps) // 10_000) / SCALE))

    @rule(sym=st.sampled_from(["BTC-PERP", "ETH-PERP"]))
    def funding(self, sym):
        self.ledger.accrue_funding(sym)

    @rule(src=st.sampled_from(SUBS), dst=st.sampled_from(SUBS), amount=st.integers(1, 3000))
    def transfer(self, src, dst, amount):
        try:
            self.ledger.transfer_collateral(src, dst, "USDC", str(amount))
        except MarginError:
            pass

    @rule(
        src=st.sampled_from(SUBS),
        dst=st.sampled_from(SUBS),
        sym=st.sampled_from(["BTC-PERP", "ETH-PERP"]),
        at_mark=st.booleans(),
    )
    def port(self, src, dst, sym, at_mark):
        pos = self.ledger.position(src, sym) if self.ledger.subs[src].positions.get(sym) else None
        if pos is None or src == dst:
            return
        try:
            self.ledger.port_position(
                src,
                dst,
                sym,
                str(Decimal(abs(pos.size_units) // 2 or 1) / SCALE),
                at_mark=at_mark,
            )
        except MarginError:
            pass

    @rule()
    def liquidate_all(self):
        for sub in self.ledger.liquidatable():
            s = self.ledger.subs[sub]
            mm_before = s.totals[5]
            sizes = {k: p.size_units for k, p in s.positions.items()}
            cross_healthy = s.totals[1] + s.totals[2] + s.totals[3] >= s.totals[5] * 11 // 10
            balances = dict(s.balances)
            cross = {
                k: (p.size_units, p.cost16) for k, p in s.positions.items() if p.mode == "cross"
            }
            result = self.ledger.liquidate(sub)
            if cross_healthy:
                # only isolated buckets were breached: they settle alone, the cross side is not debited
                assert {
                    k: (p.size_units, p.cost16) for k, p in s.positions.items() if p.mode == "cross"
                } == cross
                assert s.balances.get("USDC", 0) >= balances.get("USDC", 0)
                assert {a: u for a, u in s.balances.items() if a != "USDC"} == {
                    a: u for a, u in balances.items() if a != "USDC"
                }
            for step in result.steps:
                # a step only shrinks a position, never flips or grows it, and MM never rises
                held = sizes[step.symbol]
                assert step.closed_units * held < 0 and abs(step.closed_units) <= abs(held)
                sizes[step.symbol] = held + step.closed_units
                assert step.mm_after <= step.mm_before
            assert self.ledger.subs[sub].totals[5] <= mm_before

    @invariant()
    def consistent(self):
        self.ledger._check()


LedgerMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
TestLedgerMachine = LedgerMachine.TestCase
