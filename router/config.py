"""The market config: a TOML file read into frozen, validated dataclasses.

Keys follow DESIGN.md ("Market config (TOML) keys that must keep working"). Every amount is parsed
exactly: from a decimal string, or from a TOML integer; a TOML float is refused because it has
already lost precision when the file was parsed. Unknown keys are refused, so a typo never
silently falls back to a default. Every problem is a :class:`router.model.errors.ConfigError` naming the
file, the key path (``venues[2].fee_pips``, indices from 0), the value and what is allowed.

Order books trade spot (``instrument = "spot"``, the default; symbol ``BASE/QUOTE``) or a linear
perpetual (``instrument = "perp"``; symbol ``BASE/QUOTE:SETTLE`` in ccxt's notation, settled in its
quote asset). The optional top-level ``[margin]`` table configures the cross-margin core: the quote
asset, collateral weights per asset, one market per perpetual symbol, starting marks (see
:class:`MarginConfig`); without it, every asset counts at weight 1 and no perpetual has a market.

This module knows nothing of venues: turning prices into ticks and building pools is the
composition root's job (``router/app.py``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from router.model.errors import ConfigError

FEE_PIPS_MAX = 999_999  # a fee is a fraction of the input below 100%
MAX_DECIMALS = 36
UINT112_MAX = (1 << 112) - 1  # Uniswap v2 reserves are uint112
UINT128_MAX = (1 << 128) - 1  # Uniswap v3 liquidity is uint128
MAX_TICK_SPACING = 16_383  # Uniswap v3 factory: 0 < tickSpacing < 16384
KINDS = ("amm", "clmm", "orderbook")
INSTRUMENTS = ("spot", "perp")
# The margin core's grids (router/margin/quantities.py): prices and notionals on 1e-8, weights in
# ppm, funding rates on 1e-12; a config value finer than its grid would be rounded there, so it is
# refused here. Leverage and bps bounds are the margin core's too.
MARGIN_PRICE_PLACES = 8
MARGIN_WEIGHT_PLACES = 6
MARGIN_RATE_PLACES = 12
MAX_LEVERAGE = 200
MAX_LIABILITY_WEIGHT = Decimal(10)
# Exact arithmetic for grid checks: wide enough that no config number is ever rounded.
_EXACT = Context(prec=200)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


MISSING: Any = _Missing()


@dataclass(frozen=True, slots=True)
class AssetConfig:
    """One asset: ``decimals`` is the number of decimal places of its smallest unit (ETH 18)."""

    name: str
    decimals: int


@dataclass(frozen=True, kw_only=True)
class VenueConfig:
    """Fields every venue has. ``leg_cost`` is in whole quote units, charged whenever it is used.

    ``instrument`` is "spot" or "perp" (order books only); a perp's ``symbol`` is
    ``BASE/QUOTE:SETTLE`` and ``settle`` names the settlement asset (None for spot).
    """

    name: str
    kind: str
    symbol: str
    base: str
    quote: str
    leg_cost: Decimal
    instrument: str = "spot"
    settle: str | None = None


@dataclass(frozen=True, kw_only=True)
class AmmConfig(VenueConfig):
    """A constant-product pool; ``reserves`` are (base, quote) in whole units."""

    fee_pips: int
    reserves: tuple[Decimal, Decimal]


@dataclass(frozen=True, slots=True)
class PositionConfig:
    """A liquidity position: bounds in quote per base (whole units), ``liquidity`` Uniswap's raw L."""

    lower: Decimal
    upper: Decimal
    liquidity: int
    owner: str = "config"


@dataclass(frozen=True, kw_only=True)
class ClmmConfig(VenueConfig):
    """A concentrated-liquidity pool initialised at ``price`` (quote per base) with ``positions``."""

    fee_pips: int
    tick_spacing: int
    price: Decimal
    positions: tuple[PositionConfig, ...]


@dataclass(frozen=True, kw_only=True)
class OrderBookConfig(VenueConfig):
    """A limit order book seeded with resting levels; ``bids``/``asks`` are (price, size), best first."""

    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal
    taker_fee_pips: int
    maker_fee_pips: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """An account: starting ``balances`` (asset, whole units) and optional API credentials."""

    name: str
    balances: tuple[tuple[str, Decimal], ...]
    api_key: str | None = None
    api_secret: str | None = None

    def balance(self, asset: str) -> Decimal:
        """The starting balance of ``asset`` (0 when not listed)."""
        return dict(self.balances).get(asset, Decimal(0))


@dataclass(frozen=True, slots=True)
class MarginAssetConfig:
    """Collateral weights of one asset (fractions of its mark value; decimal, exact).

    Assets held count at ``initial_weight`` (opening) and ``maintenance_weight`` (liquidation),
    both in [0, 1] on the 1e-6 grid with maintenance >= initial; a negative balance (a
    liability: spot borrowed on credit) counts at the liability weights, in [1, 10] with
    maintenance <= initial (None: the margin core's defaults, 1.1 and 1.05). ``borrow_limit``
    caps what a subaccount may owe (units of the asset, None for no cap); ``borrow_rate`` is the
    yearly interest on it.
    """

    name: str
    initial_weight: Decimal = Decimal(1)
    maintenance_weight: Decimal = Decimal(1)
    initial_liability_weight: Decimal | None = None
    maintenance_liability_weight: Decimal | None = None
    borrow_limit: Decimal | None = None
    borrow_rate: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class TierConfig:
    """One notional tier of a perp market: from ``notional_from`` (whole quote units) up; with
    ``maintenance_margin_rate`` and ``maintenance_amount`` a Binance USD-M bracket."""

    notional_from: Decimal
    max_leverage: int
    maintenance_margin_rate: Decimal | None = None
    maintenance_amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class MarginMarketConfig:
    """The margin market of one perpetual ``symbol`` (BASE/QUOTE:SETTLE).

    ``name`` is the ledger's market name (``ETH-PERP``), ``oracle`` the asset whose mark is the
    index price for funding, ``tiers`` the notional tiers (one tier from 0 when the file gives
    ``max_leverage``; none when the rules are dYdX's ``initial_margin_fraction`` and
    ``maintenance_margin_fraction``), ``funding_cap`` the largest |funding rate| per interval.
    The margin core checks the rules' consistency (see router/margin/tiers.py).
    """

    symbol: str
    name: str
    oracle: str
    tiers: tuple[TierConfig, ...]
    funding_cap: Decimal = Decimal("0.0005")
    initial_margin_fraction: Decimal | None = None
    maintenance_margin_fraction: Decimal | None = None

    @property
    def max_leverage(self) -> int:
        """The first tier's (the highest) max leverage; 1/IMF rounded down for fractions."""
        if self.tiers:
            return self.tiers[0].max_leverage
        assert self.initial_margin_fraction is not None  # one rule set, checked when read
        return max(1, int(1 / self.initial_margin_fraction))


@dataclass(frozen=True, slots=True)
class MarginConfig:
    """The ``[margin]`` table: the margin core's quote asset, collateral weights, perp markets,
    starting marks (asset or market name -> price in quote, whole units) and liquidation terms.

    Assets not listed count at weight 1; names not in ``marks`` are marked at their venues' mid.
    """

    quote: str
    assets: tuple[MarginAssetConfig, ...] = ()
    markets: tuple[MarginMarketConfig, ...] = ()
    marks: tuple[tuple[str, Decimal], ...] = ()
    liquidation_fee_bps: int = 50
    liquidation_buffer_bps: int = 1000

    def asset(self, name: str) -> MarginAssetConfig:
        """The weights of ``name`` (weight 1 when the table does not list it)."""
        for asset in self.assets:
            if asset.name == name:
                return asset
        return MarginAssetConfig(name)

    def market(self, symbol: str) -> MarginMarketConfig | None:
        """The margin market of the perp ``symbol``, or None."""
        for market in self.markets:
            if market.symbol == symbol:
                return market
        return None

    def mark(self, name: str) -> Decimal | None:
        """The configured starting mark of an asset or market name, or None (use the venue mid)."""
        return dict(self.marks).get(name)


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """A whole market: assets, venues, accounts and margin settings. ``file`` names the source.

    ``margin`` is None when the file has no ``[margin]`` table.
    """

    file: str
    assets: tuple[AssetConfig, ...]
    venues: tuple[VenueConfig, ...] = field(default=())
    accounts: tuple[AccountConfig, ...] = field(default=())
    margin: MarginConfig | None = None

    def asset(self, name: str) -> AssetConfig:
        """The asset called ``name``; KeyError if there is none."""
        for asset in self.assets:
            if asset.name == name:
                return asset
        raise KeyError(name)

    def venue(self, name: str) -> VenueConfig:
        """The venue called ``name``; KeyError if there is none."""
        for venue in self.venues:
            if venue.name == name:
                return venue
        raise KeyError(name)

    def symbols(self, instrument: str | None = "spot") -> tuple[str, ...]:
        """The distinct symbols of the venues of ``instrument`` ("spot", "perp"; None: all), in file order."""
        return tuple(
            dict.fromkeys(
                venue.symbol
                for venue in self.venues
                if instrument is None or venue.instrument == instrument
            )
        )


FILE_KEY, SYNTAX_KEY = (
    "(file)",
    "(syntax)",
)  # the ConfigError keys of an unreadable / unparsable file


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read and parse one TOML file: the one place every crossroute TOML file is read.

    Raises ConfigError(file, "(file)", path, "a readable UTF-8 TOML file (reason)") when the
    file cannot be read or is not UTF-8, and ConfigError(file, "(syntax)", parser message,
    "valid TOML") when it does not parse. O(file size).
    """
    return parse_toml(_read_text(path), str(path))


def parse_toml(text: str, file: str = "<string>") -> dict[str, Any]:
    """Parse TOML text; ``file`` names it in the ConfigError(file, "(syntax)", ...) of a bad one."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, SYNTAX_KEY, str(exc), "valid TOML") from None


def _read_text(path: Any) -> str:
    """The UTF-8 text of ``path``; ConfigError(file, "(file)", ...) when it cannot be read."""
    if not isinstance(path, (str, Path)):
        raise ConfigError(str(path), FILE_KEY, path, "the path of a TOML file (str or Path)")
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise ConfigError(
            str(path), FILE_KEY, str(path), f"a readable UTF-8 TOML file ({reason})"
        ) from None


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
    texts = [_read_text(one) for one in paths]
    return parse_config("\n".join(texts), " + ".join(str(one) for one in paths))


def parse_config(text: str, file: str = "<string>") -> MarketConfig:
    """Validate market TOML given as text; ``file`` names it in errors."""
    return parse_config_data(parse_toml(text, file), file)


def parse_config_data(data: dict[str, Any], file: str = "<data>") -> MarketConfig:
    """Validate an already-parsed market document (e.g. one a backtest config assembles)."""
    return _Reader(file).market(data)


class _Reader:
    """Validation helpers that all raise ConfigError(file, key, value, allowed)."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, value: Any, allowed: str) -> ConfigError:
        return ConfigError(self.file, key, value, allowed)

    # -- shapes --

    def table(
        self, key: str, value: Any, required: tuple[str, ...], optional: tuple[str, ...]
    ) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, value, "a table")
        for name in value:
            if name not in required and name not in optional:
                raise self.fail(
                    _join(key, name),
                    value[name],
                    f"no such key here; known keys: {', '.join(required + optional)}",
                )
        for name in required:
            if name not in value:
                raise self.fail(_join(key, name), MISSING, "a value (required)")
        return value

    def array(self, key: str, value: Any, *, allow_empty: bool = True) -> list:
        if not isinstance(value, list) or (not allow_empty and not value):
            raise self.fail(key, value, "an array" if allow_empty else "a non-empty array")
        return value

    def name(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not _NAME.match(value):
            raise self.fail(key, value, "a name of letters, digits, '_', '.', '-'")
        return value

    def text(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(key, value, "a non-empty string")
        return value

    # -- numbers --

    def integer(self, key: str, value: Any, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(key, value, f"integer in [{lo}, {hi}]")
        return value

    def big_integer(self, key: str, value: Any, lo: int, hi: int) -> int:
        """An integer given as a TOML integer or a string of digits (L often exceeds int64)."""
        if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.replace("_", "")):
            number = int(value.replace("_", ""))
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise self.fail(
                key, value, f"integer in [{lo}, {hi}] (a TOML integer or a string of digits)"
            )
        if not lo <= number <= hi:
            raise self.fail(key, value, f"integer in [{lo}, {hi}]")
        return number

    def decimal(
        self,
        key: str,
        value: Any,
        *,
        positive: bool = False,
        places: int | None = None,
        what: str = "",
    ) -> Decimal:
        """An exact non-negative (or positive) decimal from a string or a TOML integer.

        ``places`` bounds the digits after the point (an asset's decimals): the amount must be
        exactly representable in the asset's smallest unit.
        """
        sign = "> 0" if positive else ">= 0"
        allowed = f"a decimal string {sign}{what}"
        if isinstance(value, float):
            raise self.fail(
                key,
                value,
                f'{allowed} such as "1.5" in quotes (a TOML float has already lost precision)',
            )
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.fail(key, value, allowed)
        try:
            number = Decimal(value) if isinstance(value, int) else Decimal(value.strip())
        except InvalidOperation:
            raise self.fail(key, value, allowed) from None
        if isinstance(value, str) and value.strip() != value:
            raise self.fail(key, value, allowed)
        if not number.is_finite() or number < 0 or (positive and number == 0):
            raise self.fail(key, value, allowed)
        if places is not None and _EXACT.remainder(_EXACT.scaleb(number, places), 1) != 0:
            raise self.fail(key, value, f"{allowed} with at most {places} decimal places")
        return number

    def multiple(self, key: str, value: Decimal, step: Decimal, raw: Any, what: str) -> None:
        if _EXACT.remainder(value, step) != 0:
            raise self.fail(key, raw, f"a multiple of the {what} {step}")

    # -- sections --

    def market(self, data: dict) -> MarketConfig:
        self.table("(top level)", data, ("assets",), ("venues", "accounts", "margin"))
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
        margin = None if "margin" not in data else self.margin(data["margin"], assets, venues)
        return MarketConfig(
            file=self.file,
            assets=assets,
            venues=tuple(venues),
            accounts=tuple(accounts),
            margin=margin,
        )

    def assets(self, raw: Any) -> tuple[AssetConfig, ...]:
        if not isinstance(raw, dict) or not raw:
            raise self.fail("assets", raw, "a non-empty table such as { ETH = { decimals = 18 } }")
        assets = []
        for name, spec in raw.items():
            key = f"assets.{name}"
            self.name(key, name)
            self.table(key, spec, ("decimals",), ())
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
        common = ("name", "kind", "symbol")
        if kind == "amm":
            spec = self.table(key, raw, common + ("fee_pips", "reserves"), ("leg_cost",))
        elif kind == "clmm":
            spec = self.table(
                key, raw, common + ("fee_pips", "tick_spacing", "price"), ("leg_cost", "positions")
            )
        else:
            spec = self.table(
                key,
                raw,
                common + ("tick_size", "lot_size"),
                (
                    "instrument",
                    "leg_cost",
                    "min_notional",
                    "taker_fee_pips",
                    "maker_fee_pips",
                    "bids",
                    "asks",
                ),
            )
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
                what=f" in {quote}",
            ),
        )
        if kind == "amm":
            return self.amm(key, spec, fields, decimals)
        if kind == "clmm":
            return self.clmm(key, spec, fields)
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

    def amm(self, key: str, spec: dict, fields: dict, decimals: dict[str, int]) -> AmmConfig:
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
            if _EXACT.scaleb(amount, decimals[asset]) > UINT112_MAX:
                raise self.fail(
                    f"{key}.reserves[{index}]", raw, f"at most 2^112-1 base units of {asset}"
                )
            amounts.append(amount)
        return AmmConfig(**fields, fee_pips=fee_pips, reserves=(amounts[0], amounts[1]))

    def clmm(self, key: str, spec: dict, fields: dict) -> ClmmConfig:
        fee_pips = self.integer(f"{key}.fee_pips", spec["fee_pips"], 0, FEE_PIPS_MAX)
        spacing = self.integer(f"{key}.tick_spacing", spec["tick_spacing"], 1, MAX_TICK_SPACING)
        price = self.decimal(
            f"{key}.price",
            spec["price"],
            positive=True,
            what=f" ({fields['quote']} per {fields['base']})",
        )
        positions = []
        for index, raw in enumerate(self.array(f"{key}.positions", spec.get("positions", []))):
            where = f"{key}.positions[{index}]"
            item = self.table(where, raw, ("lower", "upper", "liquidity"), ("owner",))
            lower = self.decimal(f"{where}.lower", item["lower"], positive=True)
            upper = self.decimal(f"{where}.upper", item["upper"], positive=True)
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

    def orderbook(self, key: str, spec: dict, fields: dict) -> OrderBookConfig:
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
            levels = []
            for index, raw in enumerate(self.array(f"{key}.{side}", spec.get(side, []))):
                where = f"{key}.{side}[{index}]"
                if not isinstance(raw, list) or len(raw) != 2:
                    raise self.fail(where, raw, '[price, size], e.g. ["2999.50", "12.5"]')
                price = self.decimal(f"{where}[0]", raw[0], positive=True)
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

    def margin(
        self, raw: Any, assets: tuple[AssetConfig, ...], venues: list[VenueConfig]
    ) -> MarginConfig:
        """The ``[margin]`` table; see :class:`MarginConfig`. Every perp venue needs a market."""
        spec = self.table(
            "margin",
            raw,
            (),
            (
                "quote",
                "assets",
                "markets",
                "marks",
                "liquidation_fee_bps",
                "liquidation_buffer_bps",
            ),
        )
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
        markets = []
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
        return MarginConfig(
            quote=quote,
            assets=tuple(weights),
            markets=tuple(markets),
            marks=tuple(marks),
            liquidation_fee_bps=fee,
            liquidation_buffer_bps=buffer,
        )

    def grid_decimal(
        self,
        key: str,
        value: Any,
        places: int,
        *,
        positive: bool = False,
        lo: Decimal | None = None,
        hi: Decimal | None = None,
        what: str = "",
    ) -> Decimal:
        """A decimal on the margin core's 10^-places grid, within [lo, hi] when given."""
        number = self.decimal(key, value, positive=positive, what=what)
        if _EXACT.remainder(_EXACT.scaleb(number, places), 1) != 0:
            raise self.fail(
                key, value, f"a decimal string with at most {places} decimal places{what}"
            )
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise self.fail(key, value, f"a decimal string in [{lo}, {hi}]{what}")
        return number

    def margin_asset(
        self, key: str, name: str, raw: Any, names: list[str], quote: str
    ) -> MarginAssetConfig:
        if name not in names or name == quote:
            raise self.fail(
                key,
                raw,
                f"an asset among: {', '.join(n for n in names if n != quote)}"
                f" (the quote asset {quote} counts at 1)",
            )
        spec = self.table(
            key,
            raw,
            ("initial_weight",),
            (
                "maintenance_weight",
                "initial_liability_weight",
                "maintenance_liability_weight",
                "borrow_limit",
                "borrow_rate",
            ),
        )
        one = Decimal(1)
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
        fraction_keys = ("initial_margin_fraction", "maintenance_margin_fraction")
        spec = self.table(
            key, raw, ("name",), ("oracle", "max_leverage", "tiers", "funding_cap", *fraction_keys)
        )
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
            for k in fraction_keys
        ]
        if ("max_leverage" in spec) + ("tiers" in spec) + (fractions != [None, None]) != 1:
            raise self.fail(
                f"{key}.max_leverage",
                spec.get("max_leverage", MISSING),
                "exactly one of max_leverage (one tier), tiers, or initial_margin_fraction "
                "with maintenance_margin_fraction",
            )
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
        return MarginMarketConfig(
            symbol=symbol,
            name=name,
            oracle=oracle,
            tiers=tiers,
            funding_cap=cap,
            initial_margin_fraction=fractions[0],
            maintenance_margin_fraction=fractions[1],
        )

    def tiers(self, key: str, raw: Any) -> tuple[TierConfig, ...]:
        tiers: list[TierConfig] = []
        for index, item in enumerate(self.array(key, raw, allow_empty=False)):
            where = f"{key}[{index}]"
            bracket_keys = ("maintenance_margin_rate", "maintenance_amount")
            spec = self.table(where, item, ("notional_from", "max_leverage"), bracket_keys)
            bracket = [
                self.grid_decimal(f"{where}.{k}", spec[k], MARGIN_PRICE_PLACES)
                if k in spec
                else None
                for k in bracket_keys
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

    def account(self, key: str, raw: Any, decimals: dict[str, int]) -> AccountConfig:
        spec = self.table(key, raw, ("name",), ("balances", "api_key", "api_secret"))
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


def _join(key: str, name: str) -> str:
    return name if key == "(top level)" else f"{key}.{name}"
