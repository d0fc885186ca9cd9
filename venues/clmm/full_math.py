"""FullMath and UnsafeMath of Uniswap v3-core: 512-bit multiply-divide with explicit uint256 bounds.

Python ints never overflow, so the only work left is to reproduce the *reverts*: Solidity's
``mulDiv`` reverts when the denominator is zero or the result does not fit in 256 bits, and the
``RoundingUp`` variant also reverts when rounding up would overflow. Callers rely on those reverts
(e.g. SqrtPriceMath rejects prices that would leave uint160), so they are kept bit for bit.
"""

from __future__ import annotations

from venues.errors import VenueError

Q96 = 1 << 96
Q128 = 1 << 128
MAX_UINT128 = (1 << 128) - 1
MAX_UINT160 = (1 << 160) - 1
MAX_UINT256 = (1 << 256) - 1
MAX_INT256 = (1 << 255) - 1


def mul_div(a: int, b: int, denominator: int) -> int:
    """floor(a*b/denominator) for uint256 inputs; reverts "MD" if denominator is 0 or the result >= 2^256.

    Units: whatever the caller's fixed-point scales are. Rounding: down. Complexity: O(1) bigint ops.
    """
    if denominator == 0:
        raise VenueError("MD", "mulDiv denominator is zero", a=a, b=b, denominator=denominator)
    result = a * b // denominator
    if result > MAX_UINT256:
        raise VenueError("MD", "mulDiv result overflows uint256", a=a, b=b, denominator=denominator)
    return result


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    """ceil(a*b/denominator) for uint256 inputs; reverts "MD" like :func:`mul_div` or if the +1 overflows.

    Units: caller's fixed-point scales. Rounding: up. Complexity: O(1) bigint ops.
    """
    if denominator == 0:
        raise VenueError("MD", "mulDiv denominator is zero", a=a, b=b, denominator=denominator)
    quotient, remainder = divmod(a * b, denominator)
    if remainder:
        quotient += 1
    if quotient > MAX_UINT256:
        raise VenueError(
            "MD", "mulDivRoundingUp result overflows uint256", a=a, b=b, denominator=denominator
        )
    return quotient


def div_rounding_up(x: int, y: int) -> int:
    """UnsafeMath.divRoundingUp: ceil(x/y), and 0 when y == 0 (the EVM's div/mod by zero yield 0).

    Rounding: up. Complexity: O(1).
    """
    if y == 0:
        return 0
    return -(-x // y)
