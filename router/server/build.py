"""Build a venue server over a built market: each config venue becomes a served market."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from router.app import Market
from router.config import AmmConfig, ClmmConfig, MarginMarketConfig, OrderBookConfig
from router.model.errors import ConfigError
from router.server.accounts import AccountSpec
from router.server.app import ServerLimits, VenueServer
from router.server.markets import BookMarket, MarketUnits, PoolMarket, V2Quoter, V3Quoter
from router.server.risk import PerpRules


def build_server(
    market: Market,
    *,
    pool_depth_step: Decimal = Decimal("1"),
    limits: ServerLimits | None = None,
    **options: Any,
) -> VenueServer:
    """A VenueServer over the built ``market``'s live venue objects and its accounts."""
    config = market.config
    decimals = {asset.name: asset.decimals for asset in config.assets}
    perp_rules = {
        venue.name: _rules(spec)
        for venue in config.venues
        if venue.instrument == "perp" and (spec := market.margin.market(venue.symbol)) is not None
    }
    served = []
    for index, venue in enumerate(config.venues):
        units = MarketUnits(venue.base, venue.quote, decimals[venue.base], decimals[venue.quote])
        obj = market.venues[venue.name]
        try:
            if isinstance(venue, OrderBookConfig):
                rules = perp_rules.get(venue.name)
                leverage = rules.schedule().tiers[0].max_leverage if rules else 20
                served.append(BookMarket(venue.name, obj, units, leverage=leverage))
            elif isinstance(venue, AmmConfig):
                served.append(
                    PoolMarket(venue.name, V2Quoter(obj), units, depth_step=pool_depth_step)
                )
            elif isinstance(venue, ClmmConfig):
                served.append(
                    PoolMarket(venue.name, V3Quoter(obj), units, depth_step=pool_depth_step)
                )
            else:  # pragma: no cover - the config yields only the kinds above
                raise ConfigError(
                    config.file, f"venues[{index}].kind", venue.kind, "amm | clmm | orderbook"
                )
        except ConfigError:
            raise
        except Exception as exc:  # a venue the server cannot settle exactly (units off the grid)
            raise ConfigError(
                config.file, f"venues[{index}]", venue.name, f"a servable venue ({exc})"
            ) from None
    accounts = [
        AccountSpec(a.name, dict(a.balances), a.api_key, a.api_secret) for a in config.accounts
    ]
    return VenueServer(
        served,
        accounts,
        decimals,
        limits=limits or ServerLimits(),
        perp_rules=perp_rules,
        **options,
    )


def _rules(spec: MarginMarketConfig) -> PerpRules:
    """A ``[margin.markets]`` entry as the server's rules (the margin core's tier tables)."""
    tiers = tuple(
        {"notional_from": t.notional_from, "max_leverage": t.max_leverage}
        | (
            {
                "maintenance_margin_rate": t.maintenance_margin_rate,
                "maintenance_amount": t.maintenance_amount,
            }
            if t.maintenance_margin_rate is not None
            else {}
        )
        for t in spec.tiers
    )
    return PerpRules(
        spec.name,
        spec.oracle,
        tiers=tiers or None,
        initial_margin_fraction=spec.initial_margin_fraction,
        maintenance_margin_fraction=spec.maintenance_margin_fraction,
        funding_cap=spec.funding_cap,
        funding_interest=spec.funding_interest,
        funding_band=spec.funding_band,
        funding_interval_hours=spec.funding_interval_hours,
    )
