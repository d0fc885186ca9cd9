"""Public market data built from a market's tape (its fills, on the market clock): recent trades,
aggregate trades and klines, in Binance's shapes.

A tape entry's trade id is its position plus one. Every fill is one trade at one price, so an
aggregate trade here holds exactly one trade (``f == l == a``). Klines cover the intervals that
have trades (an interval without a trade has no bar, as on Binance for an idle symbol); bars are
aligned to multiples of the interval from the Unix epoch, the last one open until it ends.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from router.server.common import plain
from router.server.engine import TapeTrade
from router.server.errors import BinanceError

_MINUTE = 60_000
INTERVALS_MS = {
    "1s": 1_000,
    "1m": _MINUTE,
    "3m": 3 * _MINUTE,
    "5m": 5 * _MINUTE,
    "15m": 15 * _MINUTE,
    "30m": 30 * _MINUTE,
    "1h": 60 * _MINUTE,
    "2h": 120 * _MINUTE,
    "4h": 240 * _MINUTE,
    "6h": 360 * _MINUTE,
    "8h": 480 * _MINUTE,
    "12h": 720 * _MINUTE,
    "1d": 1440 * _MINUTE,
    "3d": 3 * 1440 * _MINUTE,
    "1w": 7 * 1440 * _MINUTE,
}
# 1970-01-01 was a Thursday; Binance's weekly bars open on Monday 00:00 UTC.
_WEEK_OFFSET_MS = 4 * 1440 * _MINUTE


def interval_ms(raw: str | None) -> int:
    """The length of a kline interval; -1120 for an interval Binance does not have (or 1M)."""
    if raw is None or raw == "":
        raise BinanceError(
            -1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed."
        )
    if raw not in INTERVALS_MS:
        raise BinanceError(-1120, "Invalid interval.", field="interval", value=raw[:16])
    return INTERVALS_MS[raw]


def bar_open(time_ms: int, length_ms: int) -> int:
    offset = _WEEK_OFFSET_MS if length_ms == INTERVALS_MS["1w"] else 0
    return time_ms - (time_ms - offset) % length_ms


def select(
    tape: list[TapeTrade],
    *,
    from_id: int | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int,
) -> list[tuple[int, TapeTrade]]:
    """(trade id, trade) pairs: from ``from_id`` on, or within [start, end], else the newest."""
    rows = [
        (i + 1, t)
        for i, t in enumerate(tape)
        if (from_id is None or i + 1 >= from_id)
        and (start_ms is None or t.time_ms >= start_ms)
        and (end_ms is None or t.time_ms <= end_ms)
    ]
    if from_id is not None or start_ms is not None:
        return rows[:limit]
    return rows[-limit:]


def trade_json(trade_id: int, t: TapeTrade) -> dict[str, Any]:
    """GET /api/v3/trades (and /fapi/v1/trades) row."""
    return {
        "id": trade_id,
        "price": plain(t.price),
        "qty": plain(t.qty),
        "quoteQty": plain(t.quote_qty),
        "time": t.time_ms,
        "isBuyerMaker": t.buyer_is_maker,
        "isBestMatch": True,
    }


def agg_trade_json(trade_id: int, t: TapeTrade) -> dict[str, Any]:
    """GET aggTrades row: one fill per aggregate trade."""
    return {
        "a": trade_id,
        "p": plain(t.price),
        "q": plain(t.qty),
        "f": trade_id,
        "l": trade_id,
        "T": t.time_ms,
        "m": t.buyer_is_maker,
        "M": True,
    }


def klines(
    tape: list[TapeTrade],
    length_ms: int,
    *,
    start_ms: int | None,
    end_ms: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Bars (as dicts; :func:`kline_row` prints them) of the intervals with trades, oldest first:
    newest ``limit`` bars, or the first ``limit`` from ``start_ms``. O(len(tape))."""
    bars: dict[int, dict[str, Any]] = {}
    for index, t in enumerate(tape):
        opened = bar_open(t.time_ms, length_ms)
        if (start_ms is not None and opened + length_ms - 1 < start_ms) or (
            end_ms is not None and opened > end_ms
        ):
            continue
        bar = bars.get(opened)
        if bar is None:
            bar = bars[opened] = new_bar(opened, length_ms, index + 1, t)
        else:
            add_to_bar(bar, index + 1, t)
    ordered = [bars[k] for k in sorted(bars)]
    return ordered[:limit] if start_ms is not None else ordered[-limit:]


def new_bar(opened: int, length_ms: int, trade_id: int, t: TapeTrade) -> dict[str, Any]:
    bar = {
        "t": opened,
        "T": opened + length_ms - 1,
        "o": t.price,
        "h": t.price,
        "l": t.price,
        "c": t.price,
        "v": Decimal(0),
        "q": Decimal(0),
        "n": 0,
        "V": Decimal(0),
        "Q": Decimal(0),
        "f": trade_id,
        "L": trade_id,
    }
    add_to_bar(bar, trade_id, t)
    return bar


def add_to_bar(bar: dict[str, Any], trade_id: int, t: TapeTrade) -> None:
    bar["h"] = max(bar["h"], t.price)
    bar["l"] = min(bar["l"], t.price)
    bar["c"] = t.price
    bar["v"] += t.qty
    bar["q"] += t.quote_qty
    bar["n"] += 1
    bar["L"] = trade_id
    if not t.buyer_is_maker:  # the taker bought
        bar["V"] += t.qty
        bar["Q"] += t.quote_qty


def kline_row(bar: dict[str, Any]) -> list[Any]:
    """A bar as Binance's REST array: open time, OHLC, volume, close time, quote volume, trades,
    taker buy base and quote volume, and the unused field."""
    return [
        bar["t"],
        plain(bar["o"]),
        plain(bar["h"]),
        plain(bar["l"]),
        plain(bar["c"]),
        plain(bar["v"]),
        bar["T"],
        plain(bar["q"]),
        bar["n"],
        plain(bar["V"]),
        plain(bar["Q"]),
        "0",
    ]


def kline_event_body(
    bar: dict[str, Any], symbol: str, interval: str, closed: bool
) -> dict[str, Any]:
    """The ``k`` object of a kline stream event."""
    return {
        "t": bar["t"],
        "T": bar["T"],
        "s": symbol,
        "i": interval,
        "f": bar["f"],
        "L": bar["L"],
        "o": plain(bar["o"]),
        "c": plain(bar["c"]),
        "h": plain(bar["h"]),
        "l": plain(bar["l"]),
        "v": plain(bar["v"]),
        "n": bar["n"],
        "x": closed,
        "q": plain(bar["q"]),
        "V": plain(bar["V"]),
        "Q": plain(bar["Q"]),
        "B": "0",
    }
