"""TickMath of Uniswap v3-core: tick <-> sqrt price (Q64.96), bit-exact with the Solidity library.

A tick t stands for the price 1.0001**t (token1 per token0); the pool stores sqrt(price) * 2**96.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache
from math import isqrt

from venues.errors import InvalidArgument, VenueError

MIN_TICK = -887272
MAX_TICK = 887272
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342

_MAX_UINT256 = (1 << 256) - 1
# 1/sqrt(1.0001)**(2**i) in Q128.128 for bit i of |tick| (bit 0 is the initial value below).
_FACTORS = (
    (0x2, 0xFFF97272373D413259A46990580E213A),
    (0x4, 0xFFF2E50F5F656932EF12357CF3C7FDCC),
    (0x8, 0xFFE5CACA7E10E4E61C3624EAA0941CD0),
    (0x10, 0xFFCB9843D60F6159C9DB58835C926644),
    (0x20, 0xFF973B41FA98C081472E6896DFB254C0),
    (0x40, 0xFF2EA16466C96A3843EC78B326B52861),
    (0x80, 0xFE5DEE046A99A2A811C461F1969C3053),
    (0x100, 0xFCBE86C7900A88AEDCFFC83B479AA3A4),
    (0x200, 0xF987A7253AC413176F2B074CF7815E54),
    (0x400, 0xF3392B0822B70005940C7A398E4B70F3),
    (0x800, 0xE7159475A2C29B7443B29C7FA6E889D9),
    (0x1000, 0xD097F3BDFD2022B8845AD8F792AA5825),
    (0x2000, 0xA9F746462D870FDF8A65DC1F90E061E5),
    (0x4000, 0x70D869A156D2A1B890BB3DF62BAF32F7),
    (0x8000, 0x31BE135F97D08FD981231505542FCFA6),
    (0x10000, 0x9AA508B5B7A84E1C677DE54F3E99BC9),
    (0x20000, 0x5D6AF8DEDB81196699C329225EE604),
    (0x40000, 0x2216E584F5FA1EA926041BEDFE98),
    (0x80000, 0x48A170391F7DC42444E8FA2),
)


def _require_plain_int(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(field, value, "an integer")
    return value


def get_sqrt_ratio_at_tick(tick: int) -> int:
    """sqrt(1.0001**tick) * 2**96 as uint160; raises VenueError "T" if |tick| > MAX_TICK.

    Units: tick (int24) -> sqrt_price_x96 (Q64.96). Rounding: the Q128.128 ratio is rounded UP
    to Q64.96, so the result is never below the true value's floor. Complexity: O(20) multiplies.
    """
    _require_plain_int("tick", tick)
    return _sqrt_ratio_at_tick(tick)


@lru_cache(maxsize=1 << 16)
def _sqrt_ratio_at_tick(tick: int) -> int:
    """Unvalidated, memoised core of get_sqrt_ratio_at_tick (a pure function of an int24).

    Swaps evaluate the same tick prices again and again (word edges, initialised ticks), so a
    bounded cache removes a quarter of the swap loop's cost.
    """
    abs_tick = -tick if tick < 0 else tick
    if abs_tick > MAX_TICK:
        raise VenueError("T", f"tick={tick} is outside [{MIN_TICK}, {MAX_TICK}]", tick=tick)
    ratio = (
        0xFFFCB933BD6FAD37AA2D162D1A594001
        if abs_tick & 0x1
        else 0x100000000000000000000000000000000
    )
    for bit, factor in _FACTORS:
        if abs_tick & bit:
            ratio = (ratio * factor) >> 128
    if tick > 0:
        ratio = _MAX_UINT256 // ratio
    # Round up so that get_tick_at_sqrt_ratio(get_sqrt_ratio_at_tick(t)) == t.
    return (ratio >> 32) + (1 if ratio & 0xFFFFFFFF else 0)


def get_tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """The greatest tick t with get_sqrt_ratio_at_tick(t) <= sqrt_price_x96; raises "R" out of range.

    Units: Q64.96 -> tick. Valid input: MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO.
    Rounding: down (floor of log_sqrt(1.0001)). Complexity: O(log ticks) in two table bisections,
    plus at most a few get_sqrt_ratio_at_tick calls in the rare near-boundary case.
    """
    if type(sqrt_price_x96) is not int:
        _require_plain_int("sqrt_price_x96", sqrt_price_x96)
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise VenueError(
            "R",
            f"sqrt_price_x96={sqrt_price_x96} is outside [{MIN_SQRT_RATIO}, {MAX_SQRT_RATIO})",
            sqrt_price_x96=sqrt_price_x96,
        )
    return _tick_at_sqrt_ratio(sqrt_price_x96)


# get_tick_at_sqrt_ratio by table lookup instead of upstream's 14-squaring log2 loop (7x faster).
# The definition it must meet is exact: the greatest t with _sqrt_ratio_at_tick(t) <= price, which
# is what upstream's loop is proven to return. A coarse table holds the exact ratio of every
# _STRIDE-th tick; bisecting it gives t0 with R(t0) <= price < R(t0 + _STRIDE). Within that
# stride, q = price / R(t0) in Q128.128 is bisected in _FINE[d] = floor(sqrt(1.0001)**d * 2**128)
# (exact integer square roots). R(t) differs from sqrt(1.0001)**t * 2**96 by a relative error
# below 2**-31 (it is rounded to an integer >= 2**32 and carries ~20 truncations of Q128.128
# products), so when q lies more than 2**-_GUARD_BITS (relative) inside [_FINE[d], _FINE[d+1])
# the answer is t0 + d for certain; otherwise (about 0.2 % of prices, e.g. a price exactly on a
# tick) the candidate is settled by comparing with the exact ratios.
_STRIDE = 256
_GUARD_BITS = 24
_FINE = tuple(isqrt(10001**d * (1 << 256) // 10000**d) for d in range(_STRIDE + 1))
_coarse: list[int] = []


def _build_coarse() -> list[int]:
    """Exact ratios of ticks MIN_TICK, MIN_TICK + _STRIDE, ... (about 7,000; built on first use)."""
    if not _coarse:
        _coarse.extend(
            _sqrt_ratio_at_tick.__wrapped__(t) for t in range(MIN_TICK, MAX_TICK + 1, _STRIDE)
        )
    return _coarse


def _tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """Unvalidated core of get_tick_at_sqrt_ratio, for a price already known to be in range."""
    coarse = _coarse or _build_coarse()
    i = bisect_right(coarse, sqrt_price_x96) - 1
    q = (sqrt_price_x96 << 128) // coarse[i]
    d = bisect_right(_FINE, q) - 1
    tick = MIN_TICK + i * _STRIDE + d
    if d < _STRIDE:
        low, high = _FINE[d], _FINE[d + 1]
        if q - low > low >> _GUARD_BITS and high - q > high >> _GUARD_BITS and tick < MAX_TICK:
            return tick
    # Near a tick boundary: decide with the exact ratios (monotone in t, so this terminates).
    tick = min(tick, MAX_TICK - 1)
    while _sqrt_ratio_at_tick(tick) > sqrt_price_x96:
        tick -= 1
    while _sqrt_ratio_at_tick(tick + 1) <= sqrt_price_x96:
        tick += 1
    return tick


def _tick_at_sqrt_ratio_log2(sqrt_price_x96: int) -> int:
    """Upstream's log2 algorithm, bit for bit: the reference the table lookup is tested against."""
    ratio = sqrt_price_x96 << 32
    msb = ratio.bit_length() - 1
    r = ratio >> (msb - 127) if msb >= 128 else ratio << (127 - msb)
    log_2 = (msb - 128) << 64
    for shift in range(63, 49, -1):
        r = (r * r) >> 127
        f = r >> 128
        log_2 |= f << shift
        r >>= f
    log_sqrt10001 = log_2 * 255738958999603826347141  # Q128.128
    tick_low = (log_sqrt10001 - 3402992956809132418596140100660247210) >> 128
    tick_high = (log_sqrt10001 + 291339464771989622907027621153398088495) >> 128
    if tick_low == tick_high:
        return tick_low
    return tick_high if _sqrt_ratio_at_tick(tick_high) <= sqrt_price_x96 else tick_low
