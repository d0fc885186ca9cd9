"""Mark prices over time for a replay: a ``time,symbol,price`` CSV, or the fills themselves.

``symbol`` is a perpetual in ccxt notation (``BTC/USDC:USDC``: the market's mark), a spot pair
quoted in the account's collateral asset (``ETH/USDC``: the mark of ETH), or a bare asset
(``ETH``: its mark, also the index a perpetual's funding premium is measured against). Rows must
be in time order; times are ISO 8601 UTC as in the fills file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from router.model.errors import ConfigError
from router.replay.fills import Fill, _csv_rows, _read_text, _Row

MARK_COLUMNS = ("time", "symbol", "price")


@dataclass(frozen=True, slots=True)
class Mark:
    """The price of ``symbol`` from ``time_ns`` on, quote per base."""

    time_ns: int
    symbol: str
    price: Decimal


def read_marks(path: str, known: Sequence[str]) -> list[Mark]:
    """Marks of a ``time,symbol,price`` CSV, validated row by row, in time order."""
    header, rows = _csv_rows(_read_text(Path(path)))
    if header != list(MARK_COLUMNS):
        raise ConfigError(path, "line 1: header", ",".join(header), ",".join(MARK_COLUMNS))
    names = set(known)
    marks: list[Mark] = []
    for line, cells in rows:
        row = _Row(path, line)
        if len(cells) != len(MARK_COLUMNS):
            raise row.fail("row", ",".join(cells), "3 columns: time,symbol,price")
        time_text, symbol, price_text = (cell.strip() for cell in cells)
        if symbol not in names:
            raise row.fail(
                "symbol", symbol, f"a name of the market list: {', '.join(sorted(names))}"
            )
        mark = Mark(row.time("time", time_text), symbol, row.positive("price", price_text))
        if marks and mark.time_ns < marks[-1].time_ns:
            raise row.fail("time", time_text, "a time at or after the previous row's")
        marks.append(mark)
    return marks


def marks_from_fills(fills: Sequence[Fill]) -> list[Mark]:
    """The last resort: each fill marks its own symbol at its price from its time on."""
    return [Mark(f.time_ns, f.symbol, f.price) for f in fills]
