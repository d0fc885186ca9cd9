"""Shared runner for upstream's UniswapV3Pool.swaps.spec.ts vectors (any golden file of that shape).

Builds each fixture pool once and deep-copies it per case (upstream's fixture revert), then checks
every integer field of the snapshot entry and, re-formatted the way the spec formats them, the
three printed fields (poolPriceBefore/After, executionPrice). Fields under ``derived`` (exact
post-swap price, liquidity, step count from a verified port) are checked when a file has them.
"""

from __future__ import annotations

import copy
import json
from decimal import ROUND_HALF_UP, Context, Decimal
from pathlib import Path

import pytest

from venues.clmm import ConcentratedLiquidityPool
from venues.errors import VenueError

GOLDEN = Path(__file__).resolve().parents[3] / "golden"

# decimal.js defaults used by the spec: 20 significant digits, ROUND_HALF_UP, per operation.
_DECIMAL_JS = Context(prec=20, rounding=ROUND_HALF_UP)
_FIVE_DIGITS = Context(prec=5, rounding=ROUND_HALF_UP)
_Q96_DECIMAL_JS = _DECIMAL_JS.power(
    Decimal(2), 96
)  # Decimal(2).pow(96) is rounded to 20 digits too


def load(name: str) -> dict:
    """The parsed golden file ``tests/golden/<name>``."""
    return json.loads((GOLDEN / name).read_text())


def to_precision5(value: Decimal) -> str:
    """decimal.js ``toPrecision(5)`` with toExpNeg=-500: exponent form only from 1e5 upward."""
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "-Infinity" if value < 0 else "Infinity"
    if value.is_zero():
        return "0.0000"  # decimal.js never prints the sign of zero
    rounded = _FIVE_DIGITS.plus(value)
    digits = "".join(map(str, rounded.as_tuple().digits)).ljust(5, "0")
    sign = "-" if rounded < 0 else ""
    exponent = rounded.adjusted()
    if exponent >= 5:
        return f"{sign}{digits[0]}.{digits[1:]}e+{exponent}"
    if exponent >= 0:
        whole, frac = digits[: exponent + 1], digits[exponent + 1 :]
        return sign + whole + ("." + frac if frac else "")
    return f"{sign}0.{'0' * (-exponent - 1)}{digits}"


def format_price(sqrt_price_x96: int) -> str:
    """The spec's ``formatPrice``: (sqrtPriceX96 / 2^96)^2 in decimal.js, 5 significant digits."""
    ratio = _DECIMAL_JS.divide(Decimal(sqrt_price_x96), _Q96_DECIMAL_JS)
    return to_precision5(_DECIMAL_JS.power(ratio, 2))


def format_execution_price(amount0: int, amount1: int) -> str:
    """The spec's executionPrice: ``Decimal(amount1).div(amount0).mul(-1).toPrecision(5)``."""
    if amount0 == 0:
        if amount1 == 0:
            return "NaN"
        return "-Infinity" if amount1 > 0 else "Infinity"
    return to_precision5(-_DECIMAL_JS.divide(Decimal(amount1), Decimal(amount0)))


class FixturePools:
    """The pools of one golden file, built once by its recipe and handed out as fresh copies."""

    def __init__(self, spec: dict) -> None:
        self.specs = {p["pool_id"]: p for p in spec["pools"]}
        self._built: dict[int, ConcentratedLiquidityPool] = {}

    def fresh(self, pool_id: int) -> ConcentratedLiquidityPool:
        """A deep copy of the built fixture pool ``pool_id`` (upstream's fixture revert)."""
        if pool_id not in self._built:
            self._built[pool_id] = self._build(self.specs[pool_id])
        return copy.deepcopy(self._built[pool_id])

    @staticmethod
    def _build(spec: dict) -> ConcentratedLiquidityPool:
        pool = ConcentratedLiquidityPool(
            spec["feeAmount"], spec["tickSpacing"], int(spec["startingSqrtPriceX96"])
        )
        assert pool.tick == spec["initialTick"]
        for position in spec["positions"]:
            paid = pool.mint(
                "wallet", position["tickLower"], position["tickUpper"], int(position["liquidity"])
            )
            if "derived_mintAmount0" in position:
                assert paid == (
                    int(position["derived_mintAmount0"]),
                    int(position["derived_mintAmount1"]),
                )
        assert (pool.balance0, pool.balance1) == (
            int(spec["poolBalance0"]),
            int(spec["poolBalance1"]),
        )
        if "derived_activeLiquidity" in spec:
            assert pool.liquidity == int(spec["derived_activeLiquidity"])
        pool._check()
        return pool


def swap_args(case: dict) -> tuple[bool, int, int]:
    """(zero_for_one, amount_specified, sqrt_price_limit_x96) of a case."""
    swap = case["swap"]
    return swap["zeroForOne"], int(swap["amountSpecified"]), int(swap["sqrtPriceLimitX96"])


def run_case(pools: FixturePools, case: dict) -> None:
    """Replay one snapshot case on a fresh fixture pool and assert every field of the entry."""
    pool = pools.fresh(case["pool_id"])
    expected = case["expected"]
    assert format_price(pool.sqrt_price_x96) == expected["poolPriceBefore"]
    assert pool.tick == expected["tickBefore"]
    if "swapError" in expected:
        assert expected["swapError"].endswith("revert SPL")
        assert (pool.balance0, pool.balance1) == (
            int(expected["poolBalance0"]),
            int(expected["poolBalance1"]),
        )
        before = copy.deepcopy(pool.__dict__)
        with pytest.raises(VenueError) as raised:
            pool.swap(*swap_args(case))
        assert raised.value.code == "SPL"
        assert pool.__dict__ == before
        return
    balance0, balance1 = int(expected["amount0Before"]), int(expected["amount1Before"])
    assert (pool.balance0, pool.balance1) == (balance0, balance1)
    quote = pool.quote_swap(*swap_args(case))
    amount0, amount1 = pool.swap(*swap_args(case))
    assert (amount0, amount1) == (int(expected["amount0Delta"]), int(expected["amount1Delta"]))
    assert (quote.amount0, quote.amount1) == (amount0, amount1)
    assert pool.fee_growth_global0_x128 == int(expected["feeGrowthGlobal0X128Delta"])
    assert pool.fee_growth_global1_x128 == int(expected["feeGrowthGlobal1X128Delta"])
    assert pool.tick == expected["tickAfter"] == quote.tick_after
    assert pool.sqrt_price_x96 == quote.sqrt_price_x96_after
    assert pool.liquidity == quote.liquidity_after
    assert format_price(pool.sqrt_price_x96) == expected["poolPriceAfter"]
    assert format_execution_price(amount0, amount1) == expected["executionPrice"]
    if derived := case.get("derived"):
        assert pool.sqrt_price_x96 == int(derived["sqrtPriceX96After"])
        assert pool.liquidity == int(derived["liquidityAfter"])
        assert quote.steps == derived["numSteps"]
    assert (pool.balance0, pool.balance1) == (balance0 + amount0, balance1 + amount1)
    pool._check()
