"""AmmAdapter: exact v2 quotes in whole units, the one-segment curve, leg cost handling."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.amm import AmmAdapter
from router.model.errors import RouteError
from venues.amm import ConstantProductPool

from .conftest import ETH, USDC, make_amm


def test_quote_is_the_pool_formula_plus_leg_cost() -> None:
    adapter = make_amm(leg_cost="4")
    qty = Decimal("1.5")
    wei = 15 * 10**17
    r0, r1 = 100 * 10**ETH, 300_000 * 10**USDC
    pay = r0 and (r1 * wei * 1000 // ((r0 - wei) * 997) + 1)
    assert adapter.quote("buy", qty).quote_amount == Decimal(pay + 4 * 10**USDC).scaleb(-USDC)
    receive = wei * 997 * r1 // (r0 * 1000 + wei * 997)
    assert adapter.quote("sell", qty).quote_amount == Decimal(receive - 4 * 10**USDC).scaleb(-USDC)


def test_curve_is_one_segment_with_the_reserves() -> None:
    curve = make_amm().depth_curve("buy")
    (segment,) = curve.segments
    assert (segment.base_reserve, segment.quote_reserve, segment.fee) == (100.0, 300_000.0, 0.003)
    assert 99.99 < segment.qty < 100.0
    assert curve.marginal_price(0) == pytest.approx(3000 / 0.997)
    assert make_amm().depth_curve("sell").total_qty > 1e6


def test_buying_the_whole_reserve_is_refused() -> None:
    with pytest.raises(RouteError, match="holds"):
        make_amm().quote("buy", Decimal(100))


def test_quote_for_quote_below_leg_cost_is_refused() -> None:
    with pytest.raises(RouteError, match="leg cost"):
        make_amm(leg_cost="4").quote_for_quote("buy", Decimal("3.999999"))


@pytest.mark.parametrize("leg_cost", [Decimal("0.0000001"), Decimal(-1), Decimal("NaN"), 4.0])
def test_leg_cost_must_be_exact_in_quote_units(leg_cost) -> None:
    pool = ConstantProductPool(10**18, 3000 * 10**6)
    with pytest.raises(RouteError, match="leg_cost"):
        AmmAdapter("a", "ETH/USDC", pool, base_decimals=ETH, quote_decimals=USDC, leg_cost=leg_cost)
