"""Exact parsers of recorded market data: Binance raw captures and a CSV format for users' own data.

Every price becomes integer ticks and every size integer lots of the instrument's grid
(``tick_size``, ``lot_size``); a value off the grid, a malformed number or a malformed line
raises :class:`FeedError` naming ``file:line``. No float and no Decimal on the hot path: digits
are read as integers and rescaled exactly. Depth updates and trades of a Binance capture take
fast paths that never touch json for the level arrays: the depth updates of a block in one
batch (:func:`_scan_depth`: :func:`router.sim.levels.scan_levels` reads all their arrays with a
few numpy passes), then line by line for what the batch declines (:meth:`Grid.levels_text`,
:func:`_fast_depth`, :func:`_fast_trade`); a line no fast path recognises exactly takes the
json path, which gives the same events or the precise error (tests compare all of them with a
Decimal reference). Throughput figures: docs/backtest.md.

Events are plain tuples (they are the hot path of the replay):
``(exch_ts_ns, seq, local_ts_ns, kind, payload)``. ``seq`` is ``file_index << 40 | line_number``,
so sorting by ``(exch_ts_ns, seq)`` is the stable tie-break: exchange time, then file order, then
line order. Payloads by kind:

- ``SNAPSHOT``: ``(last_update_id, bids, asks)``, levels ``[(price_ticks, qty_lots), ...]``
  (a :class:`Levels` list: plain ints, prices > 0; a plain list when a price is 0);
- ``DEPTH``: ``(first_update_id, last_update_id, prev_update_id, bids, asks)``, ids ``None`` for
  data without ids (CSV), ``prev_update_id`` only on the perpetual (``"pu"``); qty 0 deletes;
- ``TRADE``: ``(trade_id, price_ticks, qty_lots, aggressor_side)``, side ``"buy"`` | ``"sell"``;
- ``TICKER``: ``(bid_ticks, bid_lots, ask_ticks, ask_lots)``.

Timestamps: ``local_ts_ns`` is the collector's receive time; ``exch_ts_ns`` Binance's event time
``"E"`` (or trade time ``"T"``) in ms scaled to ns. A line without an exchange time (a spot
``bookTicker``, the REST snapshot) takes its file's latest exchange time so far, keeping it after
the message it was received after. ``clock_offset_ns`` is min(local - exchange) over the file:
the collector's clock skew plus the fastest delivery, used by the data latency model.

CSV (one row per level or trade, header required)::

    local_ts_ns,exch_ts_ns,kind,side,price,qty
    1723161254000000000,1723161254000000000,snapshot,bid,2683.80,3.0292
    1723161254000000000,1723161254000000000,snapshot,ask,2683.81,31.4395
    1723161254100000000,1723161254100000000,depth,bid,2683.79,1.5
    1723161254200000000,1723161254200000000,trade,sell,2683.80,0.25

``kind``: ``snapshot`` (consecutive rows form one snapshot that replaces the book), ``depth``
(the level's new absolute size, 0 deletes; consecutive rows with the same exchange time form one
update), ``trade`` (``side`` is the aggressor's). ``side`` of a level: ``bid`` | ``ask``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy

from router.sim.chunks import DataError, decode, line_blocks, text_chunks
from router.sim.collector import cycle_collector_paused
from router.sim.errors import FeedError, decimal_arg
from router.sim.levels import Levels, as_levels, scan_levels
from router.sim.scan import line_bounds, scan_tickers

__all__ = [
    "DEPTH",
    "FILE_SHIFT",
    "SNAPSHOT",
    "TICKER",
    "TRADE",
    "Feed",
    "Grid",
    "Levels",
    "read_feed",
    "sha256_file",
]

SNAPSHOT, DEPTH, TRADE, TICKER = 0, 1, 2, 3
KIND_NAMES = ("snapshot", "depth", "trade", "ticker")
FILE_SHIFT = 40  # seq = file_index << FILE_SHIFT | line_number: 1e12 lines per file is plenty
_MS_NS = 1_000_000


class Grid:
    """An instrument's price and size grid: decimal strings to integer ticks and lots, exactly.

    ``tick_size`` and ``lot_size`` are positive decimals (``Decimal`` or str). Conversion is
    O(len(text)); a value not on the grid raises :class:`FeedError`. The common case (a string
    with a fixed number of decimals, as Binance sends) takes one ``int()`` and one ``divmod``.

    >>> g = Grid("0.01", "0.0001")
    >>> g.ticks("2683.80000000"), g.lots("3.02920000")
    (268380, 30292)
    """

    __slots__ = ("_fast", "_price", "_qty", "lot_size", "tick_size")

    def __init__(self, tick_size: Decimal | str, lot_size: Decimal | str) -> None:
        self.tick_size = decimal_arg("tick_size", tick_size, error=FeedError)
        self.lot_size = decimal_arg("lot_size", lot_size, error=FeedError)
        self._price = _scale(self.tick_size)
        self._qty = _scale(self.lot_size)
        # (price decimals, qty decimals) seen in the data -> compiled scanner, or False (no fast path)
        self._fast: dict[tuple[int, int], Any] = {}

    def levels_text(self, text: str) -> list[tuple[int, int]] | None:
        """A JSON level array as Binance sends it (``[["2683.80","3.029"],...]``) -> [(ticks, lots)].

        The hot path of the replay: one regex validates the whole array exactly, then a few
        ``str.replace`` calls turn it into the digit strings of the integer ticks and lots and
        ``int`` does the rest, all in C (no per-level Python code). Exact, like
        :meth:`ticks`/:meth:`lots`: decimals beyond the grid must be zeros (they are cut), fewer
        are zero-padded. It applies when every level has the same number of decimals as the first
        (true of Binance, which pads) and both steps are powers of ten; otherwise, or for anything
        malformed, it returns None and the caller takes the per-value path, which gives the same
        result or the precise error. O(len(text)).

        >>> Grid("0.01", "0.001").levels_text('[["2683.80","3.029"],["2683.7","0.10000"]]') is None
        True
        >>> Grid("0.01", "0.001").levels_text('[["2683.80","3.029"],["2683.79","0.100"]]')
        [(268380, 3029), (268379, 100)]
        """
        if text == "[]":
            return Levels()
        first = _FIRST_LEVEL.match(text, 1)
        if first is None:
            return None
        key = (first.end(1) - first.start(1), first.end(2) - first.start(2))
        rule = self._fast.get(key)
        if rule is None:
            rule = self._fast[key] = _level_rule(key, self._price, self._qty)
        if rule is False:
            return None
        array, edits = rule
        if array.fullmatch(text) is None:
            return None
        # Validated: '","' only ever follows a price and '"]' a size, so these replaces cut or pad
        # every value's decimals at once; then the dots go and the separators become spaces.
        for old, new in edits:
            text = text.replace(old, new)
        digits = text[3:-3].replace(".", "").replace('"],["', " ").replace('","', " ")
        # numpy's C reader parses the validated decimal digits (at most 18 per value: int64 is
        # exact there) about three times faster than int() on each; tolist() gives Python ints.
        values = _fromstring(digits, dtype=_INT64, sep=" ").tolist()
        if len(values) != 2 * text.count('"],["') + 2:  # cannot happen after the fullmatch
            return None
        numbers = iter(values)
        return as_levels(list(zip(numbers, numbers)))

    @property
    def decimal_places(self) -> tuple[int, int] | None:
        """(price decimals, size decimals) when both steps are powers of ten (0.01 -> 2, 1 -> 0),
        else None: the batch level parser (:func:`router.sim.levels.scan_levels`) needs them."""
        (price_places, price_coef, _), (qty_places, qty_coef, _) = self._price, self._qty
        return (price_places, qty_places) if price_coef == 1 == qty_coef else None

    def ticks(self, text: str, where: str = "price") -> int:
        """Price string -> integer ticks (exact; raises FeedError off the grid or malformed)."""
        return _units(text, self._price, where, self.tick_size)

    def lots(self, text: str, where: str = "qty") -> int:
        """Size string -> integer lots (exact; raises FeedError off the grid or malformed)."""
        return _units(text, self._qty, where, self.lot_size)

    def price(self, ticks: int) -> Decimal:
        """Integer ticks -> price in quote per base (exact)."""
        return self.tick_size * ticks

    def qty(self, lots: int) -> Decimal:
        """Integer lots -> size in base (exact)."""
        return self.lot_size * lots


def _scale(step: Decimal) -> tuple[int, int, dict[int, int]]:
    """(places, coefficient, cache) with step = coefficient * 10^-places; cache: frac len -> divisor."""
    _sign, digits, exponent = step.normalize().as_tuple()
    coefficient = int("".join(map(str, digits)))
    places = -exponent if exponent < 0 else 0
    if exponent > 0:
        coefficient *= 10**exponent
    return places, coefficient, {}


_MAX_DIGITS = 18  # decimal digits that always fit in an int64
_INT64 = numpy.int64
_fromstring = numpy.fromstring
_FIRST_LEVEL = re.compile(r'\["[0-9]+\.([0-9]*)","[0-9]+\.([0-9]*)"\]')


def _value_rule(
    decimals: int, scale: tuple[int, int, dict[int, int]], end: str
) -> tuple[str, tuple] | None:
    """(regex, edit) for a decimal with ``decimals`` places followed by ``end``, on a 10^-places step.

    Units = the integer part and the first ``places`` decimals: the rest must be zeros (the edit
    cuts them) or, when there are fewer decimals, zeros are appended. None unless the step's
    coefficient is 1 (0.01, 1, 10^-8; not 0.5 or 10).
    """
    places, coefficient, _ = scale
    if coefficient != 1 or places > 17:
        return None
    whole = f"[0-9]{{1,{_MAX_DIGITS - places}}}"  # the units fit in an int64
    if decimals >= places:
        cut = "0" * (decimals - places)
        return f"{whole}\\.[0-9]{{{places}}}{cut}", (cut + end, end)
    return f"{whole}\\.[0-9]{{{decimals}}}", (end, "0" * (places - decimals) + end)


def _level_rule(key: tuple[int, int], price_scale: Any, qty_scale: Any) -> Any:
    price = _value_rule(key[0], price_scale, '","')
    qty = _value_rule(key[1], qty_scale, '"]')
    if price is None or qty is None:
        return False
    level = f'\\["{price[0]}","{qty[0]}"\\]'
    edits = tuple(edit for edit in (price[1], qty[1]) if edit[0] != edit[1])
    return re.compile(f"\\[(?:{level},)*{level}\\]"), edits


def _units(text: Any, scale: tuple[int, int, dict[int, int]], where: str, step: Decimal) -> int:
    """Exact decimal string -> integer multiples of ``step``; the hot path of the parser."""
    places, coefficient, cache = scale
    try:
        dot = text.find(".")
        if dot < 0:
            digits, frac = text, 0
        else:
            digits, frac = text[:dot] + text[dot + 1 :], len(text) - dot - 1
        # isdecimal + isascii: int() would also accept "1_0", " 1", "-1" and non-ASCII digits.
        if not (digits.isdecimal() and digits.isascii()):
            raise ValueError
        value = int(digits)
    except (AttributeError, ValueError):
        raise FeedError(
            where, text, f"a non-negative decimal string on the grid of {step}"
        ) from None
    divisor = cache.get(frac)
    if divisor is None:
        # value * 10^-frac / (coefficient * 10^-places) = value * 10^places / (coefficient * 10^frac)
        divisor = cache[frac] = (coefficient * 10**frac, 10**places)
    den, mul = divisor
    units, rest = divmod(value * mul, den)
    if rest:
        raise FeedError(where, text, f"a multiple of {step}")
    return units


@dataclass(frozen=True)
class Feed:
    """One parsed data file: its events sorted by (exchange time, seq), and what describes it.

    ``sha256`` of the file bytes (for the run manifest); ``counts`` events by kind name;
    ``clock_offset_ns`` min(local - exchange) over events that carry an exchange time (0 if none).
    """

    path: str
    file_index: int
    grid: Grid
    events: list[tuple]
    sha256: str
    counts: dict[str, int]
    clock_offset_ns: int


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes, hex. O(size), streamed in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_feed(
    path: str | Path, grid: Grid, *, file_index: int = 0, fmt: str = "auto", tickers: bool = True
) -> Feed:
    """Parse a data file into a :class:`Feed`. ``fmt``: ``"binance"``, ``"csv"`` or ``"auto"`` (by suffix).

    Files ending in ``.gz`` are gunzipped; the file is read once, and ``sha256`` is taken of the
    bytes read. ``tickers=False`` (what the replay uses: books come from depth updates) leaves out
    the top-of-book events of a Binance capture: a line of a ``@bookTicker`` stream is then
    recognised by its stream name, counted and its exchange time kept (so the clock, the counts
    and ``clock_offset_ns`` are those of the full parse) but its prices are not parsed.
    Complexity O(lines + levels) plus a sort of the events (nearly sorted already: Timsort is
    linear on them). Raises FeedError on the first bad line; nothing else changes.
    """
    if fmt not in ("auto", "binance", "csv"):
        raise FeedError("format", fmt, "'auto', 'binance' or 'csv'")
    if not isinstance(grid, Grid):
        raise FeedError("grid", grid, "a router.sim.feed.Grid")
    if type(file_index) is not int or not 0 <= file_index < 1 << 20:
        raise FeedError("file_index", file_index, "an integer in [0, 2^20)")
    if type(tickers) is not bool:
        raise FeedError("tickers", tickers, "True or False")
    if not isinstance(path, (str, Path)):
        raise FeedError("path", path, "a path (str or pathlib.Path) of an existing data file")
    p = Path(path)
    if not p.is_file():
        raise FeedError("path", str(path), "an existing data file")
    name = p.name[:-3] if p.name.endswith(".gz") else p.name
    kind = fmt if fmt != "auto" else ("csv" if name.endswith(".csv") else "binance")
    gzipped = p.name.endswith(".gz")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise FeedError("path", str(path), f"a readable data file ({exc})") from None
    # The parse allocates a few hundred thousand tuples and makes no reference cycle: the cyclic
    # collector would only walk them again and again (about an eighth of the parse time).
    try:
        with cycle_collector_paused():
            if kind == "csv":
                text = "".join(text_chunks(raw, gzipped))
                events, counts, offset = _parse_csv(text, grid, file_index, str(p))
            else:
                blocks = line_blocks(raw, gzipped)
                events, counts, offset = _parse_binance(blocks, grid, file_index, str(p), tickers)
    except DataError as exc:
        raise FeedError(
            "path", str(path), f"a readable {'gzip ' if gzipped else ''}UTF-8 text file: {exc}"
        ) from None
    # (exch_ts_ns, seq) is unique per event, so the plain tuple sort never compares payloads.
    events.sort()
    return Feed(str(p), file_index, grid, events, hashlib.sha256(raw).hexdigest(), counts, offset)


# '<local ns> {"stream":"<symbol>@<channel>...","data":' (no backslash in the name: an escaped quote
# would end it elsewhere); the channel picks the fast path, the data object starts at the match's
# end. Without a known stream the line is left to json (group 2 is None).
_LINE_HEAD = re.compile(
    r'([0-9]+) (?:\{"stream":"[^"\\@]*@(depth|bookTicker|trade)[^"\\]*","data":)?'
)
_EXCH_TIME = re.compile(r'"E":([0-9]+)[,}]')  # searched from the last '"E":' (anchored there)
_TRADE_TIME = re.compile(r'"T":([0-9]+)[,}]')


class _Scanned:
    """What the chunk scans of one file add up to (the lines the per-line loop never sees)."""

    __slots__ = ("count", "first", "max_exch_ns", "min_skew_ns", "prefix")

    def __init__(self) -> None:
        self.count = 0
        self.first: tuple[int, int] | None = None  # (line number, exchange time) of the first
        self.max_exch_ns = 0
        self.min_skew_ns: int | None = None
        self.prefix: tuple[bytes, int] | None = None  # (ticker stream head, local time digits)


def _block_lines(
    blocks: Iterable[bytes], scan_tickers_too: bool, totals: _Scanned
) -> Iterator[list[tuple[int, str, int]]]:
    """Per block, (line number, line, largest exchange time of the scanned lines before it) of
    every line left to the per-line parser. With ``scan_tickers_too``, the ticker lines
    :func:`scan_tickers` reads are summed into ``totals`` instead (once a first ticker line gave
    their stream head)."""
    line_no = 0
    for block in blocks:
        text = decode(block)
        bounds = line_bounds(block) if scan_tickers_too else None
        if bounds is not None and totals.prefix is None:
            totals.prefix = _ticker_prefix(text)
        if bounds is None or totals.prefix is None:
            seen = totals.max_exch_ns
            lines = text.splitlines()
            yield [(line_no + i, line, seen) for i, line in enumerate(lines, 1)]
            line_no += len(lines)
            continue
        scan = scan_tickers(block, bounds, *totals.prefix)
        before = totals.max_exch_ns
        starts, ends = bounds
        left = numpy.flatnonzero(~scan.taken)
        yield [
            (line_no + i + 1, text[start:end], max(before, seen))
            for i, start, end, seen in zip(
                left.tolist(),
                starts[left].tolist(),
                ends[left].tolist(),
                scan.max_exch_ns[left].tolist(),
                strict=True,
            )
        ]
        if totals.first is None and scan.first is not None:
            totals.first = (line_no + scan.first[0] + 1, scan.first[1])
        line_no += len(starts)
        totals.count += scan.count
        if len(starts):
            totals.max_exch_ns = max(before, int(scan.max_exch_ns[-1]))
        if scan.min_skew_ns is not None and (
            totals.min_skew_ns is None or scan.min_skew_ns < totals.min_skew_ns
        ):
            totals.min_skew_ns = scan.min_skew_ns


def _ticker_prefix(text: str) -> tuple[bytes, int] | None:
    """(stream head, digits of the local time) of the first ticker line of ``text`` as the exact
    parser reads it (``' {"stream":"ethusdt@bookTicker","data":'``, 19), or None."""
    at = text.find('@bookTicker"')
    if at < 0:
        return None
    head = _LINE_HEAD.match(text, text.rfind("\n", 0, at) + 1)
    if head is None or head[2] != "bookTicker":
        return None
    return head.group()[len(head[1]) :].encode(), len(head[1])


def _parse_binance(
    blocks: Iterable[bytes], grid: Grid, file_index: int, where: str, tickers: bool = True
) -> tuple[list, dict, int]:
    """The raw capture: ``<local ns> <Binance JSON>`` a line. O(lines + levels).

    Lines are classified by their stream name (a prefix check, no JSON): depth updates take
    :func:`_fast_depth` (the level arrays straight to integers), skipped top-of-book lines only
    have their time read, most of them by a whole-chunk scan (:mod:`router.sim.scan`); anything
    else, or any line the fast paths do not recognise exactly, goes through ``json.loads`` and
    the per-value exact conversion (:func:`_parse_message`).
    """
    events: list[tuple] = []
    append = events.append
    counts = [0, 0, 0, 0]
    base = file_index << FILE_SHIFT
    last_exch = 0
    offset: int | None = None
    line_head, exch_time, trade_time = _LINE_HEAD.match, _EXCH_TIME.match, _TRADE_TIME.match
    skip_tickers = not tickers
    scanned = _Scanned()
    first_timed: tuple[int, int] | None = None  # (line number, exchange time) of the first line
    for lines in _block_lines(blocks, skip_tickers, scanned):
        batch = _scan_depth(lines, grid)
        for line_no, line, scanned_exch in lines:
            if not line:
                continue
            head = line_head(line)
            if head is None:
                raise FeedError(
                    f"{where}:{line_no}", line[:80], "'<local receive time ns> <Binance JSON>'"
                )
            local = int(head[1])
            parsed = None
            channel = head[2]
            if channel == "bookTicker":
                if skip_tickers:
                    # Only the time: "E", else "T" (as the full parse takes them; the last one if
                    # repeated, as json keeps), else none. rfind: "E" ends a perpetual's ticker.
                    start = head.end()
                    found = exch_time(line, max(start, line.rfind('"E":'))) or trade_time(
                        line, max(start, line.rfind('"T":'))
                    )
                    parsed = (int(found[1]) * _MS_NS if found is not None else 0), TICKER, None
            elif channel == "depth":
                parsed = batch.get(line_no) or _fast_depth(line, head.end(), grid)
            elif channel == "trade":
                parsed = _fast_trade(line, head.end(), grid)
            if parsed is None:
                parsed = _parse_message(line[head.end(1) + 1 :], grid, f"{where}:{line_no}")
            exch, kind, payload = parsed
            if exch:
                if exch > last_exch:
                    if not last_exch:
                        first_timed = (line_no, exch)
                    last_exch = exch
                skew = local - exch
                if offset is None or skew < offset:
                    offset = skew
            else:
                if scanned_exch > last_exch:
                    last_exch = scanned_exch
                exch = last_exch
            counts[kind] += 1
            if payload is not None:
                append((exch, base | line_no, local, kind, payload))
    counts[TICKER] += scanned.count
    if scanned.max_exch_ns > last_exch:
        last_exch = scanned.max_exch_ns
    if scanned.min_skew_ns is not None and (offset is None or scanned.min_skew_ns < offset):
        offset = scanned.min_skew_ns
    # Lines read before the first exchange time (none on Binance captures but possible) stay in
    # file order at the start: give them the first exchange time seen (scanned lines included:
    # the full parse would have their events).
    if events and events[0][0] == 0 and last_exch:
        first = min(x for x in (first_timed, scanned.first) if x is not None)[1]
        events[:] = [(first if e[0] == 0 else e[0],) + e[1:] for e in events]
    return events, dict(zip(KIND_NAMES, counts)), offset or 0


def _scan_depth(lines: list[tuple[int, str, int]], grid: Grid) -> dict[int, tuple]:
    """line number -> (exch_ns, DEPTH, payload) of the depth updates of one block whose level
    arrays :func:`scan_levels` reads in one batch; the lines it declines are not in the result
    (the per-line paths then parse them, exactly or with the precise error).

    A line is taken only when it is exactly ``<local ns> {"stream":"...@depth...","data":`` then
    :data:`_DEPTH_HEADER` (JSON integers, no escapes), the bid array, ``],"a":[``, the ask array
    and ``]}}``, with both arrays in scan_levels' strict shape: then json would read the same
    values. O(lines + bytes of the depth lines)."""
    places = grid.decimal_places
    if places is None:
        return {}
    line_head, depth_header = _LINE_HEAD.match, _DEPTH_HEADER.match
    found = []
    texts = []
    for line_no, line, _ in lines:
        head = line_head(line)
        if head is None or head[2] != "depth":
            continue
        header = depth_header(line, head.end())
        if header is None or not line.endswith("]}}"):
            continue
        bids_at = header.end()
        asks_at = line.find('],"a":[', bids_at)
        if asks_at < 0:
            continue
        found.append((line_no, header))
        texts.append(line[bids_at:asks_at])
        texts.append(line[asks_at + 7 : -3])
    if not found:
        return {}
    levels = scan_levels(texts, *places)
    out = {}
    for (line_no, header), bids, asks in zip(found, levels[::2], levels[1::2], strict=True):
        if bids is None or asks is None:
            continue
        stamp, first, last, prev = header.groups()
        payload = (int(first), int(last), None if prev is None else int(prev), bids, asks)
        out[line_no] = (int(stamp) * _MS_NS, DEPTH, payload)
    return out


def _fast_depth(line: str, start: int, grid: Grid) -> tuple[int, int, tuple] | None:
    """(exch_ns, DEPTH, payload) of a depthUpdate message without decoding its level arrays as
    JSON, or None when the line is not exactly the expected shape (the caller then falls back).

    ``line[start:]`` (what follows ``"data":``) must be ``{<scalar fields>,"b":[...],"a":[...]}}``:
    the scalar header is decoded with json (short), the arrays by :meth:`Grid.levels_text`.
    """
    b = line.find('"b":[', start)
    if b < 0:
        return None
    a = line.find('],"a":[', b)
    if a < 0 or not line.endswith("]}}"):
        return None
    header = line[start:b]
    # A backslash could hide '"b":[' inside a string value: leave such lines to json.
    if not header.endswith(",") or "\\" in header:
        return None
    try:
        meta = json.loads(header[:-1] + "}")
    except ValueError:
        return None
    if type(meta) is not dict or meta.get("e") != "depthUpdate" or "b" in meta or "a" in meta:
        return None
    first, last, prev = meta.get("U"), meta.get("u"), meta.get("pu")
    stamp = meta.get("E", meta.get("T"))
    if (
        type(first) is not int
        or type(last) is not int
        or (prev is not None and type(prev) is not int)
        or (stamp is not None and type(stamp) is not int)
    ):
        return None
    bids = grid.levels_text(line[b + 4 : a + 1])
    if bids is None:
        return None
    asks = grid.levels_text(line[a + 6 : -2])
    if asks is None:
        return None
    return (stamp * _MS_NS if stamp is not None else 0), DEPTH, (first, last, prev, bids, asks)


# The two shapes of a Binance trade (spot, then USD-M), exactly: JSON integers without leading zeros,
# strings without escapes or control characters. Anything else goes to json.
_JSON_INT = r"(?:0|[1-9][0-9]*)"
_JSON_TEXT = r'"[^"\\\x00-\x1f]*"'
# A Binance depth update's data up to its bid array (spot, then USD-M with "T" and "pu"), exactly.
_DEPTH_HEADER = re.compile(
    rf'\{{"e":"depthUpdate","E":({_JSON_INT}),(?:"T":{_JSON_INT},)?"s":{_JSON_TEXT},'
    rf'"U":({_JSON_INT}),"u":({_JSON_INT}),(?:"pu":({_JSON_INT}),)?"b":\['
)
_TRADE_DATA = re.compile(
    rf'\{{"e":"trade","E":({_JSON_INT}),(?:"T":{_JSON_INT},)?"s":{_JSON_TEXT},"t":({_JSON_INT}),'
    rf'"p":"([^"\\\x00-\x1f]*)","q":"([^"\\\x00-\x1f]*)",(?:"X":{_JSON_TEXT},)?(?:"T":{_JSON_INT},)?'
    rf'"m":(true|false)(?:,"M":(?:true|false))?\}}\}}\Z'
)


def _fast_trade(line: str, start: int, grid: Grid) -> tuple[int, int, tuple] | None:
    """(exch_ns, TRADE, payload) of a trade message in one of Binance's two exact shapes, without
    json; None otherwise, or when a value is off the grid (the json path then names the field)."""
    found = _TRADE_DATA.match(line, start)
    if found is None:
        return None
    stamp, trade_id, price, qty, maker_is_buyer = found.groups()
    try:
        payload = (
            int(trade_id),
            grid.ticks(price),
            grid.lots(qty),
            "sell" if maker_is_buyer == "true" else "buy",
        )
    except FeedError:
        return None
    return int(stamp) * _MS_NS, TRADE, payload


def _parse_message(body: str, grid: Grid, at: str) -> tuple[int, int, tuple]:
    """(exch_ns, kind, payload) of one Binance JSON message via json.loads; exact; FeedError naming ``at``."""
    ticks, lots = grid.ticks, grid.lots
    try:
        message = json.loads(body)
        data = message.get("data")
        if data is None:  # a REST depth snapshot
            payload = (
                int(message["lastUpdateId"]),
                _levels(message["bids"], ticks, lots, at),
                _levels(message["asks"], ticks, lots, at),
            )
            return 0, SNAPSHOT, payload
        event_type = data.get("e")
        stamp = data.get("E", data.get("T"))
        exch = int(stamp) * _MS_NS if stamp is not None else 0
        if event_type == "depthUpdate":
            prev = data.get("pu")
            payload = (
                int(data["U"]),
                int(data["u"]),
                None if prev is None else int(prev),
                _levels(data["b"], ticks, lots, at),
                _levels(data["a"], ticks, lots, at),
            )
            return exch, DEPTH, payload
        if event_type == "trade":
            maker_is_buyer = data["m"]
            if type(maker_is_buyer) is not bool:
                raise FeedError(f"{at}.m", maker_is_buyer, "true or false")
            payload = (
                int(data["t"]),
                ticks(data["p"], f"{at}.p"),
                lots(data["q"], f"{at}.q"),
                "sell" if maker_is_buyer else "buy",
            )
            return exch, TRADE, payload
        if "b" in data and "a" in data and "B" in data and "A" in data:
            payload = (
                ticks(data["b"], f"{at}.b"),
                lots(data["B"], f"{at}.B"),
                ticks(data["a"], f"{at}.a"),
                lots(data["A"], f"{at}.A"),
            )
            return exch, TICKER, payload
        raise FeedError(at, body[:80], "a depthUpdate, trade, bookTicker or REST depth snapshot")
    except FeedError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FeedError(
            at, body[:80], f"Binance JSON of a known message ({type(exc).__name__}: {exc})"
        ) from None


def _levels(raw: Any, ticks: Any, lots: Any, at: str) -> list[tuple[int, int]]:
    if not isinstance(raw, list):
        raise FeedError(at, raw, "a list of [price, qty] pairs")
    try:
        return as_levels([(ticks(p, at), lots(q, at)) for p, q in raw])
    except ValueError:
        raise FeedError(at, str(raw)[:80], "a list of [price, qty] pairs") from None


_CSV_HEADER = ["local_ts_ns", "exch_ts_ns", "kind", "side", "price", "qty"]


def _parse_csv(text: str, grid: Grid, file_index: int, where: str) -> tuple[list, dict, int]:
    """The documented CSV format (module docstring). O(rows)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header != _CSV_HEADER:
        raise FeedError(f"{where}:1", header, f"the header {','.join(_CSV_HEADER)}")
    events: list[tuple] = []
    counts = [0, 0, 0, 0]
    base = file_index << FILE_SHIFT
    offset: int | None = None
    group: tuple | None = None  # (kind, exch, line, local, bids, asks) being built
    trade_id = 0
    last_exch = 0

    def flush() -> None:
        nonlocal group
        if group is None:
            return
        kind, exch, line, local, bids, asks = group
        bids, asks = as_levels(bids), as_levels(asks)
        payload = (None, bids, asks) if kind == SNAPSHOT else (None, None, None, bids, asks)
        events.append((exch, base | line, local, kind, payload))
        counts[kind] += 1
        group = None

    for line_no, row in enumerate(reader, start=2):
        at = f"{where}:{line_no}"
        if not row:
            continue
        if len(row) != 6:
            raise FeedError(at, row, f"6 columns: {','.join(_CSV_HEADER)}")
        local_text, exch_text, kind_text, side, price, qty = row
        if not (
            local_text.isdecimal()
            and local_text.isascii()
            and exch_text.isdecimal()
            and exch_text.isascii()
        ):
            raise FeedError(
                f"{at}.ts", [local_text, exch_text], "integer nanoseconds since the epoch"
            )
        local, exch = int(local_text), int(exch_text)
        if exch < last_exch:
            raise FeedError(
                f"{at}.exch_ts_ns", exch, f"non-decreasing exchange times (previous {last_exch})"
            )
        last_exch = exch
        offset = local - exch if offset is None else min(offset, local - exch)
        ticks, size = grid.ticks(price, f"{at}.price"), grid.lots(qty, f"{at}.qty")
        if kind_text == "trade":
            flush()
            if side not in ("buy", "sell"):
                raise FeedError(f"{at}.side", side, "'buy' or 'sell' (the aggressor) for a trade")
            trade_id += 1
            events.append((exch, base | line_no, local, TRADE, (trade_id, ticks, size, side)))
            counts[TRADE] += 1
            continue
        if kind_text not in ("snapshot", "depth"):
            raise FeedError(f"{at}.kind", kind_text, "'snapshot', 'depth' or 'trade'")
        if side not in ("bid", "ask"):
            raise FeedError(f"{at}.side", side, "'bid' or 'ask' for a book level")
        kind = SNAPSHOT if kind_text == "snapshot" else DEPTH
        if group is None or group[0] != kind or (kind == DEPTH and group[1] != exch):
            flush()
            group = (kind, exch, line_no, local, [], [])
        (group[4] if side == "bid" else group[5]).append((ticks, size))
    flush()
    return events, dict(zip(KIND_NAMES, counts)), offset or 0
