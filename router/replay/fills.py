"""A trader's own fills, read from the formats traders have, into one validated record type.

Formats (chosen by content, see :func:`read_fills`):

- generic CSV, header ``time,venue,symbol,side,qty,price,fee,fee_asset`` with optional
  ``account`` and ``subaccount`` columns; ``time`` in ISO 8601 UTC (``2024-08-08T00:00:01Z``,
  up to nanoseconds, ``Z`` or ``+00:00``), symbols in ccxt notation (``ETH/USDC`` spot,
  ``BTC/USDC:USDC`` linear perpetual);
- ccxt's unified trade structure: the JSON list ``fetch_my_trades`` returns (any exchange);
  ``timestamp`` (ms) or ``datetime``, ``symbol``, ``side``, ``amount``, ``price``, ``fee``
  (``cost``, ``currency``) or ``fees``;
- Binance's spot trade-history CSV export (``Date(UTC),Pair,Side,Price,Executed,Amount,Fee``, or
  the newer ``Date(UTC),Market,Type,Price,Amount,Total,Fee,Fee Coin``) and its USD-M futures
  export (``Date(UTC)``/``Time(UTC)``, ``Symbol,Side,Price,Quantity,...,Fee,Fee Coin``), whose
  symbols (``ETHUSDT``) are mapped onto the market list (``ETH/USDT``, ``ETH/USDT:USDT``);
- crossroute's own ``execute`` journals (every ``fill`` entry of every run).

Every row is validated before anything is returned: one bad row raises a ConfigError naming the
file, the line and the field, and nothing is imported. Numbers go through the one value grammar
(:mod:`venues.values`); JSON numbers are read as the exact decimals written, never as floats.
Rows must be in time order within a file; several files are merged by time, stable by file and
line, so the same fills give the same sequence whatever their source.
"""

from __future__ import annotations

import calendar
import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.execution.margin_gate import booking_price_and_fee
from router.model.errors import ConfigError
from venues.values import parse_decimal, parse_positive

SIDES = ("buy", "sell")
GENERIC_COLUMNS = ("time", "venue", "symbol", "side", "qty", "price", "fee", "fee_asset")
GENERIC_OPTIONAL = ("account", "subaccount")
DEFAULT_ACCOUNT = "main"
DEFAULT_SUBACCOUNT = "main"
MAX_FILE_BYTES = 512 * 1024 * 1024

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|\+00:00)?", re.ASCII
)
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}", re.ASCII)
_SYMBOL = re.compile(r"[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(?::[A-Z0-9]{1,20})?", re.ASCII)
_AMOUNT_WITH_ASSET = re.compile(r"([0-9.]+)([A-Z0-9]{1,20})", re.ASCII)


@dataclass(frozen=True, slots=True)
class Fill:
    """One executed trade of the trader: ``qty`` base at ``price`` quote per base, ``fee`` paid in
    ``fee_asset`` (negative: a rebate). ``where`` is ``file:line`` for messages."""

    time_ns: int
    venue: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    account: str
    subaccount: str
    where: str

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1].split(":")[0]

    @property
    def is_perp(self) -> bool:
        return ":" in self.symbol

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side == "buy" else -self.qty


class _Row:
    """Validation of one row of one file: every error names file, line and field."""

    def __init__(self, file: str, line: int) -> None:
        self.file = file
        self.line = line

    def fail(self, field: str, value: Any, allowed: str) -> ConfigError:
        return ConfigError(self.file, f"line {self.line}: {field}", value, allowed)

    def error(self, field: str, value: Any, allowed: str) -> ConfigError:
        return self.fail(field, value, allowed)

    def time(self, field: str, value: Any, *, zone_required: bool = True) -> int:
        if not isinstance(value, str) or not (m := _ISO.fullmatch(value)):
            raise self.fail(field, value, "an ISO 8601 UTC time such as 2024-08-08T00:00:01Z")
        if zone_required and m.group(8) is None:
            raise self.fail(field, value, "a time in UTC, ending in Z or +00:00")
        parts = [int(g) for g in m.groups()[:6]]
        try:
            datetime(*parts)  # validates the calendar (no 2024-02-30)
        except ValueError:
            raise self.fail(field, value, "a real calendar date and time") from None
        fraction = (m.group(7) or "").ljust(9, "0")
        return calendar.timegm(tuple(parts)) * 1_000_000_000 + int(fraction)

    def millis(self, field: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise self.fail(field, value, "milliseconds since the epoch, an integer")
        if isinstance(value, Decimal) and value != value.to_integral_value():
            raise self.fail(field, value, "milliseconds since the epoch, an integer")
        ms = int(value)
        if not 0 <= ms < 10**14:
            raise self.fail(field, value, "milliseconds since the epoch, an integer")
        return ms * 1_000_000

    def time_ns(self, field: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(field, value, "integer nanoseconds >= 0")
        return value

    def name(self, field: str, value: Any) -> str:
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise self.fail(field, value, "a name of letters, digits, '_', '.', '-'")
        return value

    def side(self, field: str, value: Any) -> str:
        text = value.lower() if isinstance(value, str) else value
        if text not in SIDES:
            raise self.fail(field, value, "buy or sell")
        return str(text)

    def positive(self, field: str, value: Any) -> Decimal:
        return parse_positive(field, value, error=self.error)

    def decimal(self, field: str, value: Any) -> Decimal:
        return parse_decimal(field, value, error=self.error)

    def asset(self, field: str, value: Any) -> str:
        if not isinstance(value, str) or not re.fullmatch(r"[A-Z0-9]{1,20}", value, re.ASCII):
            raise self.fail(field, value, "an asset code in capitals such as USDC")
        return value


class Symbols:
    """The market list fills are normalised onto (ccxt notation): a symbol not in it is refused,
    naming what exists; exchange-native symbols (``ETHUSDT``) are looked up by base+quote."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self.known = tuple(sorted(set(symbols)))
        self._native: dict[tuple[str, bool], str] = {}
        for symbol in self.known:
            base, rest = symbol.split("/")
            quote = rest.split(":")[0]
            self._native.setdefault((base + quote, ":" in symbol), symbol)

    def _unknown(self, row: _Row, field: str, value: Any) -> ConfigError:
        listed = ", ".join(self.known) or "none (give --rules with markets, or --marks)"
        return row.fail(field, value, f"a symbol of the market list: {listed}")

    def unified(self, row: _Row, field: str, value: Any) -> str:
        if not isinstance(value, str) or value not in self.known:
            raise self._unknown(row, field, value)
        return value

    def native(self, row: _Row, field: str, value: Any, *, perp: bool) -> str:
        symbol = self._native.get((value, perp)) if isinstance(value, str) else None
        if symbol is None:
            raise self._unknown(row, field, value)
        return symbol


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(
                str(path), "size", path.stat().st_size, f"at most {MAX_FILE_BYTES} bytes"
            )
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(str(path), "file", str(path), "an existing fills file") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "file", str(path), "a file, not a directory") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "file", str(path), "UTF-8 text (CSV or JSON)") from None
    except OSError as exc:
        raise ConfigError(
            str(path), "file", str(path), f"a readable file ({exc.strerror})"
        ) from None


def _csv_rows(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    reader = csv.reader(io.StringIO(text))
    rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    if not rows:
        return [], []
    return [cell.strip() for cell in rows[0][1]], rows[1:]


def _generic(file: str, header: list[str], rows: list, symbols: Symbols) -> list[Fill]:
    missing = [c for c in GENERIC_COLUMNS if c not in header]
    unknown = [c for c in header if c not in GENERIC_COLUMNS + GENERIC_OPTIONAL]
    if missing or unknown or len(set(header)) != len(header):
        raise ConfigError(
            file,
            "line 1: header",
            ",".join(header),
            f"the columns {','.join(GENERIC_COLUMNS)} (optional: {','.join(GENERIC_OPTIONAL)})",
        )
    out = []
    for line, cells in rows:
        row = _Row(file, line)
        if len(cells) != len(header):
            raise row.fail("row", ",".join(cells), f"{len(header)} columns as in the header")
        rec = dict(zip(header, (c.strip() for c in cells)))
        symbol = symbols.unified(row, "symbol", rec["symbol"])
        out.append(
            Fill(
                row.time("time", rec["time"]),
                row.name("venue", rec["venue"]),
                symbol,
                row.side("side", rec["side"]),
                row.positive("qty", rec["qty"]),
                row.positive("price", rec["price"]),
                row.decimal("fee", rec["fee"]),
                row.asset("fee_asset", rec["fee_asset"]),
                row.name("account", rec.get("account") or DEFAULT_ACCOUNT),
                row.name("subaccount", rec.get("subaccount") or DEFAULT_SUBACCOUNT),
                f"{file}:{line}",
            )
        )
    return out


_BINANCE_TIME = ("Date(UTC)", "Time(UTC)", "Date", "Time")


def _binance(file: str, header: list[str], rows: list, symbols: Symbols, venue: str) -> list[Fill]:
    """Binance's spot and USD-M trade-history exports; USD-M when the symbol column is
    ``Symbol`` with a ``Quantity`` column, spot when it is ``Pair`` or ``Market``."""
    time_col = next((c for c in _BINANCE_TIME if c in header), None)
    perp = "Symbol" in header and "Quantity" in header
    spot_old = "Pair" in header and "Executed" in header
    spot_new = "Market" in header and "Type" in header and "Amount" in header
    if time_col is None or not (perp or spot_old or spot_new) or "Price" not in header:
        raise ConfigError(
            file, "line 1: header", ",".join(header), "a Binance trade-history header"
        )
    out = []
    for line, cells in rows:
        row = _Row(file, line)
        if len(cells) != len(header):
            raise row.fail("row", ",".join(cells), f"{len(header)} columns as in the header")
        rec = dict(zip(header, (c.strip() for c in cells)))
        when = row.time(time_col, rec[time_col], zone_required=False)
        price = row.positive("Price", rec["Price"])
        if perp:
            symbol = symbols.native(row, "Symbol", rec["Symbol"], perp=True)
            side = row.side("Side", rec["Side"])
            qty = row.positive("Quantity", rec["Quantity"])
            fee, fee_asset = _fee_cells(row, rec, default_asset=symbol.split(":")[1])
        elif spot_old:
            symbol = symbols.native(row, "Pair", rec["Pair"], perp=False)
            side = row.side("Side", rec["Side"])
            qty, qty_asset = _with_asset(row, "Executed", rec["Executed"])
            if qty_asset != symbol.split("/")[0]:
                raise row.fail("Executed", rec["Executed"], f"an amount of {symbol.split('/')[0]}")
            fee, fee_asset = _with_asset(row, "Fee", rec["Fee"], allow_zero=True)
        else:
            symbol = symbols.native(row, "Market", rec["Market"], perp=False)
            side = row.side("Type", rec["Type"])
            qty = row.positive("Amount", rec["Amount"])
            fee, fee_asset = _fee_cells(row, rec, default_asset=None)
        out.append(
            Fill(
                when,
                venue,
                symbol,
                side,
                qty,
                price,
                fee,
                fee_asset,
                DEFAULT_ACCOUNT,
                DEFAULT_SUBACCOUNT,
                f"{file}:{line}",
            )
        )
    return out


def _fee_cells(row: _Row, rec: dict[str, str], default_asset: str | None) -> tuple[Decimal, str]:
    text = rec.get("Fee", "0")
    coin = rec.get("Fee Coin") or rec.get("Fee Asset")
    if coin is None:
        if m := _AMOUNT_WITH_ASSET.fullmatch(text):
            return row.decimal("Fee", m.group(1)), m.group(2)
        if default_asset is None:
            raise row.fail("Fee Coin", None, "the fee's asset (a Fee Coin column)")
        coin = default_asset
    return row.decimal("Fee", text), row.asset("Fee Coin", coin)


def _with_asset(
    row: _Row, field: str, text: str, *, allow_zero: bool = False
) -> tuple[Decimal, str]:
    m = _AMOUNT_WITH_ASSET.fullmatch(text)
    if m is None:
        raise row.fail(field, text, "an amount followed by its asset, such as 0.5ETH")
    value = row.decimal(field, m.group(1)) if allow_zero else row.positive(field, m.group(1))
    return value, m.group(2)


def _ccxt(file: str, data: Any, symbols: Symbols, venue: str) -> list[Fill]:
    if not isinstance(data, list):
        raise ConfigError(file, "document", type(data).__name__, "a JSON list of ccxt trades")
    out = []
    for index, trade in enumerate(data):
        if not isinstance(trade, dict):
            raise ConfigError(file, f"trade {index}", trade, "a ccxt trade object")
        row = _Trade(file, index)
        if trade.get("timestamp") is not None:
            when = row.millis("timestamp", trade["timestamp"])
        else:
            when = row.time("datetime", trade.get("datetime"))
        symbol = symbols.unified(row, "symbol", trade.get("symbol"))
        fees = trade.get("fees") or ([trade["fee"]] if trade.get("fee") else [])
        if not isinstance(fees, list) or len(fees) > 1:
            raise row.fail("fees", fees, "at most one fee per trade")
        fee, fee_asset = Decimal(0), symbol.split("/")[1].split(":")[0]
        if fees:
            entry = fees[0]
            if not isinstance(entry, dict):
                raise row.fail("fee", entry, "an object with cost and currency")
            fee = row.decimal("fee.cost", entry.get("cost", Decimal(0)))
            fee_asset = row.asset("fee.currency", entry.get("currency"))
        out.append(
            Fill(
                when,
                venue,
                symbol,
                row.side("side", trade.get("side")),
                row.positive("amount", trade.get("amount")),
                row.positive("price", trade.get("price")),
                fee,
                fee_asset,
                DEFAULT_ACCOUNT,
                DEFAULT_SUBACCOUNT,
                f"{file}:trade {index}",
            )
        )
    return out


class _Trade(_Row):
    """A ccxt trade: errors name the trade's index in the list instead of a line."""

    def fail(self, field: str, value: Any, allowed: str) -> ConfigError:
        return ConfigError(self.file, f"trade {self.line}: {field}", value, allowed)


def _journal(file: str, text: str, symbols: Symbols) -> list[Fill]:
    """The fills of crossroute ``execute`` journals (one JSON object per line): every
    ``margin_booked`` entry, at the price and fee the executor booked in the margin core (the
    same rule, :func:`router.execution.margin_gate.booking_price_and_fee`), at its venue."""
    venues: dict[str, str] = {}
    out = []
    for line, raw in enumerate(text.splitlines(), 1):
        row = _Row(file, line)
        try:
            entry = json.loads(raw, parse_float=Decimal)
        except ValueError:
            raise row.fail("entry", raw[:40], "a JSON journal entry") from None
        if not isinstance(entry, dict):
            raise row.fail("entry", raw[:40], "a JSON object")
        event = entry.get("event")
        if event == "fill" and isinstance(entry.get("client_order_id"), str):
            venues[entry["client_order_id"]] = row.name("venue", entry.get("venue"))
        if event != "margin_booked":
            continue
        fill = entry.get("fill")
        if not isinstance(fill, dict):
            raise row.fail("fill", fill, "the booked fill")
        qty = row.positive("fill.qty", fill.get("qty"))
        instrument = fill.get("instrument")
        if instrument not in ("spot", "perp"):
            raise row.fail("fill.instrument", instrument, "spot or perp")
        side = row.side("fill.side", fill.get("side"))
        price, fee = booking_price_and_fee(
            instrument,
            side,
            qty,
            row.positive("fill.quote_amount", fill.get("quote_amount")),
            row.decimal("fill.fee", fill.get("fee")),
        )
        symbol = symbols.unified(row, "fill.symbol", fill.get("symbol"))
        venue = venues.get(entry.get("client_order_id", ""))
        if venue is None:
            raise row.fail("client_order_id", entry.get("client_order_id"), "a child with a fill")
        out.append(
            Fill(
                row.time_ns("t_ns", entry.get("t_ns")),
                venue,
                symbol,
                side,
                qty,
                price,
                fee,
                symbol.split("/")[1].split(":")[0],
                DEFAULT_ACCOUNT,
                DEFAULT_SUBACCOUNT,
                f"{file}:{line}",
            )
        )
    return out


def journal_marks(text: str) -> list[tuple[int, str, Decimal]]:
    """The ``mark`` entries of an execute journal: (t_ns, ledger name, price), in order."""
    out = []
    for raw in text.splitlines():
        entry = json.loads(raw, parse_float=Decimal)
        if isinstance(entry, dict) and entry.get("event") == "mark":
            out.append((int(entry["t_ns"]), str(entry["name"]), Decimal(str(entry["price"]))))
    return out


def parse_fills_text(
    file: str, text: str, symbols: Symbols, *, venue: str | None = None
) -> list[Fill]:
    """Fills of one file's ``text`` (format detected from its content), in time order."""
    stripped = text.lstrip()
    default_venue = venue or Path(file).stem
    if stripped.startswith("["):
        try:
            data = json.loads(text, parse_float=Decimal)
        except ValueError as exc:
            raise ConfigError(
                file, "document", str(exc)[:60], "a JSON list of ccxt trades"
            ) from None
        fills = _ccxt(file, data, symbols, default_venue)
    elif stripped.startswith("{"):
        fills = _journal(file, text, symbols)
    else:
        header, rows = _csv_rows(text)
        if not header:
            raise ConfigError(file, "document", "", "a CSV header and at least one fill")
        if header[0] == "time":
            fills = _generic(file, header, rows, symbols)
        else:
            fills = _binance(file, header, rows, symbols, venue or "binance")
    for earlier, later in zip(fills, fills[1:]):
        if later.time_ns < earlier.time_ns:
            raise ConfigError(
                file,
                later.where.split(":", 1)[1] + ": time",
                later.time_ns,
                f"a time at or after the previous fill's ({earlier.where})",
            )
    return fills


def read_fills(specs: Sequence[str], symbols: Symbols) -> list[Fill]:
    """Read every ``[VENUE=]FILE`` in ``specs`` (VENUE names the venue of formats that do not carry
    one: ccxt JSON, Binance CSV) and merge them by time, stable by file then row."""
    merged: list[tuple[int, int, int, Fill]] = []
    for file_index, spec in enumerate(specs):
        venue, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
        if venue and not _NAME.fullmatch(venue):
            raise ConfigError(spec, "--fills", spec, "FILE or VENUE=FILE with a venue name")
        fills = parse_fills_text(path, _read_text(Path(path)), symbols, venue=venue or None)
        merged += [(f.time_ns, file_index, i, f) for i, f in enumerate(fills)]
    merged.sort(key=lambda item: item[:3])
    return [item[3] for item in merged]
