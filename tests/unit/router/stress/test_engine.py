"""The stress engine: liquidations for real on fresh venues, the cascade, funding, oracle faults,
thin venues, cross against isolated, and the Monte Carlo tail."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.app import DEFAULT_CONFIG
from router.config import load_config
from router.margin.quantities import QUANTUM, SCALE
from router.stress.engine import PPB, StressEngine, load_portfolio, nav_units
from router.stress.scenarios import (
    MonteCarloModel,
    OracleFault,
    Scenario,
    Step,
    StressInputError,
    shock,
)

D = Decimal
ROOT = Path(__file__).resolve().parents[4]
BASIS = ROOT / "config" / "examples" / "account-basis.toml"
MARKET = load_config(DEFAULT_CONFIG)

# 50 ETH long at 20x on 20,000 USDC: liquidated about 12.6% down.
LONG = """[collateral]
USDC = "20000"
[[positions]]
symbol = "ETH-PERP"
size = "50"
entry = "2700"
mark = "2700"
max_leverage = 20
"""
# 200 ETH long at 20x on 60,000 USDC: big enough that its own liquidations move the venues.
BIG = LONG.replace('"20000"', '"60000"').replace('"50"', '"200"').replace('"2700"', '"3000"')


@pytest.fixture(scope="module")
def long_engine(tmp_path_factory: pytest.TempPathFactory) -> StressEngine:
    path = tmp_path_factory.mktemp("acc") / "long.toml"
    path.write_text(LONG)
    return StressEngine(load_portfolio(path), MARKET)


@pytest.fixture(scope="module")
def big_engine(tmp_path_factory: pytest.TempPathFactory) -> StressEngine:
    path = tmp_path_factory.mktemp("acc") / "big.toml"
    path.write_text(BIG)
    return StressEngine(load_portfolio(path), MARKET)


@pytest.fixture(scope="module")
def basis_engine() -> StressEngine:
    return StressEngine(load_portfolio(BASIS), MARKET)


def test_no_move_loses_nothing_and_liquidates_nothing(long_engine: StressEngine) -> None:
    result = long_engine.run(shock("flat", {"ETH": "0"}))
    assert result.loss == 0 and result.liquidations == [] and result.bad_debt == 0
    assert result.worst_headroom == D("20000") - D("50") * D("2700") / 20


def test_a_shock_above_the_liquidation_price_only_marks_to_market(
    long_engine: StressEngine,
) -> None:
    result = long_engine.run(shock("down5", {"ETH": "-0.05"}))
    assert result.liquidations == []
    assert result.loss == D("50") * D("2700") * D("0.05")  # exact: 6,750


def test_liquidation_runs_for_real_and_keeps_the_ledger_consistent(
    long_engine: StressEngine,
) -> None:
    result = long_engine.run(shock("down14", {"ETH": "-0.14"}))
    assert result.liquidations, "a 14% drop is below the 12.6% liquidation price"
    event = result.liquidations[0]
    assert event.symbol == "ETH-PERP" and event.size < 0 and event.mark == D("2322")
    assert event.venue_qty == -event.size - event.unfilled_qty and event.venue_avg_price is not None
    # booked at the venues' price (in the mark's terms), the fee on that fill's notional
    assert event.price is not None and event.price < event.mark
    assert abs(event.fund_slippage - (event.mark - event.price) * abs(event.size)) <= D("1e-8")
    assert event.fee == (abs(event.size) * event.price * D("0.005")).quantize(
        QUANTUM, "ROUND_CEILING"
    )
    result.ledger._check()
    assert result.ledger.journal.verify() is None
    assert any(e["event"] == "liquidation_step" for e in result.ledger.journal.events())


def test_the_portfolio_template_never_changes(long_engine: StressEngine) -> None:
    before = (long_engine.portfolio.cross.snapshot(), long_engine.portfolio.isolated.snapshot())
    long_engine.run(shock("down30", {"ETH": "-0.30"}))
    long_engine.run(shock("down30", {"ETH": "-0.30"}), "isolated")
    assert (
        long_engine.portfolio.cross.snapshot(),
        long_engine.portfolio.isolated.snapshot(),
    ) == before


def test_runs_are_deterministic(long_engine: StressEngine) -> None:
    a = long_engine.run(shock("down14", {"ETH": "-0.14"}))
    b = long_engine.run(shock("down14", {"ETH": "-0.14"}))
    assert a.to_json_dict() == b.to_json_dict()


@settings(max_examples=12)
@given(st.integers(0, 60), st.integers(0, 60))
def test_a_deeper_drop_never_loses_less_on_a_long(
    long_engine: StressEngine, a: int, b: int
) -> None:
    small, large = sorted((a, b))
    loss_small = long_engine.run(shock("s", {"ETH": D(-small) / 100})).loss
    loss_large = long_engine.run(shock("s", {"ETH": D(-large) / 100})).loss
    assert loss_large >= loss_small


def test_the_cascade_is_modelled(big_engine: StressEngine) -> None:
    """One account's liquidation does not move the market enough to liquidate it again; twenty
    like it selling into thinned venues do, round after round, at lower and lower marks."""
    alone = big_engine.run(shock("s", {"ETH": "-0.08"}))
    # one round (a fill below the mark may take a second step on the same position in it)
    assert alone.cascade_rounds == 1 and {e.cascade_round for e in alone.liquidations} == {0}
    thin = (("binance-book", D("0.2")), ("uni-v2", D("0.2")))
    crowd = big_engine.run(shock("s", {"ETH": "-0.08"}, crowd=5, liquidity=thin))
    assert len(crowd.liquidations) >= 3  # step after step as the venues give way
    marks = [e.mark for e in crowd.liquidations]
    assert marks == sorted(marks, reverse=True) and marks[-1] < marks[0]
    assert crowd.loss > alone.loss
    crowd.ledger._check()


def test_thin_venue_costs_the_fund_more_slippage(big_engine: StressEngine) -> None:
    full = big_engine.run(shock("s", {"ETH": "-0.08"}))
    thin = big_engine.run(
        shock("s", {"ETH": "-0.08"}, liquidity=(("binance-book", D("0.1")), ("uni-v2", D("0.1"))))
    )
    assert full.liquidations[0].size == thin.liquidations[0].size
    assert thin.liquidations[0].fund_slippage > full.liquidations[0].fund_slippage


def test_curve_impact_agrees_with_real_venues(big_engine: StressEngine) -> None:
    steps = [(D(1), {"ETH": 930_000_000}), (D(2), {"ETH": 915_000_000})]
    real = big_engine.run_path_real("cross", steps, "real")
    fast = big_engine.run_path(
        big_engine.portfolio.cross, "cross", steps, big_engine.tables(), "fast"
    )
    assert [e.size for e in real.liquidations][:1] == [e.size for e in fast.liquidations][:1]
    # Liquidations fill at the venues' prices (the loss includes that execution), which the
    # curve path approximates from its impact table: within 1.5% here (0.2% when they filled at
    # the mark and only the marks depended on the venues).
    assert abs(real.loss - fast.loss) <= D("0.015") * real.loss


def test_funding_spike_is_charged_exactly(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(LONG.replace('"20000"', '"100000"'))
    engine = StressEngine(load_portfolio(path), MARKET)
    flat = Step(D(0), (("ETH", D(0)),))
    result = engine.run(
        Scenario(
            "funding", (flat, Step(D(60), (("ETH", D(0)),))), funding=(("ETH-PERP", D("0.005")),)
        )
    )
    assert result.liquidations == []
    assert result.loss == 2 * D("50") * D("2700") * D("0.005")  # longs pay 675 per step


def test_stale_oracle_delays_the_liquidation(long_engine: StressEngine) -> None:
    steps = (Step(D(1), (("ETH", D("-0.15")),)), Step(D(2), (("ETH", D("-0.15")),)))
    clean = long_engine.run(Scenario("clean", steps))
    stale = long_engine.run(Scenario("stale", steps, oracle=OracleFault("ETH", "stale", 0, 0)))
    assert clean.liquidations[0].step == 0
    assert stale.liquidations[0].step == 1
    assert stale.path[0].marks == (("ETH-PERP", D("2700")),)  # frozen while stale


def test_wrong_oracle_liquidates_only_when_the_median_is_wrong(long_engine: StressEngine) -> None:
    steps = (Step(D(0), (("ETH", D(0)),)),)
    one_bad = long_engine.run(
        Scenario("w1", steps, oracle=OracleFault("ETH", "wrong", 0, 0, D("-0.25"), 3, 1))
    )
    two_bad = long_engine.run(
        Scenario("w2", steps, oracle=OracleFault("ETH", "wrong", 0, 0, D("-0.25"), 3, 2))
    )
    assert one_bad.liquidations == []  # the outlier is dropped
    assert two_bad.liquidations and two_bad.liquidations[0].mark == D("2025")
    assert two_bad.loss > 0  # a spurious liquidation at a wrong price costs real money


@pytest.mark.parametrize(
    "scenario, field",
    [
        (shock("x", {"DOGE": "-0.1"}), "x: asset"),
        (shock("x", {"ETH": "-0.1"}, funding=(("SOL-PERP", D("0.01")),)), "x: funding market"),
        (shock("x", {"ETH": "-0.1"}, liquidity=(("nowhere", D("0.5")),)), "x: liquidity venue"),
    ],
)
def test_unknown_names_are_refused_before_anything_runs(
    long_engine: StressEngine, scenario: Scenario, field: str
) -> None:
    before = long_engine.portfolio.cross.snapshot()
    with pytest.raises(StressInputError) as info:
        long_engine.run(scenario)
    assert info.value.field == field
    assert long_engine.portfolio.cross.snapshot() == before


def test_bad_mode_and_bad_model_are_refused(long_engine: StressEngine) -> None:
    with pytest.raises(StressInputError):
        long_engine.run(shock("x", {"ETH": "0"}), "hedged")
    import numpy as np

    with pytest.raises(StressInputError):
        long_engine.monte_carlo(MonteCarloModel(("DOGE",), (0.01,), np.eye(1), paths=5), 0)
    with pytest.raises(StressInputError):
        long_engine.monte_carlo(MonteCarloModel(("ETH",), (0.01,), np.eye(1), paths=5), -1)


def test_isolated_form_posts_each_positions_im(basis_engine: StressEngine) -> None:
    portfolio = basis_engine.portfolio
    pos = portfolio.isolated.subs[portfolio.sub_id].positions["ETH-PERP"]
    assert pos.mode == "isolated" and pos.isolated_margin_units == 1500 * SCALE
    assert portfolio.isolated_extra_units == 1500 * SCALE  # the basis file has no USDC
    assert (
        nav_units(portfolio.isolated, portfolio.sub_id)
        - nav_units(portfolio.cross, portfolio.sub_id)
        == 1500 * SCALE
    )


def test_netting_shrinks_the_tail_of_a_hedged_basis(basis_engine: StressEngine) -> None:
    model = MonteCarloModel(("ETH",), (0.012,), [[1.0]], 4.0, 10, D(6), 300)
    result = basis_engine.monte_carlo(model, seed=3)
    assert result.stats["cross"].es == 0 and result.stats["cross"].liquidated_share == 0
    assert result.stats["isolated"].es > 0 and result.stats["isolated"].liquidated_share > 0
    again = basis_engine.monte_carlo(model, seed=3)
    assert again.losses == result.losses


def test_monte_carlo_moves_are_rounded_once_to_ppb(long_engine: StressEngine) -> None:
    model = MonteCarloModel(("ETH",), (0.0,), [[1.0]], 4.0, 2, D(1), 3)
    result = long_engine.monte_carlo(model, seed=0)
    assert result.losses["cross"] == [0, 0, 0]  # zero volatility: factor exactly 1e9 ppb
    assert PPB == 10**9


def test_clone_is_an_equal_and_independent_ledger(big_engine: StressEngine) -> None:
    template = big_engine.portfolio.cross
    twin = template.clone()
    assert twin.snapshot() == template.snapshot()
    twin._check()
    twin.set_mark("ETH-PERP", "2000")
    twin.liquidate(big_engine.portfolio.sub_id)
    twin._check()
    assert twin.snapshot() != template.snapshot()
    assert (
        template.subs[big_engine.portfolio.sub_id].positions["ETH-PERP"].size_units == 200 * SCALE
    )
    template._check()


def test_shocks_per_instrument_show_basis_risk(basis_engine: StressEngine) -> None:
    """Spot and perp shocked together: the hedged basis barely moves. The perp alone up 5%: the
    short loses its 5% while the spot it hedges stays put, and the marks show it."""
    together = basis_engine.run(shock("both", {"ETH": "0.05"}))
    apart = basis_engine.run(shock("perp-only", {"ETH-PERP": "0.05"}))
    assert abs(together.loss) < apart.loss
    # 10 ETH short, perp mark 3,000 -> 3,150: 1,500 lost (the spot mark did not move)
    assert apart.loss == Decimal("1500")
    ledger = apart.ledger
    assert ledger.marks["ETH-PERP"].price_units == 3150 * SCALE
    assert ledger.marks["ETH"].price_units == 3000 * SCALE
    ledger._check()


def test_a_shock_naming_an_unknown_instrument_is_refused(basis_engine: StressEngine) -> None:
    with pytest.raises(StressInputError, match="BTC-PERP"):
        basis_engine.run(shock("typo", {"BTC-PERP": "0.05"}))


def test_monte_carlo_paths_pay_funding(long_engine: StressEngine) -> None:
    """Zero volatility: the only loss on a path is the funding the long pays every step."""
    flat = MonteCarloModel(("ETH",), (0.0,), [[1.0]], 4.0, 3, D(1), 2)
    paid = MonteCarloModel(("ETH",), (0.0,), [[1.0]], 4.0, 3, D(1), 2, (("ETH-PERP", D("0.001")),))
    assert long_engine.monte_carlo(flat, seed=0).losses["cross"] == [0, 0]
    losses = long_engine.monte_carlo(paid, seed=0).losses["cross"]
    # 50 ETH long at a 2,700 mark pays 0.1% x 135,000 = 135 per step, 3 steps
    assert losses == [405 * SCALE, 405 * SCALE]  # quote ledger units
    with pytest.raises(StressInputError, match="monte_carlo.funding"):
        long_engine.monte_carlo(
            MonteCarloModel(("ETH",), (0.0,), [[1.0]], 4.0, 3, D(1), 2, (("NOPE", D("0.1")),)),
            seed=0,
        )
