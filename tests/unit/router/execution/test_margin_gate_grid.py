"""The margin gate's grid arithmetic on integer ratios gives exactly what the Fraction form gave:
booking prices and fees, check prices, swap amounts (router/execution/margin_gate.py)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.execution import margin_gate
from router.execution.margin_gate import booking_price_and_fee
from router.margin.quantities import SCALE, to_decimal


def _grid(value: Fraction, up: bool) -> Decimal:
    scaled = value * SCALE
    units = (
        -((-scaled.numerator) // scaled.denominator)
        if up
        else scaled.numerator // scaled.denominator
    )
    return to_decimal(units)


def _booking_reference(
    instrument: str, side: str, qty: Decimal, quote_amount: Decimal, fee: Decimal
) -> tuple[Decimal, Decimal]:
    """booking_price_and_fee as it was written with Fractions."""
    if instrument == "spot":
        if side == "buy":
            price = _grid(Fraction(quote_amount) / Fraction(qty), False)
            booked = Fraction(quote_amount) - Fraction(_grid(Fraction(qty) * Fraction(price), True))
        else:
            price = _grid(Fraction(quote_amount) / Fraction(qty), True)
            booked = Fraction(_grid(Fraction(qty) * Fraction(price), False)) - Fraction(
                quote_amount
            )
        return price, _grid(max(booked, Fraction(0)), True)
    paid, charged = Fraction(quote_amount), Fraction(fee)
    notional = paid - charged if side == "buy" else paid + charged
    per_base = notional / Fraction(qty)
    price = _grid(per_base, True) if side == "buy" else _grid(per_base, False)
    return price, _grid(Fraction(fee), True)


_AMOUNT = st.decimals(min_value=Decimal("1e-20"), max_value=Decimal("1e12"), places=20)
_FEE = st.decimals(min_value=Decimal(0), max_value=Decimal("1e6"), places=20)


@settings(max_examples=400)
@given(
    instrument=st.sampled_from(["spot", "perp"]),
    side=st.sampled_from(["buy", "sell"]),
    qty=_AMOUNT,
    quote_amount=_AMOUNT,
    fee=_FEE,
)
def test_booking_on_integer_ratios_is_the_fraction_booking(
    instrument: str, side: str, qty: Decimal, quote_amount: Decimal, fee: Decimal
) -> None:
    got = booking_price_and_fee(instrument, side, qty, quote_amount, fee)
    want = _booking_reference(instrument, side, qty, quote_amount, fee)
    assert got == want and [str(x) for x in got] == [str(x) for x in want]


@settings(max_examples=400)
@given(
    value=st.decimals(min_value=Decimal("-1e15"), max_value=Decimal("1e15"), places=24),
    other=_AMOUNT,
)
def test_grid_rounding_and_ratios_are_the_fraction_ones(value: Decimal, other: Decimal) -> None:
    for up in (True, False):
        rounded = margin_gate._up(value) if up else margin_gate._down(value)
        assert str(rounded) == str(_grid(Fraction(value), up))
        ratio = margin_gate._ratio(value, other)
        assert Fraction(*ratio) == Fraction(value) / Fraction(other) and ratio[1] > 0
        on_grid = margin_gate._up(ratio) if up else margin_gate._down(ratio)
        assert str(on_grid) == str(_grid(Fraction(value) / Fraction(other), up))
    ratio = margin_gate._ratio(value, other.copy_negate())  # the sign moves to the top
    assert ratio[1] > 0 and Fraction(*ratio) == Fraction(value) / -Fraction(other)


def test_a_zero_quantity_still_raises_zero_division() -> None:
    with pytest.raises(ZeroDivisionError):
        booking_price_and_fee("spot", "buy", Decimal(0), Decimal(1), Decimal(0))
    with pytest.raises(ZeroDivisionError):
        booking_price_and_fee("perp", "sell", Decimal(0), Decimal(1), Decimal(0))
