"""The market config's schema: assets, venues, accounts (the ``[margin]`` table is
:mod:`router.config.margin`'s), each table declared as :class:`~router.config.schema.Keys`.

Every amount is parsed exactly: from a decimal string, or from a TOML integer; a TOML float is
refused because it has already lost precision when the file was parsed. Unknown keys are refused,
so a typo never silently falls back to a default. Every problem is a ConfigError naming the file,
the key path (``venues[2].fee_pips``, indices from 0), the value and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.config.margin import MarginFields
from router.config.protection import ProtectionConfig, parse_protection
from router.config.reader import FILE_KEY, parse_toml, read_text, read_toml
from router.config.records import (
    AccountConfig,
    AmmConfig,
    AssetConfig,
    CcxtConfig,
    ClmmConfig,
    MarketConfig,
    OrderBookConfig,
    PositionConfig,
    VenueConfig,
)
from router.config.schema import EXACT, MISSING, TOP_LEVEL, Fields, Keys
from router.model.errors import ConfigError

FEE_PIPS_MAX = 999_999  # a fee is a fraction of the input below 100%
MAX_DECIMALS = 36
UINT112_MAX = (1 << 112) - 1  # Uniswap v2 reserves are uint112
UINT128_MAX = (1 << 128) - 1  # Uniswap v3 liquidity is uint128
MAX_TICK_SPACING = 16_383  # Uniswap v3 factory: 0 < tickSpacing < 16384
MAX_PRICE = Decimal(10) ** 12  # quote per base: beyond any market, within the tick range
MAX_LEG_COST = Decimal(10) ** 9  # quote units charged per leg
MAX_SNAPSHOT_AGE_SECS = 3600  # an order book older than an hour is no basis for a quote
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BASE_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
KINDS = ("amm", "clmm", "orderbook", "ccxt")
INSTRUMENTS = ("spot", "perp")

MARKET_KEYS = Keys(("assets",), ("venues", "accounts", "margin", "protection"))
ASSET_KEYS = Keys(("decimals",))
_COMMON = ("name", "kind", "symbol")
VENUE_KEYS = {
    "amm": Keys(_COMMON + ("fee_pips", "reserves"), ("leg_cost",)),
    "clmm": Keys(_COMMON + ("fee_pips", "tick_spacing", "price"), ("leg_cost", "positions")),
    "orderbook": Keys(
        _COMMON + ("tick_size", "lot_size"),
        (
            "instrument",
            "leg_cost",
            "min_notional",
            "taker_fee_pips",
            "maker_fee_pips",
            "bids",
            "asks",
        ),
    ),
    "ccxt": Keys(
        _COMMON + ("exchange",),
        (
            "instrument",
            "leg_cost",
            "base_url",
            "api_key_env",
            "api_secret_env",
            "taker_fee_pips",
            "max_snapshot_age_secs",
        ),
    ),
}
POSITION_KEYS = Keys(("lower", "upper", "liquidity"), ("owner",))
ACCOUNT_KEYS = Keys(("name",), ("balances", "api_key", "api_secret"))


def load_config(path: str | Path | Sequence[str | Path]) -> MarketConfig:
    """Read and validate the market TOML at ``path``. Raises ConfigError for every problem.

    Several paths are read as one document, in the order given (layering: a file may add venues,
    accounts or a ``[margin]`` table to another; defining a table twice is a TOML error). Errors
    then name the files joined by " + ".
    """
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths:
        raise ConfigError("(none)", FILE_KEY, [], "at least one market TOML file")
    if len(paths) == 1:
        return parse_config_data(read_toml(paths[0]), str(paths[0]))
    # layered files parse as one document, so a table defined twice is an error, as TOML says
    texts = [read_text(one) for one in paths]
    return parse_config("\n".join(texts), " + ".join(str(one) for one in paths))


def parse_config(text: str, file: str = "<string>") -> MarketConfig:
    """Validate market TOML given as text; ``file`` names it in errors."""
    return parse_config_data(parse_toml(text, file), file)


def parse_config_data(data: dict[str, Any], file: str = "<data>") -> MarketConfig:
    """Validate an already-parsed market document (e.g. one a backtest config assembles)."""
    return MarketFields(file).market(data)


class MarketFields(Fields):
    """The market document's tables, top down."""

    def market(self, data: dict[str, Any]) -> MarketConfig:
        self.table(TOP_LEVEL, data, MARKET_KEYS)
        assets = self.assets(data["assets"])
        decimals = {asset.name: asset.decimals for asset in assets}
        venues: list[VenueConfig] = []
        seen: set[str] = set()
        for index, raw in enumerate(self.array("venues", data.get("venues", []))):
            venue = self.venue(f"venues[{index}]", raw, decimals)
            if venue.name in seen:
                raise self.fail(f"venues[{index}].name", venue.name, "a name no other venue has")
            seen.add(venue.name)
            venues.append(venue)
        accounts: list[AccountConfig] = []
        names: set[str] = set()
        keys: set[str] = set()
        for index, raw in enumerate(self.array("accounts", data.get("accounts", []))):
            account = self.account(f"accounts[{index}]", raw, decimals)
            if account.name in names:
                raise self.fail(
                    f"accounts[{index}].name", account.name, "a name no other account has"
                )
            if account.api_key is not None and account.api_key in keys:
                raise self.fail(
                    f"accounts[{index}].api_key", account.api_key, "a key no other account has"
                )
            names.add(account.name)
            if account.api_key is not None:
                keys.add(account.api_key)
            accounts.append(account)
        margin = (
            None
            if "margin" not in data
            else MarginFields(self.file).margin(data["margin"], assets, venues)
        )
        protection = (
            ProtectionConfig()
            if "protection" not in data
            else parse_protection(self, data["protection"])
        )
        return MarketConfig(
            file=self.file,
            assets=assets,
            venues=tuple(venues),
            accounts=tuple(accounts),
            margin=margin,
            protection=protection,
        )

    def assets(self, raw: Any) -> tuple[AssetConfig, ...]:
        if not isinstance(raw, dict) or not raw:
            raise self.fail("assets", raw, "a non-empty table such as { ETH = { decimals = 18 } }")
        assets = []
        for name, spec in raw.items():
            key = f"assets.{name}"
            self.name(key, name)
            self.table(key, spec, ASSET_KEYS)
            assets.append(
                AssetConfig(
                    name, self.integer(f"{key}.decimals", spec["decimals"], 0, MAX_DECIMALS)
                )
            )
        return tuple(assets)

    def venue(self, key: str, raw: Any, decimals: dict[str, int]) -> VenueConfig:
        if not isinstance(raw, dict):
            raise self.fail(key, raw, "a table")
        kind = raw.get("kind", MISSING)
        if kind not in KINDS:
            raise self.fail(f"{key}.kind", kind, " | ".join(KINDS))
        spec = self.table(key, raw, VENUE_KEYS[kind])
        name = self.name(f"{key}.name", spec["name"])
        instrument = spec.get("instrument", "spot")
        if instrument not in INSTRUMENTS:
            raise self.fail(f"{key}.instrument", instrument, " | ".join(INSTRUMENTS))
        base, quote, settle = self.symbol(f"{key}.symbol", spec["symbol"], decimals, instrument)
        fields = dict(
            name=name,
            kind=kind,
            symbol=spec["symbol"],
            base=base,
            quote=quote,
            instrument=instrument,
            settle=settle,
            leg_cost=self.decimal(
                f"{key}.leg_cost",
                spec.get("leg_cost", "0"),
                places=decimals[quote],
                maximum=MAX_LEG_COST,
                what=f" in {quote}",
            ),
        )
        if kind == "amm":
            return self.amm(key, spec, fields, decimals)
        if kind == "clmm":
            return self.clmm(key, spec, fields)
        if kind == "ccxt":
            return self.ccxt(key, spec, fields)
        return self.orderbook(key, spec, fields)

    def symbol(
        self, key: str, raw: Any, decimals: dict[str, int], instrument: str = "spot"
    ) -> tuple[str, str, str | None]:
        """(base, quote, settle): spot 'BASE/QUOTE', perp 'BASE/QUOTE:SETTLE' with SETTLE = QUOTE."""
        known = ", ".join(decimals)
        text = raw if isinstance(raw, str) else ""
        pair, colon, settle = text.partition(":")
        if instrument == "perp" and (not colon or not settle):
            raise self.fail(
                key,
                raw,
                f"'BASE/QUOTE:SETTLE' for a perp (instrument = \"perp\"), e.g. "
                f"'ETH/USDC:USDC', assets among: {known}",
            )
        if instrument == "spot" and colon:
            raise self.fail(
                key, raw, "'BASE/QUOTE' for spot; a ':SETTLE' suffix needs instrument = \"perp\""
            )
        parts = pair.split("/")
        if len(parts) != 2 or parts[0] == parts[1] or any(part not in decimals for part in parts):
            what = "'BASE/QUOTE:SETTLE'" if instrument == "perp" else "'BASE/QUOTE'"
            raise self.fail(key, raw, f"{what} of two different assets among: {known}")
        if instrument == "perp" and settle != parts[1]:
            raise self.fail(
                key,
                raw,
                f"a linear perpetual settled in its quote asset: "
                f"'{parts[0]}/{parts[1]}:{parts[1]}'",
            )
        return parts[0], parts[1], (settle if instrument == "perp" else None)

    def amm(
        self, key: str, spec: dict[str, Any], fields: dict[str, Any], decimals: dict[str, int]
    ) -> AmmConfig:
        fee_pips = self.integer(f"{key}.fee_pips", spec["fee_pips"], 0, FEE_PIPS_MAX)
        reserves = self.array(f"{key}.reserves", spec["reserves"])
        if len(reserves) != 2:
            raise self.fail(
                f"{key}.reserves",
                reserves,
                '[base, quote] in whole units, e.g. ["1000", "3000000"]',
            )
        amounts = []
        for index, (raw, asset) in enumerate(zip(reserves, (fields["base"], fields["quote"]))):
            amount = self.decimal(
                f"{key}.reserves[{index}]",
                raw,
                positive=True,
                places=decimals[asset],
                what=f" in {asset}",
            )
            if EXACT.scaleb(amount, decimals[asset]) > UINT112_MAX:
                raise self.fail(
                    f"{key}.reserves[{index}]", raw, f"at most 2^112-1 base units of {asset}"
                )
            amounts.append(amount)
        return AmmConfig(**fields, fee_pips=fee_pips, reserves=(amounts[0], amounts[1]))

    def clmm(self, key: str, spec: dict[str, Any], fields: dict[str, Any]) -> ClmmConfig:
        fee_pips = self.integer(f"{key}.fee_pips", spec["fee_pips"], 0, FEE_PIPS_MAX)
        spacing = self.integer(f"{key}.tick_spacing", spec["tick_spacing"], 1, MAX_TICK_SPACING)
        price = self.decimal(
            f"{key}.price",
            spec["price"],
            positive=True,
            maximum=MAX_PRICE,
            what=f" ({fields['quote']} per {fields['base']})",
        )
        positions = []
        for index, raw in enumerate(self.array(f"{key}.positions", spec.get("positions", []))):
            where = f"{key}.positions[{index}]"
            item = self.table(where, raw, POSITION_KEYS)
            lower = self.decimal(f"{where}.lower", item["lower"], positive=True, maximum=MAX_PRICE)
            upper = self.decimal(f"{where}.upper", item["upper"], positive=True, maximum=MAX_PRICE)
            if upper <= lower:
                raise self.fail(f"{where}.upper", item["upper"], f"a price above lower = {lower}")
            liquidity = self.big_integer(f"{where}.liquidity", item["liquidity"], 1, UINT128_MAX)
            owner = self.text(f"{where}.owner", item.get("owner", "config"))
            positions.append(PositionConfig(lower, upper, liquidity, owner))
        return ClmmConfig(
            **fields,
            fee_pips=fee_pips,
            tick_spacing=spacing,
            price=price,
            positions=tuple(positions),
        )

    def ccxt(self, key: str, spec: dict[str, Any], fields: dict[str, Any]) -> CcxtConfig:
        """The shape of a ccxt venue; whether ccxt knows ``exchange`` and whether the environment
        holds the keys is checked when the market is built (router.app), which loads ccxt."""
        exchange = self.name(f"{key}.exchange", spec["exchange"])
        base_url = spec.get("base_url")
        if base_url is not None and (
            not isinstance(base_url, str) or not _BASE_URL.match(base_url)
        ):
            raise self.fail(
                f"{key}.base_url", base_url, "an http(s) URL such as 'http://127.0.0.1:8081/v/book'"
            )
        env = {}
        for name in ("api_key_env", "api_secret_env"):
            value = spec.get(name)
            if value is not None and (not isinstance(value, str) or not _ENV_NAME.match(value)):
                raise self.fail(
                    f"{key}.{name}", value, "an environment variable name such as 'BINANCE_KEY'"
                )
            env[name] = value
        if (env["api_key_env"] is None) != (env["api_secret_env"] is None):
            missing = "api_secret_env" if env["api_secret_env"] is None else "api_key_env"
            raise self.fail(
                f"{key}.{missing}",
                MISSING,
                "a variable name (api_key_env and api_secret_env go together)",
            )
        fee = spec.get("taker_fee_pips")
        return CcxtConfig(
            **fields,
            exchange=exchange,
            base_url=base_url,
            api_key_env=env["api_key_env"],
            api_secret_env=env["api_secret_env"],
            taker_fee_pips=None
            if fee is None
            else self.integer(f"{key}.taker_fee_pips", fee, 0, FEE_PIPS_MAX),
            max_snapshot_age_secs=self.decimal(
                f"{key}.max_snapshot_age_secs",
                spec.get("max_snapshot_age_secs", "5"),
                positive=True,
                places=3,
                maximum=MAX_SNAPSHOT_AGE_SECS,
                what=" (seconds)",
            ),
        )

    def orderbook(self, key: str, spec: dict[str, Any], fields: dict[str, Any]) -> OrderBookConfig:
        tick = self.decimal(f"{key}.tick_size", spec["tick_size"], positive=True)
        lot = self.decimal(f"{key}.lot_size", spec["lot_size"], positive=True)
        min_notional = self.decimal(f"{key}.min_notional", spec.get("min_notional", "0"))
        taker = self.integer(
            f"{key}.taker_fee_pips", spec.get("taker_fee_pips", 0), 0, FEE_PIPS_MAX
        )
        maker = self.integer(
            f"{key}.maker_fee_pips", spec.get("maker_fee_pips", 0), 0, FEE_PIPS_MAX
        )
        sides = {}
        for side in ("bids", "asks"):
            levels: list[tuple[Decimal, Decimal]] = []
            for index, raw in enumerate(self.array(f"{key}.{side}", spec.get(side, []))):
                where = f"{key}.{side}[{index}]"
                if not isinstance(raw, list) or len(raw) != 2:
                    raise self.fail(where, raw, '[price, size], e.g. ["2999.50", "12.5"]')
                price = self.decimal(f"{where}[0]", raw[0], positive=True, maximum=MAX_PRICE)
                size = self.decimal(f"{where}[1]", raw[1], positive=True)
                self.multiple(f"{where}[0]", price, tick, raw[0], "tick size")
                self.multiple(f"{where}[1]", size, lot, raw[1], "lot size")
                if levels:
                    previous = levels[-1][0]
                    better = price < previous if side == "bids" else price > previous
                    if not better:
                        order = "below" if side == "bids" else "above"
                        raise self.fail(
                            f"{where}[0]",
                            raw[0],
                            f"a price strictly {order} the previous level {previous} (best first)",
                        )
                levels.append((price, size))
            sides[side] = tuple(levels)
        if sides["bids"] and sides["asks"] and sides["bids"][0][0] >= sides["asks"][0][0]:
            raise self.fail(
                f"{key}.asks[0][0]",
                spec["asks"][0][0],
                f"a price above the best bid {sides['bids'][0][0]} (the book must not cross)",
            )
        return OrderBookConfig(
            **fields,
            tick_size=tick,
            lot_size=lot,
            min_notional=min_notional,
            taker_fee_pips=taker,
            maker_fee_pips=maker,
            bids=sides["bids"],
            asks=sides["asks"],
        )

    def account(self, key: str, raw: Any, decimals: dict[str, int]) -> AccountConfig:
        spec = self.table(key, raw, ACCOUNT_KEYS)
        name = self.name(f"{key}.name", spec["name"])
        balances_raw = spec.get("balances", {})
        if not isinstance(balances_raw, dict):
            raise self.fail(f"{key}.balances", balances_raw, 'a table { ASSET = "amount" }')
        balances = []
        for asset, amount in balances_raw.items():
            if asset not in decimals:
                raise self.fail(
                    f"{key}.balances.{asset}", amount, f"an asset among: {', '.join(decimals)}"
                )
            balances.append(
                (
                    asset,
                    self.decimal(
                        f"{key}.balances.{asset}",
                        amount,
                        places=decimals[asset],
                        what=f" in {asset}",
                    ),
                )
            )
        api_key = spec.get("api_key")
        api_secret = spec.get("api_secret")
        if api_key is not None:
            self.text(f"{key}.api_key", api_key)
        if api_secret is not None:
            self.text(f"{key}.api_secret", api_secret)
        if (api_key is None) != (api_secret is None):
            missing = "api_secret" if api_secret is None else "api_key"
            raise self.fail(
                f"{key}.{missing}",
                MISSING,
                "a non-empty string (api_key and api_secret go together)",
            )
        return AccountConfig(name, tuple(balances), api_key, api_secret)
