"""router.app: the composition root builds exact venues from config, and refuses what they refuse."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.app import (
    MAIN_SUBACCOUNT,
    MARK_QUANTUM,
    SEED_OWNER,
    build_margin,
    build_market,
    load_market,
)
from router.config import load_config, parse_config
from router.margin.journal import Journal
from router.margin.quantities import QUANTUM, SCALE, to_decimal
from router.model.errors import ConfigError, RouteError
from router.model.venue import VenueAdapter
from router.plan import plan_route

ROOT = Path(__file__).resolve().parents[3]
DEFAULT = ROOT / "config" / "default.toml"
SMALL = ROOT / "config" / "examples" / "small.toml"

CLMM = """
[assets]
ETH = {{ decimals = 18 }}
USDC = {{ decimals = 6 }}

[[venues]]
name = "v3"
kind = "clmm"
symbol = "ETH/USDC"
fee_pips = 3000
tick_spacing = 60
price = "{price}"
positions = [ {{ lower = "{lower}", upper = "{upper}", liquidity = "{liquidity}" }} ]
"""


def test_default_market_is_built_at_the_book_mid() -> None:
    market = load_market(DEFAULT)
    assert list(market.adapters) == [
        "uni-v2",
        "uni-v3-5",
        "uni-v3-30",
        "binance-book",
        # the routing venues of other symbols (ETH/USDT, USDC/USDT, the WBTC path)
        "binance-ethusdt",
        "binance-usdcusdt",
        "uni-v3-usdc-usdt",
        "uni-v3-eth-wbtc",
        "uni-v3-wbtc-usdc",
        "perp-book",
    ]
    assert all(isinstance(a, VenueAdapter) for a in market.adapters.values())
    book = market.adapters["binance-book"]
    assert book.best_prices() == (Decimal("2683.80"), Decimal("2683.81"))
    mid = book.mid_price()
    assert mid == Decimal("2683.805")
    for name in ("uni-v2", "uni-v3-5", "uni-v3-30"):
        assert abs(market.adapters[name].mid_price() - mid) < Decimal("1e-9")
    assert market.venues["uni-v2"].reserve0 == 1000 * 10**18
    assert market.venues["uni-v2"].reserve1 == 2683805 * 10**6
    assert market.accounts["desk-a"].balance("USDC") == Decimal(1000000)


def test_book_is_seeded_with_exactly_the_config_levels() -> None:
    config = load_config(SMALL)
    market = build_market(config)
    book = market.venues["book"]
    venue = config.venue("book")
    assert [(book.ticks_to_price(p), book.lots_to_qty(q)) for p, q in book.depth("bids")] == list(
        venue.bids
    )
    assert [(book.ticks_to_price(p), book.lots_to_qty(q)) for p, q in book.depth("asks")] == list(
        venue.asks
    )
    assert {order.owner for order in book.open_orders()} == {SEED_OWNER}


def test_clmm_positions_land_on_the_tick_grid_below_the_bounds() -> None:
    market = load_market(SMALL)
    pool = market.venues["clmm"]
    ticks = [tick for tick, _ in pool.initialized_ticks()]
    assert all(tick % 10 == 0 for tick in ticks) and len(ticks) == 4
    assert pool.liquidity == 10**17 + 2 * 10**16  # both positions contain the price


def test_adapters_for_filters_by_symbol_and_name() -> None:
    market = load_market(SMALL)
    assert [a.name for a in market.adapters_for("ETH/USDC")] == ["amm", "clmm", "book"]
    assert [a.name for a in market.adapters_for("ETH/USDC", ["book", "amm", "book"])] == [
        "book",
        "amm",
    ]
    with pytest.raises(RouteError, match="symbol='BTC/USDC' is invalid; allowed: one of ETH/USDC"):
        market.adapters_for("BTC/USDC")
    with pytest.raises(RouteError, match="venue='nope' is invalid"):
        market.adapters_for("ETH/USDC", ["amm", "nope"])
    with pytest.raises(RouteError, match="at least one"):
        market.adapters_for("ETH/USDC", [])


TINY_PRICE = "0." + "0" * 29 + "1"


@pytest.mark.parametrize(
    ("price", "lower", "upper", "liquidity", "key", "allowed"),
    [
        # 1e-30 USDC per ETH (written out: the grammar has no exponents) is below tick -887272
        ("3000", TINY_PRICE, "3600", "1000", "venues[0].positions[0].lower", "MIN_SQRT_RATIO"),
        # the config caps prices far below the top tick, so the schema refuses this one first
        (
            "3000",
            "2500",
            "1" + "0" * 13,
            "1000",
            "venues[0].positions[0].upper",
            "<= 1000000000000",
        ),
        ("3000", "3000", "3000.5", "1000", "venues[0].positions[0].upper", "one tick spacing"),
        (TINY_PRICE, "2500", "3600", "1000", "venues[0].price", "sqrt_price_x96"),
        (
            "3000",
            "2500",
            "3600",
            str(2**127),
            "venues[0].positions[0].liquidity",
            "the pool accepts",
        ),
    ],
)
def test_values_a_pool_refuses_are_config_errors(
    price, lower, upper, liquidity, key, allowed
) -> None:
    text = CLMM.format(price=price, lower=lower, upper=upper, liquidity=liquidity)
    with pytest.raises(ConfigError) as info:
        build_market(parse_config(text, "p.toml"))
    assert info.value.key == key and allowed in info.value.allowed
    assert str(info.value).startswith(f"p.toml: {key} = ")


def test_book_level_below_min_notional_is_a_config_error() -> None:
    text = SMALL.read_text().replace(
        'lot_size = "0.0001"', 'lot_size = "0.0001"\nmin_notional = "10000"'
    )
    with pytest.raises(ConfigError) as info:
        build_market(parse_config(text, "s.toml"))
    assert info.value.key == "venues[2].bids[0]"


# -- perpetual venues and the margin ledger ---------------------------------------------------------

PERP_MARKET = """
[assets]
ETH = { decimals = 18 }
USDC = { decimals = 6 }
BTC = { decimals = 8 }

[[venues]]
name = "book"
kind = "orderbook"
symbol = "ETH/USDC"
tick_size = "0.01"
lot_size = "0.0001"
bids = [["2999.00", "10"]]
asks = [["3001.00", "10"]]

[[venues]]
name = "perp"
kind = "orderbook"
instrument = "perp"
symbol = "ETH/USDC:USDC"
tick_size = "0.01"
lot_size = "0.001"
taker_fee_pips = 500
bids = [["3002.00", "10"]]
asks = [["3004.00", "10"]]

[[accounts]]
name = "desk-a"
balances = { ETH = "{eth}", USDC = "{usdc}" }

[[accounts]]
name = "desk-b"
balances = { USDC = "5" }

[margin]
[margin.assets.ETH]
initial_weight = "{weight}"

[margin.markets."ETH/USDC:USDC"]
name = "ETH-PERP"
max_leverage = 10
"""


def _perp_market(eth: str = "2", usdc: str = "1000", weight: str = "0.8", extra: str = ""):
    text = (
        PERP_MARKET.replace("{eth}", eth).replace("{usdc}", usdc).replace("{weight}", weight)
        + extra
    )
    return build_market(parse_config(text, "perp.toml"))


def _venue_state(market) -> tuple:
    """Everything a margin build must not touch: every book's levels and orders, every pool's price."""
    state = []
    for name, venue in market.venues.items():
        if hasattr(venue, "depth"):
            state.append(
                (
                    name,
                    tuple(venue.depth("bids")),
                    tuple(venue.depth("asks")),
                    len(venue.open_orders()),
                )
            )
        elif hasattr(venue, "sqrt_price_x96"):
            state.append((name, venue.sqrt_price_x96, venue.liquidity))
        else:
            state.append((name, venue.reserve0, venue.reserve1))
    return tuple(state)


def test_default_market_has_its_perp_near_the_spot_mid() -> None:
    market = load_market(DEFAULT)
    perp = market.adapters["perp-book"]
    assert (
        market.venues["perp-book"].kind == "perp" and market.venues["binance-book"].kind == "spot"
    )
    assert perp.symbol == "ETH/USDC:USDC" and isinstance(perp, VenueAdapter)
    assert perp.best_prices() == (Decimal("2684.40"), Decimal("2684.60"))
    spot_mid = market.mid_price("ETH/USDC")
    assert spot_mid == Decimal("2683.805")
    # a perpetual trades at a small premium: within 5 bps of the spot mid
    assert 0 < (market.mid_price("ETH/USDC:USDC") - spot_mid) / spot_mid < Decimal("0.0005")
    assert market.symbols() == ("ETH/USDC", "ETH/USDT", "USDC/USDT", "ETH/WBTC", "WBTC/USDC")
    assert market.symbols("perp") == ("ETH/USDC:USDC",)
    assert market.instruments() == {
        "uni-v2": "spot",
        "uni-v3-5": "spot",
        "uni-v3-30": "spot",
        "binance-book": "spot",
        "binance-ethusdt": "spot",
        "binance-usdcusdt": "spot",
        "uni-v3-usdc-usdt": "spot",
        "uni-v3-eth-wbtc": "spot",
        "uni-v3-wbtc-usdc": "spot",
        "perp-book": "perp",
    }


def test_perp_is_routable_by_its_symbol_and_only_by_it() -> None:
    market = load_market(DEFAULT)
    adapters = market.adapters_for("ETH/USDC:USDC")
    assert [a.name for a in adapters] == ["perp-book"]
    assert "perp-book" not in [a.name for a in market.adapters_for("ETH/USDC")]
    plan = plan_route(adapters, "ETH/USDC:USDC", "sell", Decimal(10))
    assert plan.qty == 10 and [leg.venue for leg in plan.legs] == ["perp-book"]
    assert plan.quote_amount == adapters[0].quote("sell", Decimal(10)).quote_amount
    with pytest.raises(
        RouteError, match="one of ETH/USDC, ETH/USDT, USDC/USDT, ETH/WBTC, WBTC/USDC, ETH/USDC:USDC"
    ):
        market.adapters_for("BTC/USDC")
    with pytest.raises(RouteError, match="venue='binance-book' is invalid"):
        market.adapters_for("ETH/USDC:USDC", ["binance-book"])


def test_default_margin_matches_the_config_and_the_venue_mids() -> None:
    market = load_market(DEFAULT)
    before = _venue_state(market)
    setup = build_margin(market)
    ledger = setup.ledger
    assert (setup.account, setup.sub_id) == ("desk-a", f"desk-a/{MAIN_SUBACCOUNT}")
    assert setup.perp_markets == {"ETH/USDC:USDC": "ETH-PERP"} == setup.gate.perp_markets
    # USDT only trades against ETH and as USDC/USDT: registered so that hops book it as itself
    assert ledger.quote_asset == "USDC" and sorted(ledger.assets) == [
        "ETH",
        "USDC",
        "USDT",
        "WBTC",
    ]
    # marked at the inverse of the USDC/USDT venues' median mid, and refreshed from it
    mids = [a.mid_price() for a in market.adapters_for("USDC/USDT")]
    usdt_mark = to_decimal(ledger.marks["USDT"].price_units)
    assert setup.mark_sources["USDT"] == "USDC/USDT"
    assert min(1 / m for m in mids) <= usdt_mark <= max(1 / m for m in mids)
    median = market.median_mid("USDC/USDT")
    assert median is not None
    assert setup.live_marks(market)["USDT"] == (1 / median).quantize(MARK_QUANTUM)
    assert (
        ledger.assets["ETH"].initial_weight_ppm,
        ledger.assets["ETH"].maintenance_weight_ppm,
    ) == (900_000, 950_000)
    assert (
        ledger.markets["ETH-PERP"].tiers.max_leverage == 20
        and ledger.markets["ETH-PERP"].oracle_asset == "ETH"
    )
    assert ledger.marks["ETH"].price_units == 2_683_805 * SCALE // 1000  # uni-v2's mid 2683.805
    assert (
        ledger.marks["ETH-PERP"].price_units == 268_450 * SCALE // 100
    )  # the perp book's mid 2684.50
    assert (
        ledger.balance(setup.sub_id, "ETH") == 100
        and ledger.balance(setup.sub_id, "USDC") == 1_000_000
    )
    # equity = 1,000,000 USDC + 100 ETH x 2683.805 x 0.9; nothing is used yet
    assert setup.gate.summary() == {
        "equity": Decimal("1241542.45"),
        "initial_margin": 0,
        "maintenance_margin": 0,
        "headroom": Decimal("1241542.45"),
    }
    ledger._check()
    assert _venue_state(market) == before


def test_configured_marks_override_the_mids_and_accounts_are_chosen_by_name() -> None:
    market = _perp_market(extra='\n[margin.marks]\nETH = "2500"\nETH-PERP = "2501.5"\n')
    setup = build_margin(market, "desk-b")
    assert setup.sub_id == "desk-b/main" and setup.ledger.balance(setup.sub_id, "USDC") == 5
    assert setup.ledger.marks["ETH"].price_units == 2500 * SCALE
    assert setup.ledger.marks["ETH-PERP"].price_units == 250_150 * SCALE // 100
    default = build_margin(_perp_market())
    assert default.ledger.marks["ETH"].price_units == 3000 * SCALE  # (2999 + 3001) / 2
    assert default.ledger.marks["ETH-PERP"].price_units == 3003 * SCALE  # (3002 + 3004) / 2


def test_margin_setup_is_journaled_when_a_journal_is_given() -> None:
    journal = Journal()
    build_margin(_perp_market(), journal=journal)
    events = [record["event"] for record in journal.events()]
    assert events[:2] == ["add_asset", "mark"] and "add_market" in events
    assert events.count("deposit") == 2 and "open_subaccount" in events


@pytest.mark.parametrize(
    ("account", "extra", "eth", "key", "allowed"),
    [
        ("ghost", "", "2", "accounts", "an account among: desk-a, desk-b"),
        # BTC is held but no venue trades it and no mark is configured
        (None, "", None, "margin.marks.BTC", "a mark price for BTC"),
    ],
)
def test_margin_build_refusals_are_config_errors_and_leave_the_market_unchanged(
    account, extra, eth, key, allowed
) -> None:
    market = _perp_market(eth=eth or "2", extra=extra)
    if eth is None:
        text = PERP_MARKET.replace("{eth}", "2").replace("{usdc}", "1").replace("{weight}", "0.8")
        market = build_market(
            parse_config(text.replace('USDC = "1" }', 'USDC = "1", BTC = "1" }'), "perp.toml")
        )
    before = _venue_state(market)
    with pytest.raises(ConfigError) as info:
        build_margin(market, account)
    assert info.value.key == key and allowed in info.value.allowed, str(info.value)
    assert str(info.value).startswith(f"perp.toml: {key} = ")
    assert _venue_state(market) == before


def test_margin_takes_a_balance_to_the_wei_as_the_venue_holds_it() -> None:
    # the ledger's grain is the token's: a config balance finer than 1e-8 is booked, not refused
    market = _perp_market(eth="2.000000000000000001")
    setup = build_margin(market)
    held = setup.ledger.balance(setup.sub_id, "ETH")
    assert held == market.accounts["desk-a"].balance("ETH") == Decimal("2.000000000000000001")
    setup.ledger._check()


def test_market_without_accounts_cannot_build_margin() -> None:
    market = build_market(parse_config(PERP_MARKET.split("[[accounts]]")[0], "n.toml"))
    with pytest.raises(ConfigError, match="at least one"):
        build_margin(market)


def test_market_without_margin_table_gets_weight_one_and_no_perp_market() -> None:
    market = load_market(SMALL)
    assert market.config.margin is None and market.margin.quote == "USDC"
    setup = build_margin(market)
    assert setup.perp_markets == {} and setup.ledger.assets["ETH"].initial_weight_ppm == 1_000_000
    # 10 ETH at the first venue's mid (the amm's 3000) + 50,000 USDC
    assert setup.gate.summary()["equity"] == Decimal(80000)


@settings(max_examples=40)
@given(
    eth=st.decimals(min_value=0, max_value=10**6, places=18, allow_nan=False, allow_infinity=False),
    usdc=st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False),
    weight=st.decimals(min_value=0, max_value=1, places=6, allow_nan=False, allow_infinity=False),
)
def test_starting_equity_is_the_exact_weighted_collateral_rounded_against_the_account(
    eth, usdc, weight
) -> None:
    setup = build_margin(_perp_market(f"{eth:f}", f"{usdc:f}", f"{weight:f}"))  # no exponents
    exact = usdc + eth * 3000 * weight
    equity = setup.gate.summary()["equity"]
    assert equity <= exact < equity + QUANTUM
    assert equity == equity.quantize(QUANTUM)
    setup.ledger._check()
