"""Composition root: builds a market (venues, adapters, accounts, margin) from a validated config.

Only this module and the commands name concrete venue and adapter classes; the router core sees
venues through the adapter protocol alone. A config that validates but that a venue refuses
(a price outside the tick range, a position too narrow for the tick spacing, liquidity beyond the
per-tick maximum) is reported as a ConfigError naming the key.

Perpetual order books (``instrument = "perp"``) are built like spot books over a ``kind="perp"``
:class:`~venues.orderbook.OrderBook` and routable by their symbol (``ETH/USDC:USDC``).
:func:`build_margin` is the one place that turns the config's ``[margin]`` table and an account's
starting balances into a :class:`~router.margin.ledger.MarginLedger` and the executor's margin
gate; execution, paper trading, backtests and stress tests all start from it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.amm import AmmAdapter
from adapters.clmm import ClmmAdapter, sqrt_price_x96_from_price, tick_at_price
from adapters.orderbook import OrderBookAdapter
from adapters.units import to_units_exact
from router.config import (
    AccountConfig,
    AmmConfig,
    AssetConfig,
    ClmmConfig,
    MarginAssetConfig,
    MarginConfig,
    MarginMarketConfig,
    MarketConfig,
    OrderBookConfig,
    TierConfig,
    VenueConfig,
    load_config,
)
from router.config.records import CcxtConfig
from router.model.errors import ConfigError, CrossrouteError, RouteError
from router.routing import DEFAULT_MAX_HOPS, MultiHopPlan, RouteCache, plan_multihop
from venues.amm import ConstantProductPool
from venues.clmm import ConcentratedLiquidityPool
from venues.clmm.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from venues.errors import VenueError
from venues.orderbook import OrderBook

if TYPE_CHECKING:  # the margin core and the executor: `crossroute route` never loads them
    from adapters.ccxt import CcxtAdapter  # ccxt loads only for a config with a ccxt venue
    from router.execution.margin_gate import LedgerGate
    from router.margin.journal import Journal
    from router.margin.ledger import MarginLedger

# Owner of the resting orders a config seeds into a book (the router trades as "router").
SEED_OWNER = "config-maker"
# The embedded default market ships as package data; config/default.toml is the same file, for
# users to copy (tests/unit/router/test_package_data.py keeps the two identical).
DEFAULT_CONFIG = Path(__file__).resolve().parent / "data" / "default.toml"
# The subaccount build_margin opens for an account, and the grid the ledger counts on.
MAIN_SUBACCOUNT = "main"
MARK_QUANTUM = Decimal("1e-8")
# a venue mid this far from the median of all the symbol's venues is an outlier, not a mark source
MARK_MAX_DEVIATION_BPS = 100


@dataclass
class Market:
    """A built market. ``venues`` and ``adapters`` are keyed by venue name, in config order.

    The venues are live state machines: executing through an adapter changes them.
    """

    config: MarketConfig
    assets: dict[str, AssetConfig]
    venues: dict[str, Any] = field(default_factory=dict)
    adapters: dict[str, Any] = field(default_factory=dict)
    accounts: dict[str, AccountConfig] = field(default_factory=dict)

    @property
    def margin(self) -> MarginConfig:
        """The ``[margin]`` settings; without that table, weight 1 everywhere and no perp markets,
        quoted in the venues' common quote asset (the first venue's when they differ)."""
        if self.config.margin is not None:
            return self.config.margin
        quote = self.config.venues[0].quote if self.config.venues else self.config.assets[0].name
        return MarginConfig(quote=quote)

    def symbols(self, instrument: str | None = "spot") -> tuple[str, ...]:
        """Distinct symbols of ``instrument`` ("spot" by default, "perp", None for all), in config order.

        Spot by default because that is what an order without a symbol means; every symbol, perp
        included, is routable through :meth:`adapters_for`.
        """
        return self.config.symbols(instrument)

    def instruments(self) -> dict[str, str]:
        """Venue name -> "spot" | "perp", in config order (what the executor needs)."""
        return {venue.name: venue.instrument for venue in self.config.venues}

    def spot_adapters(self, adapters: Mapping[str, Any] | None = None) -> list[Any]:
        """The spot venues' adapters in config order (a perpetual converts nothing); from
        ``adapters`` by venue name when given (e.g. the executor's fault-injecting wrappers)."""
        chosen = self.adapters if adapters is None else adapters
        return [chosen[name] for name, kind in self.instruments().items() if kind == "spot"]

    def asset_decimals(self) -> dict[str, int]:
        """Asset name -> decimals (the grid a conversion's amounts are exact on)."""
        return {name: asset.decimals for name, asset in self.assets.items()}

    def plan_conversion(
        self,
        source: str,
        target: str,
        *,
        amount_in: Decimal | None = None,
        amount_out: Decimal | None = None,
        max_hops: int = DEFAULT_MAX_HOPS,
        cache: RouteCache | None = None,
    ) -> MultiHopPlan:
        """Plan "spend ``amount_in`` of ``source``" or "receive ``amount_out`` of ``target``"
        over every path of the market's spot venues (router.routing); read-only. A caller that
        routes repeatedly passes one :class:`~router.routing.RouteCache` (same plans, faster)."""
        return plan_multihop(
            self.spot_adapters(),
            self.asset_decimals(),
            source,
            target,
            amount_in=amount_in,
            amount_out=amount_out,
            max_hops=max_hops,
            cache=cache,
        )

    def venue_config(self, name: str) -> VenueConfig:
        """The config of the venue called ``name``."""
        return self.config.venue(name)

    def mid_price(self, symbol: str) -> Decimal | None:
        """The mid of the first venue (config order) trading ``symbol`` that has one, on the 1e-8
        grid (half-even: a mark is no amount owed, so neither side is favoured), or None."""
        for adapter in self.adapters.values():
            if adapter.symbol == symbol:
                mid = adapter.mid_price()
                if mid is not None:
                    return mid.quantize(MARK_QUANTUM)
        return None

    def median_mid(self, symbol: str) -> Decimal | None:
        """The margin core's oracle median of the mids of every venue trading ``symbol`` (1e-8
        grid): a mid more than MARK_MAX_DEVIATION_BPS from the median is an outlier and dropped,
        and a majority of the venues must agree; None when no venue has a mid or none agree.
        Venue mids are read now, so none is stale. O(venues log venues)."""
        from router.margin.oracle import aggregate  # margin marks only

        readings = {}
        for venue, adapter in self.adapters.items():
            mid = adapter.mid_price() if adapter.symbol == symbol else None
            if mid is not None and mid > 0:
                readings[venue] = (int(mid.quantize(MARK_QUANTUM) / MARK_QUANTUM), 0)
        if not readings:
            return None
        mark = aggregate(symbol, readings, 0, 0, MARK_MAX_DEVIATION_BPS, len(readings) // 2 + 1)
        if not mark.valid or mark.price_units is None:
            return None
        return Decimal(mark.price_units) * MARK_QUANTUM

    def adapters_for(self, symbol: str, venues: Sequence[str] | None = None) -> list[Any]:
        """Adapters trading ``symbol``, optionally only the named ``venues`` (in the order given).

        Raises RouteError naming the unknown symbol or venue, or a venue of another symbol.
        """
        symbols = self.symbols(None)
        if symbol not in symbols:
            raise RouteError(
                f"symbol={symbol!r} is invalid; allowed: one of {', '.join(symbols) or '(none)'}",
                field="symbol",
                value=symbol,
                allowed=symbols,
            )
        if venues is None:
            return [adapter for adapter in self.adapters.values() if adapter.symbol == symbol]
        chosen = []
        names = [name for name in self.adapters if self.adapters[name].symbol == symbol]
        for name in venues:
            if name not in names:
                raise RouteError(
                    f"venue={name!r} is invalid; allowed: one of {', '.join(names)}"
                    f" (the venues trading {symbol})",
                    field="venues",
                    value=name,
                    allowed=names,
                )
            if self.adapters[name] not in chosen:
                chosen.append(self.adapters[name])
        if not chosen:
            raise RouteError(
                f"venues={list(venues)!r} is invalid; allowed: at least one of {', '.join(names)}",
                field="venues",
                value=list(venues),
                allowed=names,
            )
        return chosen


def load_market(path: str | Path | Sequence[str | Path] = DEFAULT_CONFIG) -> Market:
    """Read the TOML at ``path`` (or several files read as one document, in order) and build its
    market; ccxt venues then hold a first snapshot (:func:`snapshot_ccxt_venues`), so a plan can
    be made at once. Not to be called inside a running event loop when the config has ccxt venues."""
    market = build_market(load_config(path))
    if ccxt_adapters(market):
        import asyncio  # only ccxt venues need an event loop: `route` on simulated venues skips it

        asyncio.run(snapshot_ccxt_venues(market))
    return market


def ccxt_adapters(market: Market) -> list[CcxtAdapter]:
    """The adapters of the market's ``kind = "ccxt"`` venues, in config order."""
    names = [venue.name for venue in market.config.venues if isinstance(venue, CcxtConfig)]
    return [market.adapters[name] for name in names]


async def snapshot_ccxt_venues(market: Market) -> None:
    """Take every ccxt venue's snapshot (market rules and order book), then close their HTTP
    sessions (the next event loop opens its own). Raises AdapterError naming the first venue that
    fails; every session is closed either way."""
    try:
        for adapter in ccxt_adapters(market):
            await adapter.refresh()
    finally:
        await close_ccxt_venues(market)


async def close_ccxt_venues(market: Market) -> None:
    """Close the ccxt venues' HTTP sessions (each adapter keeps its snapshot)."""
    for adapter in ccxt_adapters(market):
        await adapter.close()


def build_market(config: MarketConfig) -> Market:
    """Build every venue and its adapter from ``config``. Raises ConfigError for refused values."""
    market = Market(
        config=config,
        assets={asset.name: asset for asset in config.assets},
        accounts={account.name: account for account in config.accounts},
    )
    for index, venue in enumerate(config.venues):
        key = f"venues[{index}]"
        if isinstance(venue, AmmConfig):
            pool, adapter = _build_amm(config, key, venue)
        elif isinstance(venue, ClmmConfig):
            pool, adapter = _build_clmm(config, key, venue)
        elif isinstance(venue, OrderBookConfig):
            pool, adapter = _build_orderbook(config, key, venue)
        elif isinstance(venue, CcxtConfig):  # a remote venue: no local state to hold
            market.adapters[venue.name] = _build_ccxt(config, key, venue)
            continue
        else:  # pragma: no cover - the config only yields the kinds above
            raise ConfigError(
                config.file, f"{key}.kind", venue.kind, "amm | clmm | orderbook | ccxt"
            )
        market.venues[venue.name] = pool
        market.adapters[venue.name] = adapter
    return market


def _decimals(config: MarketConfig, venue: VenueConfig) -> tuple[int, int]:
    return config.asset(venue.base).decimals, config.asset(venue.quote).decimals


def _refused(
    config: MarketConfig, key: str, value: Any, exc: CrossrouteError, allowed: str
) -> ConfigError:
    return ConfigError(config.file, key, value, f"{allowed} (the venue refused it: {exc})")


def _build_amm(
    config: MarketConfig, key: str, venue: AmmConfig
) -> tuple[ConstantProductPool, AmmAdapter]:
    base_dec, quote_dec = _decimals(config, venue)
    reserve0 = to_units_exact("reserves[0]", venue.reserves[0], base_dec)
    reserve1 = to_units_exact("reserves[1]", venue.reserves[1], quote_dec)
    try:
        pool = ConstantProductPool(reserve0, reserve1, venue.fee_pips)
    except VenueError as exc:
        raise _refused(
            config,
            f"{key}.reserves",
            [str(r) for r in venue.reserves],
            exc,
            "reserves a Uniswap v2 pool accepts",
        ) from exc
    adapter = AmmAdapter(
        venue.name,
        venue.symbol,
        pool,
        base_decimals=base_dec,
        quote_decimals=quote_dec,
        leg_cost=venue.leg_cost,
    )
    return pool, adapter


def _build_clmm(
    config: MarketConfig, key: str, venue: ClmmConfig
) -> tuple[ConcentratedLiquidityPool, ClmmAdapter]:
    base_dec, quote_dec = _decimals(config, venue)
    sqrt_price_x96 = sqrt_price_x96_from_price(venue.price, base_dec, quote_dec)
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise ConfigError(
            config.file,
            f"{key}.price",
            str(venue.price),
            "a price whose sqrt_price_x96 is in [MIN_SQRT_RATIO, MAX_SQRT_RATIO)",
        )
    try:
        pool = ConcentratedLiquidityPool(venue.fee_pips, venue.tick_spacing, sqrt_price_x96)
    except VenueError as exc:
        raise _refused(
            config,
            f"{key}.tick_spacing",
            venue.tick_spacing,
            exc,
            "a fee and tick spacing the pool accepts",
        ) from exc
    for index, position in enumerate(venue.positions):
        where = f"{key}.positions[{index}]"
        ticks = []
        for bound in ("lower", "upper"):
            price = getattr(position, bound)
            try:
                ticks.append(tick_at_price(price, base_dec, quote_dec, venue.tick_spacing))
            except RouteError as exc:
                raise ConfigError(
                    config.file, f"{where}.{bound}", str(price), exc.details["allowed"]
                ) from exc
        if ticks[0] >= ticks[1]:
            raise ConfigError(
                config.file,
                f"{where}.upper",
                str(position.upper),
                f"a bound at least one tick spacing ({venue.tick_spacing} ticks) above"
                f" lower = {position.lower} once both are rounded down to the tick grid",
            )
        try:
            pool.mint(position.owner, ticks[0], ticks[1], position.liquidity)
        except VenueError as exc:
            raise _refused(
                config,
                f"{where}.liquidity",
                str(position.liquidity),
                exc,
                "liquidity the pool accepts",
            ) from exc
    adapter = ClmmAdapter(
        venue.name,
        venue.symbol,
        pool,
        base_decimals=base_dec,
        quote_decimals=quote_dec,
        fee_pips=venue.fee_pips,
        leg_cost=venue.leg_cost,
    )
    return pool, adapter


def _build_orderbook(
    config: MarketConfig, key: str, venue: OrderBookConfig
) -> tuple[OrderBook, OrderBookAdapter]:
    _, quote_dec = _decimals(config, venue)
    try:
        book = OrderBook(
            venue.symbol,
            tick_size=venue.tick_size,
            lot_size=venue.lot_size,
            min_notional=venue.min_notional,
            maker_fee_pips=venue.maker_fee_pips,
            taker_fee_pips=venue.taker_fee_pips,
            kind=venue.instrument,
        )
    except VenueError as exc:
        raise _refused(
            config, f"{key}.tick_size", str(venue.tick_size), exc, "a book the venue accepts"
        ) from exc
    for side, levels, book_side in (("bids", venue.bids, "buy"), ("asks", venue.asks, "sell")):
        for index, (price, size) in enumerate(levels):
            try:
                book.place_limit(
                    f"seed-{venue.name}-{side}-{index}",
                    SEED_OWNER,
                    book_side,
                    book.price_to_ticks(price),
                    book.qty_to_lots(size),
                )
            except VenueError as exc:
                raise _refused(
                    config,
                    f"{key}.{side}[{index}]",
                    [str(price), str(size)],
                    exc,
                    "a level the book accepts (min_notional, grid)",
                ) from exc
    adapter = OrderBookAdapter(
        venue.name,
        venue.symbol,
        book,
        quote_decimals=quote_dec,
        taker_fee_pips=venue.taker_fee_pips,
        min_notional=venue.min_notional,
        leg_cost=venue.leg_cost,
    )
    return book, adapter


def _build_ccxt(config: MarketConfig, key: str, venue: CcxtConfig) -> CcxtAdapter:
    """The adapter of a ccxt venue: a known exchange id, keys from the named environment
    variables (ConfigError naming the key and the variable when one is unset or empty)."""
    from adapters.ccxt import CcxtAdapter, exchange_factory, known_exchange

    if not known_exchange(venue.exchange):
        raise ConfigError(
            config.file,
            f"{key}.exchange",
            venue.exchange,
            "an exchange id ccxt knows, e.g. binance",
        )
    credentials = []
    for field_name in ("api_key_env", "api_secret_env"):
        variable = getattr(venue, field_name)
        if variable is None:
            continue
        value = os.environ.get(variable, "")
        if not value:
            raise ConfigError(
                config.file,
                f"{key}.{field_name}",
                variable,
                f"the name of a set, non-empty environment variable (${variable} is not set)",
            )
        credentials.append(value)
    api_key, api_secret = credentials if credentials else (None, None)
    make = exchange_factory(
        venue.exchange, base_url=venue.base_url, api_key=api_key, api_secret=api_secret
    )
    return CcxtAdapter(
        venue.name,
        make(),
        venue.symbol,
        quote_decimals=config.asset(venue.quote).decimals,
        leg_cost=venue.leg_cost,
        taker_fee_pips=venue.taker_fee_pips,
        owns_exchange=True,
        max_snapshot_age_secs=venue.max_snapshot_age_secs,
        reopen=make,
    )


# -- margin --------------------------------------------------------------------------------------


@dataclass
class MarginSetup:
    """A margin ledger for one account, ready for trading.

    ``sub_id`` is the account's subaccount (``<account>/main``) holding its starting balances;
    ``gate`` the executor's margin gate on it; ``perp_markets`` maps perp symbols to the ledger's
    market names (``ETH/USDC:USDC`` -> ``ETH-PERP``).
    """

    account: str
    sub_id: str
    ledger: MarginLedger
    gate: LedgerGate
    perp_markets: dict[str, str]
    # ledger mark name -> the symbol whose venue mid is its source (marks fixed in [margin.marks]
    # are left out: they do not move)
    mark_sources: dict[str, str] = field(default_factory=dict)

    def live_marks(self, market: Market) -> dict[str, Decimal]:
        """The marks their configured sources give now (the median of every venue trading the
        symbol, outliers dropped: :meth:`Market.median_mid`), for the executor to refresh between
        children; a name whose venues have no mid or no majority is left out (its mark stays)."""
        marks = {}
        for name, symbol in self.mark_sources.items():
            mid = market.median_mid(symbol)
            if mid is not None and mid > 0 and symbol == f"{self.ledger.quote_asset}/{name}":
                # quoted the other way (USDT from USDC/USDT): the mark is the inverse mid
                mid = (1 / mid).quantize(MARK_QUANTUM)
            marks[name] = mid
        return {name: mark for name, mark in sorted(marks.items()) if mark is not None and mark > 0}


def build_margin(
    market: Market, account: str | None = None, *, journal: Journal | None = None
) -> MarginSetup:
    """Build the cross-margin ledger for ``account`` (default: the first ``[[accounts]]``) from config.

    Registers the margin quote asset, every other asset the account holds, trades spot or uses as
    an oracle (weights from ``[margin.assets]``, else 1), a market per ``[margin.markets]`` entry,
    marks from ``[margin.marks]`` or else the venues' mid (:meth:`Market.mid_price`), opens
    ``<account>/main`` and deposits the account's starting balances. ``journal`` (optional)
    receives every setup step, so a journal shows the starting state. The market's venues are
    not touched. Raises ConfigError naming the key for an unknown account, a name without a
    price, or a value the margin core refuses. O(assets + markets).
    """
    from router.margin.account import RiskLimits  # only the commands that trade build one
    from router.margin.ledger import MarginLedger

    config = market.config
    margin = market.margin
    accounts = config.accounts
    if not accounts:
        raise ConfigError(
            config.file, "accounts", [], "at least one [[accounts]] entry with balances"
        )
    names = [a.name for a in accounts]
    chosen = names[0] if account is None else account
    if chosen not in names:
        raise ConfigError(config.file, "accounts", chosen, f"an account among: {', '.join(names)}")
    holder = market.accounts[chosen]
    quote = margin.quote
    wanted = {asset for asset, _ in holder.balances}
    wanted |= {
        venue.base for venue in config.venues if venue.instrument == "spot" and venue.quote == quote
    }
    wanted |= {m.oracle for m in margin.markets} | {a.name for a in margin.assets}
    # an asset only met on pairs of other quotes (USDT of ETH/USDT) is booked by a route's hops
    # as itself (router.margin.swap): registered when the market prices it against the quote
    # one way or the other
    spot_symbols = {v.symbol for v in config.venues if v.instrument == "spot"}
    wanted |= {
        asset
        for v in config.venues
        if v.instrument == "spot"
        for asset in (v.base, v.quote)
        if f"{asset}/{quote}" in spot_symbols or f"{quote}/{asset}" in spot_symbols
    }
    wanted.discard(quote)
    key = "margin"
    try:
        ledger = MarginLedger(
            quote,
            liquidation_fee_bps=margin.liquidation_fee_bps,
            liquidation_buffer_bps=margin.liquidation_buffer_bps,
            journal=journal,
        )
        mark_sources: dict[str, str] = {}
        # sorted, so that the ledger (and its journal) is the same whatever the file order
        for asset in sorted(wanted):
            key = f"margin.assets.{asset}"
            weights = margin.asset(asset)
            add_margin_asset(ledger, weights)
            key = f"margin.marks.{asset}"
            source = f"{asset}/{quote}"
            inverted = f"{quote}/{asset}"
            if (
                market.margin.mark(asset) is None
                and source not in spot_symbols
                and inverted in spot_symbols
            ):
                source = inverted  # priced the other way: the mark is the inverse mid
                inverse = _mark(market, asset, source, key)
                ledger.set_mark(asset, (1 / inverse).quantize(MARK_QUANTUM))
            else:
                ledger.set_mark(asset, _mark(market, asset, source, key))
            if market.margin.mark(asset) is None:
                mark_sources[asset] = source
        if any(asset.name == quote for asset in margin.assets):
            key = f"margin.assets.{quote}"
            terms = margin.asset(quote)
            ledger.set_borrow_terms(
                quote,
                terms.initial_liability_weight,
                terms.maintenance_liability_weight,
                terms.borrow_limit,
                terms.borrow_rate,
            )
        perp_markets: dict[str, str] = {}
        for spec in margin.markets:
            key = f'margin.markets."{spec.symbol}"'
            add_margin_market(ledger, spec)
            key = f"margin.marks.{spec.name}"
            ledger.set_mark(spec.name, _mark(market, spec.name, spec.symbol, key))
            if market.margin.mark(spec.name) is None:
                mark_sources[spec.name] = spec.symbol
            perp_markets[spec.symbol] = spec.name
        key = "margin"
        limits = RiskLimits.parse(
            max_notional={
                spec.name: spec.max_notional
                for spec in margin.markets
                if spec.max_notional is not None
            },
            max_gross_leverage=margin.max_gross_leverage,
        )
        key = f"accounts.{chosen}"
        sub_id = ledger.open_subaccount(chosen, MAIN_SUBACCOUNT, limits)
        for asset, amount in holder.balances:
            key = f"accounts.{chosen}.balances.{asset}"
            if amount > 0:
                ledger.deposit(sub_id, asset, amount)
    except ConfigError:
        raise
    except CrossrouteError as exc:
        value = exc.details.get("value") if hasattr(exc, "details") else None
        raise ConfigError(
            config.file, key, value, f"a value the margin core accepts ({exc})"
        ) from exc
    from router.execution.margin_gate import LedgerGate  # only the trading commands load it

    return MarginSetup(
        chosen, sub_id, ledger, LedgerGate(ledger, sub_id, perp_markets), perp_markets, mark_sources
    )


def add_margin_asset(ledger: MarginLedger, weights: MarginAssetConfig) -> None:
    """Register an asset of the ``[margin]`` rules in ``ledger``: weights and borrow terms."""
    ledger.add_asset(
        weights.name,
        weights.initial_weight,
        weights.maintenance_weight,
        weights.initial_liability_weight,
        weights.maintenance_liability_weight,
        weights.borrow_limit,
        weights.borrow_rate,
    )


def add_margin_market(ledger: MarginLedger, spec: MarginMarketConfig) -> None:
    """Register a perp market of the ``[margin]`` rules in ``ledger``: its rule set (tiers,
    Binance brackets or dYdX fractions) and funding terms."""
    ledger.add_market(
        spec.name,
        spec.oracle,
        tiers=[_tier(tier) for tier in spec.tiers] or None,
        funding_cap=spec.funding_cap,
        funding_interest=spec.funding_interest,
        funding_band=spec.funding_band,
        funding_interval_hours=spec.funding_interval_hours,
        initial_margin_fraction=spec.initial_margin_fraction,
        maintenance_margin_fraction=spec.maintenance_margin_fraction,
    )


def _tier(tier: TierConfig) -> dict[str, object]:
    """A config tier as the margin core's tier table (bracket keys only when given)."""
    out: dict[str, object] = {
        "notional_from": tier.notional_from,
        "max_leverage": tier.max_leverage,
    }
    if tier.maintenance_margin_rate is not None:
        out["maintenance_margin_rate"] = tier.maintenance_margin_rate
        out["maintenance_amount"] = tier.maintenance_amount
    return out


def _mark(market: Market, name: str, symbol: str, key: str) -> Decimal:
    """The configured mark of ``name``, else the margin core's median of every venue trading
    ``symbol`` (their mids on the 1e-8 grid; a mid more than MARK_MAX_DEVIATION_BPS from the
    median is an outlier and dropped, and a majority must agree, else the first venue's mid)."""
    mark = market.margin.mark(name)
    if mark is None:
        mark = market.median_mid(symbol) or market.mid_price(symbol)
    if mark is None or mark <= 0:
        raise ConfigError(
            market.config.file,
            key,
            None,
            f"a mark price for {name} (no venue trading {symbol} has a mid to take it from)",
        )
    return mark
