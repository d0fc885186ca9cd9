"""The multi-leg order model and its TOML form.

An order is a set of legs (spot or perpetual, side, size in base or in quote, a limit, the
venues it may use) with hedge relations (a hedge leg's size follows its leader's *filled* base
size times a ratio), one time limit for the whole order, a policy for a hedge that cannot
complete, and an idempotent client id. Amounts are ``Decimal`` in whole units; every value is
validated on construction, so an order object that exists is a valid order.

TOML form (strings for numbers; ints accepted; floats refused because they lose precision)::

    [order]
    client_id = "basis-001"
    account = "desk-a"           # optional: the [[accounts]] entry to trade for (default: first)
    time_limit_secs = "30"
    on_hedge_failure = "unwind"  # unwind | stop
    on_hedge_shortfall = "refuse" # refuse | shrink: the plan shows a hedge cannot absorb the
                                 # leader's size within its limit -> trade nothing, or shrink the
                                 # leader to what the hedges can absorb (the report says which)
    unwind_band_bps = 100        # an unwind trades back no worse than the arrival mid -/+ this
    max_rounds = 3               # routing rounds per leg (re-routes of residuals)
    slippage_bps = 10            # child limit = quoted average price moved by this, capped by the leg limit
    netting_window_ms = 5000     # optional, <= 60000: while the legs execute, the maintenance check
                                 # counts unfilled hedge legs at their limits; on expiry the policy applies

    [[legs]]
    id = "spot"
    instrument = "spot"          # spot | perp
    symbol = "ETH/USDC"
    side = "buy"
    qty = "10"                   # base; or quote_qty = "30000"
    limit = "2750"               # worst all-in price: marginal for routing, average per child
    venues = ["uni-v2", "book"]  # optional; default every venue of the symbol

    [[legs]]
    id = "hedge"
    instrument = "perp"
    symbol = "ETH/USDC:USDC"
    side = "sell"
    follows = "spot"             # hedge: size = filled base of "spot" x ratio
    ratio = "1"

A multi-hop leg names assets instead of a symbol and a side (the order's only leg; spot)::

    [[legs]]
    id = "eth-to-usdt"
    from = "ETH"                 # spend exactly qty of this asset ...
    to = "USDT"                  # ... for as much of this one as the paths give
    qty = "5"
    max_hops = 2                 # optional (default 2)
    limit = "2600"               # optional: the worst all-in rate, units of `to` per unit of `from`
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from router.config import TOP_LEVEL, Keys, check_table, read_toml
from router.config.protection import DEFAULT_UNWIND_BAND_BPS
from router.model.errors import ConfigError, ExecutionError, InvalidValue
from router.routing import MAX_HOPS
from venues.values import parse_positive

__all__ = [
    "HEDGE_POLICIES",
    "INSTRUMENTS",
    "MAX_LEGS",
    "MAX_NETTING_WINDOW_MS",
    "Hedge",
    "MultiLegOrder",
    "OrderError",
    "OrderLeg",
    "base_asset",
    "load_order",
    "order_from_dict",
]

INSTRUMENTS: tuple[str, ...] = ("spot", "perp")
HEDGE_POLICIES: tuple[str, ...] = ("unwind", "stop")
# What to do when the plan shows a hedge cannot absorb its leader's size within its limit.
SHORTFALL_POLICIES: tuple[str, ...] = ("refuse", "shrink")
SIDES: tuple[str, ...] = ("buy", "sell")
# Leg ordering searches permutations; 8 legs is 40,320 orders, the most we search exhaustively.
MAX_LEGS = 8
MAX_ROUNDS = 20
# A netting window longer than a minute would let an unhedged position hide behind a hedge that is
# not really on its way.
MAX_NETTING_WINDOW_MS = 60_000
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ASSET = re.compile(r"^[A-Z0-9]{1,16}$")
DEFAULT_MAX_HOPS = 2
_SYMBOL = re.compile(r"^[A-Z0-9]{1,16}/[A-Z0-9]{1,16}(:[A-Z0-9]{1,16})?$")


class OrderError(InvalidValue, ExecutionError):
    """An order value is invalid: names the field, the value given and what is allowed."""


def _positive(field: str, value: Any) -> Decimal:
    """``value`` as an exact Decimal > 0 in the project's one number grammar
    (:mod:`venues.values`); an OrderError naming ``field`` otherwise."""
    if isinstance(value, float):
        # A TOML float has already been rounded by the TOML reader: say how to write it exactly.
        raise OrderError(
            field, value, "a decimal string > 0 (TOML floats lose precision: quote it)"
        )
    return parse_positive(field, value, error=OrderError)


def base_asset(symbol: str) -> str:
    """The base asset of ``BASE/QUOTE`` or ``BASE/QUOTE:SETTLE``."""
    return symbol.split("/", 1)[0]


def quote_asset(symbol: str) -> str:
    """The quote asset of ``BASE/QUOTE`` or ``BASE/QUOTE:SETTLE``."""
    return symbol.split("/", 1)[1].split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class Hedge:
    """Leg sizing rule: size = filled base qty of leg ``follows`` x ``ratio`` (ratio > 0)."""

    follows: str
    ratio: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        if not isinstance(self.follows, str) or not _ID.match(self.follows):
            raise OrderError("follows", self.follows, "the id of another leg")
        if not isinstance(self.ratio, Decimal):
            raise OrderError("ratio", self.ratio, "a Decimal > 0")
        _positive("ratio", self.ratio)


@dataclass(frozen=True, slots=True)
class OrderLeg:
    """One leg: instrument, symbol, taker side, size (base ``qty`` xor ``quote_qty``, or a hedge).

    ``limit_price`` is the worst all-in price in quote per base (None: no limit). ``venues`` is
    the allowed venue names (empty: every venue trading ``symbol``).

    A multi-hop leg has ``from_asset``/``to_asset`` instead (``symbol`` and ``side`` empty): spend
    exactly ``qty`` of ``from_asset`` for ``to_asset`` over paths of at most ``max_hops`` spot
    venues; ``limit_price`` is then the worst all-in rate in ``to_asset`` per ``from_asset``.
    """

    leg_id: str
    instrument: str
    symbol: str
    side: str
    qty: Decimal | None = None
    quote_qty: Decimal | None = None
    limit_price: Decimal | None = None
    venues: tuple[str, ...] = ()
    hedge: Hedge | None = None
    from_asset: str | None = None
    to_asset: str | None = None
    max_hops: int = DEFAULT_MAX_HOPS

    def __post_init__(self) -> None:
        if not isinstance(self.leg_id, str) or not _ID.match(self.leg_id):
            raise OrderError(
                "id", self.leg_id, "1-64 characters of [A-Za-z0-9_.-], starting alphanumeric"
            )
        if self.from_asset is not None or self.to_asset is not None:
            self._check_multihop()
            return
        if self.instrument not in INSTRUMENTS:
            raise OrderError("instrument", self.instrument, " | ".join(INSTRUMENTS))
        if not isinstance(self.symbol, str) or not _SYMBOL.match(self.symbol):
            raise OrderError("symbol", self.symbol, "BASE/QUOTE or BASE/QUOTE:SETTLE in capitals")
        if self.side not in SIDES:
            raise OrderError("side", self.side, "buy | sell")
        for name in ("qty", "quote_qty", "limit_price"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, Decimal):
                    raise OrderError(name, value, "a Decimal > 0 or None")
                _positive(name, value)
        if self.hedge is not None:
            if not isinstance(self.hedge, Hedge):
                raise OrderError("hedge", self.hedge, "a Hedge or None")
            if self.qty is not None or self.quote_qty is not None:
                raise OrderError(
                    "qty",
                    self.qty if self.qty is not None else self.quote_qty,
                    "no size on a hedge leg: its size follows the leader's fills",
                )
            if self.hedge.follows == self.leg_id:
                raise OrderError("follows", self.hedge.follows, "the id of another leg")
        elif (self.qty is None) == (self.quote_qty is None):
            raise OrderError(
                "qty", self.qty, "exactly one of qty and quote_qty on a leg without follows"
            )
        if not isinstance(self.venues, tuple) or not all(
            isinstance(v, str) and v for v in self.venues
        ):
            raise OrderError("venues", self.venues, "a tuple of venue names")
        if len(set(self.venues)) != len(self.venues):
            raise OrderError("venues", self.venues, "distinct venue names")

    def _check_multihop(self) -> None:
        for name in ("from_asset", "to_asset"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _ASSET.match(value):
                raise OrderError(name, value, "an asset name in capitals, e.g. ETH")
        if self.from_asset == self.to_asset:
            raise OrderError("to_asset", self.to_asset, f"an asset other than {self.from_asset}")
        if self.instrument != "spot":
            raise OrderError(
                "instrument", self.instrument, "spot (a multi-hop leg converts assets)"
            )
        for name in ("symbol", "side"):
            if getattr(self, name):
                raise OrderError(name, getattr(self, name), "nothing on a leg with from/to")
        if self.hedge is not None or self.quote_qty is not None or self.venues:
            name = "follows" if self.hedge else "quote_qty" if self.quote_qty else "venues"
            value = self.hedge.follows if self.hedge else getattr(self, name)
            raise OrderError(name, value, "nothing on a leg with from/to")
        if not isinstance(self.qty, Decimal):
            raise OrderError("qty", self.qty, f"the amount of {self.from_asset} to spend, > 0")
        _positive("qty", self.qty)
        if self.limit_price is not None:
            if not isinstance(self.limit_price, Decimal):
                raise OrderError("limit_price", self.limit_price, "a Decimal > 0 or None")
            _positive("limit_price", self.limit_price)
        if (
            isinstance(self.max_hops, bool)
            or not isinstance(self.max_hops, int)
            or not 1 <= self.max_hops <= MAX_HOPS
        ):
            raise OrderError("max_hops", self.max_hops, f"an integer in [1, {MAX_HOPS}]")

    @property
    def multihop(self) -> bool:
        """True for a leg with ``from``/``to`` assets (planned over paths, hop by hop)."""
        return self.from_asset is not None

    @property
    def base(self) -> str:
        """The base asset this leg trades (ETH for ETH/USDC and ETH/USDC:USDC)."""
        return base_asset(self.symbol)

    @property
    def sign(self) -> int:
        """+1 for a buy (adds base exposure), -1 for a sell."""
        return 1 if self.side == "buy" else -1


@dataclass(frozen=True, slots=True)
class MultiLegOrder:
    """A whole order: legs, hedge relations (inside legs), time limit, hedge policy, client id.

    ``time_limit_secs`` bounds the routing of all legs (unwinds run after it, with their own
    child timeouts); ``max_rounds`` bounds re-routes per leg; ``slippage_bps`` sets child limits.
    ``netting_window_ms`` (0 = none, at most :data:`MAX_NETTING_WINDOW_MS`): from the start of
    execution for that long, the maintenance (liquidation) check counts the order's unfilled hedge
    legs as pending at their limit prices, and hedge legs must fill within it; when it expires with
    hedge legs unfilled, ``on_hedge_failure`` applies. Initial margin is checked as always.
    ``on_hedge_shortfall`` decides before anything trades when the plan shows a hedge cannot
    absorb its leader's size within its limit (refuse | shrink); ``unwind_band_bps`` bounds an
    unwind's price around the leader's arrival mid.
    """

    client_id: str
    legs: tuple[OrderLeg, ...]
    time_limit_secs: Decimal = Decimal(30)
    on_hedge_failure: str = "unwind"
    account: str | None = None
    max_rounds: int = 3
    slippage_bps: int = 10
    netting_window_ms: int = 0
    on_hedge_shortfall: str = "refuse"
    unwind_band_bps: int = DEFAULT_UNWIND_BAND_BPS

    def __post_init__(self) -> None:
        if not isinstance(self.client_id, str) or not _ID.match(self.client_id):
            raise OrderError(
                "client_id",
                self.client_id,
                "1-64 characters of [A-Za-z0-9_.-], starting alphanumeric",
            )
        if not isinstance(self.legs, tuple) or not all(
            isinstance(leg, OrderLeg) for leg in self.legs
        ):
            raise OrderError("legs", self.legs, "a tuple of OrderLeg")
        if not 1 <= len(self.legs) <= MAX_LEGS:
            raise OrderError("legs", len(self.legs), f"1 to {MAX_LEGS} legs")
        ids = [leg.leg_id for leg in self.legs]
        for index, leg_id in enumerate(ids):
            if leg_id in ids[:index]:
                raise OrderError(f"legs[{index}].id", leg_id, "distinct leg ids")
        if any(leg.multihop for leg in self.legs) and len(self.legs) != 1:
            raise OrderError("legs", len(self.legs), "one leg when a leg has from/to")
        by_id = {leg.leg_id: leg for leg in self.legs}
        for index, leg in enumerate(self.legs):
            if leg.hedge is not None and leg.hedge.follows not in by_id:
                raise OrderError(
                    f"legs[{index}].follows", leg.hedge.follows, f"one of {sorted(by_id)}"
                )
        for index, leg in enumerate(self.legs):  # a chain of hedges must end at a sized leg
            seen = {leg.leg_id}
            current = leg
            while current.hedge is not None:
                current = by_id[current.hedge.follows]
                if current.leg_id in seen:
                    raise OrderError(
                        f"legs[{index}].follows",
                        leg.hedge.follows if leg.hedge else None,
                        "hedge relations without cycles",
                    )
                seen.add(current.leg_id)
        if not isinstance(self.time_limit_secs, Decimal):
            raise OrderError("time_limit_secs", self.time_limit_secs, "a Decimal > 0")
        _positive("time_limit_secs", self.time_limit_secs)
        if self.on_hedge_failure not in HEDGE_POLICIES:
            raise OrderError("on_hedge_failure", self.on_hedge_failure, " | ".join(HEDGE_POLICIES))
        if self.on_hedge_shortfall not in SHORTFALL_POLICIES:
            raise OrderError(
                "on_hedge_shortfall", self.on_hedge_shortfall, " | ".join(SHORTFALL_POLICIES)
            )
        if (
            isinstance(self.unwind_band_bps, bool)
            or not isinstance(self.unwind_band_bps, int)
            or not 0 <= self.unwind_band_bps <= 10_000
        ):
            raise OrderError("unwind_band_bps", self.unwind_band_bps, "an integer in [0, 10000]")
        if self.account is not None and (not isinstance(self.account, str) or not self.account):
            raise OrderError("account", self.account, "an account name or None")
        if (
            isinstance(self.max_rounds, bool)
            or not isinstance(self.max_rounds, int)
            or not 1 <= self.max_rounds <= MAX_ROUNDS
        ):
            raise OrderError("max_rounds", self.max_rounds, f"an integer in [1, {MAX_ROUNDS}]")
        if (
            isinstance(self.slippage_bps, bool)
            or not isinstance(self.slippage_bps, int)
            or not 0 <= self.slippage_bps <= 10_000
        ):
            raise OrderError("slippage_bps", self.slippage_bps, "an integer in [0, 10000]")
        if (
            isinstance(self.netting_window_ms, bool)
            or not isinstance(self.netting_window_ms, int)
            or not 0 <= self.netting_window_ms <= MAX_NETTING_WINDOW_MS
        ):
            raise OrderError(
                "netting_window_ms",
                self.netting_window_ms,
                f"an integer in [0, {MAX_NETTING_WINDOW_MS}] (milliseconds; 0 = no window)",
            )

    def leg(self, leg_id: str) -> OrderLeg:
        """The leg called ``leg_id``; OrderError when there is none."""
        for leg in self.legs:
            if leg.leg_id == leg_id:
                return leg
        raise OrderError("leg_id", leg_id, f"one of {[leg.leg_id for leg in self.legs]}")

    def followers(self, leg_id: str) -> tuple[OrderLeg, ...]:
        """Legs whose hedge follows ``leg_id``, in order of the order."""
        return tuple(
            leg for leg in self.legs if leg.hedge is not None and leg.hedge.follows == leg_id
        )

    def to_json_dict(self) -> dict[str, Any]:
        """The order as plain data (decimal strings), e.g. for the journal."""
        return {
            "client_id": self.client_id,
            "account": self.account,
            "time_limit_secs": str(self.time_limit_secs),
            "on_hedge_failure": self.on_hedge_failure,
            "max_rounds": self.max_rounds,
            "slippage_bps": self.slippage_bps,
            # omitted when 0: orders without a window keep the fingerprint they always had
            **({"netting_window_ms": self.netting_window_ms} if self.netting_window_ms else {}),
            **(
                {"on_hedge_shortfall": self.on_hedge_shortfall}
                if self.on_hedge_shortfall != "refuse"
                else {}
            ),
            **(
                {"unwind_band_bps": self.unwind_band_bps}
                if self.unwind_band_bps != DEFAULT_UNWIND_BAND_BPS
                else {}
            ),
            "legs": [
                {
                    "id": leg.leg_id,
                    "instrument": leg.instrument,
                    "from": leg.from_asset,
                    "to": leg.to_asset,
                    "max_hops": leg.max_hops,
                    "qty": str(leg.qty),
                    "limit": None if leg.limit_price is None else str(leg.limit_price),
                }
                if leg.multihop
                else {
                    "id": leg.leg_id,
                    "instrument": leg.instrument,
                    "symbol": leg.symbol,
                    "side": leg.side,
                    "qty": None if leg.qty is None else str(leg.qty),
                    "quote_qty": None if leg.quote_qty is None else str(leg.quote_qty),
                    "limit": None if leg.limit_price is None else str(leg.limit_price),
                    "venues": list(leg.venues),
                    "follows": None if leg.hedge is None else leg.hedge.follows,
                    "ratio": None if leg.hedge is None else str(leg.hedge.ratio),
                }
                for leg in self.legs
            ],
        }


_ORDER_KEYS = {
    "client_id",
    "account",
    "time_limit_secs",
    "on_hedge_failure",
    "max_rounds",
    "slippage_bps",
    "netting_window_ms",
    "on_hedge_shortfall",
    "unwind_band_bps",
}
_LEG_KEYS = {
    "id",
    "instrument",
    "symbol",
    "side",
    "qty",
    "quote_qty",
    "limit",
    "venues",
    "follows",
    "ratio",
    "from",
    "to",
    "max_hops",
}
_LEG_FIELD_TO_KEY = {
    "leg_id": "id",
    "limit_price": "limit",
    "hedge": "follows",
    "from_asset": "from",
    "to_asset": "to",
}


def order_from_dict(
    data: Any, source: str = "<order>", unwind_band_bps: int = DEFAULT_UNWIND_BAND_BPS
) -> MultiLegOrder:
    """Build a validated order from parsed TOML; every error is a ConfigError naming the key.

    Unknown keys are refused (a typo must not silently drop a limit). O(number of legs).
    """
    if not isinstance(data, dict):
        raise ConfigError(
            source, "<root>", type(data).__name__, "a TOML table with [order] and [[legs]]"
        )
    check_table(TOP_LEVEL, data, Keys((), ("order", "legs")), partial(ConfigError, source))
    head = data.get("order")
    if not isinstance(head, dict):
        raise ConfigError(source, "order", head, "an [order] table with client_id")
    check_table("order", head, Keys((), tuple(sorted(_ORDER_KEYS))), partial(ConfigError, source))
    raw_legs = data.get("legs")
    if not isinstance(raw_legs, list) or not raw_legs:
        raise ConfigError(source, "legs", raw_legs, f"1 to {MAX_LEGS} [[legs]] tables")
    legs = []
    for index, raw in enumerate(raw_legs):
        where = f"legs[{index}]"
        if not isinstance(raw, dict):
            raise ConfigError(source, where, raw, "a table")
        check_table(where, raw, Keys((), tuple(sorted(_LEG_KEYS))), partial(ConfigError, source))
        try:
            venues = raw.get("venues", [])
            if not isinstance(venues, list):
                raise OrderError("venues", venues, "a list of venue names")
            hedge = None
            if "follows" in raw:
                hedge = Hedge(raw["follows"], _positive("ratio", raw.get("ratio", "1")))
            elif "ratio" in raw:
                raise OrderError("ratio", raw["ratio"], "only together with follows")
            if "from" in raw or "to" in raw:
                legs.append(
                    OrderLeg(
                        leg_id=raw.get("id", f"leg{index}"),
                        instrument=raw.get("instrument", "spot"),
                        symbol=raw.get("symbol", ""),
                        side=raw.get("side", ""),
                        qty=None if "qty" not in raw else _positive("qty", raw["qty"]),
                        quote_qty=None
                        if "quote_qty" not in raw
                        else _positive("quote_qty", raw["quote_qty"]),
                        limit_price=None
                        if "limit" not in raw
                        else _positive("limit", raw["limit"]),
                        venues=tuple(venues),
                        hedge=hedge,
                        from_asset=raw.get("from"),
                        to_asset=raw.get("to"),
                        max_hops=raw.get("max_hops", DEFAULT_MAX_HOPS),
                    )
                )
                continue
            if "max_hops" in raw:
                raise OrderError("max_hops", raw["max_hops"], "only on a leg with from/to")
            legs.append(
                OrderLeg(
                    leg_id=raw.get("id", f"leg{index}"),
                    instrument=raw.get("instrument", "spot"),
                    symbol=raw.get("symbol"),
                    side=raw.get("side"),
                    qty=None if "qty" not in raw else _positive("qty", raw["qty"]),
                    quote_qty=None
                    if "quote_qty" not in raw
                    else _positive("quote_qty", raw["quote_qty"]),
                    limit_price=None if "limit" not in raw else _positive("limit", raw["limit"]),
                    venues=tuple(venues),
                    hedge=hedge,
                )
            )
        except OrderError as exc:
            key = _LEG_FIELD_TO_KEY.get(exc.field, exc.field)
            raise ConfigError(source, f"{where}.{key}", exc.value, exc.allowed) from None
    try:
        return MultiLegOrder(
            client_id=head.get("client_id"),
            legs=tuple(legs),
            time_limit_secs=_positive("time_limit_secs", head.get("time_limit_secs", "30")),
            on_hedge_failure=head.get("on_hedge_failure", "unwind"),
            account=head.get("account"),
            max_rounds=head.get("max_rounds", 3),
            slippage_bps=head.get("slippage_bps", 10),
            netting_window_ms=head.get("netting_window_ms", 0),
            on_hedge_shortfall=head.get("on_hedge_shortfall", "refuse"),
            unwind_band_bps=head.get("unwind_band_bps", unwind_band_bps),
        )
    except OrderError as exc:
        key = exc.field if exc.field.startswith("legs") else f"order.{exc.field}"
        raise ConfigError(source, key, exc.value, exc.allowed) from None


def load_order(path: str | Path, unwind_band_bps: int = DEFAULT_UNWIND_BAND_BPS) -> MultiLegOrder:
    """Read an order TOML file; a missing, unreadable or invalid file raises ConfigError.
    ``unwind_band_bps`` applies when the file sets none (the market's ``[protection]``)."""
    return order_from_dict(read_toml(path), str(path), unwind_band_bps)
