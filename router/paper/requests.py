"""Request parsing and validation of the paper service: JSON bodies and query strings to typed requests.

Every request is checked here completely, read-only, before it reaches the command path: the
shape of the body, every name (ASCII, bounded length), every number (``venues.values``: ASCII
digits only, bounded magnitude and decimal places), and the names the market and the ledger know
(account, subaccount, symbol, venues, asset). A malformed request is a :class:`PaperError` (400,
or 404 for an unknown account or subaccount) and nothing downstream runs: no trade, no database
write, no state restore. What only executing can decide (margin, liquidity within a limit, a
client id already taken) is decided by the order lifecycle (router/paper/desk.py).

The bounds are wide for a trader and narrow for the arithmetic: quantities and prices below
10^12 with at most 18 decimal places, amounts below 10^15; names at most 32 or 48 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from router.app import MAIN_SUBACCOUNT
from router.execution.order import MAX_LEGS, MAX_ROUNDS, MultiLegOrder, order_from_dict
from router.model.errors import ConfigError, RouteError
from router.paper.errors import PaperError
from router.routing.graph import DEFAULT_MAX_HOPS, MAX_HOPS
from venues.values import DEFAULT_MAX_SCALE, parse_int, parse_positive

__all__ = [
    "MAX_CLIENT_ID",
    "MAX_STEP_TICKS",
    "QUOTE_KEYS",
    "MultiHopQuoteRequest",
    "OrderRequest",
    "PortRequest",
    "QuoteRequest",
    "TransferRequest",
    "parse_amend",
    "parse_cancel",
    "parse_multihop_quote",
    "parse_order",
    "parse_port",
    "parse_quote",
    "parse_step",
    "parse_subaccount",
    "parse_transfer",
    "query",
    "query_int",
    "query_name",
]

MAX_CLIENT_ID = 48  # the executor's ids are <= 64 chars; retries append ".<n>"
MAX_STEP_TICKS = 100_000
QTY_DIGITS = 12  # base quantities and prices below 10^12: beyond any book or pool, exact in plans
AMOUNT_DIGITS = 15  # quote amounts and collateral transfers below 10^15
MAX_SLIPPAGE_BPS = 10_000
MAX_TIME_LIMIT_SECS = 3600
_CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,47}", re.ASCII)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", re.ASCII)
_SYMBOL = re.compile(r"[A-Za-z0-9]{1,16}/[A-Za-z0-9]{1,16}(:[A-Za-z0-9]{1,16})?", re.ASCII)
_ROUTED_KEYS = (
    "client_id",
    "account",
    "subaccount",
    "symbol",
    "side",
    "qty",
    "quote_qty",
    "limit",
    "venues",
    "tif",
    "slippage_bps",
    "no_limit",
)
_MULTI_KEYS = (
    "client_id",
    "account",
    "subaccount",
    "legs",
    "on_hedge_failure",
    "time_limit_secs",
    "max_rounds",
    "slippage_bps",
    "no_limit",
)
_LEG_KEYS = (
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
)
_QUOTE_KEYS = (
    "symbol",
    "side",
    "qty",
    "quote_qty",
    "limit",
    "venues",
    "account",
    "subaccount",
    "no_limit",
)
_MULTIHOP_KEYS = ("from", "to", "qty", "to_qty", "max_hops")
_CONVERT_KEYS = (
    "client_id",
    "account",
    "subaccount",
    "from",
    "to",
    "qty",
    "limit",
    "max_hops",
    "tif",
    "slippage_bps",
    "no_limit",
    "on_hedge_failure",
)
QUOTE_KEYS = _QUOTE_KEYS + tuple(k for k in _MULTIHOP_KEYS if k not in _QUOTE_KEYS)


def _bad(field: str, value: Any, allowed: str) -> PaperError:
    return PaperError(400, field, value, allowed)


def _one_of(values: Any) -> str:
    names = sorted(values)
    return f"one of {', '.join(names)}" if names else "(none)"


# -- query strings ---------------------------------------------------------------------------------


def query(params: Any, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters as a dict: each at most once, none outside ``allowed``."""
    result: dict[str, str] = {}
    for key, value in params.items():
        if key not in allowed:
            allowed_text = ", ".join(allowed) if allowed else "none"
            raise _bad(key, value, f"query parameters: {allowed_text}")
        if key in result:
            raise _bad(key, value, "each query parameter once")
        result[key] = value
    return result


def query_int(params: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    return parse_int(name, raw, minimum=lo, maximum=hi, error=_bad)


def query_name(params: Mapping[str, str], name: str) -> str | None:
    """An optional name filter (an order status, an account): 1-32 of A-Z a-z 0-9 _ -."""
    raw = params.get(name)
    if raw is None:
        return None
    return _name(name, raw, _NAME, "1-32 of A-Z a-z 0-9 _ -")


# -- names and numbers -----------------------------------------------------------------------------


def _name(field: str, value: Any, pattern: re.Pattern[str], allowed: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _bad(field, value, allowed)
    return value


def _client_id(value: Any) -> str:
    return _name(
        "client_id",
        value,
        _CLIENT_ID,
        f"1-{MAX_CLIENT_ID} characters of A-Z a-z 0-9 _ . -, starting with a letter or digit",
    )


def _qty(field: str, value: Any, digits: int = QTY_DIGITS) -> Decimal:
    if isinstance(value, float):
        raise _bad(field, value, "a decimal string (a JSON number has already lost precision)")
    return parse_positive(
        field, value, max_integer_digits=digits, max_scale=DEFAULT_MAX_SCALE, error=_bad
    )


def _json_int(field: str, value: Any, lo: int, hi: int) -> int:
    """A count in a JSON body: a JSON integer (not a string, not a float) in [lo, hi]."""
    if not isinstance(value, int):
        raise _bad(field, value, f"an integer in [{lo}, {hi}]")
    return parse_int(field, value, minimum=lo, maximum=hi, error=_bad)


def _no_limit(value: Any, limit_given: bool, *, in_query: bool = False) -> bool:
    """The explicit opt-out of the default price protection: a JSON true/false in a body, "true"
    or "false" in a query; true together with a limit is refused (one or the other)."""
    allowed = ("true", "false") if in_query else (True, False)
    if not any(value is a or (in_query and value == a) for a in allowed):
        raise _bad("no_limit", value, "true | false")
    no_limit = value in (True, "true")
    if no_limit and limit_given:
        raise _bad("no_limit", value, "either a limit or no_limit: true, not both")
    return no_limit


def _unknown(body: Mapping[str, Any], allowed: tuple[str, ...], where: str = "") -> None:
    for key in body:
        if key not in allowed:
            raise _bad(f"{where}{key}", body[key], f"keys {', '.join(allowed)}")


def sub_id(ledger: Any, account: Any, subaccount: Any = MAIN_SUBACCOUNT) -> tuple[str, str]:
    """(account, ``account/subaccount``) of an existing subaccount; 404 names what exists."""
    if not isinstance(account, str) or not _NAME.fullmatch(account):
        raise _bad("account", account, _one_of(ledger.accounts))
    if account not in ledger.accounts:
        raise PaperError(404, "account", account, _one_of(ledger.accounts))
    subs = ledger.accounts[account].subaccounts
    if not isinstance(subaccount, str) or not _NAME.fullmatch(subaccount):
        raise _bad("subaccount", subaccount, _one_of(subs))
    if subaccount not in subs:
        raise PaperError(404, "subaccount", subaccount, _one_of(subs))
    return account, f"{account}/{subaccount}"


def _venue_list(field: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= 16:
        raise _bad(field, value, "a list of 1 to 16 venue names")
    for index, name in enumerate(value):
        _name(f"{field}[{index}]", name, _NAME, "a venue name (1-32 of A-Z a-z 0-9 _ -)")
    return value


def _adapters(market: Any, field: str, symbol: Any, venues: list[str] | None) -> list[Any]:
    """The adapters of ``symbol`` (optionally only ``venues``); 400 naming what exists."""
    symbols = market.symbols(None)
    if not isinstance(symbol, str) or symbol not in symbols:
        raise _bad(f"{field}symbol", symbol, _one_of(symbols))
    try:
        return market.adapters_for(symbol, venues)
    except RouteError as exc:
        allowed = exc.details.get("allowed")
        raise _bad(
            f"{field}{exc.details.get('field', 'venues')}",
            exc.details.get("value"),
            _one_of(allowed) if isinstance(allowed, list) else str(allowed),
        ) from None


# -- orders ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated order: the body as sent (the idempotency key), where it trades, the order."""

    body: dict[str, Any]
    client_id: str
    account: str
    sub_id: str
    tif: str
    multi: bool
    order: MultiLegOrder
    no_limit: bool  # the default price protection lifted (legs without a limit trade unbounded)


def _check_leg_numbers(leg: Mapping[str, Any], where: str) -> None:
    for key, digits in (("qty", QTY_DIGITS), ("quote_qty", AMOUNT_DIGITS), ("limit", QTY_DIGITS)):
        if key in leg:
            _qty(f"{where}{key}", leg[key], digits)
    if "ratio" in leg:
        _qty(f"{where}ratio", leg["ratio"], 6)


def parse_order(body: Mapping[str, Any], market: Any, ledger: Any) -> OrderRequest:
    """Validate an order body (routed or multi-leg; see router/paper/service.py). Read-only."""
    client_id = _client_id(body.get("client_id"))
    if "from" in body or "to" in body:
        return _parse_conversion(body, client_id, market, ledger)
    multi = "legs" in body
    _unknown(body, _MULTI_KEYS if multi else _ROUTED_KEYS)
    account, sub = sub_id(ledger, body.get("account"), body.get("subaccount", MAIN_SUBACCOUNT))
    head: dict[str, Any] = {"client_id": client_id, "account": account}
    if "slippage_bps" in body:
        head["slippage_bps"] = _json_int("slippage_bps", body["slippage_bps"], 0, MAX_SLIPPAGE_BPS)
    if multi:
        raw_legs = body["legs"]
        if not isinstance(raw_legs, list) or not 1 <= len(raw_legs) <= MAX_LEGS:
            raise _bad("legs", raw_legs, f"a list of 1 to {MAX_LEGS} leg objects")
        if "max_rounds" in body:
            head["max_rounds"] = _json_int("max_rounds", body["max_rounds"], 1, MAX_ROUNDS)
        if "time_limit_secs" in body:
            head["time_limit_secs"] = _qty("time_limit_secs", body["time_limit_secs"], 4)
            if head["time_limit_secs"] > MAX_TIME_LIMIT_SECS:
                raise _bad(
                    "time_limit_secs",
                    body["time_limit_secs"],
                    f"a decimal in (0, {MAX_TIME_LIMIT_SECS}]",
                )
        if "on_hedge_failure" in body:
            head["on_hedge_failure"] = body["on_hedge_failure"]
        legs = []
        for index, leg in enumerate(raw_legs):
            where = f"legs[{index}]."
            if not isinstance(leg, dict):
                raise _bad(f"legs[{index}]", leg, "a leg object")
            _unknown(leg, _LEG_KEYS, where)
            for key in ("id", "follows", "instrument", "side"):
                if key in leg:
                    _name(f"{where}{key}", leg[key], _NAME, "1-32 of A-Z a-z 0-9 _ -")
            _check_leg_numbers(leg, where)
            venues = _venue_list(f"{where}venues", leg["venues"]) if "venues" in leg else None
            _adapters(market, where, leg.get("symbol"), venues)
            legs.append(leg)
    else:
        symbol = body.get("symbol")
        venues = _venue_list("venues", body["venues"]) if "venues" in body else None
        adapters = _adapters(market, "", symbol, venues)
        if body.get("side") not in ("buy", "sell"):
            raise _bad("side", body.get("side"), "buy | sell")
        _check_leg_numbers(body, "")
        kinds = {market.instruments()[a.name] for a in adapters}
        leg = {"id": "leg", "symbol": symbol, "side": body["side"], "instrument": min(kinds)}
        for key in ("qty", "quote_qty", "limit", "venues"):
            if key in body:
                leg[key] = body[key]
        legs = [leg]
    try:
        order = order_from_dict({"order": head, "legs": legs}, "request")
    except ConfigError as exc:
        key = exc.key.removeprefix("order.")
        if not multi and key.startswith("legs[0]."):
            key = key.removeprefix("legs[0].")
            key = {"id": "client_id"}.get(key, key)
        raise _bad(key, exc.value, str(exc.allowed)) from None
    for index, leg_order in enumerate(order.legs):
        adapters = market.adapters_for(leg_order.symbol, list(leg_order.venues) or None)
        kinds = {market.instruments()[a.name] for a in adapters}
        if kinds != {leg_order.instrument}:
            raise _bad(
                f"legs[{index}].instrument" if multi else "symbol",
                leg_order.instrument if multi else leg_order.symbol,
                f"the instrument of the venues trading {leg_order.symbol}: {_one_of(kinds)}",
            )
    tif = body.get("tif", "ioc")
    if tif not in ("ioc", "gtc"):
        raise _bad("tif", tif, "ioc | gtc")
    if tif == "gtc" and (multi or order.legs[0].qty is None or order.legs[0].limit_price is None):
        raise _bad("tif", tif, "ioc, or gtc on a routed order with qty and limit")
    no_limit = False
    if "no_limit" in body:
        no_limit = _no_limit(body["no_limit"], not multi and "limit" in body)
    return OrderRequest(dict(body), client_id, account, sub, tif, multi, order, no_limit)


def _parse_conversion(
    body: Mapping[str, Any], client_id: str, market: Any, ledger: Any
) -> OrderRequest:
    """A conversion: spend exactly ``qty`` of ``from`` for ``to`` over paths of at most
    ``max_hops`` spot venues (the executor's multi-hop leg, as ``crossroute execute`` runs it);
    ``limit`` is the worst all-in rate in ``to`` per ``from``. IOC only. Read-only."""
    _unknown(body, _CONVERT_KEYS)
    account, sub = sub_id(ledger, body.get("account"), body.get("subaccount", MAIN_SUBACCOUNT))
    assets = sorted(market.assets)
    for key in ("from", "to"):
        if body.get(key) not in market.assets:
            raise _bad(key, body.get(key), _one_of(assets))
    if body["from"] == body["to"]:
        raise _bad("to", body["to"], "an asset other than 'from'")
    if "qty" not in body:
        raise _bad("qty", None, f"the amount of {body['from']} to spend (a decimal string > 0)")
    _qty("qty", body["qty"], AMOUNT_DIGITS)
    if "limit" in body:
        _qty("limit", body["limit"], QTY_DIGITS)
    head: dict[str, Any] = {"client_id": client_id, "account": account}
    if "slippage_bps" in body:
        head["slippage_bps"] = _json_int("slippage_bps", body["slippage_bps"], 0, MAX_SLIPPAGE_BPS)
    if "on_hedge_failure" in body:  # what to do with intermediates a short hop leaves
        head["on_hedge_failure"] = body["on_hedge_failure"]
    leg: dict[str, Any] = {"id": "convert", "instrument": "spot"}
    for key in ("from", "to", "qty", "limit"):
        if key in body:
            leg[key] = body[key]
    if "max_hops" in body:
        leg["max_hops"] = _json_int("max_hops", body["max_hops"], 1, MAX_HOPS)
    try:
        order = order_from_dict({"order": head, "legs": [leg]}, "request")
    except ConfigError as exc:
        raise _bad(
            exc.key.removeprefix("order.").removeprefix("legs[0]."), exc.value, str(exc.allowed)
        ) from None
    if body.get("tif", "ioc") != "ioc":
        raise _bad("tif", body.get("tif"), "ioc (a conversion runs once, hop by hop)")
    no_limit = _no_limit(body["no_limit"], "limit" in body) if "no_limit" in body else False
    return OrderRequest(dict(body), client_id, account, sub, "ioc", False, order, no_limit)


def parse_amend(body: Mapping[str, Any]) -> tuple[str, Decimal | None, Decimal | None]:
    """(client_id, new limit or None, new total quantity or None) of a working gtc order."""
    _unknown(body, ("client_id", "limit", "qty"))
    client_id = _client_id(body.get("client_id"))
    if "limit" not in body and "qty" not in body:
        raise _bad("limit", None, "a new limit and/or qty")
    limit = _qty("limit", body["limit"]) if "limit" in body else None
    qty = _qty("qty", body["qty"]) if "qty" in body else None
    return client_id, limit, qty


def parse_cancel(body: Mapping[str, Any]) -> str:
    _unknown(body, ("client_id",))
    return _client_id(body.get("client_id"))


def parse_subaccount(body: Mapping[str, Any], ledger: Any) -> tuple[str, str]:
    """(account, new subaccount name)."""
    _unknown(body, ("account", "name"))
    account, _ = sub_id(ledger, body.get("account"))
    existing = ledger.accounts[account].subaccounts
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name in existing:
        raise _bad("name", name, f"1-32 of A-Z a-z 0-9 _ -, not {_one_of(existing)}")
    return account, name


@dataclass(frozen=True, slots=True)
class TransferRequest:
    account: str
    src: str
    dst: str
    asset: str
    amount: Decimal
    amount_text: str


def _from_to(body: Mapping[str, Any], ledger: Any) -> tuple[str, str, str]:
    """(account, from, to): two different subaccounts of one account (a transfer's, a port's)."""
    account, src = sub_id(ledger, body.get("account"), body.get("from"))
    _, dst = sub_id(ledger, account, body.get("to"))
    if src == dst:
        raise _bad("to", body.get("to"), "a subaccount other than 'from'")
    return account, src, dst


def parse_transfer(body: Mapping[str, Any], ledger: Any) -> TransferRequest:
    _unknown(body, ("account", "from", "to", "asset", "amount"))
    account, src, dst = _from_to(body, ledger)
    asset = body.get("asset")
    if not isinstance(asset, str) or asset not in ledger.assets:
        raise _bad("asset", asset, _one_of(ledger.assets))
    amount = body.get("amount")
    if not isinstance(amount, str):
        raise _bad("amount", amount, "a decimal string > 0")
    return TransferRequest(account, src, dst, asset, _qty("amount", amount, AMOUNT_DIGITS), amount)


@dataclass(frozen=True, slots=True)
class PortRequest:
    account: str
    src: str
    dst: str
    symbol: str  # the ledger's market name (ETH-PERP)
    size: Decimal
    size_text: str
    at_mark: bool


def parse_port(body: Mapping[str, Any], ledger: Any) -> PortRequest:
    """A port of ``size`` of a cross perp position between two subaccounts of one account;
    ``at_mark`` (JSON true/false, default false) realises it at the mark instead of keeping the
    entry price."""
    _unknown(body, ("account", "from", "to", "symbol", "size", "at_mark"))
    account, src, dst = _from_to(body, ledger)
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or symbol not in ledger.markets:
        raise _bad("symbol", symbol, _one_of(ledger.markets))
    size = body.get("size")
    if not isinstance(size, str):
        raise _bad("size", size, "a decimal string > 0 (base units)")
    at_mark = body.get("at_mark", False)
    if not isinstance(at_mark, bool):
        raise _bad("at_mark", at_mark, "true or false")
    return PortRequest(account, src, dst, symbol, _qty("size", size), size, at_mark)


def parse_step(body: Mapping[str, Any]) -> int:
    _unknown(body, ("ticks",))
    return _json_int("ticks", body.get("ticks", 1), 1, MAX_STEP_TICKS)


# -- quotes ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuoteRequest:
    adapters: list[Any]
    symbol: str
    side: str
    qty: Decimal | None
    quote_qty: Decimal | None
    limit: Decimal | None
    sub_id: str | None  # with an account: preview its fees, gain and margin headroom after
    no_limit: bool = False  # the default price protection lifted


def parse_quote(params: Mapping[str, str], market: Any, ledger: Any) -> QuoteRequest:
    """A routed quote's query (``venues`` comma-separated; ``account`` and optional
    ``subaccount`` ask for the preview). Read-only."""
    _unknown(params, _QUOTE_KEYS)
    side = params.get("side")
    if side not in ("buy", "sell"):
        raise _bad("side", side, "buy | sell")
    venues = None
    if params.get("venues"):
        venues = _venue_list("venues", params["venues"].split(","))
    adapters = _adapters(market, "", params.get("symbol"), venues)
    numbers = {
        key: _qty(key, params[key], AMOUNT_DIGITS if key == "quote_qty" else QTY_DIGITS)
        for key in ("qty", "quote_qty", "limit")
        if params.get(key) is not None
    }
    if ("qty" in numbers) == ("quote_qty" in numbers):
        raise _bad("qty", params.get("qty"), "exactly one of qty and quote_qty")
    sub = None
    if "account" in params:
        _, sub = sub_id(ledger, params["account"], params.get("subaccount", MAIN_SUBACCOUNT))
    elif "subaccount" in params:
        raise _bad("subaccount", params["subaccount"], "only together with account")
    return QuoteRequest(
        adapters,
        params["symbol"],
        side,
        numbers.get("qty"),
        numbers.get("quote_qty"),
        numbers.get("limit"),
        sub,
        "no_limit" in params and _no_limit(params["no_limit"], "limit" in numbers, in_query=True),
    )


@dataclass(frozen=True, slots=True)
class MultiHopQuoteRequest:
    """A conversion quote: spend exactly ``amount_in`` of ``source`` or receive exactly
    ``amount_out`` of ``target``, through paths of at most ``max_hops`` hops."""

    source: str
    target: str
    amount_in: Decimal | None
    amount_out: Decimal | None
    max_hops: int


def parse_multihop_quote(params: Mapping[str, str], market: Any) -> MultiHopQuoteRequest:
    """A conversion quote's query (``from``, ``to``, ``qty`` | ``to_qty``, ``max_hops``), as
    ``crossroute route --from A --to B``: the single-symbol parameters are refused with it.
    Either amount may be any asset, so both are bounded like a quote amount. Read-only."""
    for key in params:
        if key not in _MULTIHOP_KEYS:
            raise _bad(key, params[key], f"with from/to only: {', '.join(_MULTIHOP_KEYS)}")
    assets = sorted(market.assets)
    names = {}
    for key in ("from", "to"):
        name = params.get(key)
        if name not in market.assets:
            raise _bad(key, name, _one_of(assets))
        names[key] = name
    if names["from"] == names["to"]:
        raise _bad("to", names["to"], "an asset other than 'from'")
    if ("qty" in params) == ("to_qty" in params):
        raise _bad("qty", params.get("qty"), "exactly one of qty (spend) and to_qty (receive)")
    amounts = {
        key: _qty(key, params[key], AMOUNT_DIGITS) for key in ("qty", "to_qty") if key in params
    }
    max_hops = query_int(params, "max_hops", DEFAULT_MAX_HOPS, 1, MAX_HOPS)
    return MultiHopQuoteRequest(
        names["from"], names["to"], amounts.get("qty"), amounts.get("to_qty"), max_hops
    )
