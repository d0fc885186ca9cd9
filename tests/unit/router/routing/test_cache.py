"""RouteCache: plans with the cache are identical to plans without it, whatever the venues did in
between, and an unchanged link is never rebuilt."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.app import load_market
from router.model.orders import LegOrder
from router.routing import RouteCache, plan_multihop

DEFAULT = Path(__file__).resolve().parents[4] / "config" / "default.toml"
PAIRS = [("ETH", "USDC"), ("USDC", "ETH"), ("ETH", "USDT"), ("WBTC", "USDC"), ("USDT", "ETH")]
# venues a trade between two orders moves (a book, a v2 pool, a v3 pool, the stable pair)
MOVED = ["binance-ethusdt", "uni-v2", "uni-v3-5", "binance-usdcusdt", "uni-v3-wbtc-usdc"]


def _plan(market, pair: tuple[str, str], mode: str, amount: Decimal, cache: RouteCache | None):
    decimals = {name: a.decimals for name, a in market.assets.items()}
    kwargs = {"amount_in": amount} if mode == "from" else {"amount_out": amount}
    return plan_multihop(market.spot_adapters(), decimals, *pair, cache=cache, **kwargs)


def _size(pair: tuple[str, str], mode: str, scale: int) -> Decimal:
    asset = pair[0] if mode == "from" else pair[1]
    unit = {"ETH": Decimal("0.5"), "WBTC": Decimal("0.02")}.get(asset, Decimal(1000))
    return unit * scale


def _trade(market, venue: str, side: str, scale: int) -> None:
    adapter = market.adapters[venue]
    qty = Decimal(scale) * (Decimal(5000) if adapter.symbol == "USDC/USDT" else Decimal("0.7"))
    if adapter.symbol == "WBTC/USDC":
        qty = Decimal("0.05") * scale
    fill = asyncio.run(adapter.execute(LegOrder(venue, side, qty, f"move-{venue}-{side}-{scale}")))
    assert fill.status == "filled", fill.reason


steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("order"),
            st.sampled_from(PAIRS),
            st.sampled_from(["from", "to"]),
            st.integers(1, 40),
        ),
        st.tuples(
            st.just("trade"),
            st.sampled_from(MOVED),
            st.sampled_from(["buy", "sell"]),
            st.integers(1, 5),
        ),
    ),
    min_size=2,
    max_size=6,
)


@settings(max_examples=12, deadline=None)
@given(steps)
def test_cached_plans_equal_uncached_plans_as_the_venues_move(sequence) -> None:
    market = load_market(DEFAULT)
    cache = RouteCache()
    for step in sequence:
        if step[0] == "trade":
            _trade(market, step[1], step[2], step[3])
            continue
        _, pair, mode, scale = step
        amount = _size(pair, mode, scale)
        cached = _plan(market, pair, mode, amount, cache)
        fresh = _plan(market, pair, mode, amount, None)
        assert cached.to_json_dict() == fresh.to_json_dict()
        assert cached.flow == fresh.flow  # the float optimum too, to the last bit


def test_an_unchanged_market_is_not_rebuilt_and_a_moved_venue_rebuilds_only_its_link() -> None:
    market = load_market(DEFAULT)
    cache = RouteCache()
    _plan(market, ("ETH", "USDC"), "from", Decimal(50), cache)
    # a path seen once goes the fast path (its first pieces; whole only if the order reaches
    # its end); asked again, it is built whole
    assert cache.misses["pooled"] >= 3
    _plan(market, ("ETH", "USDC"), "from", Decimal(20), cache)
    built = dict(cache.misses)
    assert built["composed"] >= 2  # the paths via USDT and WBTC
    # another size on the same market: everything comes from the cache
    _plan(market, ("ETH", "USDC"), "from", Decimal(7), cache)
    assert cache.misses == built and cache.hits["pooled"] >= built["pooled"]
    # a trade on the USDC/USDT book: its pooled side is rebuilt, the USDT path goes the fast path
    # (seen once), nothing else is rebuilt
    _trade(market, "binance-usdcusdt", "buy", 1)
    _plan(market, ("ETH", "USDC"), "from", Decimal(50), cache)
    assert cache.misses["pooled"] == built["pooled"] + 1
    assert cache.misses["composed"] <= built["composed"] + 1
    # asked again on that state: the USDT path is built whole, and the pooled routes containing
    # it (all three paths, and it with either other one)
    _plan(market, ("ETH", "USDC"), "from", Decimal(50), cache)
    assert cache.misses["pooled"] == built["pooled"] + 1
    assert cache.misses["composed"] == built["composed"] + 1
    assert cache.misses["route"] == built["route"] + 3


def test_a_cache_bound_must_be_a_positive_integer() -> None:
    for bad in (0, -1, 1.5, True, "8"):
        with pytest.raises(ValueError, match="max_entries"):
            RouteCache(bad)  # type: ignore[arg-type]
