"""SwapMath of Uniswap v3-core: one step of a swap within a single liquidity range."""

from __future__ import annotations

from typing import NamedTuple

from venues.clmm.full_math import MAX_UINT128, MAX_UINT160
from venues.clmm.sqrt_price_math import _next_sqrt_price_from_input, _next_sqrt_price_from_output
from venues.errors import InvalidArgument, require_int

_PIPS = 1_000_000
_MIN_INT256 = -(1 << 255)
_MAX_INT256 = (1 << 255) - 1


class SwapStep(NamedTuple):
    """Result of :func:`compute_swap_step`: price reached and the amounts of that step."""

    sqrt_ratio_next_x96: int
    amount_in: int
    amount_out: int
    fee_amount: int


def _compute_swap_step(
    sqrt_current_x96: int,
    sqrt_target_x96: int,
    liquidity: int,
    amount_remaining: int,
    fee_pips: int,
) -> tuple[int, int, int, int]:
    """Unvalidated core of :func:`compute_swap_step` for the swap loop; a plain 4-tuple.

    SqrtPriceMath's amount deltas and FullMath are inlined because this runs once per swap step.
    For prices ordered lo <= hi:
      token0 = L*2**96*(hi - lo) // (hi*lo)  (rounded up: the ceiling; getAmount0Delta's two
                                              successive ceilings, by hi then by lo, equal one
                                              ceiling by hi*lo, and likewise for floors),
      token1 = L*(hi - lo) >> 96             (rounded up: ceiling of the shift).
    Every product is far below 2**256 for in-range arguments (L < 2**128, prices < 2**160, fee
    factor < 2**20), so mulDiv's uint256 revert cannot occur. The next price is always between
    the current and the target price, which fixes lo and hi by direction.
    """
    try:
        if sqrt_current_x96 >= sqrt_target_x96:  # zero_for_one: the price moves down
            if amount_remaining >= 0:
                # Exact input. The fee is taken off the input first, rounding the usable part down.
                less_fee = amount_remaining * (_PIPS - fee_pips) // _PIPS
                amount_in = -(
                    -(liquidity << 96)
                    * (sqrt_current_x96 - sqrt_target_x96)
                    // (sqrt_current_x96 * sqrt_target_x96)
                )
                if less_fee >= amount_in:
                    # Reached the target: amount_in stands, the output rounds down.
                    return (
                        sqrt_target_x96,
                        amount_in,
                        liquidity * (sqrt_current_x96 - sqrt_target_x96) >> 96,
                        -(-amount_in * fee_pips // (_PIPS - fee_pips)),
                    )
                sqrt_next_x96 = _next_sqrt_price_from_input(
                    sqrt_current_x96, liquidity, less_fee, True
                )
            else:
                amount_wanted = -amount_remaining
                amount_out = liquidity * (sqrt_current_x96 - sqrt_target_x96) >> 96
                if amount_wanted >= amount_out:
                    # Reached the target: amount_out stands, the input rounds up.
                    amount_in = -(
                        -(liquidity << 96)
                        * (sqrt_current_x96 - sqrt_target_x96)
                        // (sqrt_current_x96 * sqrt_target_x96)
                    )
                    return (
                        sqrt_target_x96,
                        amount_in,
                        amount_out,
                        -(-amount_in * fee_pips // (_PIPS - fee_pips)),
                    )
                sqrt_next_x96 = _next_sqrt_price_from_output(
                    sqrt_current_x96, liquidity, amount_wanted, True
                )
            # Input rounds up and output rounds down: the pool never loses to rounding.
            amount_in = -(
                -(liquidity << 96)
                * (sqrt_current_x96 - sqrt_next_x96)
                // (sqrt_current_x96 * sqrt_next_x96)
            )
            amount_out = liquidity * (sqrt_current_x96 - sqrt_next_x96) >> 96
        else:  # one_for_zero: the price moves up
            if amount_remaining >= 0:
                less_fee = amount_remaining * (_PIPS - fee_pips) // _PIPS
                amount_in = -(-liquidity * (sqrt_target_x96 - sqrt_current_x96) >> 96)
                if less_fee >= amount_in:
                    return (
                        sqrt_target_x96,
                        amount_in,
                        (liquidity << 96)
                        * (sqrt_target_x96 - sqrt_current_x96)
                        // (sqrt_target_x96 * sqrt_current_x96),
                        -(-amount_in * fee_pips // (_PIPS - fee_pips)),
                    )
                sqrt_next_x96 = _next_sqrt_price_from_input(
                    sqrt_current_x96, liquidity, less_fee, False
                )
            else:
                amount_wanted = -amount_remaining
                amount_out = (
                    (liquidity << 96)
                    * (sqrt_target_x96 - sqrt_current_x96)
                    // (sqrt_target_x96 * sqrt_current_x96)
                )
                if amount_wanted >= amount_out:
                    amount_in = -(-liquidity * (sqrt_target_x96 - sqrt_current_x96) >> 96)
                    return (
                        sqrt_target_x96,
                        amount_in,
                        amount_out,
                        -(-amount_in * fee_pips // (_PIPS - fee_pips)),
                    )
                sqrt_next_x96 = _next_sqrt_price_from_output(
                    sqrt_current_x96, liquidity, amount_wanted, False
                )
            amount_in = -(-liquidity * (sqrt_next_x96 - sqrt_current_x96) >> 96)
            amount_out = (
                (liquidity << 96)
                * (sqrt_next_x96 - sqrt_current_x96)
                // (sqrt_next_x96 * sqrt_current_x96)
            )
    except ZeroDivisionError:
        # Only a zero price divides by zero here; getAmount0Delta names it the same way.
        raise InvalidArgument("sqrt_ratio_a_x96", 0, "an integer in [1, 2**160-1]") from None
    if amount_remaining >= 0:
        if sqrt_next_x96 != sqrt_target_x96:
            # The step ends inside the range, so the swap ends here: whatever input was not
            # needed to move the price is kept as fee rather than left dangling below one wei.
            return sqrt_next_x96, amount_in, amount_out, amount_remaining - amount_in
    elif amount_out > -amount_remaining:
        # The output never exceeds what was asked (the price step rounds in the pool's favour).
        amount_out = -amount_remaining
    return sqrt_next_x96, amount_in, amount_out, -(-amount_in * fee_pips // (_PIPS - fee_pips))


def compute_swap_step(
    sqrt_ratio_current_x96: int,
    sqrt_ratio_target_x96: int,
    liquidity: int,
    amount_remaining: int,
    fee_pips: int,
) -> SwapStep:
    """Swap from the current toward the target sqrt price, stopping early if the amount runs out.

    Direction: zero_for_one iff current >= target. amount_remaining > 0 is exact input (fee
    included), < 0 exact output. Units: Q64.96 prices, raw L, token base units, fee in pips
    (1e-6). Rounding: amount_in and fee up, amount_out down (pool's favour). Complexity: O(1).
    """
    require_int("sqrt_ratio_current_x96", sqrt_ratio_current_x96, minimum=0, maximum=MAX_UINT160)
    require_int("sqrt_ratio_target_x96", sqrt_ratio_target_x96, minimum=0, maximum=MAX_UINT160)
    require_int("liquidity", liquidity, minimum=0, maximum=MAX_UINT128)
    require_int("amount_remaining", amount_remaining, minimum=_MIN_INT256, maximum=_MAX_INT256)
    require_int("fee_pips", fee_pips, minimum=0, maximum=_PIPS - 1)
    return SwapStep(
        *_compute_swap_step(
            sqrt_ratio_current_x96, sqrt_ratio_target_x96, liquidity, amount_remaining, fee_pips
        )
    )
