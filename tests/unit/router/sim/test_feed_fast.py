"""The fast paths of the Binance parser give exactly what a Decimal reference parse gives."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.sim import feed as feed_module
from router.sim.errors import FeedError
from router.sim.feed import DEPTH, SNAPSHOT, TICKER, TRADE, Grid, read_feed

ROOT = Path(__file__).resolve().parents[4]
SPOT = ROOT / "tests/data/binance/spot_ethusdt_20240808_first90s.gz"
PERP = ROOT / "tests/data/binance/usdm_ethusdt_20240808_first12s.gz"


def _reference_units(text: str, step: Decimal) -> int | None:
    """Decimal reference: text / step when it is an exact non-negative integer, else None."""
    value = Decimal(text)
    units = value / step
    return int(units) if units == units.to_integral_value() and value >= 0 else None


def _reference_levels(text: str, tick: Decimal, lot: Decimal) -> list[tuple[int, int]] | None:
    out = []
    for price, qty in json.loads(text):
        p, q = _reference_units(price, tick), _reference_units(qty, lot)
        if p is None or q is None:
            return None
        out.append((p, q))
    return out


STEPS = st.sampled_from(["1", "0.1", "0.01", "0.001", "0.00001", "0.00000001", "0.5", "0.25", "10"])


@st.composite
def level_arrays(draw):
    """A Binance-style level array: same decimals on every level (or, sometimes, not)."""
    price_places, qty_places = draw(st.integers(0, 9)), draw(st.integers(0, 9))
    n = draw(st.integers(0, 12))
    levels = []
    for _ in range(n):
        p_places = price_places if draw(st.integers(0, 9)) else draw(st.integers(0, 9))
        price = (
            draw(st.integers(0, 10**12)) if draw(st.booleans()) else draw(st.integers(0, 10**21))
        )
        qty = draw(st.integers(0, 10**9))
        levels.append(
            [
                format(Decimal(price).scaleb(-p_places), "f") if p_places else f"{price}.",
                format(Decimal(qty).scaleb(-qty_places), "f") if qty_places else f"{qty}.",
            ]
        )
    return json.dumps(levels, separators=(",", ":"))


@settings(max_examples=300)
@given(level_arrays(), STEPS, STEPS)
def test_levels_text_is_the_decimal_reference_or_declines(text: str, tick: str, lot: str) -> None:
    grid = Grid(tick, lot)
    fast = grid.levels_text(text)
    reference = _reference_levels(text, Decimal(tick), Decimal(lot))
    if fast is not None:
        assert fast == reference
    # the per-value path agrees with the reference, and raises exactly where it has none
    slow = None
    try:
        slow = [(grid.ticks(p), grid.lots(q)) for p, q in json.loads(text)]
    except FeedError:
        assert reference is None
    else:
        assert slow == reference


@settings(max_examples=200)
@given(
    st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**6)), min_size=1, max_size=20),
    st.integers(0, 6),
    st.integers(0, 6),
)
def test_levels_text_takes_the_fast_path_on_padded_binance_arrays(
    levels, pad_price: int, pad_qty: int
) -> None:
    grid = Grid("0.01", "0.001")
    text = json.dumps(
        [
            [
                format(Decimal(p).scaleb(-2), "f") + "0" * pad_price,
                format(Decimal(q).scaleb(-3), "f") + "0" * pad_qty,
            ]
            for p, q in levels
        ],
        separators=(",", ":"),
    )
    assert grid.levels_text(text) == levels


@pytest.mark.parametrize(
    "text",
    [
        '[["1.00","2.000"],["1.00","2.000"]',  # unbalanced
        '[["1.00","2.000"] ,["1.00","2.000"]]',  # whitespace
        '[["1.00","2.000","3"]]',  # three values
        '[["-1.00","2.000"]]',  # sign
        '[["1.001","2.000"]]',  # off the grid
        '[["1.00","2.000"],["1.0","2.000"]]',  # decimals differ: the per-value path decides
        '[["١.00","2.000"]]',  # non-ASCII digit
        '[["99999999999999999.00","2.000"]]',  # beyond int64 once in ticks
    ],
)
def test_levels_text_declines_what_it_cannot_convert_exactly(text: str) -> None:
    assert Grid("0.01", "0.001").levels_text(text) is None


# What each fast path answers when it declines everything (the depth lines have two: the batch
# parse of a block's arrays, then the per-line one).
_DECLINED = {
    "_fast_depth": {"_scan_depth": lambda *args: {}, "_fast_depth": lambda *args: None},
    "_fast_trade": {"_fast_trade": lambda *args: None},
}


def _both_paths(tmp_path: Path, line: str, fast_path: str, grid: Grid) -> list:
    """The events (or the error) of one capture line, with and then without the fast path named."""
    path = tmp_path / "line.gz"
    path.write_bytes(gzip.compress((line + "\n").encode()))
    results = []
    for fast in (True, False):
        originals = {name: getattr(feed_module, name) for name in _DECLINED[fast_path]}
        if not fast:
            for name, declined in _DECLINED[fast_path].items():
                setattr(feed_module, name, declined)
        try:
            results.append(read_feed(path, grid).events)
        except FeedError as exc:
            results.append(("error", exc.field, exc.value))
        finally:
            for name, original in originals.items():
                setattr(feed_module, name, original)
    return results


def _depth_line(local: int, data: dict) -> str:
    return f"{local} {json.dumps({'stream': 'ethusdt@depth@0ms', 'data': data}, separators=(',', ':'))}"


@settings(max_examples=150)
@given(
    st.permutations(["e", "E", "T", "s", "U", "u", "pu", "b", "a"]),
    st.lists(st.tuples(st.integers(1, 10**7), st.integers(0, 10**5)), max_size=6),
    st.lists(st.tuples(st.integers(1, 10**7), st.integers(0, 10**5)), max_size=6),
    st.sampled_from(["0.01", "0.1", "0.5"]),
    st.booleans(),
)
def test_fast_and_json_paths_give_identical_events(
    tmp_path_factory, order, bids, asks, tick, extra: bool
) -> None:
    values = {
        "e": "depthUpdate",
        "E": 1723161256303,
        "T": 1723161256302,
        "s": "ETHUSDT",
        "U": 7,
        "u": 9,
        "pu": 6,
        "b": [
            [format(Decimal(p).scaleb(-2), "f"), format(Decimal(q).scaleb(-3), "f")]
            for p, q in bids
        ],
        "a": [
            [format(Decimal(p).scaleb(-2), "f"), format(Decimal(q).scaleb(-3), "f")]
            for p, q in asks
        ],
    }
    data = {key: values[key] for key in order}
    if extra:
        data["x"] = [1]
    fast, slow = _both_paths(
        tmp_path_factory.mktemp("feed"),
        _depth_line(1723161256400000000, data),
        "_fast_depth",
        Grid(tick, "0.001"),
    )
    assert fast == slow


@pytest.mark.parametrize("path, tick, lot", [(SPOT, "0.01", "0.0001"), (PERP, "0.01", "0.001")])
def test_samples_equal_a_json_and_decimal_reference(path: Path, tick: str, lot: str) -> None:
    """Every depth update and trade of the samples, parsed by json + Decimal, equals the feed."""
    feed = read_feed(path, Grid(tick, lot))
    events = {e[1] & ((1 << 40) - 1): e for e in feed.events}
    checked = 0
    for line_no, line in enumerate(gzip.decompress(path.read_bytes()).decode().splitlines(), 1):
        message = json.loads(line.split(" ", 1)[1])
        data = message.get("data", message)
        event = events[line_no]
        if "bids" in data:
            assert event[3] == SNAPSHOT
            assert event[4][1] == _reference_levels(
                json.dumps(data["bids"]), Decimal(tick), Decimal(lot)
            )
        elif data.get("e") == "depthUpdate":
            assert event[3] == DEPTH and event[4][:2] == (data["U"], data["u"])
            assert event[4][3] == _reference_levels(
                json.dumps(data["b"]), Decimal(tick), Decimal(lot)
            )
            assert event[4][4] == _reference_levels(
                json.dumps(data["a"]), Decimal(tick), Decimal(lot)
            )
            checked += 1
        elif data.get("e") == "trade":
            assert event[4][1:3] == (
                _reference_units(data["p"], Decimal(tick)),
                _reference_units(data["q"], Decimal(lot)),
            )
        else:
            assert event[3] == TICKER
    assert checked > 200


@pytest.mark.parametrize("path, tick, lot", [(SPOT, "0.01", "0.0001"), (PERP, "0.01", "0.001")])
def test_skipping_tickers_keeps_everything_else(path: Path, tick: str, lot: str) -> None:
    full = read_feed(path, Grid(tick, lot))
    lean = read_feed(path, Grid(tick, lot), tickers=False)
    assert lean.events == [e for e in full.events if e[3] != TICKER]
    assert (lean.counts, lean.clock_offset_ns, lean.sha256) == (
        full.counts,
        full.clock_offset_ns,
        full.sha256,
    )
    assert any(e[3] == TRADE for e in lean.events)


def test_sha256_is_of_the_file_bytes() -> None:
    assert read_feed(PERP, Grid("0.01", "0.001"), tickers=False).sha256 == feed_module.sha256_file(
        PERP
    )


TRADE_VALUES = st.sampled_from(
    ["2681.62", "2681.620", "2681.6", "0.01", "2681.625", "1e3", "-1.00", "", "٢.00"]
)
SPOT_TRADE = (
    '{"e":"trade","E":1723161255612,"s":"ETHUSDT","t":1520538925,"p":"PRICE","q":"QTY",'
    '"T":1723161255611,"m":true,"M":true}'
)
PERP_TRADE = (
    '{"e":"trade","E":1723161256560,"T":1723161256560,"s":"ETHUSDT","t":4308068523,"p":"PRICE",'
    '"q":"QTY","X":"MARKET","m":false}'
)


def _trade_line(data: str) -> str:
    return f'1723161255290656866 {{"stream":"ethusdt@trade","data":{data}}}'


@settings(max_examples=100)
@given(st.sampled_from([SPOT_TRADE, PERP_TRADE]), TRADE_VALUES, TRADE_VALUES)
def test_fast_and_json_paths_give_identical_trades(
    tmp_path_factory, shape: str, price: str, qty: str
) -> None:
    line = _trade_line(shape.replace("PRICE", price).replace("QTY", qty))
    fast, slow = _both_paths(
        tmp_path_factory.mktemp("feed"), line, "_fast_trade", Grid("0.01", "0.001")
    )
    assert fast == slow


@pytest.mark.parametrize(
    "old, new",
    [
        ('"t":4308068523', '"t":007'),
        ('"t":4308068523', '"t":-1'),
        ('"t":4308068523', '"t":1.5'),
        ('"ETHUSDT"', '"ETH\\"USDT"'),
        ('"ETHUSDT"', '"ETH\tUSDT"'),
        ('"m":false', '"m":"no"'),
        ('"p":"2681.62","q":"1.000"', '"q":"1.000","p":"2681.62"'),
        ('"m":false}', '"m":false,"m":true}'),
        ('"E":1723161256560,', ""),
        ('"e":"trade"', '"e":"aggTrade"'),
    ],
)
def test_trade_shapes_the_fast_path_does_not_know_parse_as_json_does(
    tmp_path: Path, old: str, new: str
) -> None:
    data = PERP_TRADE.replace("PRICE", "2681.62").replace("QTY", "1.000")
    assert old in data
    fast, slow = _both_paths(
        tmp_path, _trade_line(data.replace(old, new)), "_fast_trade", Grid("0.01", "0.001")
    )
    assert fast == slow
