"""LiquidityMath of Uniswap v3-core: add a signed delta to a uint128 liquidity, reverting on wrap."""

from __future__ import annotations

from venues.errors import VenueError

_MAX_UINT128 = (1 << 128) - 1


def add_delta(liquidity: int, delta: int) -> int:
    """liquidity + delta as uint128; raises "LS" on underflow and "LA" on overflow.

    Units: raw liquidity L. Rounding: exact. Complexity: O(1).
    """
    result = liquidity + delta
    if delta < 0:
        if result < 0:
            raise VenueError(
                "LS",
                f"liquidity {liquidity} minus {-delta} underflows",
                liquidity=liquidity,
                delta=delta,
            )
    elif result > _MAX_UINT128:
        raise VenueError(
            "LA",
            f"liquidity {liquidity} plus {delta} overflows uint128",
            liquidity=liquidity,
            delta=delta,
        )
    return result
