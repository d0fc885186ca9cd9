"""The [protection] table: defaults in one place, every value checked, errors naming the key."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.config import parse_config
from router.config.protection import (
    DEFAULT_BAND_BPS,
    DEFAULT_MAX_FIXED_COST_SHARE,
    DEFAULT_UNWIND_BAND_BPS,
    MAX_BAND_BPS,
    ProtectionConfig,
)
from router.execution.order import order_from_dict
from router.model.errors import ConfigError
from router.protection import DEFAULT_BAND_BPS as ROUTER_DEFAULT_BAND_BPS

ASSETS = "[assets]\nETH = { decimals = 18 }\nUSDC = { decimals = 6 }\n"


def test_without_the_table_every_default_applies() -> None:
    config = parse_config(ASSETS)
    assert config.protection == ProtectionConfig()
    assert (config.protection.band_bps, config.protection.unwind_band_bps) == (
        DEFAULT_BAND_BPS,
        DEFAULT_UNWIND_BAND_BPS,
    )
    assert config.protection.max_fixed_cost_share == DEFAULT_MAX_FIXED_COST_SHARE
    assert ROUTER_DEFAULT_BAND_BPS is DEFAULT_BAND_BPS  # one place for the default


@given(
    band=st.integers(1, MAX_BAND_BPS),
    unwind=st.integers(0, MAX_BAND_BPS),
    share=st.decimals(0, 1, places=4),
)
def test_the_table_is_read_exactly(band: int, unwind: int, share: Decimal) -> None:
    text = (
        f"{ASSETS}[protection]\nband_bps = {band}\nunwind_band_bps = {unwind}\n"
        f'max_fixed_cost_share = "{share}"\n'
    )
    assert parse_config(text).protection == ProtectionConfig(band, unwind, share)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("band_bps = 0", "protection.band_bps"),
        ("band_bps = 10001", "protection.band_bps"),
        ('band_bps = "100"', "protection.band_bps"),
        ("unwind_band_bps = -1", "protection.unwind_band_bps"),
        ('max_fixed_cost_share = "1.5"', "protection.max_fixed_cost_share"),
        ("max_fixed_cost_share = 0.5", "protection.max_fixed_cost_share"),
        ("band = 100", "protection.band"),
    ],
)
def test_bad_values_name_the_key(table: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"{ASSETS}[protection]\n{table}\n", "m.toml")
    assert key in str(caught.value), str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_order_without_its_own_unwind_band_takes_the_given_default() -> None:
    data = {
        "order": {"client_id": "o1"},
        "legs": [{"id": "a", "symbol": "ETH/USDC", "side": "buy", "qty": "1"}],
    }
    assert order_from_dict(data, "o.toml", 250).unwind_band_bps == 250
    assert order_from_dict(data, "o.toml").unwind_band_bps == DEFAULT_UNWIND_BAND_BPS
    data["order"]["unwind_band_bps"] = 40
    assert order_from_dict(data, "o.toml", 250).unwind_band_bps == 40
