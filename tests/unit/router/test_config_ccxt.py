"""`kind = "ccxt"` venues in the market config: the schema (router.config) and the build
(router.app): exchange id, keys from named environment variables, one ConfigError per bad value."""

from __future__ import annotations

from decimal import Decimal

import ccxt.async_support as ccxt_async
import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.app import build_market
from router.config import parse_config
from router.config.records import CcxtConfig
from router.model.errors import ConfigError

HEAD = """
[assets]
ETH = { decimals = 18 }
USDC = { decimals = 6 }

[[venues]]
name = "remote"
kind = "ccxt"
symbol = "ETH/USDC"
"""
GOOD = {
    "exchange": '"binance"',
    "base_url": '"http://127.0.0.1:8081/v/binance-book"',
    "api_key_env": '"CR_KEY"',
    "api_secret_env": '"CR_SECRET"',
    "taker_fee_pips": "1000",
    "max_snapshot_age_secs": '"2.5"',
    "leg_cost": '"0.5"',
}


def text(**fields: str | None) -> str:
    merged = {**GOOD, **fields}
    return HEAD + "".join(f"{k} = {v}\n" for k, v in merged.items() if v is not None)


def refused(source: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(source, "m.toml")
    return info.value


def test_a_ccxt_venue_is_read_exactly() -> None:
    (venue,) = parse_config(text(), "m.toml").venues
    assert isinstance(venue, CcxtConfig)
    assert (venue.exchange, venue.base_url) == ("binance", "http://127.0.0.1:8081/v/binance-book")
    assert (venue.api_key_env, venue.api_secret_env) == ("CR_KEY", "CR_SECRET")
    assert venue.taker_fee_pips == 1000 and venue.leg_cost == Decimal("0.5")
    assert venue.max_snapshot_age_secs == Decimal("2.5")
    bare = parse_config(
        text(
            base_url=None,
            api_key_env=None,
            api_secret_env=None,
            taker_fee_pips=None,
            max_snapshot_age_secs=None,
            leg_cost=None,
        ),
        "m.toml",
    ).venues[0]
    assert (bare.base_url, bare.api_key_env, bare.taker_fee_pips) == (None, None, None)
    assert bare.max_snapshot_age_secs == Decimal(5)


@pytest.mark.parametrize(
    "fields, key",
    [
        ({"exchange": None}, "venues[0].exchange"),
        ({"exchange": '"bin ance"'}, "venues[0].exchange"),
        ({"base_url": '"ftp://host/x"'}, "venues[0].base_url"),
        ({"base_url": "5"}, "venues[0].base_url"),
        ({"api_key_env": '"1BAD"'}, "venues[0].api_key_env"),
        ({"api_secret_env": None}, "venues[0].api_secret_env"),
        ({"api_key_env": None}, "venues[0].api_key_env"),
        ({"taker_fee_pips": "1000000"}, "venues[0].taker_fee_pips"),
        ({"max_snapshot_age_secs": "2.5"}, "venues[0].max_snapshot_age_secs"),
        ({"max_snapshot_age_secs": '"0"'}, "venues[0].max_snapshot_age_secs"),
        ({"max_snapshot_age_secs": '"3601"'}, "venues[0].max_snapshot_age_secs"),
        ({"api_key": '"inline"'}, "venues[0].api_key"),
        ({"tick_size": '"0.01"'}, "venues[0].tick_size"),
    ],
)
def test_bad_ccxt_fields_name_the_key(fields: dict[str, str | None], key: str) -> None:
    error = refused(text(**fields))
    assert key in str(error), str(error)
    assert "\n" not in str(error)


@given(
    st.sampled_from(("binance", "binanceusdm", "kraken", "okx", "bybit"))
    | st.text(
        st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters='"\\'),
        min_size=1,
        max_size=12,
    )
)
def test_only_exchange_ids_ccxt_knows_are_built(exchange: str) -> None:
    source = text(exchange=f'"{exchange}"', api_key_env=None, api_secret_env=None)
    try:
        config = parse_config(source, "m.toml")
    except ConfigError as exc:
        assert "venues[0].exchange" in str(exc)
        return
    if exchange in ccxt_async.exchanges:
        assert build_market(config).adapters["remote"].exchange.id == exchange
    else:
        with pytest.raises(ConfigError, match=r"venues\[0\]\.exchange"):
            build_market(config)


def test_keys_come_from_the_named_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config(text(), "m.toml")
    monkeypatch.delenv("CR_KEY", raising=False)
    monkeypatch.setenv("CR_SECRET", "s3cret")
    with pytest.raises(ConfigError) as info:
        build_market(config)
    message = str(info.value)
    assert "venues[0].api_key_env" in message and "CR_KEY" in message
    assert "s3cret" not in message  # a secret is never echoed
    monkeypatch.setenv("CR_KEY", "k3y")
    adapter = build_market(config).adapters["remote"]
    assert (adapter.exchange.apiKey, adapter.exchange.secret) == ("k3y", "s3cret")
    # the base URL replaces the exchange's host, paths kept
    assert adapter.exchange.urls["api"]["public"].startswith(
        "http://127.0.0.1:8081/v/binance-book/"
    )
    assert adapter.max_snapshot_age_secs == Decimal("2.5") and adapter.mid_price() is None
