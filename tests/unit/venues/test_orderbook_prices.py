"""venues.orderbook.prices.PriceSet against a plain Python set, under random adds and removes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from venues.orderbook.prices import PriceSet

# Prices near word edges (multiples of 256) and far apart, so words appear, empty and mix.
PRICES = st.one_of(
    st.integers(min_value=0, max_value=1_000),
    st.integers(min_value=0, max_value=40).map(lambda w: w * 256 + 255),
    st.integers(min_value=0, max_value=10**30),
)
BOUNDS = st.one_of(st.none(), PRICES)


@settings(max_examples=300)
@given(
    ops=st.lists(st.tuples(st.booleans(), PRICES), max_size=80),
    low=BOUNDS,
    high=BOUNDS,
)
def test_price_set_matches_a_sorted_set(ops, low, high):
    prices = PriceSet()
    model: set[int] = set()
    for add, price in ops:
        if add and price not in model:
            prices.add(price)
            model.add(price)
        elif not add and price in model:
            prices.remove(price)
            model.discard(price)
        prices._check()
        assert len(prices) == len(model) and bool(prices) == bool(model)
        assert prices.min() == min(model, default=None)
        assert prices.max() == max(model, default=None)
        assert (price in prices) == (price in model)
    ordered = sorted(model)
    assert list(prices) == ordered
    window = [p for p in ordered if (low is None or p >= low) and (high is None or p <= high)]
    assert list(prices.irange(low, high)) == window
    assert list(prices.irange(low, high, reverse=True)) == window[::-1]
