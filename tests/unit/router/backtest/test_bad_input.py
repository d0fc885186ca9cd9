"""Every public entry point of the backtester refuses bad input with a clear error naming the
field, the value and what is allowed, and leaves its object (and the disk) as it was."""

from __future__ import annotations

import asyncio
import copy
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from router.backtest.book import L2Book, ReplayBookVenue
from router.backtest.engine import load_spec, parse_spec
from router.backtest.plugins import load_plugin
from router.backtest.sweep import run_sweep
from router.sim.errors import BacktestError, FeedError
from router.sim.feed import Grid, read_feed
from router.sim.pools import Arbitrageur, build_amm

ROOT = Path(__file__).resolve().parents[4]
TWAP = ROOT / "config/examples/backtest-twap.toml"
BASIS = ROOT / "config/examples/backtest-basis.toml"
PERP = ROOT / "tests/data/binance/usdm_ethusdt_20240808_first12s.gz"


def _named(err: pytest.ExceptionInfo, field: str) -> None:
    """The error names the field, carries the value and says what is allowed."""
    assert err.value.field == field
    assert err.value.allowed and field in str(err.value) and "allowed" in str(err.value)


# -- load_spec / parse_spec ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"path": 42}, "config"),
        ({"path": "/no/such/file.toml"}, "config"),
        ({"path": TWAP, "overrides": ["strategy.slices"]}, "overrides"),
        ({"path": TWAP, "overrides": {"": 1}}, "overrides"),
        ({"path": TWAP, "seed": -1}, "seed"),
        ({"path": TWAP, "seed": True}, "seed"),
        ({"path": TWAP, "overrides": {"strategy.kind.x": 1}}, "sweep.strategy.kind.x"),
    ],
)
def test_load_spec_refuses_bad_arguments(kwargs: dict, field: str) -> None:
    with pytest.raises(BacktestError) as err:
        load_spec(**kwargs)
    _named(err, field)


def test_load_spec_refuses_a_file_that_is_not_toml(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[backtest\n")
    with pytest.raises(BacktestError) as err:
        load_spec(bad)
    _named(err, "config")


@pytest.mark.parametrize(
    "key, value, field",
    [
        ("margin.bogus", 1, "margin.bogus"),
        ("margin.assets", {"ETH": {"initial_weight": "1.5"}}, "margin.assets.ETH.initial_weight"),
        ("margin.balances", {"USDT": "-1"}, "margin.balances.USDT"),
        ("margin.balances", {"DOGE": "1"}, "margin.balances.DOGE"),
        ("margin.markets", {}, 'margin.markets."ETH/USDT:USDT"'),
        ("backtest.seed", -3, "backtest.seed"),
    ],
)
def test_bad_margin_and_seed_are_refused_before_any_data_is_read(
    key: str, value, field: str
) -> None:
    from router.backtest.engine import set_dotted

    raw = tomllib.loads(BASIS.read_text())
    set_dotted(raw, key, value)
    before = copy.deepcopy(raw)
    with pytest.raises(BacktestError) as err:
        parse_spec(raw, BASIS.parent)
    _named(err, field)
    assert raw == before


# -- read_feed -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"path": PERP, "grid": "0.01"}, "grid"),
        ({"path": PERP, "fmt": "parquet"}, "format"),
        ({"path": PERP, "file_index": -1}, "file_index"),
        ({"path": PERP, "file_index": 1.0}, "file_index"),
        ({"path": PERP, "tickers": "no"}, "tickers"),
        ({"path": 3}, "path"),
        ({"path": ROOT / "no-such.gz"}, "path"),
    ],
)
def test_read_feed_refuses_bad_arguments(kwargs: dict, field: str) -> None:
    kwargs.setdefault("grid", Grid("0.01", "0.001"))
    with pytest.raises(FeedError) as err:
        read_feed(**kwargs)
    _named(err, field)


def test_read_feed_refuses_a_corrupt_gzip(tmp_path: Path) -> None:
    bad = tmp_path / "x.gz"
    bad.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(FeedError) as err:
        read_feed(bad, Grid("0.01", "0.001"))
    _named(err, "path")
    assert list(tmp_path.iterdir()) == [bad]


@pytest.mark.parametrize(
    "tick, lot", [("0", "1"), ("-1", "1"), (0.01, "1"), ("1", "abc"), ("1", "NaN")]
)
def test_grid_refuses_bad_steps(tick, lot) -> None:
    with pytest.raises(FeedError):
        Grid(tick, lot)


# -- L2Book --------------------------------------------------------------------------------------


def _l2_state(book: L2Book) -> tuple:
    return (
        dict(book.bids),
        dict(book.asks),
        book.state,
        book.last_update_id,
        book.gaps,
        book.dropped,
        book.applied,
        book.levels_applied,
        list(book._buffer),
        set(book.dirty_bids),
        set(book.dirty_asks),
    )


@pytest.mark.parametrize(
    "payload",
    [
        [1, [], []],  # not a tuple
        (1, [], []),  # a snapshot's shape, not an update's
        (5, 7, None, [(10, 1)], [("11", 1)]),  # string price: the bids must not be applied first
        (5, 7, None, [(10, 1)], [(11, -1)]),  # negative size
        (5, 7, None, [(0, 1)], []),  # price 0
        (5, 7, None, [(10, 1.5)], []),  # float size
        (5, 7, None, [(10, True)], []),  # bool is no size
        (5, 7, None, [(10, 1, 2)], []),  # not a pair
        (7, 5, None, [], []),  # U > u
        (5, None, None, [], []),  # ids half given
        (None, None, 4, [], []),  # pu without U, u
        ("5", 7, None, [], []),  # id not an int
    ],
)
def test_l2_apply_depth_refuses_bad_updates_and_changes_nothing(payload) -> None:
    book = L2Book()
    book.apply_snapshot((4, [(10, 5)], [(12, 3)]))
    before = _l2_state(book)
    with pytest.raises(BacktestError) as err:
        book.apply_depth(payload)
    assert err.value.field.startswith("depth") and err.value.allowed
    assert _l2_state(book) == before
    book._check()


@pytest.mark.parametrize(
    "payload", [(1, [(10, 5)]), (-1, [], []), (1, [(10, "5")], []), (1, [], None)]
)
def test_l2_apply_snapshot_refuses_bad_snapshots_and_changes_nothing(payload) -> None:
    book = L2Book()
    book.apply_snapshot((4, [(10, 5)], [(12, 3)]))
    before = _l2_state(book)
    with pytest.raises(BacktestError) as err:
        book.apply_snapshot(payload)
    assert err.value.field.startswith("snapshot")
    assert _l2_state(book) == before


# -- ReplayBookVenue -----------------------------------------------------------------------------


def _venue() -> ReplayBookVenue:
    venue = ReplayBookVenue("bk", "ETH/USDT", Grid("1", "1"), quote_decimals=2)
    venue.on_snapshot((None, [(100, 10), (99, 20)], [(101, 10), (102, 20)]))
    venue.place_limit("mine", "buy", 98, 3)
    venue.sync()
    return venue


def _venue_state(venue: ReplayBookVenue) -> tuple:
    return (
        _l2_state(venue.l2),
        venue.book._snapshot(),
        copy.deepcopy(venue._market),
        copy.deepcopy(venue._consumed),
        copy.deepcopy(venue._tape_taken),
        list(venue._ours),
        list(venue.maker_fills),
        venue._seq,
    )


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"name": ""}, "name"),
        ({"symbol": 3}, "symbol"),
        ({"grid": "1"}, "grid"),
        ({"quote_decimals": -1}, "quote_decimals"),
        ({"taker_fee_pips": 1.5}, "taker_fee_pips"),
        ({"maker_fee_pips": -2}, "maker_fee_pips"),
        ({"leg_cost": "1"}, "leg_cost"),
        ({"leg_cost": Decimal(-1)}, "leg_cost"),
        ({"kind": "option"}, "kind"),
        ({"owner": "market"}, "owner"),
        ({"on_gap": "skip"}, "on_gap"),
    ],
)
def test_replay_venue_refuses_bad_construction(kwargs: dict, field: str) -> None:
    args = {"name": "bk", "symbol": "ETH/USDT", "grid": Grid("1", "1")} | kwargs
    with pytest.raises(BacktestError) as err:
        ReplayBookVenue(args.pop("name"), args.pop("symbol"), args.pop("grid"), **args)
    _named(err, field)


@pytest.mark.parametrize(
    "call",
    [
        lambda v: v.on_snapshot((None, [(100, "x")], [])),
        lambda v: v.on_depth((None, None, None, [(100, 4)], [(101, None)])),
        lambda v: v.on_trade((1, 100, 0, "sell")),
        lambda v: v.on_trade((1, 100, 3, "sideways")),
        lambda v: v.on_trade([1, 100, 3, "sell"]),
        lambda v: v.place_limit("mine", "buy", 97, 1),  # id in use
        lambda v: v.place_limit("", "buy", 97, 1),
        lambda v: v.place_limit("new", "hold", 97, 1),
        lambda v: v.place_limit("new", "buy", 0, 1),
        lambda v: v.place_limit("new", "buy", 97, 2.0),
        lambda v: v.cancel("nope"),
        lambda v: v.cancel(7),
        lambda v: v.queue_ahead_lots(None),
        lambda v: v.taker_consumed("up", {}),
        lambda v: v.taker_consumed("buy", [(100, 1)]),
    ],
)
def test_replay_venue_methods_refuse_bad_input_and_change_nothing(call) -> None:
    venue = _venue()
    before = _venue_state(venue)
    with pytest.raises(BacktestError) as err:
        call(venue)
    assert err.value.field and err.value.allowed
    assert _venue_state(venue) == before
    venue._check()


# -- Arbitrageur ---------------------------------------------------------------------------------


def _pool():
    return build_amm(
        "amm",
        "ETH/USDT",
        Decimal(2000),
        base_reserve=Decimal(100),
        fee_pips=3000,
        gas=Decimal(1),
        base_decimals=18,
        quote_decimals=6,
    )


@pytest.mark.parametrize(
    "pools, owner, field",
    [
        ("amm", "arb", "pools"),
        ([object()], "arb", "pools[0]"),
        ([], "", "owner"),
    ],
)
def test_arbitrageur_refuses_bad_construction(pools, owner, field: str) -> None:
    with pytest.raises(BacktestError) as err:
        Arbitrageur(pools, owner=owner)
    _named(err, field)


@pytest.mark.parametrize(
    "mid, ts_ns, field",
    [
        (2100, 10, "mid"),
        (Decimal("NaN"), 10, "mid"),
        (Decimal(0), 10, "mid"),
        (Decimal(2100), -1, "ts_ns"),
        (Decimal(2100), 5, "ts_ns"),
        (Decimal(2100), 10.0, "ts_ns"),
    ],
)
def test_arbitrageur_align_refuses_bad_input_and_changes_nothing(mid, ts_ns, field: str) -> None:
    pool = _pool()
    arb = Arbitrageur([pool])
    asyncio.run(arb.align(Decimal(2050), 8))
    before = (pool.pool.reserve0, pool.pool.reserve1, list(arb.trades), arb._seq, arb._last_ts_ns)
    with pytest.raises(BacktestError) as err:
        asyncio.run(arb.align(mid, ts_ns))
    _named(err, field)
    assert (
        pool.pool.reserve0,
        pool.pool.reserve1,
        list(arb.trades),
        arb._seq,
        arb._last_ts_ns,
    ) == before
    arb._check()


# -- load_plugin ---------------------------------------------------------------------------------

EXAMPLE = "router.backtest.examples.fixed_spread_venue:FixedSpreadVenue"


@pytest.mark.parametrize(
    "spec, kwargs, field",
    [
        (EXAMPLE, {"name": "", "symbol": "ETH/USDT"}, "venues.name"),
        (EXAMPLE, {"name": "otc", "symbol": None}, "venues.symbol"),
        (EXAMPLE, {"name": "otc", "symbol": "ETH/USDT", "params": ["5"]}, "venues.otc.params"),
        (
            EXAMPLE,
            {"name": "otc", "symbol": "ETH/USDT", "params": {"nope": "1"}},
            "venues.otc.params",
        ),
        (
            EXAMPLE,
            {"name": "otc", "symbol": "ETH/USDT", "params": {"spread_bps": 0.5}},
            "otc.spread_bps",
        ),
        (
            "router.sim.feed:SNAPSHOT",
            {"name": "otc", "symbol": "ETH/USDT"},
            "venues.otc.plugin",
        ),
        (42, {"name": "otc", "symbol": "ETH/USDT"}, "venues.otc.plugin"),
    ],
)
def test_load_plugin_refuses_bad_input(spec, kwargs: dict, field: str) -> None:
    with pytest.raises(BacktestError) as err:
        load_plugin(spec, **kwargs)
    _named(err, field)


# -- run_sweep -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"config": ROOT / "nope.toml"}, "config"),
        ({"grid": {}}, "grid"),
        ({"grid": {"strategy.slices": []}}, "grid.strategy.slices"),
        ({"grid": {"strategy.slices": [1.5]}}, "grid.strategy.slices"),
        ({"seed": "7"}, "seed"),
        ({"workers": 0}, "workers"),
        ({"ray_address": ""}, "ray_address"),
        (
            {"grid": {"strategy.slices": [4, -1]}},
            "strategy.slices",
        ),  # the second point is bad: none runs
    ],
)
def test_run_sweep_refuses_bad_input_before_running_anything(
    kwargs: dict, field: str, monkeypatch
) -> None:
    from router.backtest import sweep

    ran = []
    monkeypatch.setattr(sweep, "run_point", lambda *args: ran.append(args))
    args = {"config": TWAP, "grid": {"strategy.slices": [4]}} | kwargs
    with pytest.raises(BacktestError) as err:
        run_sweep(args.pop("config"), args.pop("grid"), **args)
    _named(err, field)
    assert ran == []
