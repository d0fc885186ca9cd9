"""One backtest run on the committed sample: determinism, venues, plug-ins and bad config."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from router.backtest.engine import load_spec, parse_spec, read_feeds, run_backtest
from router.backtest.plugins import load_plugin
from router.backtest.report import COMPONENTS, summarise
from router.sim.errors import BacktestError

ROOT = Path(__file__).resolve().parents[4]
TWAP = ROOT / "config/examples/backtest-twap.toml"
BASIS = ROOT / "config/examples/backtest-basis.toml"


@pytest.fixture(scope="module")
def twap():
    spec = load_spec(TWAP)
    feeds = read_feeds(spec)
    return spec, feeds, summarise(run_backtest(spec, feeds=feeds))


def test_twap_fills_the_parent_and_its_costs_add_up(twap) -> None:
    _, _, summary = twap
    (parent,) = summary["parents"]
    from decimal import Decimal

    assert Decimal(parent["filled_qty"]) == Decimal(parent["qty"]) == 20
    assert sum(Decimal(parent[c]) for c in COMPONENTS) == Decimal(parent["shortfall"])
    assert summary["books"]["binance-spot"]["gaps"] == 0
    assert {f["venue"] for f in summary["fills"]} >= {"binance-spot"}


def test_same_seed_same_result_and_jitter_depends_on_seed(twap) -> None:
    _spec, feeds, summary = twap
    again = summarise(run_backtest(load_spec(TWAP), feeds=feeds))
    assert again == summary
    other = summarise(run_backtest(load_spec(TWAP, seed=99), feeds=feeds))
    assert [f["ts_ns"] for f in other["fills"]] != [f["ts_ns"] for f in summary["fills"]]


def test_single_venue_restriction_routes_only_there(twap) -> None:
    spec, feeds, _ = twap
    one = summarise(run_backtest(spec, feeds=feeds, route_venues=["uni-v2"]))
    assert {f["venue"] for f in one["fills"]} == {"uni-v2"}


def test_basis_trade_hedges_through_the_executor_with_margin() -> None:
    spec = load_spec(BASIS, overrides={"backtest.end_offset_ms": 11_000})
    summary = summarise(run_backtest(spec))
    spot, perp = summary["parents"]
    from decimal import Decimal

    assert Decimal(spot["filled_qty"]) == Decimal(perp["filled_qty"]) == 2
    assert summary["executions"][0]["status"] == "filled"
    assert summary["funding"] and summary["margin"] and not summary["liquidations"]


def _raw() -> dict:
    return tomllib.loads(TWAP.read_text())


@pytest.mark.parametrize(
    "key, value, field",
    [
        ("backtest.latency.model", "random", "backtest.latency.model"),
        ("backtest.latency.order_ms", -1, "backtest.latency.order_ms"),
        ("backtest.arb_interval_ms", 0.5, "backtest.arb_interval_ms"),
        ("backtest.bogus", 1, "backtest.bogus"),
        ("strategy.kind", "vwap", "strategy.kind"),
    ],
)
def test_bad_config_names_the_key(key: str, value, field: str) -> None:
    from router.backtest.engine import set_dotted

    raw = _raw()
    set_dotted(raw, key, value)
    with pytest.raises(BacktestError) as err:
        spec = parse_spec(raw, TWAP.parent)
        run_backtest(spec)
    assert err.value.field == field


def test_unknown_plugin_and_non_venue_plugin_are_refused() -> None:
    with pytest.raises(BacktestError, match="importable"):
        load_plugin("no.such.module:Venue", name="v", symbol="ETH/USDT")
    with pytest.raises(BacktestError, match="VenueAdapter"):
        load_plugin(
            "router.sim.pools:Arbitrageur", name="v", symbol="ETH/USDT", params={"pools": []}
        )
    with pytest.raises(BacktestError):
        load_plugin("not a spec", name="v", symbol="ETH/USDT")


def test_example_plugin_satisfies_the_venue_protocol() -> None:
    from router.model.venue import VenueAdapter

    venue = load_plugin(
        "router.backtest.examples.fixed_spread_venue:FixedSpreadVenue",
        name="otc",
        symbol="ETH/USDT",
        params={"spread_bps": "5"},
    )
    assert isinstance(venue, VenueAdapter)


def test_margin_comes_from_the_shared_builder_with_the_market_config_terms(monkeypatch) -> None:
    from router.backtest import engine

    built = []

    def spy(market, account=None, **kwargs):
        setup = engine_build_margin(market, account, **kwargs)
        built.append((account, setup))
        return setup

    engine_build_margin = engine.build_margin
    monkeypatch.setattr(engine, "build_margin", spy)
    spec = load_spec(
        BASIS,
        overrides={
            "backtest.end_offset_ms": 4_000,
            "margin.liquidation_fee_bps": 75,
            "margin.marks": {"ETH": "2600"},
        },
    )
    result = run_backtest(spec)
    ((account, setup),) = built
    assert account == "backtest" and setup.sub_id == "backtest/main"
    assert setup.ledger.liquidation_fee_bps == 75
    assert setup.perp_markets == {"ETH/USDT:USDT": "ETH-PERP"}
    assert result["margin"]  # sampled; marks then follow the replayed mids
    assert all(row["ts_ns"] > 0 for row in result["margin"])
