"""Default price protection: an order without a limit gets one, a band around the arrival mid.

Used by ``crossroute route`` and ``crossroute execute`` (and meant for paper trading): an order
that names no limit is protected at ``arrival mid x (1 + band)`` for a buy and ``x (1 - band)``
for a sell (default 100 bps), so a size that exhausts the liquidity fills what the band allows and
says so, instead of paying any price. ``--no-limit`` lifts the protection explicitly. Every
output states which protection applied (:meth:`Protection.to_json_dict`).

The arrival mid is the median of the order's venues' own mids when the order arrives (a venue's
``mid_price()``: a pool's price, a book's best bid and ask; a venue without one contributes the mid
of its depth curves' best all-in ask and bid), rounded to 8 decimals: it is a reference for a
policy bound, not an amount; every cost reported is still the venues' exact re-quote. The band
limit is rounded away from the trader (a looser limit, never a tighter one).

Fixed costs (gas, per-order fees) are checked against the notional: above ``max_fixed_cost_share``
of it the plan is refused or warned about, with the figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

# The defaults live with the [protection] table that overrides them (router/config/protection.py).
from router.config.protection import (
    DEFAULT_BAND_BPS,
    DEFAULT_MAX_FIXED_COST_SHARE,
    MAX_BAND_BPS,
)
from router.model.errors import CrossrouteError, RouteError
from router.model.orders import LegQuote

__all__ = [
    "DEFAULT_BAND_BPS",
    "DEFAULT_MAX_FIXED_COST_SHARE",
    "MAX_BAND_BPS",
    "Protection",
    "arrival_mid",
    "band_limit",
    "fixed_cost_finding",
    "protect",
    "venue_mid",
]

PRICE_QUANTUM = Decimal("1e-8")
BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Protection:
    """Which price protection an order carries: ``mode`` "limit" (the user's), "band" (the
    default band around ``arrival_mid``) or "none" (lifted with --no-limit)."""

    mode: str
    limit_price: Decimal | None
    arrival_mid: Decimal | None = None
    band_bps: int | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "limit_price": None if self.limit_price is None else format(self.limit_price, "f"),
            "arrival_mid": None if self.arrival_mid is None else format(self.arrival_mid, "f"),
            "band_bps": self.band_bps,
        }

    def describe(self) -> str:
        """One line for people."""
        if self.mode == "none":
            return "price protection: none (--no-limit)"
        if self.mode == "limit":
            return f"price protection: limit {self.limit_price}"
        return (
            f"price protection: {self.band_bps} bps band around the arrival mid "
            f"{self.arrival_mid} -> limit {self.limit_price} (lift with --no-limit)"
        )


def arrival_mid(venues: Sequence[Any]) -> Decimal | None:
    """Median of the venues' mids (8 decimals, half-even), or None when no venue has one. Venues
    that cannot be read are skipped. O(venues) (a venue without ``mid_price`` builds two curves)."""
    mids = sorted(m for m in (venue_mid(v) for v in venues) if m is not None)
    if not mids:
        return None
    middle = len(mids) // 2
    mid = mids[middle] if len(mids) % 2 else (mids[middle - 1] + mids[middle]) / 2
    return mid.quantize(PRICE_QUANTUM)


def venue_mid(venue: Any) -> Decimal | None:
    """One venue's mid: its own ``mid_price()`` when it has one, else the mid of its depth
    curves' best all-in ask and bid (floats through their shortest repr), else None."""
    try:
        if callable(getattr(venue, "mid_price", None)):
            mid = venue.mid_price()
            return mid if mid is not None and mid.is_finite() and mid > 0 else None
        best = []
        for side in ("buy", "sell"):
            curve = venue.depth_curve(side)
            if curve.total_qty <= 0:
                return None
            price = curve.marginal_price(0.0)
            if not (math.isfinite(price) and price > 0):
                return None
            best.append(Decimal(repr(price)))  # the shortest decimal that round-trips the float
    except CrossrouteError:
        return None
    return (best[0] + best[1]) / 2


def band_limit(mid: Decimal, side: str, band_bps: int) -> Decimal:
    """The limit ``band_bps`` away from ``mid`` against the trader, rounded looser. O(1)."""
    move = Decimal(band_bps) / BPS
    if side == "buy":
        return (mid * (1 + move)).quantize(PRICE_QUANTUM, rounding=ROUND_CEILING)
    return (mid * (1 - move)).quantize(PRICE_QUANTUM, rounding=ROUND_FLOOR)


def protect(
    venues: Sequence[Any],
    side: str,
    *,
    limit_price: Decimal | None,
    band_bps: int = DEFAULT_BAND_BPS,
    no_limit: bool = False,
) -> Protection:
    """The protection of one order: the user's limit, else the band (unless ``no_limit``).

    Raises RouteError when a limit and ``no_limit`` are both given, or when no band can be set
    because no venue quotes both sides (the user must then give a limit or lift protection)."""
    if limit_price is not None and no_limit:
        raise RouteError(
            "--no-limit cannot be combined with a limit; allowed: one of them",
            field="no_limit",
            value=True,
            allowed="either a limit or --no-limit",
        )
    if limit_price is not None:
        return Protection("limit", limit_price)
    if no_limit:
        return Protection("none", None)
    mid = arrival_mid(venues)
    if mid is None:
        raise RouteError(
            "no arrival mid for the default price band (no venue quotes both sides); allowed: "
            "a limit, or --no-limit to trade unprotected",
            field="limit",
            value=None,
            allowed="a limit or --no-limit",
        )
    return Protection("band", band_limit(mid, side, band_bps), mid, band_bps)


def fixed_cost_finding(
    legs: Sequence[LegQuote], side: str, max_share: Decimal = DEFAULT_MAX_FIXED_COST_SHARE
) -> str | None:
    """A sentence with the figures when the legs' fixed costs exceed ``max_share`` of the
    notional (quote amount net of those costs), else None. Exact Decimals. O(legs)."""
    fixed = sum((leg.leg_cost for leg in legs), Decimal(0))
    total = sum((leg.quote_amount for leg in legs), Decimal(0))
    notional = total - fixed if side == "buy" else total + fixed
    if fixed <= 0 or notional <= 0:
        return None
    share = fixed / notional
    if share <= max_share:
        return None
    return (
        f"fixed costs {fixed} are {(share * 100).quantize(Decimal('0.01'))}% of the notional "
        f"{notional} (allowed: at most {(max_share * 100).normalize()}%)"
    )
