"""venues.amm properties: the formulas against their definitions, and a stateful model of the pool."""

from __future__ import annotations

from math import isqrt

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from venues import amm
from venues.amm import MAX_UINT112, Q112, ConstantProductPool, PoolRevert
from venues.errors import InvalidArgument

reserves = st.integers(min_value=10**3, max_value=10**30)
amounts = st.integers(min_value=1, max_value=10**30)
fees = st.sampled_from([0, 1, 100, 500, 3000, 10_000, 999_999]) | st.integers(0, 999_999)


@given(amount_in=amounts, reserve_in=reserves, reserve_out=reserves)
def test_fee_3000_equals_the_997_over_1000_originals(amount_in, reserve_in, reserve_out):
    with_fee = amount_in * 997
    assert amm.get_amount_out(amount_in, reserve_in, reserve_out) == (
        with_fee * reserve_out // (reserve_in * 1000 + with_fee)
    )
    amount_out = amount_in % reserve_out or 1
    assume(amount_out < reserve_out)
    assert amm.get_amount_in(amount_out, reserve_in, reserve_out) == (
        reserve_in * amount_out * 1000 // ((reserve_out - amount_out) * 997) + 1
    )


@given(
    amount_in=amounts,
    reserve0=reserves,
    reserve1=reserves,
    fee_pips=fees,
    zero_for_one=st.booleans(),
)
def test_quoted_output_is_the_largest_the_k_check_accepts(
    amount_in, reserve0, reserve1, fee_pips, zero_for_one
):
    pool = ConstantProductPool(reserve0, reserve1, fee_pips)
    assume(amount_in + max(reserve0, reserve1) <= MAX_UINT112)
    out = pool.get_amount_out(amount_in, zero_for_one)
    reserve_out = reserve1 if zero_for_one else reserve0
    assert 0 <= out < reserve_out
    ins = (amount_in, 0) if zero_for_one else (0, amount_in)

    def outs(x: int) -> tuple[int, int]:
        return (0, x) if zero_for_one else (x, 0)

    if out + 1 < reserve_out:
        before = pool.state()
        try:
            pool.pair_swap(*outs(out + 1), *ins)
            raise AssertionError("one wei above the quote passed the K check")
        except PoolRevert as err:
            assert err.code == "UniswapV2: K"
        assert pool.state() == before
    if out > 0:
        pool.pair_swap(*outs(out), *ins)
        pool._check()


@given(amount_out=amounts, reserve_in=reserves, reserve_out=reserves, fee_pips=fees)
def test_get_amount_in_is_the_minimal_input_or_one_above_it(
    amount_out, reserve_in, reserve_out, fee_pips
):
    assume(amount_out < reserve_out)
    needed = amm.get_amount_in(amount_out, reserve_in, reserve_out, fee_pips)
    assert amm.get_amount_out(needed, reserve_in, reserve_out, fee_pips) >= amount_out
    # Upstream's unconditional +1 over-asks by one wei when the division is exact, never more.
    if needed > 2:
        assert amm.get_amount_out(needed - 2, reserve_in, reserve_out, fee_pips) < amount_out


@given(amount_in=amounts, reserve_in=reserves, reserve_out=reserves, fee_pips=fees)
def test_get_amount_in_of_get_amount_out_never_exceeds_input_plus_one(
    amount_in, reserve_in, reserve_out, fee_pips
):
    out = amm.get_amount_out(amount_in, reserve_in, reserve_out, fee_pips)
    assume(out > 0)
    assert amm.get_amount_in(out, reserve_in, reserve_out, fee_pips) <= amount_in + 1


@given(small=amounts, extra=amounts, reserve_in=reserves, reserve_out=reserves, fee_pips=fees)
def test_output_is_monotone_in_input_and_a_higher_fee_never_pays_more(
    small, extra, reserve_in, reserve_out, fee_pips
):
    out = amm.get_amount_out(small, reserve_in, reserve_out, fee_pips)
    assert amm.get_amount_out(small + extra, reserve_in, reserve_out, fee_pips) >= out
    if fee_pips < 999_999:
        assert amm.get_amount_out(small, reserve_in, reserve_out, fee_pips + 1) <= out


@given(
    amount_in=amounts,
    reserve0=reserves,
    reserve1=reserves,
    fee_pips=fees,
    zero_for_one=st.booleans(),
)
def test_round_trip_swap_never_profits_the_trader(
    amount_in, reserve0, reserve1, fee_pips, zero_for_one
):
    pool = ConstantProductPool(reserve0, reserve1, fee_pips)
    try:
        out = pool.swap(amount_in, zero_for_one)
        back = pool.swap(out, not zero_for_one)
    except PoolRevert:
        return  # dust or overflow: nothing traded, nothing to compare
    assert back <= amount_in


@given(reserve0=reserves, reserve1=reserves, share=st.integers(1, 10**6), skew=st.integers(1, 4))
def test_mint_then_burn_returns_no_more_than_deposited(reserve0, reserve1, share, skew):
    pool = ConstantProductPool(reserve0, reserve1)
    amount0 = reserve0 * share // 10**6 + 1
    amount1 = reserve1 * share * skew // 10**6 + 1
    try:
        minted = pool.mint("bob", amount0, amount1)
        paid0, paid1 = pool.burn("bob", minted)
    except PoolRevert:
        return
    assert paid0 <= amount0 and paid1 <= amount1
    pool._check()


# ---- stateful model ---------------------------------------------------------------------------

OWNERS = ("alice", "bob", "carol")


class PoolMachine(RuleBasedStateMachine):
    """Random swaps both ways (exact in and out), mints, burns, fee switching and time steps.

    Checked after every step: ``_check()``; on every failure: the pool is unchanged. Per rule:
    k never decreases across a swap, the reserves move by exactly the amounts paid, and the
    accumulators grow by exactly price times elapsed seconds.
    """

    @initialize(reserve0=reserves, reserve1=reserves, fee_pips=fees, fee_on=st.booleans())
    def start(self, reserve0, reserve1, fee_pips, fee_on):
        assume(isqrt(reserve0 * reserve1) > 1000)
        self.pool = ConstantProductPool(
            reserve0,
            reserve1,
            fee_pips,
            lp_owner="alice",
            fee_to="treasury" if fee_on else None,
            timestamp=0,
        )
        self.now = 0

    @invariant()
    def invariants_hold(self):
        self.pool._check()

    def _attempt(self, call):
        """Run ``call``; on a revert assert nothing changed and return None."""
        before = self.pool.state()
        try:
            return call()
        except (PoolRevert, InvalidArgument):
            assert self.pool.state() == before
            return None

    def _k(self) -> int:
        return self.pool.reserve0 * self.pool.reserve1

    @rule(amount_in=amounts, zero_for_one=st.booleans(), seconds=st.integers(0, 3600))
    def swap_exact_in(self, amount_in, zero_for_one, seconds):
        reserves_before, k_before = self.pool.reserves, self._k()
        quoted = self._attempt(lambda: self.pool.get_amount_out(amount_in, zero_for_one))
        out = self._attempt(
            lambda: self.pool.swap(amount_in, zero_for_one, timestamp=self.now + seconds)
        )
        if out is None:
            return
        self.now += seconds
        assert out == quoted
        assert self._k() >= k_before
        delta0 = amount_in if zero_for_one else -out
        delta1 = -out if zero_for_one else amount_in
        assert self.pool.reserves == (reserves_before[0] + delta0, reserves_before[1] + delta1)

    @rule(fraction_ppm=st.integers(1, 999_999), zero_for_one=st.booleans())
    def swap_exact_out(self, fraction_ppm, zero_for_one):
        reserve_out = self.pool.reserve1 if zero_for_one else self.pool.reserve0
        amount_out = reserve_out * fraction_ppm // 10**6
        k_before = self._k()
        paid = self._attempt(lambda: self.pool.swap_exact_out(amount_out, zero_for_one))
        if paid is None:
            return
        assert self._k() >= k_before
        # Selling back what was bought never returns more than was paid.
        back = self._attempt(lambda: self.pool.swap(amount_out, not zero_for_one))
        if back is not None:
            assert back <= paid

    @rule(amount_in=amounts, zero_for_one=st.booleans())
    def quotes_are_consistent(self, amount_in, zero_for_one):
        out = self._attempt(lambda: self.pool.get_amount_out(amount_in, zero_for_one))
        if out:
            assert self.pool.get_amount_in(out, zero_for_one) <= amount_in + 1

    @rule(
        owner=st.sampled_from(OWNERS),
        share_ppm=st.integers(1, 2 * 10**6),
        skew_ppm=st.integers(500_000, 2 * 10**6),
    )
    def mint(self, owner, share_ppm, skew_ppm):
        amount0 = self.pool.reserve0 * share_ppm // 10**6
        amount1 = self.pool.reserve1 * share_ppm * skew_ppm // 10**12
        supply, held = self.pool.total_supply, self.pool.balance_of(owner)
        minted = self._attempt(lambda: self.pool.mint(owner, amount0, amount1))
        if minted is None:
            return
        assert minted > 0
        assert self.pool.balance_of(owner) == held + minted
        assert self.pool.total_supply >= supply + minted  # plus any protocol fee

    @rule(owner=st.sampled_from(OWNERS + ("treasury",)), share_ppm=st.integers(1, 10**6))
    def burn(self, owner, share_ppm):
        held = self.pool.balance_of(owner)
        liquidity = held * share_ppm // 10**6
        if liquidity == 0:
            return
        reserves_before, supply = self.pool.reserves, self.pool.total_supply
        paid = self._attempt(lambda: self.pool.burn(owner, liquidity))
        if paid is None:
            return
        assert self.pool.reserves == (reserves_before[0] - paid[0], reserves_before[1] - paid[1])
        # With the protocol fee on, burn first mints the fee to fee_to, who may be the burner.
        fee_minted = self.pool.total_supply - (supply - liquidity)
        assert fee_minted >= 0
        expected = held - liquidity + (fee_minted if owner == self.pool.fee_to else 0)
        assert self.pool.balance_of(owner) == expected

    @rule(fee_on=st.booleans())
    def switch_protocol_fee(self, fee_on):
        self.pool.set_fee_to("treasury" if fee_on else None)

    @rule(seconds=st.integers(0, 2**33))
    def sync_later(self, seconds):
        price0, price1 = self.pool.price0_cumulative_last, self.pool.price1_cumulative_last
        r0, r1 = self.pool.reserves
        self.pool.sync(timestamp=self.now + seconds)
        self.now += seconds
        elapsed = seconds % 2**32
        assert self.pool.price0_cumulative_last == (price0 + r1 * Q112 // r0 * elapsed) % 2**256
        assert self.pool.price1_cumulative_last == (price1 + r0 * Q112 // r1 * elapsed) % 2**256

    @precondition(lambda self: self.now > 0)
    @rule()
    def going_back_in_time_is_refused(self):
        result = self._attempt(lambda: self.pool.sync(timestamp=self.now - 1))
        assert result is None


PoolMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestPoolMachine = PoolMachine.TestCase
