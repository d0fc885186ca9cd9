"""The market config: a TOML file read into frozen, validated dataclasses.

One concern per module: :mod:`~router.config.reader` reads and parses TOML (every crossroute TOML
file goes through it), :mod:`~router.config.schema` holds the checks every file kind shares (the
table-and-known-keys check, exact numbers through :mod:`venues.values`), :mod:`~router.config.market`
and :mod:`~router.config.margin` declare the market document, :mod:`~router.config.records` the
validated result.

Order books trade spot (``instrument = "spot"``, the default; symbol ``BASE/QUOTE``) or a linear
perpetual (``instrument = "perp"``; symbol ``BASE/QUOTE:SETTLE`` in ccxt's notation, settled in its
quote asset). The optional top-level ``[margin]`` table configures the cross-margin core; without
it, every asset counts at weight 1 and no perpetual has a market.

This package knows nothing of venues: turning prices into ticks and building pools is the
composition root's job (``router/app.py``).
"""

from router.config.market import load_config, parse_config, parse_config_data
from router.config.reader import FILE_KEY, SYNTAX_KEY, parse_toml, read_toml
from router.config.records import (
    AccountConfig,
    AmmConfig,
    AssetConfig,
    ClmmConfig,
    MarginAssetConfig,
    MarginConfig,
    MarginMarketConfig,
    MarketConfig,
    OrderBookConfig,
    PositionConfig,
    TierConfig,
    VenueConfig,
)
from router.config.schema import MISSING, TOP_LEVEL, Keys, check_table

__all__ = [
    "FILE_KEY",
    "MISSING",
    "SYNTAX_KEY",
    "TOP_LEVEL",
    "AccountConfig",
    "AmmConfig",
    "AssetConfig",
    "ClmmConfig",
    "Keys",
    "MarginAssetConfig",
    "MarginConfig",
    "MarginMarketConfig",
    "MarketConfig",
    "OrderBookConfig",
    "PositionConfig",
    "TierConfig",
    "VenueConfig",
    "check_table",
    "load_config",
    "parse_config",
    "parse_config_data",
    "parse_toml",
    "read_toml",
]
