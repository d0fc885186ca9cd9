"""Adapter for a concentrated-liquidity pool (``venues.clmm.ConcentratedLiquidityPool``).

Token0 is the base asset and token1 the quote asset, so the pool price (token1 per token0 in raw
units) is ``price * 10^(quote_decimals - base_decimals)``. A taker buy is ``zero_for_one=False``
(quote in, base out, price up); a taker sell is ``zero_for_one=True``. Quotes run the pool's own
read-only ``quote_swap`` (the same loop as ``swap``), so they are exact to the wei.

Also here: exact conversions from a human price (quote per base, whole units) to ``sqrt_price_x96``
and to ticks, used by the composition root to build pools from the config.
"""

from __future__ import annotations

from bisect import bisect_right
from decimal import Decimal
from fractions import Fraction
from math import isqrt

from adapters.amm import PIPS, PoolAdapter
from adapters.units import check_amount, check_decimals, check_side, from_units, invalid, to_float
from router.model.depth import DepthCurve, HyperbolicSegment
from router.model.errors import RouteError
from venues.clmm import ConcentratedLiquidityPool
from venues.clmm.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)
from venues.errors import VenueError

Q96 = 1 << 96
# Sorts after every (tick, liquidity_net) with the same tick: bisecting (tick, this) in the sorted
# tick list finds the first tick strictly above ``tick``, as bisecting the bare ticks did.
_AFTER_ANY_NET = float("inf")


def raw_price(price: Decimal, base_decimals: int, quote_decimals: int) -> Fraction:
    """Pool price in raw token units (token1 base units per token0 base unit), exact."""
    check_amount("price", price)
    check_decimals("base_decimals", base_decimals)
    check_decimals("quote_decimals", quote_decimals)
    return Fraction(price) * Fraction(10) ** (quote_decimals - base_decimals)


def sqrt_price_x96_from_price(price: Decimal, base_decimals: int, quote_decimals: int) -> int:
    """``isqrt(floor(raw_price * 2^192))``: the Q64.96 square root of a price, rounded down. Exact."""
    raw = raw_price(price, base_decimals, quote_decimals)
    return isqrt((raw.numerator << 192) // raw.denominator)


def price_from_sqrt_price_x96(
    sqrt_price_x96: int, base_decimals: int, quote_decimals: int
) -> Fraction:
    """Quote per base in whole units for a Q64.96 square-root price, exact."""
    return Fraction(sqrt_price_x96 * sqrt_price_x96, 1 << 192) * Fraction(10) ** (
        base_decimals - quote_decimals
    )


def tick_at_price(
    price: Decimal, base_decimals: int, quote_decimals: int, tick_spacing: int
) -> int:
    """The greatest tick on the ``tick_spacing`` grid whose sqrt ratio is <= the price's sqrt price.

    Raises :class:`venues.errors.InvalidArgument`-like RouteError when the price is outside the
    tick range [MIN_TICK, MAX_TICK] once rounded down to the grid. Exact (integer math).
    """
    if (
        isinstance(tick_spacing, bool)
        or not isinstance(tick_spacing, int)
        or not 1 <= tick_spacing <= 16383
    ):
        raise invalid("tick_spacing", tick_spacing, "an integer in [1, 16383]")
    sqrt_x96 = sqrt_price_x96_from_price(price, base_decimals, quote_decimals)
    if not MIN_SQRT_RATIO <= sqrt_x96 < MAX_SQRT_RATIO:
        raise invalid(
            "price", price, "a price whose sqrt price is in [MIN_SQRT_RATIO, MAX_SQRT_RATIO)"
        )
    tick = get_tick_at_sqrt_ratio(sqrt_x96)
    tick -= tick % tick_spacing  # Python's % floors, so negative ticks round down too
    if tick < MIN_TICK or tick > MAX_TICK:
        raise invalid(
            "price",
            price,
            f"a price whose tick rounded down to the spacing {tick_spacing}"
            f" is in [{MIN_TICK}, {MAX_TICK}]",
        )
    return tick


class ClmmAdapter(PoolAdapter):
    """Adapter over a Uniswap-v3 style :class:`ConcentratedLiquidityPool`.

    Depth: one hyperbolic segment per initialised-tick range from the current price in the trade
    direction, with virtual reserves x = L / sqrtP (base) and y = L * sqrtP (quote) at the start of
    the range. Complexity: O(initialised ticks) per curve, one pool quote per exact quote.
    """

    kind = "clmm"

    def __init__(
        self,
        name: str,
        symbol: str,
        pool: ConcentratedLiquidityPool,
        *,
        base_decimals: int,
        quote_decimals: int,
        fee_pips: int,
        leg_cost: Decimal = Decimal(0),
    ) -> None:
        super().__init__(
            name,
            symbol,
            base_decimals=base_decimals,
            quote_decimals=quote_decimals,
            fee_pips=fee_pips,
            leg_cost=leg_cost,
        )
        pool_fee = getattr(pool, "fee_pips", getattr(pool, "fee", fee_pips))
        if pool_fee != fee_pips:
            raise invalid("fee_pips", fee_pips, f"the pool's fee {pool_fee}", name)
        self.pool = pool

    def mid_price(self) -> Decimal:
        """Current pool price in quote per base (whole units), 28 significant digits."""
        price = price_from_sqrt_price_x96(
            self.pool.sqrt_price_x96, self.base_decimals, self.quote_decimals
        )
        return Decimal(price.numerator) / Decimal(price.denominator)

    def depth_curve(self, side: str) -> DepthCurve:
        """Hyperbolic segments per initialised-tick range, walking from the current price.

        Buy segments' qty is the base paid out across the range; sell segments' qty is the base
        taken in *including* the fee (the curve applies the fee to the input). Ranges without
        liquidity add no segment; the walk ends where the initialised ticks end.

        Cached per side, keyed by (sqrt_price_x96, tick, liquidity, leg_cost, every initialised
        tick with its liquidity_net): the whole input of the build. A swap moves the price (or
        changes nothing the curve reads: a swap that leaves price, tick and L alone leaves the
        curve alone); mint and burn change a tick's liquidity_net or the tick set. The pool has no
        mutation counter, so the key costs one ``initialized_ticks()`` (O(n log n), n ticks).
        A miss costs O(n) with plain int/float arithmetic.
        """
        check_side(side, self.name)
        pool = self.pool
        key = (
            pool.sqrt_price_x96,
            pool.tick,
            pool.liquidity,
            self.leg_cost,
            pool.initialized_ticks(),
        )
        return self._curves.get(side, key, self._build_curve)

    def _build_curve(self, side: str, key: tuple) -> DepthCurve:
        """The curve of a pool in state ``key`` (see :meth:`depth_curve`); reads nothing else.

        Floats: every segment field is one int / int true division of the exact integer
        numerator and denominator, which Python rounds correctly, so each float equals the
        correctly rounded exact value (what the former Fraction route produced, 5-10x faster):
        base across [lo, hi] = L * 2^96 * (hi - lo) / (hi * lo), virtual reserves x = L * 2^96 /
        sqrtP and y = L * sqrtP / 2^96, all raw, over 10^decimals. O(n) in initialised ticks.
        """
        sqrt_x96, current_tick, liquidity, leg_cost, ticks = key
        fee = self.fee_pips / PIPS
        base_scale = self._base_scale
        quote_den = Q96 * self._quote_scale
        # A sell segment's qty is the input before the fee: base / (1 - fee_pips / 1e6).
        qty_num_scale, qty_den_scale = (1, 1) if side == "buy" else (PIPS, PIPS - self.fee_pips)
        split = bisect_right(ticks, (current_tick, _AFTER_ANY_NET))
        path = (
            ticks[split:]
            if side == "buy"
            else [(tick, -net) for tick, net in reversed(ticks[:split])]
        )
        segments: list[HyperbolicSegment] = []
        for tick, liquidity_delta in path:
            boundary_x96 = get_sqrt_ratio_at_tick(tick)
            if liquidity > 0 and boundary_x96 != sqrt_x96:
                lo, hi = (
                    (sqrt_x96, boundary_x96)
                    if sqrt_x96 < boundary_x96
                    else (boundary_x96, sqrt_x96)
                )
                liquidity_q96 = liquidity * Q96
                segments.append(
                    HyperbolicSegment(
                        qty=(liquidity_q96 * (hi - lo) * qty_num_scale)
                        / (hi * lo * base_scale * qty_den_scale),
                        base_reserve=liquidity_q96 / (sqrt_x96 * base_scale),
                        quote_reserve=(liquidity * sqrt_x96) / quote_den,
                        fee=fee,
                    )
                )
            liquidity += liquidity_delta
            sqrt_x96 = boundary_x96
        unit = self._base_unit_float
        return DepthCurve(
            venue=self.name,
            side=side,
            segments=tuple(segments),
            fixed_cost=to_float(leg_cost),
            lot=unit,
            min_qty=unit,
        )

    # -- exact hooks through the pool's read-only quote --

    def _quote(self, zero_for_one: bool, amount_specified: int):  # -> pool quote result
        limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
        try:
            return self.pool.quote_swap(zero_for_one, amount_specified, limit)
        except VenueError as exc:
            raise RouteError(
                f"{self.name}: the pool refused the quote: {exc}", venue=self.name, code=exc.code
            ) from exc

    def _short(self, what: str, wanted: int, got: int, decimals: int) -> RouteError:
        return RouteError(
            f"{self.name}: cannot {what} {from_units(wanted, decimals)}: the pool's"
            f" liquidity ends at {from_units(got, decimals)}",
            venue=self.name,
        )

    def _quote_in_for_base_out(self, base_units: int) -> int:
        result = self._quote(False, -base_units)
        if -result.amount0 < base_units:
            raise self._short("buy", base_units, -result.amount0, self.base_decimals)
        return result.amount1

    def _quote_out_for_base_in(self, base_units: int) -> int:
        result = self._quote(True, base_units)
        if result.amount0 < base_units:
            raise self._short("sell", base_units, result.amount0, self.base_decimals)
        if -result.amount1 <= 0:
            raise RouteError(
                f"{self.name}: selling {from_units(base_units, self.base_decimals)}"
                " base yields no quote unit",
                venue=self.name,
            )
        return -result.amount1

    def _base_out_for_quote_in(self, quote_units: int) -> int:
        return -self._quote(False, quote_units).amount0

    def _base_in_for_quote_out(self, quote_units: int) -> int:
        result = self._quote(True, -quote_units)
        if -result.amount1 < quote_units:
            raise self._short("receive", quote_units, -result.amount1, self.quote_decimals)
        return result.amount0

    def _swap_buy(self, base_units: int, max_quote_in: int) -> int:
        amount0, amount1 = self.pool.swap(False, -base_units, MAX_SQRT_RATIO - 1)
        # quote_swap and swap are one code path in the pool, so this cannot differ from the quote
        assert -amount0 == base_units and amount1 <= max_quote_in, (amount0, amount1)
        return amount1

    def _swap_sell(self, base_units: int, min_quote_out: int) -> int:
        amount0, amount1 = self.pool.swap(True, base_units, MIN_SQRT_RATIO + 1)
        assert amount0 == base_units and -amount1 >= min_quote_out, (amount0, amount1)
        return -amount1
