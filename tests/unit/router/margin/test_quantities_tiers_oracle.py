from decimal import Context, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.margin.errors import MarginInputError
from router.margin.oracle import OracleBook
from router.margin.quantities import SCALE, parse_units, to_text
from router.margin.tiers import TierSchedule


@pytest.mark.parametrize(
    "bad",
    [
        0.1,
        float("nan"),
        "nan",
        "inf",
        Decimal("-Infinity"),
        True,
        "1e-9",
        "abc",
        None,
        "1_0",
        "1e3",
        "\u0661",
        " 1",
        "0.0000000000000000001",  # finer than the 1e-18 grain
        "1" * 25,
    ],
)
def test_parse_units_refuses_non_exact_inputs_naming_the_field(bad):
    with pytest.raises(MarginInputError) as exc:
        parse_units("size", bad)
    assert exc.value.field == "size"


@given(st.integers(-(10**20), 10**20))
def test_parse_units_reads_every_ledger_amount_back_exactly(units):
    # the one grammar of venues.values: what to_text prints, parse_units reads back
    assert parse_units("x", to_text(units)) == units
    assert parse_units("x", Decimal(units) / SCALE) == units
    # a computed Decimal's trailing zeros are not digits of the value
    assert (
        parse_units(
            "x", Decimal(units).scaleb(-18).quantize(Decimal("1e-28"), context=Context(prec=80))
        )
        == units
    )


def test_parse_units_bounds_name_the_field_and_what_is_allowed():
    with pytest.raises(MarginInputError) as exc:
        parse_units("amount", "5", maximum=3 * SCALE)
    assert exc.value.field == "amount" and "<= 3.00000000" in exc.value.allowed
    with pytest.raises(MarginInputError) as exc:
        parse_units("size", "0", positive=True)
    assert "> 0" in exc.value.allowed


def test_to_text_is_exact_with_at_least_eight_places():
    # values on the 1e-8 display grid print as they did; finer ones print every digit they have
    assert to_text(0) == "0.00000000" and to_text(-5 * SCALE // 10**8) == "-0.00000005"
    assert to_text(-5) == "-0.000000000000000005"
    assert to_text(parse_units("x", "123456789012.12345678")) == "123456789012.12345678"
    assert to_text(parse_units("x", "10.036966805")) == "10.036966805"
    assert to_text(parse_units("x", "10.0369668050")) == "10.036966805"


@settings(max_examples=60)
@given(
    st.lists(st.integers(1, 10_000_000), min_size=1, max_size=4, unique=True),
    st.lists(st.integers(1, 50), min_size=4, max_size=4),
)
def test_maintenance_margin_is_continuous_and_monotone_across_tiers(starts, levs):
    starts = [0] + sorted(starts)
    levs = sorted(levs + [50] * len(starts), reverse=True)[: len(starts)]
    schedule = TierSchedule([(str(s), lev) for s, lev in zip(starts, levs)])
    for k in range(1, len(starts)):
        at = starts[k] * SCALE * SCALE  # notional in 1e-16 quote
        below = Fraction(at - 1, SCALE * 2 * levs[k - 1]) - schedule.deductions[k - 1]
        assert (
            schedule.maintenance_margin_exact(at)
            == Fraction(at, SCALE * 2 * levs[k - 1]) - schedule.deductions[k - 1]
        )
        assert schedule.maintenance_margin_exact(at - 1) == below
    previous = -1
    for n in range(0, (starts[-1] + 10) * SCALE * SCALE, max(1, starts[-1] * SCALE * SCALE // 50)):
        mm = schedule.maintenance_margin_units(n)
        assert mm >= previous
        previous = mm


def test_tier_deduction_hand_example():
    # tiers 0..1M at 25x, from 1M at 10x: d1 = 1M * (1/20 - 1/50) = 30,000
    schedule = TierSchedule([("0", 25), ("1000000", 10)])
    assert schedule.deductions[1] == Fraction(30_000 * SCALE)
    n16 = 2_000_000 * SCALE * SCALE
    assert schedule.maintenance_margin_units(n16) == (100_000 - 30_000) * SCALE


@pytest.mark.parametrize(
    "tiers",
    [[], [("1", 10)], [("0", 10), ("0", 5)], [("0", 10), ("5", 20)], [("0", 500)], [("0", 0)]],
)
def test_bad_tiers_raise(tiers):
    with pytest.raises(MarginInputError):
        TierSchedule(tiers)


def test_oracle_median_drops_stale_and_outliers_and_needs_quorum():
    book = OracleBook(max_age_ns=1_000, max_deviation_bps=100, quorum=2)
    book.update("ETH", "a", "3000", 10_000)
    book.update("ETH", "b", "3002", 10_000)
    book.update("ETH", "c", "3500", 10_000)  # outlier: > 1% from the median
    book.update("ETH", "d", "2000", 1)  # stale
    mark = book.mark("ETH", 10_500)
    assert mark.valid and mark.price_units == 3001 * SCALE
    assert mark.dropped_outliers == ("c",) and mark.dropped_stale == ("d",)
    late = book.mark("ETH", 20_000)
    assert late.state == "stale" and not late.valid
    assert book.mark("BTC", 0).state == "missing"


def test_oracle_bad_input_leaves_book_unchanged():
    book = OracleBook(1000, 100, 1)
    book.update("ETH", "a", "3000", 10)
    before = book.snapshot()
    for args in (
        ("ETH", "a", "nan", 11),
        ("ETH", "a", "3000", 5),
        ("", "a", "1", 1),
        ("ETH", "a", -1, 12),
        ("ETH", "a", 3000.0, 12),
    ):
        with pytest.raises(MarginInputError):
            book.update(*args)
        assert book.snapshot() == before
    with pytest.raises(MarginInputError):
        book.mark("ETH", -1)
    book._check()
