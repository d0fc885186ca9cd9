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

from router.sim import feed as feed_module
from router.sim.chunks import line_blocks
from router.sim.errors import FeedError
from router.sim.feed import Grid
from router.sim.levels import Levels, levels_of_columns, scan_levels

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
        st.lists(st.tuples(st.integers(0, 10**10), st.integers(0, 10**8)), max_size=12),
        max_size=10,
    ),
    st.integers(0, 4),
)
def test_binance_shaped_arrays_are_all_taken(arrays, pad: int) -> None:
    """Padded decimals (zeros beyond the grid included) never make the batch parser decline."""
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


def test_levels_of_columns_slices_in_order() -> None:
    prices, qtys = numpy.array([5, 6, 7], numpy.int64), numpy.array([1, 0, 2], numpy.int64)
    assert levels_of_columns(prices, qtys, [2, 0, 1]) == [[(5, 1), (6, 0)], [], [(7, 2)]]


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
