"""SqrtPriceMath of Uniswap v3-core: token amounts between two sqrt prices and the next sqrt price.

Every function rounds in the pool's favour: what the pool receives rounds up, what it pays rounds
down, and the next price after an input moves *less* than the exact value would (so the trader
never gets a better price than the liquidity supports). The bounds Solidity reverts on (uint160
prices, uint256 products, outputs that would exhaust the virtual reserves) are checked explicitly.

Public functions validate their arguments; the ``_``-prefixed twins skip validation for the swap
loop, whose inputs are already known to be in range.
"""

from __future__ import annotations

from venues.clmm.full_math import (
    MAX_INT256,
    MAX_UINT128,
    MAX_UINT160,
    MAX_UINT256,
    Q96,
    div_rounding_up,
    mul_div,
    mul_div_rounding_up,
)
from venues.errors import InvalidArgument, VenueError, require_int


def _check_bool(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(field, value, "a bool")
    return value


def _next_sqrt_price_from_amount0_rounding_up(
    sqrt_p_x96: int, liquidity: int, amount: int, add: bool
) -> int:
    if amount == 0:
        return sqrt_p_x96
    numerator1 = liquidity << 96
    product = amount * sqrt_p_x96
    if add:
        # Exact formula when nothing overflows; otherwise the (also rounding-up) fallback form,
        # as upstream does, so very large inputs give the same price as on chain.
        if product <= MAX_UINT256 and numerator1 + product <= MAX_UINT256:
            # mulDivRoundingUp inlined: the quotient is at most sqrt_p_x96, no uint256 revert.
            return -(-(numerator1 * sqrt_p_x96) // (numerator1 + product))
        denominator = numerator1 // sqrt_p_x96 + amount
        if denominator > MAX_UINT256:
            raise VenueError(
                "OVF",
                "amount0 input overflows the price denominator",
                sqrt_price_x96=sqrt_p_x96,
                liquidity=liquidity,
                amount=amount,
            )
        return div_rounding_up(numerator1, denominator)
    if product > MAX_UINT256 or numerator1 <= product:
        raise VenueError(
            "RES",
            "amount0 output reaches the virtual reserves of token0",
            sqrt_price_x96=sqrt_p_x96,
            liquidity=liquidity,
            amount=amount,
        )
    result = mul_div_rounding_up(numerator1, sqrt_p_x96, numerator1 - product)
    if result > MAX_UINT160:
        raise VenueError(
            "OVF",
            "next sqrt price overflows uint160",
            sqrt_price_x96=sqrt_p_x96,
            liquidity=liquidity,
            amount=amount,
        )
    return result


def _next_sqrt_price_from_amount1_rounding_down(
    sqrt_p_x96: int, liquidity: int, amount: int, add: bool
) -> int:
    if add:
        quotient = (
            (amount << 96) // liquidity
            if amount <= MAX_UINT160
            else mul_div(amount, Q96, liquidity)
        )
        result = sqrt_p_x96 + quotient
        if result > MAX_UINT160:
            raise VenueError(
                "OVF",
                "amount1 input moves the sqrt price beyond uint160",
                sqrt_price_x96=sqrt_p_x96,
                liquidity=liquidity,
                amount=amount,
            )
        return result
    quotient = (
        -(-(amount << 96) // liquidity)
        if amount <= MAX_UINT160
        else mul_div_rounding_up(amount, Q96, liquidity)
    )
    if sqrt_p_x96 <= quotient:
        raise VenueError(
            "RES",
            "amount1 output reaches the virtual reserves of token1",
            sqrt_price_x96=sqrt_p_x96,
            liquidity=liquidity,
            amount=amount,
        )
    return sqrt_p_x96 - quotient


def _next_sqrt_price_from_input(
    sqrt_p_x96: int, liquidity: int, amount_in: int, zero_for_one: bool
) -> int:
    if sqrt_p_x96 == 0:
        raise InvalidArgument("sqrt_price_x96", sqrt_p_x96, "an integer in [1, 2**160-1]")
    if liquidity == 0:
        raise InvalidArgument("liquidity", liquidity, "an integer in [1, 2**128-1]")
    if zero_for_one:
        return _next_sqrt_price_from_amount0_rounding_up(sqrt_p_x96, liquidity, amount_in, True)
    return _next_sqrt_price_from_amount1_rounding_down(sqrt_p_x96, liquidity, amount_in, True)


def _next_sqrt_price_from_output(
    sqrt_p_x96: int, liquidity: int, amount_out: int, zero_for_one: bool
) -> int:
    if sqrt_p_x96 == 0:
        raise InvalidArgument("sqrt_price_x96", sqrt_p_x96, "an integer in [1, 2**160-1]")
    if liquidity == 0:
        raise InvalidArgument("liquidity", liquidity, "an integer in [1, 2**128-1]")
    if zero_for_one:
        return _next_sqrt_price_from_amount1_rounding_down(sqrt_p_x96, liquidity, amount_out, False)
    return _next_sqrt_price_from_amount0_rounding_up(sqrt_p_x96, liquidity, amount_out, False)


def _amount0_delta(sqrt_a_x96: int, sqrt_b_x96: int, liquidity: int, round_up: bool) -> int:
    if sqrt_a_x96 > sqrt_b_x96:
        sqrt_a_x96, sqrt_b_x96 = sqrt_b_x96, sqrt_a_x96
    if sqrt_a_x96 == 0:
        raise InvalidArgument("sqrt_ratio_a_x96", sqrt_a_x96, "an integer in [1, 2**160-1]")
    # mulDiv inlined: with L < 2**128 and prices < 2**160 the quotient is below 2**224, so the
    # uint256 revert of FullMath cannot trigger. Upstream divides by b, then by a, rounding each
    # time; ceil(ceil(x/b)/a) == ceil(x/(a*b)) (and likewise floor) for positive integers, and
    # one division by a*b is several times cheaper than two long divisions.
    product = (liquidity << 96) * (sqrt_b_x96 - sqrt_a_x96)
    if round_up:
        return -(-product // (sqrt_a_x96 * sqrt_b_x96))
    return product // (sqrt_a_x96 * sqrt_b_x96)


def _amount1_delta(sqrt_a_x96: int, sqrt_b_x96: int, liquidity: int, round_up: bool) -> int:
    # L * |b - a| / 2**96 is below 2**192: no uint256 revert. A shift floors like // (also for
    # negatives), so -((-x) >> 96) is the ceiling.
    if sqrt_a_x96 > sqrt_b_x96:
        product = liquidity * (sqrt_a_x96 - sqrt_b_x96)
    else:
        product = liquidity * (sqrt_b_x96 - sqrt_a_x96)
    if round_up:
        return -(-product >> 96)
    return product >> 96


def _to_int256(value: int) -> int:
    if value > MAX_INT256:
        raise VenueError("OVF", f"amount {value} does not fit in int256", amount=value)
    return value


def _amount0_delta_signed(sqrt_a_x96: int, sqrt_b_x96: int, liquidity_delta: int) -> int:
    """Signed token0 owed to (>0) or by (<0) the pool when adding liquidity_delta; rounds for the pool."""
    if liquidity_delta < 0:
        return -_to_int256(_amount0_delta(sqrt_a_x96, sqrt_b_x96, -liquidity_delta, False))
    return _to_int256(_amount0_delta(sqrt_a_x96, sqrt_b_x96, liquidity_delta, True))


def _amount1_delta_signed(sqrt_a_x96: int, sqrt_b_x96: int, liquidity_delta: int) -> int:
    """Signed token1 owed to (>0) or by (<0) the pool when adding liquidity_delta; rounds for the pool."""
    if liquidity_delta < 0:
        return -_to_int256(_amount1_delta(sqrt_a_x96, sqrt_b_x96, -liquidity_delta, False))
    return _to_int256(_amount1_delta(sqrt_a_x96, sqrt_b_x96, liquidity_delta, True))


def get_next_sqrt_price_from_input(
    sqrt_p_x96: int, liquidity: int, amount_in: int, zero_for_one: bool
) -> int:
    """Sqrt price after adding amount_in of token0 (zero_for_one) or token1 at liquidity L.

    Units: Q64.96 price, raw L (uint128), token base units (uint256). Rounding: the price moves
    the minimum, i.e. token0 in rounds the price up, token1 in rounds it down. Complexity: O(1).
    Raises InvalidArgument for a zero price or liquidity, VenueError "OVF" past uint160.
    """
    require_int("sqrt_price_x96", sqrt_p_x96, minimum=0, maximum=MAX_UINT160)
    require_int("liquidity", liquidity, minimum=0, maximum=MAX_UINT128)
    require_int("amount_in", amount_in, minimum=0, maximum=MAX_UINT256)
    _check_bool("zero_for_one", zero_for_one)
    return _next_sqrt_price_from_input(sqrt_p_x96, liquidity, amount_in, zero_for_one)


def get_next_sqrt_price_from_output(
    sqrt_p_x96: int, liquidity: int, amount_out: int, zero_for_one: bool
) -> int:
    """Sqrt price after removing amount_out of token1 (zero_for_one) or token0 at liquidity L.

    Units as :func:`get_next_sqrt_price_from_input`. Rounding: the price moves the maximum.
    Raises VenueError "RES" when the output would reach the virtual reserves. Complexity: O(1).
    """
    require_int("sqrt_price_x96", sqrt_p_x96, minimum=0, maximum=MAX_UINT160)
    require_int("liquidity", liquidity, minimum=0, maximum=MAX_UINT128)
    require_int("amount_out", amount_out, minimum=0, maximum=MAX_UINT256)
    _check_bool("zero_for_one", zero_for_one)
    return _next_sqrt_price_from_output(sqrt_p_x96, liquidity, amount_out, zero_for_one)


def get_amount0_delta(
    sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int, round_up: bool
) -> int:
    """Token0 between two sqrt prices at liquidity L: L*2^96*(b-a)/(a*b), prices in either order.

    Units: token0 base units. Rounding: up if round_up (two ceil steps), else down. Complexity: O(1).
    """
    require_int("sqrt_ratio_a_x96", sqrt_ratio_a_x96, minimum=0, maximum=MAX_UINT160)
    require_int("sqrt_ratio_b_x96", sqrt_ratio_b_x96, minimum=0, maximum=MAX_UINT160)
    require_int("liquidity", liquidity, minimum=0, maximum=MAX_UINT128)
    _check_bool("round_up", round_up)
    return _amount0_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, liquidity, round_up)


def get_amount1_delta(
    sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int, round_up: bool
) -> int:
    """Token1 between two sqrt prices at liquidity L: L*(b-a)/2^96, prices in either order.

    Units: token1 base units. Rounding: up if round_up, else down. Complexity: O(1).
    """
    require_int("sqrt_ratio_a_x96", sqrt_ratio_a_x96, minimum=0, maximum=MAX_UINT160)
    require_int("sqrt_ratio_b_x96", sqrt_ratio_b_x96, minimum=0, maximum=MAX_UINT160)
    require_int("liquidity", liquidity, minimum=0, maximum=MAX_UINT128)
    _check_bool("round_up", round_up)
    return _amount1_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, liquidity, round_up)
