"""Venue rule sets as data: max leverage (Hyperliquid), fractions (dYdX v4), brackets (Binance
USD-M), in the margin core, in account files and in market configs (config/venues/*.toml).

The worked examples of docs/margin.md ("Venue rule sets") are the tests below."""

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.app import build_margin, load_market
from router.margin import MarginInputError, TierSchedule
from router.margin.quantities import SCALE
from router.margin.report import load_account, report_from_file
from router.model.errors import ConfigError

from .helpers import perp

ROOT = Path(__file__).resolve().parents[4]
VENUES = ROOT / "config" / "venues"


def venue_ledger(name: str):
    setup = build_margin(load_market([str(VENUES / f"{name}.toml")]))
    return setup.ledger, setup.sub_id


@pytest.mark.parametrize(
    ("venue", "im", "mm", "liquidation"),
    [
        # Hyperliquid, 40x: IM = N/40, MM = N/80; 10,000 + (P - 100,000) = P/80
        ("hyperliquid", "2500", "1250", "91139.24"),
        # dYdX v4 Large-Cap, IMF 2%, MMF 1.2%: 10,000 + (P - 100,000) = 0.012 P
        # => P = 90,000 / 0.988 = 91,093.117... (the largest cent still below maintenance)
        ("dydx", "2000", "1200", "91093.11"),
        # Binance bracket 2 (50,000-250,000: 100x, 0.5%, 50): MM = 0.005 N - 50 = 450;
        # 10,000 + (P - 100,000) = 0.005 P - 50 => P = 89,950 / 0.995 = 90,402.0100...
        ("binance", "1000", "450", "90402.01"),
    ],
)
def test_worked_example_one_btc_long_on_10000_usdc(venue, im, mm, liquidation):
    ledger, sub = venue_ledger(venue)
    ledger.apply_leg(sub, perp("buy", "1", "100000"))
    summary = ledger.summary(sub)
    assert summary["initial_margin"] == Decimal(im)
    assert summary["maintenance_margin"] == Decimal(mm)
    assert ledger.liquidation_price(sub, "BTC-PERP") == Decimal(liquidation)
    ledger._check()


def test_worked_example_binance_bracket_4():
    # 40 BTC at 100,000: N = 4,000,000 in bracket 4 (20x, 2.5%, 46,300):
    # IM = 200,000, MM = 100,000 - 46,300 = 53,700
    ledger, sub = venue_ledger("binance")
    ledger.deposit(sub, "USDC", "300000")
    ledger.apply_leg(sub, perp("buy", "40", "100000"))
    assert ledger.summary(sub)["initial_margin"] == Decimal("200000")
    assert ledger.summary(sub)["maintenance_margin"] == Decimal("53700")


def test_worked_example_hyperliquid_second_tier_is_continuous():
    # BTC tiers 40x below 150M, 20x above: d_1 = 150M x (1/40 - 1/80) = 1,875,000.
    # At N = 150M both formulas give 1,875,000; at 200M, MM = 200M/40 - 1,875,000 = 3,125,000.
    ledger, _ = venue_ledger("hyperliquid")
    tiers = ledger.markets["BTC-PERP"].tiers
    n16 = 150_000_000 * SCALE * SCALE
    assert tiers.maintenance_margin_units(n16) == 1_875_000 * SCALE
    assert tiers.maintenance_margin_units(n16 - 1) <= 1_875_000 * SCALE
    assert tiers.maintenance_margin_units(200_000_000 * SCALE * SCALE) == 3_125_000 * SCALE


def test_user_leverage_still_caps_initial_margin_under_every_rule_set():
    for venue in ("hyperliquid", "dydx", "binance"):
        ledger, sub = venue_ledger(venue)
        ledger.set_leverage(sub, "BTC-PERP", 5)
        ledger.apply_leg(sub, perp("buy", "0.1", "100000"))
        assert ledger.summary(sub)["initial_margin"] == Decimal("2000")


@settings(max_examples=80)
@given(
    st.lists(st.integers(1, 10**6), min_size=1, max_size=5, unique=True),
    st.lists(st.integers(1, 125), min_size=6, max_size=6),
    st.lists(st.integers(0, 300), min_size=6, max_size=6),
    st.integers(0, 10**15),
)
def test_brackets_built_continuously_give_continuous_monotone_mm(starts, levs, extras, n):
    """Amounts built Binance's way (previous + notional_from x rate step) are accepted, MM is
    continuous at every bracket boundary and never falls as the notional grows."""
    starts = [0, *sorted(starts)]
    levs = sorted(levs[: len(starts)], reverse=True)
    rates: list[int] = []  # in 1e-4, non-decreasing, at most 1/L
    for lev, extra in zip(levs, extras):
        rates.append(max(rates[-1] if rates else 1, min(10_000 // lev, 5_000 // lev + extra)))
    tiers, amount = [], Fraction(0)
    for i, (frm, lev, rate) in enumerate(zip(starts, levs, rates)):
        if i:
            amount += frm * Fraction(rate - rates[i - 1], 10_000)
        tiers.append(
            {
                "notional_from": str(frm),
                "max_leverage": lev,
                "maintenance_margin_rate": str(Decimal(rate) / 10_000),
                "maintenance_amount": str(Decimal(amount.numerator) / amount.denominator),
            }
        )
    schedule = TierSchedule(tiers)
    for k, frm in enumerate(starts[1:], start=1):
        at = frm * SCALE * SCALE
        prev = schedule.tiers[k - 1]
        left = Fraction(at, SCALE) * prev.maintenance_rate - prev.deduction
        assert left == schedule.maintenance_margin_exact(at)
    assert schedule.maintenance_margin_units(n + 1) >= schedule.maintenance_margin_units(n)


@pytest.mark.parametrize(
    ("rules", "field", "allowed"),
    [
        (
            {"initial_margin_fraction": "-0.05", "maintenance_margin_fraction": "0.03"},
            "initial_margin_fraction",
            "> 0",
        ),
        (
            {"initial_margin_fraction": "0.05", "maintenance_margin_fraction": "0.06"},
            "maintenance_margin_fraction",
            "maintenance <= initial",
        ),
        (
            {"tiers": [("0", 20), ("100", 10), ("50", 5)]},
            "tiers[2].notional_from",
            "sorted",
        ),
        (
            {
                "tiers": [
                    {
                        "notional_from": "0",
                        "max_leverage": 125,
                        "maintenance_margin_rate": "0.01",
                        "maintenance_amount": "0",
                    }
                ]
            },
            "tiers[0].maintenance_margin_rate",
            "maintenance above initial",
        ),
        (
            {
                "tiers": [
                    {
                        "notional_from": "0",
                        "max_leverage": 125,
                        "maintenance_margin_rate": "0.004",
                        "maintenance_amount": "0",
                    },
                    {
                        "notional_from": "50000",
                        "max_leverage": 100,
                        "maintenance_margin_rate": "0.005",
                        "maintenance_amount": "60",
                    },
                ]
            },
            "tiers[1].maintenance_amount",
            "continuous",
        ),
    ],
)
def test_bad_rules_are_refused_naming_the_key(rules, field, allowed):
    from router.margin import MarginLedger

    ledger = MarginLedger()
    with pytest.raises(MarginInputError) as exc:
        ledger.add_market("BTC-PERP", "BTC", **rules)
    assert exc.value.field == field and allowed in exc.value.allowed
    assert "BTC-PERP" not in ledger.markets


ACCOUNT = """
[collateral]
USDC = "10000"

[marks]

[[positions]]
symbol = "BTC-PERP"
size = "1"
entry = "100000"
mark = "100000"
{rules}
"""


@pytest.mark.parametrize(
    ("rules", "liquidation"),
    [
        ("max_leverage = 40", "91139.24"),
        ('initial_margin_fraction = "0.05"\nmaintenance_margin_fraction = "0.03"', "92783.50"),
        (
            "tiers = ["
            '{ notional_from = "0", max_leverage = 125, maintenance_margin_rate = "0.004", '
            'maintenance_amount = "0" }, '
            '{ notional_from = "50000", max_leverage = 100, maintenance_margin_rate = "0.005", '
            'maintenance_amount = "50" }]',
            "90402.01",
        ),
    ],
)
def test_account_files_take_the_same_field_names(tmp_path, rules, liquidation):
    path = tmp_path / "account.toml"
    path.write_text(ACCOUNT.format(rules=rules))
    report = report_from_file(str(path))
    assert report["positions"][0]["liquidation_price"] == liquidation


@pytest.mark.parametrize(
    ("rules", "key"),
    [
        (
            'initial_margin_fraction = "-0.05"\nmaintenance_margin_fraction = "0.03"',
            "positions[0].initial_margin_fraction",
        ),
        (
            'initial_margin_fraction = "0.03"\nmaintenance_margin_fraction = "0.05"',
            "positions[0].maintenance_margin_fraction",
        ),
        (
            'tiers = [{ notional_from = "0", max_leverage = 20 }, '
            '{ notional_from = "0", max_leverage = 10 }]',
            "positions[0].tiers[1].notional_from",
        ),
        (
            "tiers = ["
            '{ notional_from = "0", max_leverage = 125, maintenance_margin_rate = "0.004", '
            'maintenance_amount = "0" }, '
            '{ notional_from = "50000", max_leverage = 100, maintenance_margin_rate = "0.005", '
            'maintenance_amount = "49" }]',
            "positions[0].tiers[1].maintenance_amount",
        ),
        ('max_leverage = 40\ninitial_margin_fraction = "0.05"', "positions[0].max_leverage"),
    ],
)
def test_bad_account_rules_name_the_file_and_key(tmp_path, rules, key):
    path = tmp_path / "account.toml"
    path.write_text(ACCOUNT.format(rules=rules))
    with pytest.raises(ConfigError) as exc:
        load_account(str(path))
    message = str(exc.value)
    assert "account.toml" in message and key in message and "\n" not in message


def test_bad_market_config_rules_name_the_file_and_key(tmp_path):
    text = (
        (VENUES / "binance.toml")
        .read_text()
        .replace('maintenance_amount = "1300"', 'maintenance_amount = "1299"')
    )
    path = tmp_path / "binance.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        build_margin(load_market([str(path)]))
    message = str(exc.value)
    assert "binance.toml" in message and 'margin.markets."BTC/USDC:USDC"' in message
    assert "tiers[2].maintenance_amount" in message


def test_caps_from_the_market_config_reach_the_pre_trade_check(tmp_path):
    from router.app import DEFAULT_CONFIG

    text = Path(DEFAULT_CONFIG).read_text()
    text = text.replace(
        'funding_cap = "0.0005"', 'funding_cap = "0.0005"\nmax_notional = "10000"', 1
    )
    text = text.replace(
        '[margin]\nquote = "USDC"', '[margin]\nquote = "USDC"\nmax_gross_leverage = "2"'
    )
    path = tmp_path / "capped.toml"
    path.write_text(text)
    setup = build_margin(load_market([str(path)]))
    ledger, sub = setup.ledger, setup.sub_id
    result = ledger.check_leg(sub, perp("buy", "4", "2700", "ETH-PERP"))
    assert not result.accepted and result.limit == "max_notional"
    assert result.available == Decimal("10000")
    assert ledger.check_leg(sub, perp("buy", "3", "2700", "ETH-PERP")).accepted
    bad = text.replace('max_notional = "10000"', 'max_notional = "-1"')
    path.write_text(bad)
    with pytest.raises(ConfigError, match="max_notional"):
        load_market([str(path)])


def test_the_quote_asset_borrowing_terms_come_from_the_market_config(tmp_path):
    from router.app import DEFAULT_CONFIG

    text = (
        Path(DEFAULT_CONFIG)
        .read_text()
        .replace(
            "[margin.assets.ETH]",
            '[margin.assets.USDC]\ninitial_liability_weight = "1.02"\n'
            'maintenance_liability_weight = "1.01"\nborrow_limit = "50000"\n\n[margin.assets.ETH]',
            1,
        )
    )
    path = tmp_path / "quote-terms.toml"
    path.write_text(text)
    ledger = build_margin(load_market([str(path)])).ledger
    usdc = ledger.assets["USDC"]
    assert (usdc.initial_liability_ppm, usdc.maintenance_liability_ppm) == (1_020_000, 1_010_000)
    assert usdc.borrow_limit_units == 50_000 * SCALE


def test_marks_are_the_median_of_the_venues_with_outliers_dropped(tmp_path):
    small = (ROOT / "config" / "examples" / "small.toml").read_text()
    # the book quotes 4,000 while the pools say 3,000: an outlier, not a mark source
    far = small.replace('bids = [["2999.50"', 'bids = [["3999.50"').replace(
        'asks = [["3000.50", "2"], ["3001.00", "5"], ["3002.50", "8"]]',
        'asks = [["4000.50", "2"], ["4001.00", "5"], ["4002.50", "8"]]',
    )
    assert far != small
    path = tmp_path / "far.toml"
    path.write_text(far + '\n[[accounts]]\nname = "a"\nbalances = { USDC = "1000" }\n')
    market = load_market([str(path)])
    setup = build_margin(market)
    assert setup.ledger.marks["ETH"].price_units == 3000 * SCALE
    # the marks the executor refreshes between children follow the same rule
    assert setup.mark_sources["ETH"] == "ETH/USDC"
    assert setup.live_marks(market)["ETH"] == Decimal(3000)
    assert market.median_mid("ETH/USDC") == Decimal(3000)
    assert market.median_mid("BTC/USDC") is None  # no venue trades it


def test_binance_funding_terms_are_keys_of_the_market_config_and_reach_the_ledger(tmp_path):
    from router.app import DEFAULT_CONFIG
    from router.margin.funding import binance_rate_units
    from router.margin.quantities import RATE_SCALE, to_text

    text = Path(DEFAULT_CONFIG).read_text()
    terms = (
        'funding_cap = "0.0075"\nfunding_interest = "0.0001"\n'
        'funding_band = "0.0005"\nfunding_interval_hours = 4'
    )
    text = text.replace('funding_cap = "0.0005"', terms, 1)
    path = tmp_path / "funding.toml"
    path.write_text(text)
    setup = build_margin(load_market([str(path)]))
    ledger = setup.ledger
    market = ledger.markets["ETH-PERP"]
    assert market.funding_cap_units == 75 * RATE_SCALE // 10_000
    assert market.funding_interest_units == RATE_SCALE // 10_000
    assert market.funding_band_units == 5 * RATE_SCALE // 10_000
    assert market.funding_interval_hours == 4
    # mark at the oracle: a zero premium pays the interest component scaled to 4 of 8 hours
    ledger.set_mark("ETH-PERP", to_text(ledger.marks["ETH"].price_units))
    rate = ledger.accrue_funding("ETH-PERP")
    assert rate == Decimal("0.00005")
    assert binance_rate_units([0], RATE_SCALE // 10_000, 5 * RATE_SCALE // 10_000, 10**12, 4) == (
        RATE_SCALE // 20_000
    )


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("funding_interest", '"-0.0001"', ">= 0"),
        ("funding_band", '"2"', "in [0, 1]"),
        ("funding_interval_hours", "0", "integer in [1, 8]"),
        ("funding_interval_hours", "9", "integer in [1, 8]"),
        ("funding_band", '"0.0000000000001"', "places"),
    ],
)
def test_bad_funding_terms_name_the_file_and_key(tmp_path, key, value, allowed):
    from router.app import DEFAULT_CONFIG

    text = Path(DEFAULT_CONFIG).read_text()
    text = text.replace('funding_cap = "0.0005"', f'funding_cap = "0.0005"\n{key} = {value}', 1)
    path = tmp_path / "bad_funding.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_market([str(path)])
    message = str(err.value)
    assert "bad_funding.toml" in message and key in message, message
    assert allowed in message, message
