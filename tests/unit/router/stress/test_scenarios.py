"""Stress scenarios: parsing and refusals, the seeded Monte Carlo model, tail statistics."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.margin.quantities import SCALE
from router.model.errors import ConfigError
from router.stress.engine import tail_stats
from router.stress.scenarios import (
    MonteCarloModel,
    StressInputError,
    load_scenarios,
    parse_scenarios,
    shock,
)

D = Decimal
EXAMPLE = Path(__file__).resolve().parents[4] / "config" / "examples" / "stress-scenarios.toml"


def test_example_file_parses_into_every_kind_of_scenario() -> None:
    scenarios = load_scenarios(EXAMPLE)
    names = [s.name for s in scenarios.scenarios]
    assert "crash-and-rebound" in names and "funding-spike" in names and "thin-book-crash" in names
    kinds = {(s.oracle.mode if s.oracle else None) for s in scenarios.scenarios}
    assert {"stale", "wrong"} <= kinds
    assert scenarios.monte_carlo is not None and scenarios.monte_carlo.assets == ("ETH",)
    crash = next(s for s in scenarios.scenarios if s.name == "crash-and-rebound")
    assert [s.move("ETH") for s in crash.steps] == [
        D("-0.10"),
        D("-0.22"),
        D("-0.30"),
        D("-0.12"),
        D("-0.05"),
    ]
    assert crash.crowd == 20


@pytest.mark.parametrize(
    "data, field",
    [
        ({}, "scenarios"),
        ({"scenarios": []}, "scenarios"),
        ({"scenarios": [{"name": "x", "shocks": {"ETH": "-1"}}]}, "scenarios[0].shocks.ETH"),
        ({"scenarios": [{"name": "x", "shocks": {"ETH": "-1.5"}}]}, "scenarios[0].shocks.ETH"),
        ({"scenarios": [{"name": "x", "shocks": {"ETH": -0.2}}]}, "scenarios[0].shocks.ETH"),
        ({"scenarios": [{"name": "x", "shocks": {}}]}, "scenarios[0].shocks"),
        ({"scenarios": [{"name": "x"}]}, "scenarios[0].shocks"),
        ({"scenarios": [{"name": "x", "shocks": {"ETH": "0"}, "typo": 1}]}, "scenarios[0].typo"),
        (
            {
                "scenarios": [
                    {"name": "x", "path": [{"t_min": "2", "ETH": "0"}, {"t_min": "1", "ETH": "0"}]}
                ]
            },
            "scenarios[0].path[1].t_min",
        ),
        (
            {"scenarios": [{"name": "x", "shocks": {"ETH": "0"}, "liquidity": {"v": "0"}}]},
            "scenarios[0].liquidity.v",
        ),
        (
            {"scenarios": [{"name": "x", "shocks": {"ETH": "0"}, "liquidity": {"v": "1.5"}}]},
            "scenarios[0].liquidity.v",
        ),
        (
            {
                "scenarios": [
                    {
                        "name": "x",
                        "shocks": {"ETH": "0"},
                        "oracle": {"asset": "ETH", "mode": "late"},
                    }
                ]
            },
            "scenarios[0].oracle.mode",
        ),
        (
            {
                "scenarios": [
                    {
                        "name": "x",
                        "shocks": {"ETH": "0"},
                        "oracle": {"asset": "ETH", "mode": "wrong", "sources": 2, "bad_sources": 3},
                    }
                ]
            },
            "scenarios[0].oracle.bad_sources",
        ),
        (
            {
                "scenarios": [
                    {"name": "x", "shocks": {"ETH": "0"}},
                    {"name": "x", "shocks": {"ETH": "0"}},
                ]
            },
            "scenarios[1].name",
        ),
        ({"monte_carlo": {"vol": {"ETH": "0.01"}, "df": "2"}}, "monte_carlo.df"),
        ({"monte_carlo": {"vol": {}}}, "monte_carlo.vol"),
        (
            {
                "monte_carlo": {
                    "vol": {"ETH": "0.01", "BTC": "0.01"},
                    "correlation": {"ETH/SOL": "0.5"},
                }
            },
            "monte_carlo.correlation.ETH/SOL",
        ),
        (
            {
                "monte_carlo": {
                    "vol": {"ETH": "0.01", "BTC": "0.01"},
                    "correlation": {"BTC/ETH": "1.5"},
                }
            },
            "monte_carlo.correlation.BTC/ETH",
        ),
    ],
)
def test_bad_scenarios_are_refused_naming_the_key(data: dict, field: str) -> None:
    with pytest.raises(StressInputError) as info:
        parse_scenarios(data)
    assert info.value.field == field


def test_bad_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "s.toml"
    bad.write_text('[[scenarios]]\nname = "x"\nshocks = { ETH = "-2" }\n')
    with pytest.raises(ConfigError, match="shocks.ETH"):
        load_scenarios(bad)
    with pytest.raises(ConfigError, match="readable"):
        load_scenarios(tmp_path / "missing.toml")
    (tmp_path / "syntax.toml").write_text("[[scenarios\n")
    with pytest.raises(ConfigError, match="valid TOML"):
        load_scenarios(tmp_path / "syntax.toml")


@settings(max_examples=60)
@given(st.decimals(min_value=D("-3"), max_value=D("3"), places=4))
def test_a_move_is_accepted_exactly_when_above_minus_100_percent(move: Decimal) -> None:
    try:
        scenario = shock("s", {"ETH": str(move)})
    except StressInputError as exc:
        assert move <= -1 and exc.field == "s.shocks.ETH"
        return
    assert move > -1 and scenario.steps[0].move("ETH") == move


def test_non_positive_definite_correlation_is_refused() -> None:
    corr = np.array([[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]])
    with pytest.raises(StressInputError, match="positive-definite"):
        MonteCarloModel(("A", "B", "C"), (0.01, 0.01, 0.01), corr)


def _model(**kw) -> MonteCarloModel:
    args = dict(
        assets=("BTC", "ETH"),
        vol=(0.02, 0.03),
        correlation=np.array([[1.0, 0.8], [0.8, 1.0]]),
        df=4.0,
        steps=5,
        paths=100,
    )
    args.update(kw)
    return MonteCarloModel(**args)


def test_monte_carlo_paths_are_seeded_and_above_minus_one() -> None:
    model = _model()
    a, b, c = model.sample(7), model.sample(7), model.sample(8)
    assert a.shape == (100, 5, 2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.all(a > -1)


def test_monte_carlo_has_the_asked_correlation_volatility_and_fat_tails() -> None:
    model = _model(steps=1, paths=40_000)
    moves = model.sample(1)[:, 0, :]
    returns = np.log1p(moves)
    assert abs(np.corrcoef(returns.T)[0, 1] - 0.8) < 0.03
    assert np.allclose(returns.std(axis=0), [0.02, 0.03], rtol=0.08)
    z = returns[:, 0] / returns[:, 0].std()
    excess_kurtosis = float(np.mean(z**4) - 3)
    assert excess_kurtosis > 1.5  # Student-t(4) is fat tailed; a normal model would give ~0
    normal = _model(steps=1, paths=40_000, df=1e6).sample(1)[:, 0, 0]
    zn = np.log1p(normal) / np.log1p(normal).std()
    assert abs(float(np.mean(zn**4) - 3)) < 0.3


def test_tail_stats_by_hand() -> None:
    units = [i * SCALE for i in range(1, 101)]  # losses 1..100
    stats = tail_stats(units, [i > 95 for i in range(1, 101)])
    assert stats.var == D("99") and stats.es == D("100") and stats.worst == D("100")
    assert stats.mean_loss == D("50.5") and stats.liquidated_share == D("0.05")
    stats = tail_stats(units, [False] * 100, D("0.95"))
    assert stats.var == D("95") and stats.es == D("98")  # mean of 96..100


@settings(max_examples=60)
@given(st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=300))
def test_tail_stats_are_ordered(losses: list[int]) -> None:
    stats = tail_stats(losses, [False] * len(losses))
    assert stats.mean_loss <= stats.es <= stats.worst
    assert stats.var <= stats.es
    below = sum(1 for x in losses if Decimal(x) / SCALE <= stats.var)
    assert below >= math.ceil(D("0.99") * len(losses))


def test_tail_stats_refuse_bad_input() -> None:
    with pytest.raises(StressInputError):
        tail_stats([], [])
    with pytest.raises(StressInputError):
        tail_stats([1], [False], D("1"))
