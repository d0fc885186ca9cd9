"""The batch level parser gives exactly what the per-value exact conversion gives, or declines."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.backtest.book import L2Book
from router.sim import feed as feed_module
from router.sim.cache import read_feed_cached
from router.sim.chunks import line_blocks
from router.sim.errors import BacktestError, FeedError
from router.sim.feed import DEPTH, SNAPSHOT, Grid, read_feed
from router.sim.levels import Levels, as_levels, levels_of_columns, scan_levels

ROOT = Path(__file__).resolve().parents[4]
SAMPLES = [
    (ROOT / "tests/data/binance/spot_ethusdt_20240808_first90s.gz", "0.01", "0.0001"),
    (ROOT / "tests/data/binance/usdm_ethusdt_20240808_first12s.gz", "0.01", "0.001"),
]


def _reference(text: str, grid: Grid) -> list[tuple[int, int]] | None:
    """The array's content read by json and converted value by value (None: not exact)."""
    try:
        raw = json.loads(f"[{text}]")
        return [(grid.ticks(p), grid.lots(q)) for p, q in raw]
    except (ValueError, TypeError, FeedError):
        return None


def _number(draw, places: int) -> str:
    """A decimal string as Binance sends it, or (sometimes) one the batch parser must decline
    or convert with care: few or many decimals, leading zeros, exponents, signs, huge values."""
    shape = draw(st.integers(0, 12))
    value = draw(st.integers(0, 10**7)) if draw(st.booleans()) else draw(st.integers(0, 10**22))
    decimals = places if shape > 4 else draw(st.integers(0, 20))
    text = format(Decimal(value).scaleb(-decimals), "f") if decimals else f"{value}.0"
    if shape == 0:
        return text.replace(".", "e")[:12] or "1e5"
    if shape == 1:
        return "-" + text
    if shape == 2:
        return "0" * draw(st.integers(1, 3)) + text
    if shape == 3:
        return text.split(".")[0] + "." if "." in text else text
    if shape == 4:
        return text + "0" * draw(st.integers(1, 4))
    return text


@st.composite
def level_texts(draw, places: tuple[int, int] = (2, 3)) -> str:
    """The content of one level array (without its brackets), compact or oddly spaced."""
    levels = [
        [_number(draw, places[0]), _number(draw, places[1])] for _ in range(draw(st.integers(0, 6)))
    ]
    separators = draw(st.sampled_from([(",", ":"), (",", ":"), (", ", ": "), (" ,", ":")]))
    text = json.dumps(levels, separators=separators)[1:-1]
    spoil = draw(st.integers(0, 15))
    if spoil == 0 and text:  # a byte of something else somewhere
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(st.sampled_from(["]", '"', ",", "x", "٣", "\\", "["])) + text[at:]
    elif spoil == 1 and text:  # a byte missing somewhere
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + text[at + 1 :]
    return text


GRIDS = st.sampled_from([("0.01", "0.001"), ("0.01", "0.0001"), ("1", "0.00000001"), ("0.1", "1")])


@settings(max_examples=400, deadline=None)
@given(st.lists(level_texts(), max_size=8), GRIDS)
def test_scanned_levels_are_the_exact_per_value_parse_or_declined(texts: list[str], steps) -> None:
    grid = Grid(*steps)
    places = grid.decimal_places
    assert places is not None
    scanned = scan_levels(texts, *places)
    assert len(scanned) == len(texts)
    for text, levels in zip(texts, scanned, strict=True):
        if levels is not None:
            assert type(levels) is Levels
            assert levels == _reference(text, grid)
            assert all(type(p) is int and type(q) is int for p, q in levels)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(1, 10**10), st.integers(0, 10**8)), max_size=12),
        max_size=10,
    ),
    st.integers(0, 4),
)
def test_binance_shaped_arrays_are_all_taken(arrays, pad: int) -> None:
    """Padded decimals (zeros beyond the grid included) never make the batch parser decline
    (prices > 0: an array with a price of 0 is left to the per-line path, which keeps it a
    plain list for the L2 book to refuse)."""
    texts = [
        ",".join(
            f'["{Decimal(p).scaleb(-2):f}{"0" * pad}","{Decimal(q).scaleb(-3):f}"]'
            for p, q in levels
        )
        for levels in arrays
    ]
    assert scan_levels(texts, 2, 3) == arrays


def test_one_bad_array_leaves_its_neighbours_taken() -> None:
    texts = ['["1.00","2.000"]', '["1.00","2.000"],', '["3.00","4.000"]', '["5.001","1.000"]']
    assert scan_levels(texts, 2, 3) == [[(100, 2000)], None, [(300, 4000)], None]


def test_levels_of_columns_slices_in_order_and_keeps_a_zero_price_a_plain_list() -> None:
    prices, qtys = numpy.array([5, 6, 7, 0], numpy.int64), numpy.array([1, 0, 2, 3], numpy.int64)
    out = levels_of_columns(prices, qtys, [2, 0, 1, 1])
    assert out == [[(5, 1), (6, 0)], [], [(7, 2)], [(0, 3)]]
    assert [type(x) for x in out] == [Levels, Levels, Levels, list]
    assert type(as_levels([(3, 0), (0, 1)])) is list and type(as_levels([(3, 0)])) is Levels


def test_a_zero_price_is_never_in_levels_so_the_book_refuses_it_from_every_path(tmp_path) -> None:
    """Levels promise prices > 0 (the L2 book applies them unchecked): a parsed array with a
    price of 0 stays a plain list from the batch, per-line, json, CSV and cache paths alike, and
    the L2 book refuses it."""
    data = {
        "e": "depthUpdate",
        "E": 1723161256303,
        "T": 1723161256302,
        "s": "ETHUSDT",
        "U": 7,
        "u": 9,
        "pu": 6,
        "b": [["0.00", "1.000"], ["2683.80", "1.000"]],
        "a": [["2683.90", "2.000"]],
    }
    snapshot = {"lastUpdateId": 8, "bids": [["2683.70", "1.000"]], "asks": [["0.00", "1.000"]]}
    lines = [
        f"1723161256400000000 {json.dumps(snapshot, separators=(',', ':'))}",
        f"1723161256500000000 "
        f"{json.dumps({'stream': 'ethusdt@depth@0ms', 'data': data}, separators=(',', ':'))}",
        f"1723161256600000000 "
        f"{json.dumps({'stream': 'ethusdt@depth@0ms', 'data': data}, separators=(', ', ':'))}",
    ]
    capture = tmp_path / "zero.gz"
    capture.write_bytes(gzip.compress("\n".join(lines).encode()))
    csv = tmp_path / "zero.csv"
    csv.write_text(
        "local_ts_ns,exch_ts_ns,kind,side,price,qty\n"
        "1,1,snapshot,bid,0.00,1.000\n1,1,snapshot,ask,2683.90,1.000\n2,2,depth,bid,0.00,0.000\n"
    )
    grid = Grid("0.01", "0.001")
    feeds = [read_feed(capture, grid), read_feed_cached(capture, grid, tmp_path / "c")[0]]
    feeds.append(read_feed_cached(capture, grid, tmp_path / "c")[0])  # from the cache
    feeds += [read_feed(csv, grid), read_feed_cached(csv, grid, tmp_path / "c")[0]]
    for feed in feeds:
        sides = [side for event in feed.events for side in event[4][-2:]]
        assert sides and all(
            (type(side) is list) == any(price == 0 for price, _ in side) for side in sides
        )
        for event in feed.events:
            with pytest.raises(BacktestError):
                book = L2Book()
                book.apply_snapshot((None, Levels(), Levels()))
                if event[3] == SNAPSHOT:
                    book.apply_snapshot(event[4])
                else:
                    assert event[3] == DEPTH
                    book.apply_depth((None, None, None, *event[4][3:]))


@pytest.mark.parametrize("path, tick, lot", SAMPLES)
def test_the_samples_depth_lines_are_all_read_by_the_batch_parser(path, tick, lot) -> None:
    """The fast path is the one taken on real captures (not silently the slow one), and what it
    gives is what the per-line path gives."""
    grid = Grid(tick, lot)
    raw = path.read_bytes()
    lines = gzip.decompress(raw).decode().splitlines()
    depth = {n for n, line in enumerate(lines, 1) if '"depthUpdate"' in line}
    batched: dict[int, tuple] = {}
    for block in feed_module._block_lines(line_blocks(raw, True), False, feed_module._Scanned()):
        batched.update(feed_module._scan_depth(block, grid))
    assert set(batched) == depth and len(depth) > 100
    for line_no in sorted(depth)[::7]:
        line = lines[line_no - 1]
        head = feed_module._LINE_HEAD.match(line)
        assert batched[line_no] == feed_module._fast_depth(line, head.end(), grid)
