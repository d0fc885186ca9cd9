"""Concentrated liquidity (Uniswap v3) as exact integer math, one small module per concern.

Leaf first: full_math -> tick_math -> liquidity_math -> sqrt_price_math -> swap_math ->
tick_bitmap -> pool. Only :class:`ConcentratedLiquidityPool` keeps state.
"""

from venues.clmm.pool import (
    ConcentratedLiquidityPool,
    PositionInfo,
    SwapQuote,
    TickInfo,
    tick_spacing_to_max_liquidity_per_tick,
)

__all__ = [
    "ConcentratedLiquidityPool",
    "PositionInfo",
    "SwapQuote",
    "TickInfo",
    "tick_spacing_to_max_liquidity_per_tick",
]
