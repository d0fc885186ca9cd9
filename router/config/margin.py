"""The market config's ``[margin]`` table: quote asset, collateral weights, perp markets and
their notional tiers, starting marks, liquidation terms (see
:class:`~router.config.records.MarginConfig`).

The margin core's grids (router/margin/quantities.py): amounts and prices on 1e-18, weights in
ppm, funding rates on 1e-12. Starting marks and margin fractions are read here on 1e-8 (the marks'
grid, and the fractions' in router/margin/tiers.py), which the core takes exactly; a config value
finer than its grid is refused here, not rounded. Leverage and bps bounds are the core's too.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from router.config.records import (
    AssetConfig,
    MarginAssetConfig,
    MarginConfig,
    MarginMarketConfig,
    TierConfig,
    VenueConfig,
)
from router.config.schema import MISSING, Fields, Keys

MARGIN_PRICE_PLACES = 8
MARGIN_WEIGHT_PLACES = 6
MARGIN_RATE_PLACES = 12
MAX_LEVERAGE = 200
MAX_LIABILITY_WEIGHT = Decimal(10)

MARGIN_KEYS = Keys(
    (),
    (
        "quote",
        "assets",
        "markets",
        "marks",
        "liquidation_fee_bps",
        "liquidation_buffer_bps",
        "max_gross_leverage",
    ),
)
BORROW_KEYS = (
    "initial_liability_weight",
    "maintenance_liability_weight",
    "borrow_limit",
    "borrow_rate",
)
MARGIN_ASSET_KEYS = Keys(("initial_weight",), ("maintenance_weight", *BORROW_KEYS))
# the quote asset counts at 1 when held; only its borrowing terms are configurable
MARGIN_QUOTE_KEYS = Keys((), BORROW_KEYS)
FRACTION_KEYS = ("initial_margin_fraction", "maintenance_margin_fraction")
MARGIN_MARKET_KEYS = Keys(
    ("name",),
    (
        "oracle",
        "max_leverage",
        "tiers",
        "max_notional",
        *FRACTION_KEYS,
        "funding_cap",
        "funding_interest",
        "funding_band",
        "funding_interval_hours",
    ),
)
BRACKET_KEYS = ("maintenance_margin_rate", "maintenance_amount")
TIER_KEYS = Keys(("notional_from", "max_leverage"), BRACKET_KEYS)


class MarginFields(Fields):
    """The ``[margin]`` table's checks."""

    def margin(
        self, raw: Any, assets: tuple[AssetConfig, ...], venues: list[VenueConfig]
    ) -> MarginConfig:
        """The ``[margin]`` table; see :class:`MarginConfig`. Every perp venue needs a market."""
        spec = self.table("margin", raw, MARGIN_KEYS)
        names = [asset.name for asset in assets]
        quote = spec.get("quote", MISSING)
        if quote is MISSING:
            quotes = list(dict.fromkeys(venue.quote for venue in venues))
            if len(quotes) != 1:
                raise self.fail(
                    "margin.quote",
                    MISSING,
                    f"an asset among: {', '.join(names)} (required unless"
                    " every venue has the same quote asset)",
                )
            quote = quotes[0]
        if quote not in names:
            raise self.fail("margin.quote", quote, f"an asset among: {', '.join(names)}")
        weights = []
        assets_raw = spec.get("assets", {})
        if not isinstance(assets_raw, dict):
            raise self.fail(
                "margin.assets", assets_raw, "a table of { initial_weight, maintenance_weight }"
            )
        for name, item in assets_raw.items():
            weights.append(self.margin_asset(f"margin.assets.{name}", name, item, names, quote))
        markets: list[MarginMarketConfig] = []
        markets_raw = spec.get("markets", {})
        if not isinstance(markets_raw, dict):
            raise self.fail(
                "margin.markets", markets_raw, 'a table of "BASE/QUOTE:SETTLE" = { name, ... }'
            )
        perps = [venue.symbol for venue in venues if venue.instrument == "perp"]
        for symbol, item in markets_raw.items():
            market = self.margin_market(
                f'margin.markets."{symbol}"', symbol, item, names, quote, perps
            )
            if market.name in (m.name for m in markets) or market.name in names:
                raise self.fail(
                    f'margin.markets."{symbol}".name',
                    market.name,
                    "a name no other market or asset has",
                )
            markets.append(market)
        for symbol in dict.fromkeys(perps):
            if symbol not in markets_raw:
                raise self.fail(
                    f'margin.markets."{symbol}"',
                    MISSING,
                    "a table { name, oracle, max_leverage | tiers, funding_cap } for every perp venue's symbol",
                )
        marks = []
        marks_raw = spec.get("marks", {})
        if not isinstance(marks_raw, dict):
            raise self.fail("margin.marks", marks_raw, 'a table { NAME = "price" }')
        markable = [name for name in names if name != quote] + [market.name for market in markets]
        for name, value in marks_raw.items():
            if name not in markable:
                raise self.fail(
                    f"margin.marks.{name}",
                    value,
                    f"a name among: {', '.join(markable) or '(none)'} (assets other than the quote"
                    " asset, and market names)",
                )
            marks.append(
                (
                    name,
                    self.grid_decimal(
                        f"margin.marks.{name}",
                        value,
                        MARGIN_PRICE_PLACES,
                        positive=True,
                        what=f" in {quote}",
                    ),
                )
            )
        fee = self.integer(
            "margin.liquidation_fee_bps", spec.get("liquidation_fee_bps", 50), 0, 10_000
        )
        buffer = self.integer(
            "margin.liquidation_buffer_bps", spec.get("liquidation_buffer_bps", 1000), 0, 100_000
        )
        gross = None
        if "max_gross_leverage" in spec:
            gross = self.grid_decimal(
                "margin.max_gross_leverage",
                spec["max_gross_leverage"],
                MARGIN_WEIGHT_PLACES,
                positive=True,
            )
        return MarginConfig(
            quote=quote,
            assets=tuple(weights),
            markets=tuple(markets),
            marks=tuple(marks),
            liquidation_fee_bps=fee,
            liquidation_buffer_bps=buffer,
            max_gross_leverage=gross,
        )

    def margin_asset(
        self, key: str, name: str, raw: Any, names: list[str], quote: str
    ) -> MarginAssetConfig:
        if name not in names:
            raise self.fail(key, raw, f"an asset among: {', '.join(names)}")
        spec = self.table(key, raw, MARGIN_QUOTE_KEYS if name == quote else MARGIN_ASSET_KEYS)
        one = Decimal(1)
        initial = one
        if name != quote:
            initial = self.grid_decimal(
                f"{key}.initial_weight",
                spec["initial_weight"],
                MARGIN_WEIGHT_PLACES,
                lo=Decimal(0),
                hi=one,
            )
        maintenance = initial
        if "maintenance_weight" in spec:
            maintenance = self.grid_decimal(
                f"{key}.maintenance_weight",
                spec["maintenance_weight"],
                MARGIN_WEIGHT_PLACES,
                lo=initial,
                hi=one,
                what=" (maintenance >= initial: liquidation haircuts less)",
            )
        liability = None
        if "initial_liability_weight" in spec:
            liability = self.grid_decimal(
                f"{key}.initial_liability_weight",
                spec["initial_liability_weight"],
                MARGIN_WEIGHT_PLACES,
                lo=one,
                hi=MAX_LIABILITY_WEIGHT,
            )
        liability_mm = None
        if "maintenance_liability_weight" in spec:
            liability_mm = self.grid_decimal(
                f"{key}.maintenance_liability_weight",
                spec["maintenance_liability_weight"],
                MARGIN_WEIGHT_PLACES,
                lo=one,
                hi=MAX_LIABILITY_WEIGHT if liability is None else liability,
                what=" (maintenance <= initial)",
            )
        borrow_limit = None
        if "borrow_limit" in spec:
            borrow_limit = self.decimal(f"{key}.borrow_limit", spec["borrow_limit"])
        borrow_rate = Decimal(0)
        if "borrow_rate" in spec:
            borrow_rate = self.decimal(f"{key}.borrow_rate", spec["borrow_rate"])
        return MarginAssetConfig(
            name, initial, maintenance, liability, liability_mm, borrow_limit, borrow_rate
        )

    def margin_market(
        self, key: str, symbol: str, raw: Any, names: list[str], quote: str, perps: list[str]
    ) -> MarginMarketConfig:
        # A market config names the perps its venues trade; a rule set without perp venues
        # (config/venues/*.toml, `margin replay --rules`) may name any BASE/QUOTE:SETTLE.
        if (perps or not re.fullmatch(r"[^/:]+/[^/:]+:[^/:]+", symbol)) and symbol not in perps:
            raise self.fail(
                key,
                raw,
                f"a perp symbol traded by a venue: {', '.join(dict.fromkeys(perps)) or '(none)'}",
            )
        base = symbol.split("/", maxsplit=1)[0]
        if symbol.split(":")[1] != quote:
            raise self.fail(key, raw, f"a perp settled in the margin quote asset {quote}")
        spec = self.table(key, raw, MARGIN_MARKET_KEYS)
        name = self.name(f"{key}.name", spec["name"])
        oracle = spec.get("oracle", base)
        if oracle not in names or oracle == quote:
            raise self.fail(
                f"{key}.oracle",
                oracle,
                f"an asset among: {', '.join(n for n in names if n != quote)}",
            )
        fractions = [
            self.grid_decimal(
                f"{key}.{k}", spec[k], MARGIN_PRICE_PLACES, positive=True, hi=Decimal(1)
            )
            if k in spec
            else None
            for k in FRACTION_KEYS
        ]
        if ("max_leverage" in spec) + ("tiers" in spec) + (fractions != [None, None]) != 1:
            raise self.fail(
                f"{key}.max_leverage",
                spec.get("max_leverage", MISSING),
                "exactly one of max_leverage (one tier), tiers, or initial_margin_fraction "
                "with maintenance_margin_fraction",
            )
        tiers: tuple[TierConfig, ...]
        if fractions != [None, None]:
            tiers = ()
        elif "max_leverage" in spec:
            tiers = (
                TierConfig(
                    Decimal(0),
                    self.integer(f"{key}.max_leverage", spec["max_leverage"], 1, MAX_LEVERAGE),
                ),
            )
        else:
            tiers = self.tiers(f"{key}.tiers", spec["tiers"])
        cap = self.grid_decimal(
            f"{key}.funding_cap",
            spec.get("funding_cap", "0.0005"),
            MARGIN_RATE_PLACES,
            lo=Decimal(0),
            hi=Decimal(1),
            what=" (a fraction per funding interval)",
        )
        # Binance's interest component and clamp band are quoted per 8 hours (0.01%, 0.05%)
        interest, band = (
            self.grid_decimal(
                f"{key}.{k}",
                spec.get(k, "0"),
                MARGIN_RATE_PLACES,
                lo=Decimal(0),
                hi=Decimal(1),
                what=" (a fraction per 8 hours)",
            )
            for k in ("funding_interest", "funding_band")
        )
        hours = self.integer(
            f"{key}.funding_interval_hours", spec.get("funding_interval_hours", 8), 1, 8
        )
        return MarginMarketConfig(
            symbol=symbol,
            name=name,
            oracle=oracle,
            tiers=tiers,
            funding_cap=cap,
            funding_interest=interest,
            funding_band=band,
            funding_interval_hours=hours,
            initial_margin_fraction=fractions[0],
            maintenance_margin_fraction=fractions[1],
            max_notional=(
                self.grid_decimal(f"{key}.max_notional", spec["max_notional"], MARGIN_PRICE_PLACES)
                if "max_notional" in spec
                else None
            ),
        )

    def tiers(self, key: str, raw: Any) -> tuple[TierConfig, ...]:
        tiers: list[TierConfig] = []
        for index, item in enumerate(self.array(key, raw, allow_empty=False)):
            where = f"{key}[{index}]"
            spec = self.table(where, item, TIER_KEYS)
            bracket = [
                self.grid_decimal(f"{where}.{k}", spec[k], MARGIN_PRICE_PLACES)
                if k in spec
                else None
                for k in BRACKET_KEYS
            ]
            start = self.grid_decimal(
                f"{where}.notional_from", spec["notional_from"], MARGIN_PRICE_PLACES
            )
            leverage = self.integer(f"{where}.max_leverage", spec["max_leverage"], 1, MAX_LEVERAGE)
            if not tiers and start != 0:
                raise self.fail(
                    f"{where}.notional_from",
                    spec["notional_from"],
                    '"0" (the first tier starts at zero)',
                )
            if tiers and start <= tiers[-1].notional_from:
                raise self.fail(
                    f"{where}.notional_from",
                    spec["notional_from"],
                    f"an amount above {tiers[-1].notional_from} (strictly increasing)",
                )
            if tiers and leverage > tiers[-1].max_leverage:
                raise self.fail(
                    f"{where}.max_leverage",
                    spec["max_leverage"],
                    f"integer in [1, {tiers[-1].max_leverage}] (non-increasing)",
                )
            tiers.append(TierConfig(start, leverage, *bracket))
        return tuple(tiers)
