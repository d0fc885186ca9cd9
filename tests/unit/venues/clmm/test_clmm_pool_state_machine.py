"""Random mint/burn/collect/swap/protocol-fee sequences keep the pool consistent and solvent."""

from __future__ import annotations

import copy

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from venues.clmm import ConcentratedLiquidityPool
from venues.clmm.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO, get_sqrt_ratio_at_tick
from venues.errors import VenueError

MAX_UINT128 = (1 << 128) - 1
SPACING = 60
FULL = (-887220, 887220)
OWNERS = st.sampled_from(["alice", "bob", "carol"])
# Ranges on a grid around the price plus the full range, so positions overlap and swaps cross
# many initialised ticks; a few malformed ranges exercise the refusals ("TS", "TLU").
RANGES = st.one_of(
    st.tuples(st.integers(-40, 39), st.integers(1, 20)).map(
        lambda lw: (lw[0] * SPACING, (lw[0] + lw[1]) * SPACING)
    ),
    st.tuples(st.integers(-40, 39), st.integers(1, 20)).map(
        lambda lw: (lw[0] * SPACING, (lw[0] + lw[1]) * SPACING)
    ),
    st.just(FULL),
    st.sampled_from([(-30, 60), (0, 90), (120, 60), (60, 60)]),
)
LIQUIDITY = st.one_of(st.integers(1, 10**6), st.integers(10**15, 10**22))
AMOUNTS = st.one_of(st.integers(1, 10**4), st.integers(10**15, 10**21), st.just(2**255 - 1))
LIMIT_TICKS = st.integers(-2600, 2600)


class PoolMachine(RuleBasedStateMachine):
    """Drives one pool; a model tracks every token movement so the balances can be audited."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = ConcentratedLiquidityPool(3000, SPACING, 1 << 96)
        self.paid_in = [0, 0]
        self.paid_out = [0, 0]
        self.mint("seed", *FULL, 10**18)

    def _refused(self, call, *args) -> None:
        """Call; if it raises a VenueError the pool must be exactly unchanged."""
        before = copy.deepcopy(self.pool.__dict__)
        try:
            return call(*args)
        except VenueError:
            assert self.pool.__dict__ == before
            return None

    @rule(owner=OWNERS, bounds=RANGES, liquidity=LIQUIDITY)
    def mint_range(self, owner, bounds, liquidity) -> None:
        self.mint(owner, *bounds, liquidity)

    def mint(self, owner, lower, upper, liquidity) -> None:
        result = self._refused(self.pool.mint, owner, lower, upper, liquidity)
        if result is not None:
            assert result[0] >= 0 and result[1] >= 0
            self.paid_in[0] += result[0]
            self.paid_in[1] += result[1]

    @precondition(lambda self: self.pool.position_keys())
    @rule(data=st.data(), fraction=st.sampled_from([0, 1, 2, 4]))
    def burn(self, data, fraction) -> None:
        owner, lower, upper = data.draw(st.sampled_from(self.pool.position_keys()))
        held = self.pool.positions(owner, lower, upper).liquidity
        amount = held // fraction if fraction else 0
        result = self._refused(self.pool.burn, owner, lower, upper, amount)
        if result is not None:
            assert result[0] >= 0 and result[1] >= 0

    @precondition(lambda self: self.pool.position_keys())
    @rule(
        data=st.data(),
        request0=st.sampled_from([0, 1, 10**12, MAX_UINT128]),
        request1=st.sampled_from([0, 1, 10**12, MAX_UINT128]),
    )
    def collect(self, data, request0, request1) -> None:
        owner, lower, upper = data.draw(st.sampled_from(self.pool.position_keys()))
        amount0, amount1 = self.pool.collect(owner, lower, upper, request0, request1)
        assert 0 <= amount0 <= request0 and 0 <= amount1 <= request1
        self.paid_out[0] += amount0
        self.paid_out[1] += amount1

    @rule(
        zero_for_one=st.booleans(),
        amount=AMOUNTS,
        exact_output=st.booleans(),
        limit_tick=st.one_of(st.none(), LIMIT_TICKS),
    )
    def swap(self, zero_for_one, amount, exact_output, limit_tick) -> None:
        if limit_tick is None:
            limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
        else:
            limit = get_sqrt_ratio_at_tick(limit_tick)
        specified = -min(amount, 2**255 - 1) if exact_output else amount
        price_before = self.pool.sqrt_price_x96
        result = self._refused(self.pool.swap, zero_for_one, specified, limit)
        if result is None:
            return
        amount0, amount1 = result
        if zero_for_one:
            assert amount0 >= 0 >= amount1 and self.pool.sqrt_price_x96 <= price_before
        else:
            assert amount1 >= 0 >= amount0 and self.pool.sqrt_price_x96 >= price_before
        if specified > 0:
            assert (amount0 if zero_for_one else amount1) <= specified
        else:
            assert -(amount1 if zero_for_one else amount0) <= -specified
        for index, amount_i in enumerate((amount0, amount1)):
            if amount_i >= 0:
                self.paid_in[index] += amount_i
            else:
                self.paid_out[index] -= amount_i

    @rule(zero_for_one=st.booleans(), amount=st.integers(1, 10**21))
    def round_trip_never_profits(self, zero_for_one, amount) -> None:
        """Swap in, swap everything received back (on a copy): never more than was paid comes back."""
        pool = copy.deepcopy(self.pool)
        out_limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
        back_limit = MAX_SQRT_RATIO - 1 if zero_for_one else MIN_SQRT_RATIO + 1
        try:
            amount0, amount1 = pool.swap(zero_for_one, amount, out_limit)
        except VenueError:
            return
        paid, received = (amount0, -amount1) if zero_for_one else (amount1, -amount0)
        if received == 0:
            return
        try:
            back0, back1 = pool.swap(not zero_for_one, received, back_limit)
        except VenueError as error:
            assert error.code == "SPL"
            return
        got_back = -back0 if zero_for_one else -back1
        assert got_back <= paid
        pool._check()

    @rule(fee0=st.sampled_from([0, 4, 6, 10]), fee1=st.sampled_from([0, 5, 8]))
    def set_fee_protocol(self, fee0, fee1) -> None:
        self.pool.set_fee_protocol(fee0, fee1)

    @rule(request=st.sampled_from([1, 10**9, MAX_UINT128]))
    def collect_protocol(self, request) -> None:
        amount0, amount1 = self.pool.collect_protocol(request, request)
        self.paid_out[0] += amount0
        self.paid_out[1] += amount1

    @invariant()
    def structure_holds(self) -> None:
        self.pool._check()

    @invariant()
    def balances_match_every_token_movement(self) -> None:
        assert self.pool.balance0 == self.paid_in[0] - self.paid_out[0]
        assert self.pool.balance1 == self.paid_in[1] - self.paid_out[1]

    @invariant()
    def pool_can_pay_everyone_at_once(self) -> None:
        """Burn every position, collect everything and the protocol fees: no "TF", nothing negative."""
        pool = copy.deepcopy(self.pool)
        for owner, lower, upper in pool.position_keys():
            held = pool.positions(owner, lower, upper).liquidity
            if held:
                pool.burn(owner, lower, upper, held)
            pool.collect(owner, lower, upper, MAX_UINT128, MAX_UINT128)
        pool.collect_protocol(MAX_UINT128, MAX_UINT128)
        assert pool.balance0 >= 0 and pool.balance1 >= 0
        assert pool.liquidity == 0 and pool.initialized_ticks() == []


PoolMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestPoolMachine = PoolMachine.TestCase
