"""Accounts, subaccounts, positions, collateral assets, perp markets and risk limits.

Plain data with validation at construction; the arithmetic lives in :mod:`router.margin.ledger`.
Units: balances, sizes and prices in ledger quanta (1e-18), position cost in 1e-36 quote
(sum of size_units * price_units, exact; the ``16`` of ``cost16`` and ``n16`` names the product
of two ledger units, from the 1e-8 grid), weights in ppm, funding index in 1e-30 quote per base.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from router.margin.errors import MarginInputError
from router.margin.quantities import (
    DISPLAY_UNITS,
    RATE_SCALE,
    SCALE,
    WEIGHT_SCALE,
    ceil_div,
    floor_div,
    parse_int,
    parse_name,
    parse_units,
    to_decimal,
)
from router.margin.tiers import MAX_LEVERAGE_CAP, TierSchedule

CROSS, ISOLATED = "cross", "isolated"

# (initial value, maintenance value, gross notional, borrow IM, borrow MM) of one balance
AssetFigures = tuple[int, int, int, int, int]
# (notional 1e-36 (SCALE**2), upnl, funding equity, IM, MM, notional units rounded up)
PositionFigures = tuple[int, int, int, int, int, int]


# Liabilities (negative balances: spot borrowed on credit) are margined unless configured
# otherwise: a borrow of value V needs 0.10 V of initial and 0.05 V of maintenance margin, the
# round figures of Mango v4's major-asset liability weights (1.1 / 1.05 for its stable quote).
DEFAULT_INITIAL_LIABILITY_WEIGHT = "1.1"
DEFAULT_MAINTENANCE_LIABILITY_WEIGHT = "1.05"
YEAR_NS = 365 * 24 * 3600 * 10**9  # borrow rates are per year of the simulated clock


@dataclass(frozen=True, slots=True)
class AssetConfig:
    """A collateral asset: weights (ppm) for positive balances (<= 1, haircuts, maintenance >=
    initial) and for liabilities (>= 1, maintenance <= initial), a borrow limit (ledger units of
    the asset a subaccount may owe, None for no limit) and a yearly borrow rate (1e-12 units).

    A positive balance counts at its weight in equity. A liability counts at its full value in
    equity and its weight above 1 is a requirement: ``(w - 1) x value`` of initial (maintenance)
    margin, so a spot borrow shows up in the IM and MM a trader reads."""

    name: str
    initial_weight_ppm: int = WEIGHT_SCALE
    maintenance_weight_ppm: int = WEIGHT_SCALE
    initial_liability_ppm: int = 1_100_000
    maintenance_liability_ppm: int = 1_050_000
    borrow_limit_units: int | None = None
    borrow_rate_units: int = 0

    @classmethod
    def parse(
        cls,
        name: Any,
        initial_weight: Any = "1",
        maintenance_weight: Any = None,
        initial_liability_weight: Any = None,
        maintenance_liability_weight: Any = None,
        borrow_limit: Any = None,
        borrow_rate: Any = "0",
    ) -> AssetConfig:
        """Weights as decimals (None: the defaults above), ``borrow_limit`` in units of the
        asset (>= 0, None for none), ``borrow_rate`` per year (>= 0, e.g. "0.05")."""
        name = parse_name("asset", name)
        iw = parse_units(
            "initial_weight", initial_weight, minimum=0, maximum=WEIGHT_SCALE, scale=WEIGHT_SCALE
        )
        mw = (
            iw
            if maintenance_weight is None
            else parse_units(
                "maintenance_weight",
                maintenance_weight,
                minimum=iw,
                maximum=WEIGHT_SCALE,
                scale=WEIGHT_SCALE,
            )
        )
        il = parse_units(
            "initial_liability_weight",
            DEFAULT_INITIAL_LIABILITY_WEIGHT
            if initial_liability_weight is None
            else initial_liability_weight,
            minimum=WEIGHT_SCALE,
            maximum=10 * WEIGHT_SCALE,
            scale=WEIGHT_SCALE,
        )
        if maintenance_liability_weight is None:
            default = parse_units("x", DEFAULT_MAINTENANCE_LIABILITY_WEIGHT, scale=WEIGHT_SCALE)
            ml = min(il, default)
        else:
            ml = parse_units(
                "maintenance_liability_weight",
                maintenance_liability_weight,
                minimum=WEIGHT_SCALE,
                maximum=il,
                scale=WEIGHT_SCALE,
            )
        limit = (
            None if borrow_limit is None else parse_units("borrow_limit", borrow_limit, minimum=0)
        )
        rate = parse_units(
            "borrow_rate", borrow_rate, minimum=0, maximum=RATE_SCALE * 10, scale=RATE_SCALE
        )
        return cls(name, iw, mw, il, ml, limit, rate)

    def figures(self, balance_units: int, price_units: int, quote: bool) -> AssetFigures:
        """(initial value, maintenance value, gross, borrow IM, borrow MM) of a balance at a
        price, in quote ledger units: values round down, requirements and gross up. The quote
        asset counts at 1 here; its borrow requirement is :meth:`quote_borrow_requirements`. O(1)."""
        if balance_units == 0:
            return (0, 0, 0, 0, 0)
        n16 = abs(balance_units) * price_units  # 1e-36 quote (SCALE**2)
        gross = 0 if quote else ceil_div(n16, SCALE)
        if quote:  # the quote borrow's requirement is on the settled-equivalent balance
            value = floor_div(balance_units * price_units, SCALE)
            return (value, value, 0, 0, 0)
        if balance_units > 0:
            return (
                floor_div(n16 * self.initial_weight_ppm, SCALE * WEIGHT_SCALE),
                floor_div(n16 * self.maintenance_weight_ppm, SCALE * WEIGHT_SCALE),
                gross,
                0,
                0,
            )
        owed = -ceil_div(n16, SCALE)
        return (
            owed,
            owed,
            gross,
            ceil_div(n16 * (self.initial_liability_ppm - WEIGHT_SCALE), SCALE * WEIGHT_SCALE),
            ceil_div(n16 * (self.maintenance_liability_ppm - WEIGHT_SCALE), SCALE * WEIGHT_SCALE),
        )

    def quote_borrow_requirements(self, settled_units: int) -> tuple[int, int]:
        """(IM, MM) of a quote borrow: ``settled_units`` is the quote balance plus the cross
        upnl and unsettled funding, what the account would hold if everything settled now, so
        closing a perp at the mark (which moves upnl into cash) never changes the requirement.
        Only a negative settled balance is a borrow. Rounded up. O(1)."""
        if settled_units >= 0:
            return (0, 0)
        owed = -settled_units
        return (
            ceil_div(owed * (self.initial_liability_ppm - WEIGHT_SCALE), WEIGHT_SCALE),
            ceil_div(owed * (self.maintenance_liability_ppm - WEIGHT_SCALE), WEIGHT_SCALE),
        )


@dataclass(frozen=True, slots=True)
class PerpMarket:
    """A linear perpetual quoted in the ledger's quote asset.

    ``oracle_asset`` names the oracle (index) price used for funding; the position is valued at
    the market's own mark. Funding per interval (1e-12 units, see :mod:`router.margin.funding`):
    ``funding_cap_units`` caps |rate|, ``funding_interest_units`` is the interest component and
    ``funding_band_units`` the clamp around it, both per 8 hours (Binance: 0.01% and 0.05%; 0
    and 0 give the premium alone), scaled to ``funding_interval_hours``.
    """

    symbol: str
    oracle_asset: str
    tiers: TierSchedule
    funding_cap_units: int
    funding_interest_units: int = 0
    funding_band_units: int = 0
    funding_interval_hours: int = 8


@dataclass(slots=True)
class Position:
    """A perp position: signed ``size_units`` (> 0 long), exact ``cost16`` = sum of size x fill
    price (1e-36 quote), funding index at the last settlement, cross or isolated with its margin."""

    symbol: str
    size_units: int
    cost16: int
    funding_index: int
    mode: str = CROSS
    isolated_margin_units: int = 0

    def copy(self) -> Position:
        return Position(
            self.symbol,
            self.size_units,
            self.cost16,
            self.funding_index,
            self.mode,
            self.isolated_margin_units,
        )

    @property
    def entry_price(self) -> Decimal:
        """Average entry price (Decimal, exact quotient rounded to the 1e-8 display grid
        half-even: a price shown, not an amount owed; the exact cost stays in ``cost16``)."""
        if not self.size_units:
            return to_decimal(0)
        step = self.size_units * DISPLAY_UNITS
        q, r = divmod(self.cost16, step)
        return to_decimal((q + (1 if 2 * r >= step and r else 0)) * DISPLAY_UNITS)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Per-subaccount limits: leverage cap and max |notional| (1e-8 quote) per perp symbol, and a
    max gross leverage (gross notional / initial equity) in ppm, or None for no cap."""

    max_leverage: dict[str, int] = field(default_factory=dict)
    max_notional_units: dict[str, int] = field(default_factory=dict)
    max_gross_leverage_ppm: int | None = None

    @classmethod
    def parse(
        cls, max_leverage: Any = None, max_notional: Any = None, max_gross_leverage: Any = None
    ) -> RiskLimits:
        lev: dict[str, int] = {}
        for sym, value in _mapping("max_leverage", max_leverage).items():
            lev[parse_name("max_leverage symbol", sym)] = parse_int(
                f"max_leverage[{sym}]", value, minimum=1, maximum=MAX_LEVERAGE_CAP
            )
        notional: dict[str, int] = {}
        for sym, value in _mapping("max_notional", max_notional).items():
            notional[parse_name("max_notional symbol", sym)] = parse_units(
                f"max_notional[{sym}]", value, minimum=0
            )
        gross = (
            None
            if max_gross_leverage is None
            else parse_units(
                "max_gross_leverage", max_gross_leverage, positive=True, scale=WEIGHT_SCALE
            )
        )
        return cls(lev, notional, gross)


def _mapping(name: str, value: Any) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MarginInputError(name, value, "a mapping of symbol to value")
    return value


@dataclass(slots=True)
class Subaccount:
    """A margin subaccount: balances per asset, positions per symbol, limits, user leverage per
    symbol, open order ids (cancelled on liquidation) and the cached aggregates of the ledger."""

    name: str
    limits: RiskLimits
    balances: dict[str, int] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)
    open_orders: list[str] = field(default_factory=list)
    # caches of the ledger's figures at the current marks
    asset_vals: dict[str, AssetFigures] = field(default_factory=dict)
    pos_vals: dict[str, PositionFigures] = field(default_factory=dict)
    totals: list[int] = field(default_factory=lambda: [0] * 7)


@dataclass(slots=True)
class Account:
    """An owner of subaccounts (names are ``account/sub``)."""

    name: str
    subaccounts: dict[str, Subaccount] = field(default_factory=dict)


def rate_units(value: Any, field_name: str) -> int:
    """A funding rate or cap per interval as 1e-12 units (e.g. "0.0005" -> 500_000_000)."""
    return parse_units(field_name, value, scale=RATE_SCALE)
