"""The validated market config: frozen dataclasses, one per table of the TOML file.

Amounts are exact ``Decimal`` in whole units of their asset; names and units follow
docs/architecture.md ("Contracts that outside acceptance checks call"). Built only by :mod:`router.config.market`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from router.config.protection import ProtectionConfig


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


@dataclass(frozen=True, kw_only=True)
class CcxtConfig(VenueConfig):
    """One symbol of a ccxt exchange (``exchange`` is its ccxt id, e.g. "binance").

    ``base_url`` replaces the exchange's API host (the venue server's
    ``http://127.0.0.1:N/v/<venue>`` stands in for the exchange); the API key and secret are read
    from the environment variables ``api_key_env`` / ``api_secret_env`` when the market is built,
    never from the file. ``taker_fee_pips`` overrides ccxt's static fee table; a book snapshot older
    than ``max_snapshot_age_secs`` is refused for quoting.
    """

    exchange: str
    base_url: str | None = None
    api_key_env: str | None = None
    api_secret_env: str | None = None
    taker_fee_pips: int | None = None
    max_snapshot_age_secs: Decimal = Decimal(5)


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
    ``maintenance_margin_fraction``), ``funding_cap`` the largest |funding rate| per interval;
    Binance's funding terms ``funding_interest`` (the interest component I) and ``funding_band``
    (the clamp around it), both per 8 hours, and ``funding_interval_hours`` (1-8, I and band are
    scaled by hours/8); see router/margin/funding.py. Zero interest and band: premium only.
    The margin core checks the rules' consistency (see router/margin/tiers.py).
    """

    symbol: str
    name: str
    oracle: str
    tiers: tuple[TierConfig, ...]
    funding_cap: Decimal = Decimal("0.0005")
    initial_margin_fraction: Decimal | None = None
    maintenance_margin_fraction: Decimal | None = None
    max_notional: Decimal | None = None  # cap on |notional| of a subaccount's position
    funding_interest: Decimal = Decimal(0)
    funding_band: Decimal = Decimal(0)
    funding_interval_hours: int = 8

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
    max_gross_leverage: Decimal | None = None  # cap on gross notional / initial equity

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

    ``margin`` is None when the file has no ``[margin]`` table; ``protection`` is the
    ``[protection]`` table (defaults without one).
    """

    file: str
    assets: tuple[AssetConfig, ...]
    venues: tuple[VenueConfig, ...] = field(default=())
    accounts: tuple[AccountConfig, ...] = field(default=())
    margin: MarginConfig | None = None
    protection: ProtectionConfig = field(default_factory=ProtectionConfig)

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
