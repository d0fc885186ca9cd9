"""The whole-chunk scans give exactly what the per-line parser gives, on generated and real lines."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.sim.chunks import line_blocks
from router.sim.feed import TICKER, Grid, _parse_binance, read_feed
from router.sim.scan import line_bounds

ROOT = Path(__file__).resolve().parents[4]
SAMPLES = [
    ROOT / "tests/data/binance/usdm_ethusdt_20240808_first12s.gz",
    ROOT / "tests/data/binance/spot_ethusdt_20240808_first90s.gz",
]
GRID = Grid("0.01", "0.001")


@given(st.binary(max_size=300) | st.text("ab \n\r\x0b\x1c", max_size=60).map(str.encode))
def test_line_bounds_are_the_lines_splitlines_sees_or_none(block: bytes) -> None:
    bounds = line_bounds(block)
    if bounds is None:
        assert not block.isascii() or any(b < 32 and b != 10 for b in block)
        return
    lines = [block[s:e].decode() for s, e in zip(*bounds, strict=True)]
    assert lines == block.decode().splitlines()


def _stamp(draw) -> str:
    """An exchange time in ms, mostly 13 digits, sometimes not."""
    return str(
        draw(
            st.sampled_from([1723161256303, 1723161256311, 0, 999, 99999999999999, 10**13 - 1])
            | st.integers(10**12, 10**13 - 1)
        )
    )


@st.composite
def ticker_lines(draw) -> str:
    local = draw(
        st.sampled_from(
            ["1723161255088165267", "0723161255088165267", "17231612550881652", "9" * 19]
        )
        | st.integers(10**18, 10**19 - 1).map(str)
    )
    stream = draw(
        st.sampled_from(["ethusdt@bookTicker", "btcusdt@bookTicker", "ethusdt@bookTicker@x"])
    )
    data: dict[str, object] = {"e": "bookTicker", "u": 5123107838717, "s": "ETHUSDT"}
    data |= {"b": "2681.62", "B": "1.165", "a": "2681.63", "A": "73.077"}
    for key in draw(st.lists(st.sampled_from(["T", "E"]), max_size=3)):
        data[key] = int(_stamp(draw))
    body = json.dumps({"stream": stream, "data": data}, separators=(",", ":"))
    if draw(st.integers(0, 9)) == 0:  # a duplicated key: json keeps the last, as the scan must
        body = body[:-2] + f',"E":{_stamp(draw)}}}}}'
    return f"{local} {body}"


@st.composite
def other_lines(draw) -> str:
    local, stamp = draw(st.integers(10**18, 10**19 - 1)), int(_stamp(draw))
    if draw(st.booleans()):
        data = {"e": "trade", "E": stamp, "T": stamp, "s": "ETHUSDT", "t": 7}
        data |= {"p": "2681.62", "q": "1.000", "X": "MARKET", "m": True}
        return f"{local} " + json.dumps(
            {"stream": "ethusdt@trade", "data": data}, separators=(",", ":")
        )
    snapshot = {"lastUpdateId": 5, "E": stamp, "bids": [["2681.62", "1.000"]], "asks": []}
    return f"{local} " + json.dumps(snapshot, separators=(",", ":"))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(ticker_lines() | other_lines(), max_size=25),
    st.integers(16, 2000),
    st.sampled_from(["", "\n"]),
)
def test_scanned_tickers_give_the_per_line_parse(lines: list[str], size: int, end: str) -> None:
    """Without tickers (scanned), everything else equals the full parse (every line by json)."""
    raw = ("\n".join(lines) + end).encode()
    full = _parse_binance(line_blocks(raw, False, size), GRID, 0, "f", True)
    lean = _parse_binance(line_blocks(raw, False, size), GRID, 0, "f", False)
    assert lean[0] == [e for e in full[0] if e[3] != TICKER]
    assert lean[1:] == full[1:]


@pytest.mark.parametrize("path", SAMPLES)
def test_samples_scan_their_tickers_and_keep_every_other_event(path: Path) -> None:
    grid = Grid("0.01", "0.0001" if "spot" in path.name else "0.001")
    full, lean = read_feed(path, grid), read_feed(path, grid, tickers=False)
    assert lean.events == [e for e in full.events if e[3] != TICKER]
    assert (lean.counts, lean.clock_offset_ns) == (full.counts, full.clock_offset_ns)
    raw = gzip.decompress(path.read_bytes())
    events, counts, offset = _parse_binance(line_blocks(raw, False, 999), grid, 0, "p", False)
    assert (sorted(events), counts, offset) == (lean.events, lean.counts, lean.clock_offset_ns)
