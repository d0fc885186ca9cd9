"""The arbitrageur keeps pools in line with the mid: never past it, only at a profit, pools intact."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from router.model.errors import CrossrouteError
from router.model.orders import LegOrder
from router.sim.pools import Arbitrageur, build_amm, build_clmm

MID = Decimal(2000)


def _pools():
    amm = build_amm(
        "amm",
        "ETH/USDT",
        MID,
        base_reserve=Decimal(50),
        fee_pips=3000,
        gas=Decimal(1),
        base_decimals=18,
        quote_decimals=6,
    )
    clmm = build_clmm(
        "clmm",
        "ETH/USDT",
        MID,
        liquidity=2 * 10**15,
        width_bps=500,
        fee_pips=500,
        tick_spacing=10,
        gas=Decimal("1.5"),
        base_decimals=18,
        quote_decimals=6,
    )
    return [amm, clmm]


def test_arbitrage_moves_a_pool_toward_the_mid_and_earns_after_gas() -> None:
    pools = _pools()
    arb = Arbitrageur(pools)
    trades = asyncio.run(arb.align(Decimal(2040), 1))
    assert {t.venue for t in trades} == {"amm", "clmm"}
    for pool in pools:
        assert MID < pool.mid_price() <= Decimal(2040)
    assert all(t.side == "buy" and t.profit > 0 for t in trades)
    assert asyncio.run(arb.align(Decimal(2040), 2)) == []  # in line: nothing left to earn
    arb._check()


class ArbMachine(RuleBasedStateMachine):
    """Random mids and random router trades: after every alignment no pool is past the mid on the
    side it came from, every arbitrage made money after gas, and the pools' invariants hold."""

    def __init__(self) -> None:
        super().__init__()
        self.pools = _pools()
        self.arb = Arbitrageur(self.pools)
        self.ts = 0
        self.n = 0

    @rule(bps=st.integers(-400, 400))
    def align(self, bps: int) -> None:
        mid = (MID * (10_000 + bps) / 10_000).quantize(Decimal("0.01"))
        before = {pool.name: pool.mid_price() for pool in self.pools}
        self.ts += 1
        asyncio.run(self.arb.align(mid, self.ts))
        for pool in self.pools:
            now = pool.mid_price()
            if before[pool.name] < mid:
                assert before[pool.name] <= now <= mid
            elif before[pool.name] > mid:
                assert mid <= now <= before[pool.name]

    @rule(
        index=st.integers(0, 1),
        side=st.sampled_from(["buy", "sell"]),
        qty=st.sampled_from(["0.05", "0.3", "1"]),
    )
    def router_trade(self, index: int, side: str, qty: str) -> None:
        self.n += 1
        try:
            asyncio.run(
                self.pools[index].execute(
                    LegOrder(self.pools[index].name, side, Decimal(qty), f"r{self.n}")
                )
            )
        except CrossrouteError:
            pass

    @precondition(lambda self: self.ts > 0)
    @rule()
    def stale_time_is_refused(self) -> None:
        trades = list(self.arb.trades)
        try:
            asyncio.run(self.arb.align(MID, self.ts - 1))
        except CrossrouteError:
            pass
        else:
            raise AssertionError("a time before the last alignment was accepted")
        assert self.arb.trades == trades

    @invariant()
    def consistent(self) -> None:
        self.arb._check()
        for pool in self.pools:
            pool.pool._check()


TestArbMachine = ArbMachine.TestCase
TestArbMachine.settings = settings(max_examples=25, stateful_step_count=15, deadline=None)
