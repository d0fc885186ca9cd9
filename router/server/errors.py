"""Binance error codes and the one error type the venue server turns into an HTTP answer.

Every refusal the server gives is a :class:`BinanceError`: an HTTP status (4xx, or 429 for a rate
limit) and a JSON body ``{"code": <negative int>, "msg": <text>}`` exactly as Binance sends it,
so that an unmodified ccxt client maps it to the same exception it would raise against Binance.
Messages follow Binance's wording where ccxt matches on the text (insufficient balance).
"""

from __future__ import annotations

from typing import Any

from venues.errors import VenueError

# Binance error codes (https://developers.binance.com/docs/binance-spot-api-docs/errors).
UNKNOWN = -1000
TOO_MANY_REQUESTS = -1003
UNSUPPORTED_OPERATION = -1020
INVALID_TIMESTAMP = -1021
INVALID_SIGNATURE = -1022
ILLEGAL_CHARS = -1100
TOO_MANY_PARAMETERS = -1101
MANDATORY_PARAM_EMPTY_OR_MALFORMED = -1102
UNKNOWN_PARAM = -1104
BAD_PRECISION = -1111
INVALID_ORDER_TYPE = -1116
INVALID_SIDE = -1117
BAD_SYMBOL = -1121
INVALID_TIF = -1115
BAD_RECV_WINDOW = -1131
FILTER_FAILURE = -1013
NEW_ORDER_REJECTED = -2010
CANCEL_REJECTED = -2011
NO_SUCH_ORDER = -2013
BAD_API_KEY_FMT = -2014
REJECTED_MBX_KEY = -2015
MIN_NOTIONAL_PERP = -4164

# ccxt matches this exact text to InsufficientFunds.
INSUFFICIENT_BALANCE_MSG = "Account has insufficient balance for requested action."


class BinanceError(VenueError):
    """A request the server refuses; nothing changed. ``binance_code`` is Binance's negative code.

    ``http_status`` is 400 for a bad request, 401 for a missing or unknown key, 404 for an unknown
    path, 413 for an oversized body and 429 for a rate limit (with ``retry_after_s``).
    """

    def __init__(
        self,
        binance_code: int,
        msg: str,
        *,
        http_status: int = 400,
        retry_after_s: int | None = None,
        **details: Any,
    ) -> None:
        super().__init__(str(binance_code), msg, http_status=http_status, **details)
        self.binance_code = binance_code
        self.msg = msg
        self.http_status = http_status
        self.retry_after_s = retry_after_s

    def body(self) -> dict[str, Any]:
        """The JSON body Binance sends: ``{"code": -1022, "msg": "..."}``."""
        return {"code": self.binance_code, "msg": self.msg}


class CancelReplaceError(BinanceError):
    """cancelReplace's refusal: Binance adds the cancel and new-order results under ``data``."""

    def __init__(self, binance_code: int, msg: str, data: dict[str, Any]) -> None:
        super().__init__(binance_code, msg)
        self.data = data

    def body(self) -> dict[str, Any]:
        return {"code": self.binance_code, "msg": self.msg, "data": self.data}


def missing(param: str) -> BinanceError:
    """-1102: a mandatory parameter was not sent."""
    return BinanceError(
        MANDATORY_PARAM_EMPTY_OR_MALFORMED,
        f"Mandatory parameter '{param}' was not sent, was empty/null, or malformed.",
        field=param,
    )


def raw_param(params: dict[str, str], name: str, *, required: bool) -> str | None:
    """The raw text of parameter ``name``; None when absent or empty (Binance treats both alike),
    or -1102 when it is ``required``."""
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise missing(name)
        return None
    return raw


def illegal(param: str, value: Any, allowed: str) -> BinanceError:
    """-1100: a parameter has a value of the wrong shape; names the value and what is allowed."""
    shown = value if len(str(value)) <= 64 else f"{str(value)[:64]}..."
    return BinanceError(
        ILLEGAL_CHARS,
        f"Illegal characters found in parameter '{param}'; legal range is {allowed} "
        f"(got {shown!r}).",
        field=param,
        value=shown,
        allowed=allowed,
    )


def bad_symbol(symbol: Any) -> BinanceError:
    """-1121: the symbol is not served here."""
    return BinanceError(BAD_SYMBOL, "Invalid symbol.", field="symbol", value=str(symbol)[:64])


def filter_failure(filter_name: str, **details: Any) -> BinanceError:
    """-1013: an order failed one of the symbol's filters (PRICE_FILTER, LOT_SIZE, NOTIONAL...)."""
    return BinanceError(
        FILTER_FAILURE, f"Filter failure: {filter_name}", filter=filter_name, **details
    )


def insufficient_balance(asset: str, needed: Any, available: Any) -> BinanceError:
    """-2010 with Binance's text, which ccxt maps to InsufficientFunds."""
    return BinanceError(
        NEW_ORDER_REJECTED,
        INSUFFICIENT_BALANCE_MSG,
        asset=asset,
        needed=str(needed),
        available=str(available),
    )


def rejected(msg: str, **details: Any) -> BinanceError:
    """-2010: the order was refused for a reason other than a filter (no liquidity, POST_ONLY...)."""
    return BinanceError(NEW_ORDER_REJECTED, msg, **details)


def unknown_order_cancel() -> BinanceError:
    """-2011: cancel of an order that is not open (or not the caller's)."""
    return BinanceError(CANCEL_REJECTED, "Unknown order sent.")


def no_such_order() -> BinanceError:
    """-2013: the order does not exist (or belongs to another key)."""
    return BinanceError(NO_SUCH_ORDER, "Order does not exist.")
