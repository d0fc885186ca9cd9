"""router.config: exact parsing of the market TOML, and one clear ConfigError per bad value."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.config import AmmConfig, ClmmConfig, OrderBookConfig, load_config, parse_config
from router.model.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]

BASE = """
[assets]
ETH = { decimals = 18 }
USDC = { decimals = 6 }

[[venues]]
name = "uni-v2"
kind = "amm"
symbol = "ETH/USDC"
fee_pips = 3000
leg_cost = "4.0"
reserves = ["1000", "3000000"]

[[venues]]
name = "uni-v3-5"
kind = "clmm"
symbol = "ETH/USDC"
fee_pips = 500
tick_spacing = 10
price = "3000"
positions = [ { lower = "2500", upper = "3600", liquidity = "2000000000000000" } ]

[[venues]]
name = "book"
kind = "orderbook"
symbol = "ETH/USDC"
tick_size = "0.01"
lot_size = "0.0001"
taker_fee_pips = 500
maker_fee_pips = 100
leg_cost = "0"
bids = [["2999.50", "12.5"], ["2999.00", "40"]]
asks = [["3000.50", "8"], ["3001.00", "25"]]

[[accounts]]
name = "desk-a"
balances = { ETH = "10", USDC = "250000" }
api_key = "key-a"
api_secret = "secret-a"
"""


def test_design_example_parses_exactly() -> None:
    config = parse_config(BASE, "x.toml")
    amm, clmm, book = config.venues
    assert isinstance(amm, AmmConfig) and amm.reserves == (Decimal("1000"), Decimal("3000000"))
    assert (
        amm.leg_cost == Decimal("4.0")
        and amm.fee_pips == 3000
        and (amm.base, amm.quote) == ("ETH", "USDC")
    )
    assert isinstance(clmm, ClmmConfig) and clmm.positions[0].liquidity == 2 * 10**15
    assert clmm.price == Decimal(3000) and clmm.tick_spacing == 10
    assert isinstance(book, OrderBookConfig) and book.bids[0] == (
        Decimal("2999.50"),
        Decimal("12.5"),
    )
    assert book.min_notional == 0 and book.taker_fee_pips == 500
    (account,) = config.accounts
    assert account.balance("USDC") == Decimal(250000) and account.balance("BTC") == 0
    assert (account.api_key, account.api_secret) == ("key-a", "secret-a")
    assert config.symbols() == ("ETH/USDC",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        amm.fee_pips = 1  # type: ignore[misc]


@pytest.mark.parametrize("path", ["config/default.toml", "config/examples/small.toml"])
def test_shipped_configs_load(path: str) -> None:
    config = load_config(ROOT / path)
    assert {v.kind for v in config.venues} == {"amm", "clmm", "orderbook"}
    assert config.accounts and config.accounts[0].name == "desk-a"


@given(
    amount=st.decimals(
        min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False
    )
)
def test_amounts_are_parsed_exactly_from_strings(amount: Decimal) -> None:
    text = BASE.replace('leg_cost = "4.0"', f'leg_cost = "{amount}"')
    assert parse_config(text).venues[0].leg_cost == amount


def test_integers_are_accepted_where_amounts_are_expected() -> None:
    text = BASE.replace('reserves = ["1000", "3000000"]', "reserves = [1000, 3000000]")
    assert parse_config(text).venues[0].reserves == (Decimal(1000), Decimal(3000000))


# (old text, new text, key in the error, a piece of what is allowed)
BAD = [
    ("fee_pips = 3000", "fee_pips = -5", "venues[0].fee_pips", "integer in [0, 999999]"),
    ("fee_pips = 3000", "fee_pips = 1000000", "venues[0].fee_pips", "integer in [0, 999999]"),
    ("fee_pips = 3000", 'fee_pips = "3000"', "venues[0].fee_pips", "integer"),
    ("fee_pips = 3000", "fee_pips = true", "venues[0].fee_pips", "integer"),
    ("fee_pips = 3000\n", "", "venues[0].fee_pips", "required"),
    ('leg_cost = "4.0"', "leg_cost = 4.0", "venues[0].leg_cost", "TOML float"),
    ('leg_cost = "4.0"', 'leg_cost = "-1"', "venues[0].leg_cost", ">= 0"),
    (
        'leg_cost = "4.0"',
        'leg_cost = "0.0000001"',
        "venues[0].leg_cost",
        "at most 6 decimal places",
    ),
    ('leg_cost = "4.0"', 'leg_cost = "NaN"', "venues[0].leg_cost", "decimal string"),
    ('leg_cost = "4.0"', 'leg_cost = "four"', "venues[0].leg_cost", "decimal string"),
    ('leg_cost = "4.0"', 'leg_cost = " 4"', "venues[0].leg_cost", "decimal string"),
    (
        'reserves = ["1000", "3000000"]',
        'reserves = ["1000"]',
        "venues[0].reserves",
        "[base, quote]",
    ),
    (
        'reserves = ["1000", "3000000"]',
        'reserves = ["0", "3000000"]',
        "venues[0].reserves[0]",
        "> 0",
    ),
    (
        'reserves = ["1000", "3000000"]',
        'reserves = ["10000000000000000", "3000000"]',
        "venues[0].reserves[0]",
        "2^112",
    ),
    # the one grammar (venues.values): no exponents, underscores, other scripts' digits
    (
        'reserves = ["1000", "3000000"]',
        'reserves = ["1e30", "3000000"]',
        "venues[0].reserves[0]",
        "ASCII digits",
    ),
    ('leg_cost = "4.0"', 'leg_cost = "1e400"', "venues[0].leg_cost", "ASCII digits"),
    ('leg_cost = "4.0"', 'leg_cost = "1_0"', "venues[0].leg_cost", "ASCII digits"),
    ('leg_cost = "4.0"', 'leg_cost = "١"', "venues[0].leg_cost", "ASCII digits"),
    ('leg_cost = "4.0"', 'leg_cost = "10000000000"', "venues[0].leg_cost", "<= 1000000000"),
    ('price = "3000"', 'price = "10000000000000"', "venues[1].price", "<= 1000000000000"),
    (
        'reserves = ["1000", "3000000"]',
        'reserves = ["1000", "0.0000001"]',
        "venues[0].reserves[1]",
        "6 decimal places",
    ),
    ('reserves = ["1000", "3000000"]', 'reserves = "1000"', "venues[0].reserves", "an array"),
    ('kind = "amm"', 'kind = "dex"', "venues[0].kind", "amm | clmm | orderbook"),
    ('kind = "amm"', 'kind = "amm"\nfees = 1', "venues[0].fees", "no such key"),
    ('name = "uni-v2"', 'name = "uni v2!"', "venues[0].name", "letters, digits"),
    ('name = "uni-v3-5"', 'name = "uni-v2"', "venues[1].name", "no other venue"),
    ('name = "uni-v2"\n', "", "venues[0].name", "required"),
    (
        'symbol = "ETH/USDC"\nfee_pips = 3000',
        'symbol = "ETH-USDC"\nfee_pips = 3000',
        "venues[0].symbol",
        "BASE/QUOTE",
    ),
    (
        'symbol = "ETH/USDC"\nfee_pips = 3000',
        'symbol = "ETH/BTC"\nfee_pips = 3000',
        "venues[0].symbol",
        "ETH, USDC",
    ),
    (
        'symbol = "ETH/USDC"\nfee_pips = 3000',
        'symbol = "ETH/ETH"\nfee_pips = 3000',
        "venues[0].symbol",
        "two different",
    ),
    ("tick_spacing = 10", "tick_spacing = 0", "venues[1].tick_spacing", "[1, 16383]"),
    ("tick_spacing = 10", "tick_spacing = 16384", "venues[1].tick_spacing", "[1, 16383]"),
    ('price = "3000"', 'price = "0"', "venues[1].price", "> 0"),
    ('price = "3000"', 'price = "Infinity"', "venues[1].price", "decimal string"),
    ('price = "3000"', "price = 3000.5", "venues[1].price", "TOML float"),
    ('upper = "3600"', 'upper = "2500"', "venues[1].positions[0].upper", "above lower"),
    (
        'liquidity = "2000000000000000"',
        'liquidity = "0"',
        "venues[1].positions[0].liquidity",
        "[1, ",
    ),
    (
        'liquidity = "2000000000000000"',
        'liquidity = "-5"',
        "venues[1].positions[0].liquidity",
        "string of digits",
    ),
    (
        'liquidity = "2000000000000000"',
        f'liquidity = "{2**128}"',
        "venues[1].positions[0].liquidity",
        "[1, ",
    ),
    (
        'liquidity = "2000000000000000"',
        "liquidity = 1.5",
        "venues[1].positions[0].liquidity",
        "integer",
    ),
    (
        'liquidity = "2000000000000000" }',
        'liquidity = "1", tick = 5 }',
        "venues[1].positions[0].tick",
        "no such key",
    ),
    ('tick_size = "0.01"', 'tick_size = "0"', "venues[2].tick_size", "> 0"),
    (
        "taker_fee_pips = 500",
        "taker_fee_pips = -1",
        "venues[2].taker_fee_pips",
        "integer in [0, 999999]",
    ),
    (
        '["2999.50", "12.5"]',
        '["2999.505", "12.5"]',
        "venues[2].bids[0][0]",
        "multiple of the tick size 0.01",
    ),
    (
        '["2999.50", "12.5"]',
        '["2999.50", "12.55555"]',
        "venues[2].bids[0][1]",
        "multiple of the lot size 0.0001",
    ),
    ('["2999.50", "12.5"]', '["2999.50", "0"]', "venues[2].bids[0][1]", "> 0"),
    ('["2999.50", "12.5"]', '["2999.50"]', "venues[2].bids[0]", "[price, size]"),
    ('["2999.00", "40"]', '["2999.60", "40"]', "venues[2].bids[1][0]", "strictly below"),
    ('["3001.00", "25"]', '["3000.00", "25"]', "venues[2].asks[1][0]", "strictly above"),
    (
        'asks = [["3000.50", "8"]',
        'asks = [["2999.50", "8"]',
        "venues[2].asks[0][0]",
        "must not cross",
    ),
    ("ETH = { decimals = 18 }", "ETH = { decimals = 37 }", "assets.ETH.decimals", "[0, 36]"),
    (
        "ETH = { decimals = 18 }",
        "ETH = { decimals = 18, symbol = 'x' }",
        "assets.ETH.symbol",
        "no such key",
    ),
    (
        'balances = { ETH = "10", USDC = "250000" }',
        'balances = { BTC = "1" }',
        "accounts[0].balances.BTC",
        "an asset among",
    ),
    (
        'balances = { ETH = "10", USDC = "250000" }',
        'balances = { ETH = "-1" }',
        "accounts[0].balances.ETH",
        ">= 0",
    ),
    (
        'balances = { ETH = "10", USDC = "250000" }',
        "balances = { ETH = 10.5 }",
        "accounts[0].balances.ETH",
        "TOML float",
    ),
    ('api_secret = "secret-a"\n', "", "accounts[0].api_secret", "go together"),
    ('api_key = "key-a"', 'api_key = ""', "accounts[0].api_key", "non-empty"),
    ('name = "desk-a"', 'name = "desk-a"\nrole = "x"', "accounts[0].role", "no such key"),
    ("[assets]", "venue = 1\n[assets]", "venue", "known keys: assets, venues, accounts"),
]


@pytest.mark.parametrize(
    ("old", "new", "key", "allowed"), BAD, ids=[f"{b[2]}:{b[1][:24]}" for b in BAD]
)
def test_bad_value_names_file_key_value_and_what_is_allowed(
    old: str, new: str, key: str, allowed: str
) -> None:
    assert old in BASE
    with pytest.raises(ConfigError) as info:
        parse_config(BASE.replace(old, new, 1), "config/x.toml")
    error = info.value
    assert error.key == key
    assert allowed in error.allowed
    assert str(error).startswith(f"config/x.toml: {key} = ")
    assert "is invalid; allowed: " in str(error)


def test_duplicate_account_name_and_api_key_are_refused() -> None:
    second = '\n[[accounts]]\nname = "desk-a"\n'
    with pytest.raises(ConfigError, match=r"accounts\[1\]\.name"):
        parse_config(BASE + second)
    third = '\n[[accounts]]\nname = "desk-b"\napi_key = "key-a"\napi_secret = "s"\n'
    with pytest.raises(ConfigError, match=r"accounts\[1\]\.api_key"):
        parse_config(BASE + third)


def test_error_message_format_matches_the_documented_one() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(BASE.replace("fee_pips = 500", "fee_pips = -5"), "config/x.toml")
    assert (
        str(info.value)
        == "config/x.toml: venues[1].fee_pips = -5 is invalid; allowed: integer in [0, 999999]"
    )


def test_syntax_error_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("[assets\n", "bad.toml")
    assert info.value.key == "(syntax)" and "valid TOML" in info.value.allowed
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.toml")
    assert info.value.key == "(file)"
    with pytest.raises(ConfigError, match="assets"):
        parse_config("[[venues]]\n", "x.toml")


# -- perpetual venues and the [margin] table --------------------------------------------------------

PERP = (
    BASE
    + """
[[venues]]
name = "perp"
kind = "orderbook"
instrument = "perp"
symbol = "ETH/USDC:USDC"
tick_size = "0.01"
lot_size = "0.001"
taker_fee_pips = 450
bids = [["3000.00", "5"]]
asks = [["3000.50", "5"]]

[margin]
quote = "USDC"
liquidation_fee_bps = 60

[margin.assets.ETH]
initial_weight = "0.9"
maintenance_weight = "0.95"

[margin.markets."ETH/USDC:USDC"]
name = "ETH-PERP"
oracle = "ETH"
tiers = [{ notional_from = "0", max_leverage = 20 }, { notional_from = "1000000", max_leverage = 10 }]
funding_cap = "0.0005"

[margin.marks]
ETH = "3000.25"
ETH-PERP = "3000.5"
"""
)


def test_perp_venue_and_margin_table_parse_exactly() -> None:
    config = parse_config(PERP, "p.toml")
    spot, perp = config.venues[2], config.venues[3]
    assert (spot.instrument, spot.settle) == ("spot", None)
    assert (perp.instrument, perp.symbol, perp.base, perp.quote, perp.settle) == (
        "perp",
        "ETH/USDC:USDC",
        "ETH",
        "USDC",
        "USDC",
    )
    assert config.symbols() == ("ETH/USDC",) and config.symbols("perp") == ("ETH/USDC:USDC",)
    assert config.symbols(None) == ("ETH/USDC", "ETH/USDC:USDC")
    margin = config.margin
    assert (
        margin.quote == "USDC"
        and margin.liquidation_fee_bps == 60
        and margin.liquidation_buffer_bps == 1000
    )
    eth = margin.asset("ETH")
    assert (eth.initial_weight, eth.maintenance_weight) == (Decimal("0.9"), Decimal("0.95"))
    # not configured: the margin core's default liability weights (1.1 / 1.05) apply
    assert (eth.initial_liability_weight, eth.maintenance_liability_weight) == (None, None)
    assert margin.asset("BTC").initial_weight == 1  # not listed: weight 1
    market = margin.market("ETH/USDC:USDC")
    assert (market.name, market.oracle, market.funding_cap, market.max_leverage) == (
        "ETH-PERP",
        "ETH",
        Decimal("0.0005"),
        20,
    )
    assert [(t.notional_from, t.max_leverage) for t in market.tiers] == [
        (0, 20),
        (Decimal(1000000), 10),
    ]
    assert margin.mark("ETH") == Decimal("3000.25") and margin.mark("ETH-PERP") == Decimal("3000.5")
    assert margin.mark("BTC") is None and margin.market("BTC/USDC:USDC") is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        margin.quote = "ETH"  # type: ignore[misc]


def test_margin_table_is_optional_and_defaults_are_documented() -> None:
    assert parse_config(BASE).margin is None
    minimal = parse_config(BASE + "\n[margin]\n")
    assert minimal.margin.quote == "USDC"  # every venue's quote asset
    assert (
        minimal.margin.assets == () and minimal.margin.markets == () and minimal.margin.marks == ()
    )
    one_tier = parse_config(
        PERP.replace(
            'tiers = [{ notional_from = "0", max_leverage = 20 }, { notional_from = "1000000", max_leverage = 10 }]',
            "max_leverage = 25",
        )
    )
    assert [(t.notional_from, t.max_leverage) for t in one_tier.margin.markets[0].tiers] == [
        (0, 25)
    ]


def test_perp_venue_without_margin_table_parses() -> None:
    text = PERP[: PERP.index("[margin]")]
    config = parse_config(text)
    assert config.margin is None and config.venues[3].instrument == "perp"


M = 'tiers = [{ notional_from = "0", max_leverage = 20 }, { notional_from = "1000000", max_leverage = 10 }]'
# (old text, new text, key in the error, a piece of what is allowed)
BAD_PERP = [
    ('instrument = "perp"', 'instrument = "future"', "venues[3].instrument", "spot | perp"),
    ('symbol = "ETH/USDC:USDC"', 'symbol = "ETH/USDC"', "venues[3].symbol", "BASE/QUOTE:SETTLE"),
    ('symbol = "ETH/USDC:USDC"', 'symbol = "ETH/USDC:"', "venues[3].symbol", "BASE/QUOTE:SETTLE"),
    (
        'symbol = "ETH/USDC:USDC"',
        'symbol = "ETH/USDC:ETH"',
        "venues[3].symbol",
        "settled in its quote asset",
    ),
    ('symbol = "ETH/USDC:USDC"', 'symbol = "ETH/BTC:BTC"', "venues[3].symbol", "among: ETH, USDC"),
    ('instrument = "perp"\n', "", "venues[3].symbol", 'needs instrument = "perp"'),
    ('kind = "amm"', 'kind = "amm"\ninstrument = "spot"', "venues[0].instrument", "no such key"),
    ('quote = "USDC"', 'quote = "BTC"', "margin.quote", "an asset among: ETH, USDC"),
    ('quote = "USDC"', 'quote = "USDC"\nleverage = 3', "margin.leverage", "no such key"),
    (
        "liquidation_fee_bps = 60",
        "liquidation_fee_bps = 10001",
        "margin.liquidation_fee_bps",
        "[0, 10000]",
    ),
    # the quote asset counts at 1 when held: only its borrowing terms may be set
    (
        "[margin.assets.ETH]",
        "[margin.assets.USDC]",
        "margin.assets.USDC.initial_weight",
        "known keys: initial_liability_weight",
    ),
    ("[margin.assets.ETH]", "[margin.assets.BTC]", "margin.assets.BTC", "an asset among: ETH"),
    (
        'initial_weight = "0.9"',
        'initial_weight = "1.1"',
        "margin.assets.ETH.initial_weight",
        "[0, 1]",
    ),
    (
        'initial_weight = "0.9"',
        "initial_weight = 0.9",
        "margin.assets.ETH.initial_weight",
        "TOML float",
    ),
    (
        'initial_weight = "0.9"',
        'initial_weight = "0.9000001"',
        "margin.assets.ETH.initial_weight",
        "6 decimal places",
    ),
    ('initial_weight = "0.9"\n', "", "margin.assets.ETH.initial_weight", "required"),
    (
        'maintenance_weight = "0.95"',
        'maintenance_weight = "0.8"',
        "margin.assets.ETH.maintenance_weight",
        "[0.9, 1]",
    ),
    (
        'maintenance_weight = "0.95"',
        'maintenance_weight = "0.95"\nhaircut = "0.1"',
        "margin.assets.ETH.haircut",
        "no such key",
    ),
    (
        'maintenance_weight = "0.95"',
        'initial_liability_weight = "0.5"',
        "margin.assets.ETH.initial_liability_weight",
        "[1, 10]",
    ),
    (
        '[margin.markets."ETH/USDC:USDC"]',
        '[margin.markets."ETH/USDC"]',
        'margin.markets."ETH/USDC"',
        "a perp symbol traded by a venue",
    ),
    (
        'name = "ETH-PERP"',
        'name = "ETH"',
        'margin.markets."ETH/USDC:USDC".name',
        "no other market or asset",
    ),
    (
        'name = "ETH-PERP"',
        'name = "ETH PERP"',
        'margin.markets."ETH/USDC:USDC".name',
        "letters, digits",
    ),
    ('name = "ETH-PERP"\n', "", 'margin.markets."ETH/USDC:USDC".name', "required"),
    (
        'oracle = "ETH"',
        'oracle = "USDC"',
        'margin.markets."ETH/USDC:USDC".oracle',
        "an asset among: ETH",
    ),
    (M, "", 'margin.markets."ETH/USDC:USDC".max_leverage', "exactly one of max_leverage"),
    (M, M + "\nmax_leverage = 20", 'margin.markets."ETH/USDC:USDC".max_leverage', "exactly one of"),
    (M, "max_leverage = 0", 'margin.markets."ETH/USDC:USDC".max_leverage', "[1, 200]"),
    (M, "max_leverage = 201", 'margin.markets."ETH/USDC:USDC".max_leverage', "[1, 200]"),
    (M, "tiers = []", 'margin.markets."ETH/USDC:USDC".tiers', "non-empty"),
    (
        'notional_from = "0"',
        'notional_from = "5"',
        'margin.markets."ETH/USDC:USDC".tiers[0].notional_from',
        "starts at zero",
    ),
    (
        'notional_from = "1000000"',
        'notional_from = "0"',
        'margin.markets."ETH/USDC:USDC".tiers[1].notional_from',
        "strictly increasing",
    ),
    (
        "max_leverage = 10 }",
        "max_leverage = 30 }",
        'margin.markets."ETH/USDC:USDC".tiers[1].max_leverage',
        "non-increasing",
    ),
    (
        "max_leverage = 10 }",
        "max_leverage = 10, mmr = 1 }",
        'margin.markets."ETH/USDC:USDC".tiers[1].mmr',
        "no such key",
    ),
    (
        'funding_cap = "0.0005"',
        'funding_cap = "-0.1"',
        'margin.markets."ETH/USDC:USDC".funding_cap',
        ">= 0",
    ),
    (
        'funding_cap = "0.0005"',
        'funding_cap = "2"',
        'margin.markets."ETH/USDC:USDC".funding_cap',
        "[0, 1]",
    ),
    ('ETH = "3000.25"', 'BTC = "3000.25"', "margin.marks.BTC", "a name among: ETH, ETH-PERP"),
    ('ETH = "3000.25"', 'USDC = "1"', "margin.marks.USDC", "a name among"),
    ('ETH = "3000.25"', 'ETH = "0"', "margin.marks.ETH", "> 0"),
    ('ETH = "3000.25"', 'ETH = "3000.123456789"', "margin.marks.ETH", "8 decimal places"),
]


@pytest.mark.parametrize(
    ("old", "new", "key", "allowed"), BAD_PERP, ids=[f"{b[2]}:{b[1][:24]}" for b in BAD_PERP]
)
def test_bad_perp_or_margin_value_names_file_key_value_and_what_is_allowed(
    old: str, new: str, key: str, allowed: str
) -> None:
    assert old in PERP
    text = PERP.replace(old, new, 1)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "config/p.toml")
    error = info.value
    assert error.key == key, str(error)
    assert allowed in error.allowed, str(error)
    assert str(error).startswith(f"config/p.toml: {key} = ")


def test_every_perp_venue_needs_a_margin_market_when_margin_is_configured() -> None:
    start = PERP.index('[margin.markets."ETH/USDC:USDC"]')
    text = PERP[:start] + '[margin.marks]\nETH = "3000"\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, "m.toml")
    assert (
        info.value.key == 'margin.markets."ETH/USDC:USDC"'
        and "every perp venue" in info.value.allowed
    )


def test_margin_quote_is_required_when_venues_quote_different_assets() -> None:
    text = BASE.replace(
        "USDC = { decimals = 6 }", "USDC = { decimals = 6 }\nUSDT = { decimals = 6 }"
    )
    text += (
        '\n[[venues]]\nname = "usdt-book"\nkind = "orderbook"\nsymbol = "ETH/USDT"\ntick_size = "0.01"\n'
        'lot_size = "0.01"\n\n[margin]\n'
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, "q.toml")
    assert info.value.key == "margin.quote" and "same quote asset" in info.value.allowed


@given(
    weight=st.decimals(min_value=0, max_value=1, places=6, allow_nan=False, allow_infinity=False),
    mark=st.decimals(
        min_value=Decimal("0.00000001"),
        max_value=10**9,
        places=8,
        allow_nan=False,
        allow_infinity=False,
    ),
)
def test_margin_numbers_on_their_grid_are_parsed_exactly(weight: Decimal, mark: Decimal) -> None:
    text = PERP.replace(
        'initial_weight = "0.9"\nmaintenance_weight = "0.95"', f'initial_weight = "{weight:f}"'
    ).replace('ETH = "3000.25"', f'ETH = "{mark:f}"')  # positional: the grammar has no exponents
    margin = parse_config(text).margin
    asset = margin.asset("ETH")
    assert (
        asset.initial_weight == weight == asset.maintenance_weight
    )  # maintenance defaults to initial
    assert margin.mark("ETH") == mark


def test_layered_files_are_read_as_one_document(tmp_path: Path) -> None:
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text(BASE)
    second.write_text(PERP[len(BASE) :])
    config = load_config([first, second])
    assert config == parse_config(PERP, f"{first} + {second}")
    second.write_text("[assets]\nBTC = { decimals = 8 }\n")
    with pytest.raises(ConfigError) as info:
        load_config([first, second])
    assert info.value.key == "(syntax)" and info.value.file == f"{first} + {second}"
    with pytest.raises(ConfigError, match="at least one"):
        load_config([])
