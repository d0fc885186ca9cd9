"""The simulator's references stay consistent across quote assets: only a spanning tree of the
asset graph walks, every other spot symbol is the cross of the tree (router/paper/market.py)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from router.app import build_margin, load_market
from router.paper.market import PRICE_SCALE, MarketSimulator, SimParams, cross_e8, price_tree

ASSETS = "ABCDEF"
PAIRS = [(b, q) for b in ASSETS for q in ASSETS if b < q]


@st.composite
def markets(draw):
    pairs = draw(st.lists(st.sampled_from(PAIRS), min_size=1, max_size=12, unique=True))
    symbols = [f"{b}/{q}" if draw(st.booleans()) else f"{q}/{b}" for b, q in pairs]
    values = {a: Fraction(draw(st.integers(1, 10_000)), 7) for a in ASSETS}
    preferred = draw(st.sampled_from(symbols))
    return symbols, values, preferred


def _components(symbols):
    parent = {}

    def find(a):
        parent.setdefault(a, a)
        while parent[a] != a:
            a = parent[a]
        return a

    for s in symbols:
        b, q = s.split("/")
        parent[find(b)] = find(q)
    return {find(a) for a in list(parent)}, set(parent)


@settings(max_examples=200, deadline=None)
@given(markets())
def test_the_driving_symbols_span_the_graph_and_every_cross_is_the_true_price(market):
    symbols, values, preferred = market
    derived = price_tree(symbols, [preferred.split("/")[1]], [preferred])
    driving = [s for s in symbols if s not in derived]
    components, assets = _components(symbols)
    assert len(driving) == len(assets) - len(components)  # a spanning forest: no cycle walks
    assert preferred in driving
    refs = {
        s: int(values[s.split("/")[0]] / values[s.split("/")[1]] * PRICE_SCALE) for s in driving
    }
    for symbol, path in derived.items():
        assert {s for s, _ in path} <= set(driving)
        base, quote = symbol.split("/")
        true = values[base] / values[quote] * PRICE_SCALE
        # Each driving reference is rounded down by < 1 unit: a relative error below 1/ref each.
        tolerance = sum(Fraction(1, refs[s]) for s, _ in path) * 2 * true + 1
        assert abs(cross_e8(refs, path) - true) <= tolerance, (symbol, path)


async def test_the_default_market_keeps_its_crosses_in_line_tick_after_tick():
    market = load_market("config/default.toml")
    setup = build_margin(market)
    sim = MarketSimulator(market, setup.ledger, setup.perp_markets, SimParams(seed=3))
    assert set(sim.derived) == {"ETH/USDT", "ETH/WBTC"}  # ETH/USDC, USDC/USDT, WBTC/USDC walk
    for _ in range(120):
        await sim.step()
        for symbol, path in sim.derived.items():
            assert sim.refs[symbol] == cross_e8(sim.refs, path)
        sim._check()
    # The ETH/USDT book is quoted around the cross: its mid sits within its makers' spread of it.
    book = market.adapters["binance-ethusdt"].book
    mid = (book.ticks_to_price(book.best_bid()) + book.ticks_to_price(book.best_ask())) / 2
    ref = sim.ref_price("ETH/USDT")
    assert abs(mid - ref) / ref < Decimal("0.0003")
