"""The value grammar: what it admits is exactly ASCII decimals; everything else names the field."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from venues.errors import CrossrouteError
from venues.values import (
    ValueInputError,
    format_decimal,
    parse_decimal,
    parse_int,
    parse_non_negative,
    parse_positive,
)

REFUSED = [
    "1_0",
    "1e3",
    "1E3",
    "NaN",
    "nan",
    "Infinity",
    "-inf",
    "",
    " 1",
    "1 ",
    "١",
    "𝟙",
    "0x10",
    "1.2.3",
    "+",
    "-",
    ".",
    "--1",
    "1,5",
    "²",
    "1/2",
    "\u200b1",
]


@pytest.mark.parametrize("text", REFUSED)
def test_text_outside_the_grammar_is_refused_with_the_field(text: str) -> None:
    with pytest.raises(ValueInputError) as info:
        parse_decimal("qty", text)
    assert info.value.field == "qty" and "ASCII digits" in info.value.allowed
    assert isinstance(info.value, CrossrouteError)


@pytest.mark.parametrize(
    "value", [True, 1.5, float("nan"), None, [1], Decimal("NaN"), Decimal("Inf")]
)
def test_non_text_non_exact_values_are_refused(value: object) -> None:
    with pytest.raises(ValueInputError):
        parse_decimal("price", value)


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=8, min_value=-(10**15), max_value=10**15
    )
)
def test_every_plain_decimal_round_trips_exactly(value: Decimal) -> None:
    text = format_decimal(value)
    assert parse_decimal("x", text) == value


@given(st.text(max_size=12))
def test_arbitrary_text_either_parses_as_ascii_decimal_or_is_refused(text: str) -> None:
    try:
        parsed = parse_decimal("x", text)
    except ValueInputError:
        return
    assert text.isascii() and parsed == Decimal(text)


def test_bounds_scale_and_magnitude() -> None:
    assert parse_positive("qty", "0.25") == Decimal("0.25")
    with pytest.raises(ValueInputError, match="> 0"):
        parse_positive("qty", "0")
    with pytest.raises(ValueInputError, match=">= 0"):
        parse_non_negative("leg_cost", "-1")
    with pytest.raises(ValueInputError, match="at most 2 decimal places"):
        parse_decimal("price", "1.001", max_scale=2)
    with pytest.raises(ValueInputError, match="below 10"):
        parse_decimal("qty", "1" * 30)
    with pytest.raises(ValueInputError, match="<= 100"):
        parse_decimal("share", "100.5", maximum=100)
    long_text = "9" * 5000
    with pytest.raises(ValueInputError) as info:
        parse_decimal("qty", long_text)
    assert len(str(info.value)) < 300  # a 5,000-digit value is shown cut, not echoed


def test_caller_error_factory_adds_context() -> None:
    class FileError(Exception):
        pass

    with pytest.raises(FileError):
        parse_decimal("qty", "x", error=lambda f, v, a: FileError(f"m.toml: {f}={v!r}: {a}"))


def test_integers() -> None:
    assert parse_int("port", "8080", minimum=0, maximum=65535) == 8080
    assert parse_int("port", 0, minimum=0) == 0
    for bad in ["1.0", "1e3", True, 1.0, "٣", "99999"]:
        with pytest.raises(ValueInputError):
            parse_int("port", bad, minimum=0, maximum=65535)
