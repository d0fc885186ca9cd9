"""Pools beyond the golden subset: prices at the ends of the range and maximal liquidity.

Built by the same rules as the golden pools (upstream pools 10-14 of UniswapV3Pool.swaps.spec.ts):
a handful of upstream snapshot values are pinned below; every case also checks invariants.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from venues.clmm import ConcentratedLiquidityPool, tick_spacing_to_max_liquidity_per_tick
from venues.clmm.tick_math import MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK
from venues.errors import VenueError

GOLDEN = Path(__file__).resolve().parents[3] / "golden"
SWAPS = json.loads((GOLDEN / "v3_pool_swaps.json").read_text())
ENCODED = SWAPS["constants"]["encodePriceSqrtValues"]
# The 16 swap tests every upstream pool runs, with their exact arguments.
SWAP_TESTS = [(c["test_title"], c["swap"]) for c in SWAPS["cases"] if c["pool_id"] == 0]
E18 = 10**18


def min_tick(spacing: int) -> int:
    return -(-MIN_TICK // spacing) * spacing


def max_tick(spacing: int) -> int:
    return (MAX_TICK // spacing) * spacing


def full_range_pool(
    sqrt_price_x96: int, liquidity: int = 2 * E18, fee_pips: int = 3000, spacing: int = 60
) -> ConcentratedLiquidityPool:
    pool = ConcentratedLiquidityPool(fee_pips, spacing, sqrt_price_x96)
    pool.mint("wallet", min_tick(spacing), max_tick(spacing), liquidity)
    pool._check()
    return pool


EXTRA_POOLS = {
    "close to max price": lambda: full_range_pool(int(ENCODED["2^127/1"])),
    "close to min price": lambda: full_range_pool(int(ENCODED["1/2^127"])),
    "max full range liquidity at 1:1": lambda: full_range_pool(
        int(ENCODED["1/1"]), tick_spacing_to_max_liquidity_per_tick(60)
    ),
    "initialized at the max ratio": lambda: full_range_pool(MAX_SQRT_RATIO - 1),
    "initialized at the min ratio": lambda: full_range_pool(MIN_SQRT_RATIO),
}

# (pool, test title) -> (amount0, amount1, feeGrowthGlobal0X128, feeGrowthGlobal1X128, tickAfter),
# copied from upstream's UniswapV3Pool.swaps.spec.ts.snap.
UPSTREAM = {
    ("close to max price", "swap exactly 0.0000000000000010000 token0 for token1"): (
        1000,
        -26083549850867114346332688477747755628,
        2381976568446569244235,
        0,
        705098,
    ),
    ("close to max price", "swap exactly 1.0000 token0 for token1"): (
        E18,
        -26087635650665564420687107504180041533,
        510423550381413479995299567101531162,
        0,
        13923,
    ),
    ("close to max price", "swap token1 for exactly 1.0000 token0"): (
        0,
        10740898373457544742072477595619363803,
        0,
        5482407482066087054477299856254072312542046383926535301,
        887271,
    ),
    ("close to max price", "swap token0 for token1 to price 0.40000"): (
        3171793039286238109,
        -26087635650665564423434232548437664977,
        1618957864187523123655042148763283097,
        0,
        -9164,
    ),
    ("close to min price", "swap exactly 1.0000 token0 for token1"): (
        E18,
        0,
        170141183460469231731687303715884105728,
        0,
        -880303,
    ),
    ("close to min price", "swap token0 for exactly 1.0000 token1"): (
        10790901831095468191587263901270792610,
        0,
        5507930424444982259736347157352787128931407551935325049,
        0,
        -887272,
    ),
    ("close to min price", "swap token1 for token0 to price 2.5000"): (
        -26037782196502120274160871558471687260,
        3171793039286238112,
        0,
        1618957864187523634078592530170978294,
        9163,
    ),
    ("initialized at the min ratio", "swap exactly 1.0000 token1 for token0"): (
        -36796311322104302058426248623781044040,
        E18,
        0,
        510423550381413820277666488039994629,
        -13924,
    ),
    ("initialized at the min ratio", "swap token1 for exactly 1.0000 token0"): (
        -E18,
        2,
        0,
        170141183460469231731,
        -887220,
    ),
}
UPSTREAM_BALANCES = {
    "close to max price": (1, 26087635650665564424699143612505016738),
    "close to min price": (26037782196502120275425782622539039026, 1),
    "initialized at the min ratio": (36796311322104302062438284732106019258, 0),
}
_BUILT = {name: build() for name, build in EXTRA_POOLS.items()}


def test_extreme_pools_start_where_upstream_does() -> None:
    assert _BUILT["close to max price"].tick == 880340
    assert _BUILT["close to min price"].tick == -880303
    assert _BUILT["initialized at the max ratio"].tick == 887271
    assert _BUILT["initialized at the min ratio"].tick == MIN_TICK
    for name, balances in UPSTREAM_BALANCES.items():
        assert (_BUILT[name].balance0, _BUILT[name].balance1) == balances


@pytest.mark.parametrize("key", list(UPSTREAM), ids=[f"{p} / {t}" for p, t in UPSTREAM])
def test_extreme_pool_swap_matches_upstream_snapshot(key) -> None:
    pool = copy.deepcopy(_BUILT[key[0]])
    swap = dict(SWAP_TESTS)[key[1]]
    amounts = pool.swap(
        swap["zeroForOne"], int(swap["amountSpecified"]), int(swap["sqrtPriceLimitX96"])
    )
    got = (*amounts, pool.fee_growth_global0_x128, pool.fee_growth_global1_x128, pool.tick)
    assert got == UPSTREAM[key]


def _reverse(pool: ConcentratedLiquidityPool, zero_for_one: bool, amount_in: int) -> int | None:
    """Swap amount_in of the token just received back; returns the amount got back, or None."""
    if amount_in <= 0:
        return 0
    back = not zero_for_one
    limit = MIN_SQRT_RATIO + 1 if back else MAX_SQRT_RATIO - 1
    try:
        amount0, amount1 = pool.swap(back, amount_in, limit)
    except VenueError as error:
        assert error.code == "SPL"
        return None
    return -(amount1 if back else amount0)


@pytest.mark.parametrize("pool_name", list(EXTRA_POOLS))
@pytest.mark.parametrize("title,swap", SWAP_TESTS, ids=[t for t, _ in SWAP_TESTS])
def test_extreme_pool_swap_invariants(pool_name: str, title: str, swap: dict) -> None:
    pool = copy.deepcopy(_BUILT[pool_name])
    before = copy.deepcopy(pool.__dict__)
    zero_for_one = swap["zeroForOne"]
    args = (zero_for_one, int(swap["amountSpecified"]), int(swap["sqrtPriceLimitX96"]))
    try:
        amount0, amount1 = pool.swap(*args)
    except VenueError as error:
        assert error.code == "SPL"
        assert pool.__dict__ == before
        limit = args[2]
        assert not (
            MIN_SQRT_RATIO < limit < pool.sqrt_price_x96
            if zero_for_one
            else pool.sqrt_price_x96 < limit < MAX_SQRT_RATIO
        )
        return
    pool._check()
    paid, received = (amount0, -amount1) if zero_for_one else (amount1, -amount0)
    assert paid >= 0 and received >= 0
    assert received <= before["balance1" if zero_for_one else "balance0"]
    got_back = _reverse(pool, zero_for_one, received)
    pool._check()
    if got_back is not None:
        assert got_back <= paid, "a round trip must never profit the trader"


@pytest.mark.parametrize("fee_pips,spacing", [(500, 10), (3000, 60), (10000, 200)])
def test_max_full_range_liquidity_mints_and_one_more_reverts_lo(
    fee_pips: int, spacing: int
) -> None:
    cap = tick_spacing_to_max_liquidity_per_tick(spacing)
    assert cap == ((1 << 128) - 1) // ((max_tick(spacing) - min_tick(spacing)) // spacing + 1)
    pool = ConcentratedLiquidityPool(fee_pips, spacing, int(ENCODED["1/1"]))
    with pytest.raises(VenueError) as raised:
        pool.mint("wallet", min_tick(spacing), max_tick(spacing), cap + 1)
    assert raised.value.code == "LO"
    amount0, amount1 = pool.mint("wallet", min_tick(spacing), max_tick(spacing), cap)
    assert amount0 > 0 and amount1 > 0 and pool.liquidity == cap
    before = copy.deepcopy(pool.__dict__)
    with pytest.raises(VenueError) as raised:
        pool.mint("other", min_tick(spacing), max_tick(spacing), 1)
    assert raised.value.code == "LO"
    assert pool.__dict__ == before
    for zero_for_one in (True, False):
        for amount in (E18, -E18, 2**255 - 1):
            trial = copy.deepcopy(pool)
            limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
            trial.swap(zero_for_one, amount, limit)
            trial._check()
    assert tick_spacing_to_max_liquidity_per_tick(60) == 11505743598341114571880798222544994


@pytest.mark.parametrize("start", [MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1])
def test_pool_at_range_ends_with_several_positions_walks_to_the_other_end(start: int) -> None:
    pool = ConcentratedLiquidityPool(3000, 60, start)
    pool.mint("a", min_tick(60), max_tick(60), 2 * E18)
    pool.mint("b", -600, 600, 10**20)
    pool.mint("c", min_tick(60), min_tick(60) + 60, 10**18)
    pool.mint("d", max_tick(60) - 60, max_tick(60), 10**18)
    pool._check()
    zero_for_one = start != MIN_SQRT_RATIO
    limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    amount0, amount1 = pool.swap(zero_for_one, 2**255 - 1, limit)
    pool._check()
    assert pool.sqrt_price_x96 == limit
    # The walk leaves every position behind (all bounds are inside the open tick range).
    assert pool.liquidity == 0
    assert pool.tick == (MIN_TICK if zero_for_one else MAX_TICK - 1)
    assert (amount0 > 0 > amount1) if zero_for_one else (amount1 > 0 > amount0)
    for owner, lower, upper in pool.position_keys():
        pool.burn(owner, lower, upper, pool.positions(owner, lower, upper).liquidity)
        pool.collect(owner, lower, upper, (1 << 128) - 1, (1 << 128) - 1)
    pool._check()
    assert pool.liquidity == 0 and pool.initialized_ticks() == []
