"""SwapMath of Uniswap v3-core: one step of a swap within a single liquidity range."""

from __future__ import annotations

from typing import NamedTuple

from venues.clmm.full_math import MAX_UINT128, MAX_UINT160, mul_div, mul_div_rounding_up
from venues.clmm.sqrt_price_math import (_amount0_delta, _amount1_delta,
                                         _next_sqrt_price_from_input, _next_sqrt_price_from_output)
from venues.errors import require_int

_PIPS = 1_000_000
_MIN_INT256 = -(1 << 255)
_MAX_INT256 = (1 << 255) - 1


class SwapStep(NamedTuple):
    """Result of :func:`compute_swap_step`: price reached and the amounts of that step."""

    sqrt_ratio_next_x96: int
    amount_in: int
    amount_out: int
    fee_amount: int


def _compute_swap_step(sqrt_current_x96: int, sqrt_target_x96: int, liquidity: int,
                       amount_remaining: int, fee_pips: int) -> SwapStep:
    zero_for_one = sqrt_current_x96 >= sqrt_target_x96
    exact_in = amount_remaining >= 0
    amount_in = amount_out = 0
    if exact_in:
        # The fee is taken off the input first, rounding the usable part down.
        amount_remaining_less_fee = mul_div(amount_remaining, _PIPS - fee_pips, _PIPS)
        amount_in = (_amount0_delta(sqrt_target_x96, sqrt_current_x96, liquidity, True) if zero_for_one
                     else _amount1_delta(sqrt_current_x96, sqrt_target_x96, liquidity, True))
        if amount_remaining_less_fee >= amount_in:
            sqrt_next_x96 = sqrt_target_x96
        else:
            sqrt_next_x96 = _next_sqrt_price_from_input(sqrt_current_x96, liquidity,
                                                        amount_remaining_less_fee, zero_for_one)
    else:
        amount_out = (_amount1_delta(sqrt_target_x96, sqrt_current_x96, liquidity, False) if zero_for_one
                      else _amount0_delta(sqrt_current_x96, sqrt_target_x96, liquidity, False))
        if -amount_remaining >= amount_out:
            sqrt_next_x96 = sqrt_target_x96
        else:
            sqrt_next_x96 = _next_sqrt_price_from_output(sqrt_current_x96, liquidity,
                                                         -amount_remaining, zero_for_one)
    reached_target = sqrt_target_x96 == sqrt_next_x96
    # Input rounds up and output rounds down: the pool never loses to rounding.
    if zero_for_one:
        if not (reached_target and exact_in):
            amount_in = _amount0_delta(sqrt_next_x96, sqrt_current_x96, liquidity, True)
        if not (reached_target and not exact_in):
            amount_out = _amount1_delta(sqrt_next_x96, sqrt_current_x96, liquidity, False)
    else:
        if not (reached_target and exact_in):
            amount_in = _amount1_delta(sqrt_current_x96, sqrt_next_x96, liquidity, True)
        if not (reached_target and not exact_in):
            amount_out = _amount0_delta(sqrt_current_x96, sqrt_next_x96, liquidity, False)
    if not exact_in and amount_out > -amount_remaining:
        amount_out = -amount_remaining
    if exact_in and sqrt_next_x96 != sqrt_target_x96:
        # The step ends inside the range, so the swap ends here: whatever input was not needed
        # to move the price is kept as fee rather than left dangling below one wei of price.
        fee_amount = amount_remaining - amount_in
    else:
        fee_amount = mul_div_rounding_up(amount_in, fee_pips, _PIPS - fee_pips)
    return SwapStep(sqrt_next_x96, amount_in, amount_out, fee_amount)


def compute_swap_step(sqrt_ratio_current_x96: int, sqrt_ratio_target_x96: int, liquidity: int,
                      amount_remaining: int, fee_pips: int) -> SwapStep:
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
    return _compute_swap_step(sqrt_ratio_current_x96, sqrt_ratio_target_x96, liquidity,
                              amount_remaining, fee_pips)
