"""Trading through all three adapters in random sequences keeps every venue consistent.

A RuleBasedStateMachine executes random legs (side, size) on each adapter kind. Invariants: each
venue's own ``_check()`` holds; every fill equals the quote taken just before it; the router's
running base and quote balances equal the sum of the fills (nothing created or lost); the curve
still agrees with the exact quote after the venue moved.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from router.model.errors import RouteError
from router.model.orders import LegOrder

from .conftest import MAKERS


class AdapterTrading(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.adapters = {kind: make() for kind, make in MAKERS.items()}
        self.base = {kind: Decimal(0) for kind in MAKERS}
        self.quote = {kind: Decimal(0) for kind in MAKERS}
        self.count = 0
        self.trades = {kind: 0 for kind in MAKERS}

    @rule(
        kind=st.sampled_from(sorted(MAKERS)),
        side=st.sampled_from(["buy", "sell"]),
        fraction=st.floats(min_value=1e-4, max_value=0.3),
    )
    def trade(self, kind: str, side: str, fraction: float) -> None:
        adapter = self.adapters[kind]
        total = min(adapter.depth_curve(side).total_qty, 50.0)
        quantum = adapter.base_quantum()
        qty = max(
            (Decimal(repr(total * fraction)) / quantum).to_integral_value() * quantum,
            adapter.min_qty(),
        )
        try:
            quoted = adapter.quote(side, qty)
        except RouteError:
            return
        self.count += 1
        fill = asyncio.run(adapter.execute(LegOrder(adapter.name, side, qty, f"c{self.count}")))
        assert fill.status == "filled", fill.reason
        assert (fill.filled_qty, fill.quote_amount) == (quoted.qty, quoted.quote_amount)
        sign = 1 if side == "buy" else -1
        self.base[kind] += sign * fill.filled_qty
        self.quote[kind] -= sign * fill.quote_amount
        self.trades[kind] += 1

    @invariant()
    def venues_consistent(self) -> None:
        for adapter in self.adapters.values():
            venue = getattr(adapter, "pool", None) or adapter.book
            venue._check()

    @invariant()
    def router_owns_what_it_traded(self) -> None:
        book = self.adapters["book"]
        assert book.book.lots_to_qty(book.book.position_lots("router")) == self.base["book"]
        amm = self.adapters["amm"]
        # the pool's base reserve moved by exactly the router's trades
        assert Decimal(amm.pool.reserve0 - 100 * 10**18).scaleb(-18) == -self.base["amm"]
        # and its quote reserve by the router's quote flow net of the leg costs paid to others
        assert (
            Decimal(amm.pool.reserve1 - 300_000 * 10**6).scaleb(-6)
            == -self.quote["amm"] - self.trades["amm"] * amm.leg_cost
        )
        clmm = self.adapters["clmm"]
        assert Decimal(clmm.pool.balance0).scaleb(-18) - self._clmm_minted0 == -self.base["clmm"]

    @property
    def _clmm_minted0(self) -> Decimal:
        if not hasattr(self, "_minted0"):
            fresh = MAKERS["clmm"]()
            self._minted0 = Decimal(fresh.pool.balance0).scaleb(-18)
        return self._minted0

    @invariant()
    def curve_still_matches_exact_quote(self) -> None:
        for adapter in self.adapters.values():
            for side in ("buy", "sell"):
                curve = adapter.depth_curve(side)
                qty = min(
                    Decimal("0.5"),
                    Decimal(repr(curve.total_qty * 0.5)).quantize(adapter.base_quantum()),
                )
                if qty < adapter.min_qty() or qty <= 0:
                    continue
                exact = adapter.quote(side, qty)
                venue_part = exact.quote_amount + (
                    -exact.leg_cost if side == "buy" else exact.leg_cost
                )
                assert float(venue_part) == pytest.approx(
                    curve.cost(float(qty)), rel=1e-9, abs=1e-4
                )


TestAdapterTrading = AdapterTrading.TestCase
TestAdapterTrading.settings = settings(max_examples=30, stateful_step_count=15, deadline=None)
