"""Queues that move: where recorded cancellations happen relative to our resting order is the
queue model's choice, and a maker strategy's fills follow it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.backtest.book import ReplayBookVenue
from router.backtest.engine import load_spec, run_backtest
from router.backtest.examples.join_bid import FrontFirstQueue
from router.backtest.queues import (
    ProbQueue,
    RiskAverseQueue,
    build_queue_model,
    cancelled_ahead,
)
from router.sim.errors import BacktestError
from router.sim.feed import Grid

ROOT = Path(__file__).resolve().parents[4]
TWAP = ROOT / "config/examples/backtest-twap.toml"
FRONT_FIRST = "router.backtest.examples.join_bid:FrontFirstQueue"


def _queue_after_cancels(model) -> ReplayBookVenue:
    """10 lots ahead of our 5, 4 join behind, then 6 are cancelled."""
    venue = ReplayBookVenue("bk", "ETH/USDT", Grid("1", "1"), quote_decimals=2, queue_model=model)
    venue.on_snapshot((None, [(100, 10), (99, 20)], [(101, 10), (102, 20)]))
    venue.place_limit("me", "buy", 100, 5)
    venue.on_depth((None, None, None, [(100, 14)], []))
    venue.on_depth((None, None, None, [(100, 8)], []))
    venue.sync()
    venue._check()
    return venue


@pytest.mark.parametrize(
    "model, ahead",
    [
        (RiskAverseQueue(), 8),  # 4 from behind, the 2 left from ahead
        (ProbQueue("power", 1), 6),  # floor(6 * 10 / 14) = 4 from ahead
        (ProbQueue("power", 2), 5),  # floor(6 * 100 / 116) = 5 from ahead
        (FrontFirstQueue(), 4),  # all 6 from ahead
    ],
)
def test_the_model_decides_how_far_a_cancellation_moves_us(model, ahead: int) -> None:
    venue = _queue_after_cancels(model)
    assert venue.queue_ahead_lots("me") == ahead
    venue.on_trade((1, 100, 6, "sell"))
    assert sum(f.qty_lots for f in venue.maker_fills) == max(0, 6 - ahead)
    venue._check()


@given(
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(1, 10**6),
    st.sampled_from(
        [RiskAverseQueue(), ProbQueue("power", 2), ProbQueue("log"), FrontFirstQueue()]
    ),
)
def test_a_model_answer_is_always_possible(ahead: int, behind: int, cancelled: int, model) -> None:
    cancelled = min(cancelled, ahead + behind) or 0
    got = cancelled_ahead(model, ahead, behind, cancelled)
    assert 0 <= got <= min(ahead, cancelled) and cancelled - got <= behind


@given(st.integers(1, 10**5), st.integers(1, 10**5), st.integers(1, 10**4))
def test_prob_models_take_more_from_the_longer_side(
    ahead: int, behind: int, cancelled: int
) -> None:
    for model in (ProbQueue("power", 2), ProbQueue("log")):
        share = model.ahead_lots(ahead, behind, cancelled)
        if ahead > behind:
            assert share >= cancelled // 2
        elif ahead < behind:
            assert share <= (cancelled + 1) // 2


def test_a_maker_strategys_fills_move_with_the_queue_model() -> None:
    """JoinBestBid re-joins the best bid every 0.3 s on the recorded spot book: the further
    forward the model puts us, the more of our bids fill before we cancel them."""
    filled = {}
    for name, params in (
        ("risk_averse", {}),
        ("power", {"n": 1}),
        ("power", {"n": 2}),
        ("power", {"n": 3}),
        (FRONT_FIRST, {}),
    ):
        spec = load_spec(
            TWAP,
            overrides={
                "strategy": {
                    "kind": "router.backtest.examples.join_bid:JoinBestBid",
                    "venue": "binance-spot",
                    "qty": "0.5",
                    "interval_s": "0.3",
                },
                "venues": [],
                "backtest.queue_model": name,
                "backtest.queue_params": params,
            },
        )
        book = run_backtest(spec)["books"]["binance-spot"]
        filled[(name, params.get("n"))] = book["our_resting_filled_qty"]
    order = list(filled.values())
    assert order == sorted(order), filled
    assert order[0] < order[-1]
    assert all(isinstance(v, Decimal) for v in order)


@pytest.mark.parametrize(
    "name, params, field",
    [
        ("fifo", {}, "backtest.queue_model"),
        ("power", {"n": 0}, "backtest.queue_params.n"),
        ("power", {"k": 2}, "backtest.queue_params.k"),
        ("log", {"n": 2}, "backtest.queue_params.n"),
        ("risk_averse", {"n": 2}, "backtest.queue_params"),
        ("no.such.module:Q", {}, "backtest.queue_model"),
        ("router.backtest.queues:cancelled_ahead", {}, "backtest.queue_model"),
        (FRONT_FIRST, {"x": 1}, "backtest.queue_params"),
    ],
)
def test_bad_queue_models_name_the_key(name: str, params: dict, field: str) -> None:
    with pytest.raises(BacktestError) as info:
        build_queue_model(name, params)
    assert info.value.field == field
    with pytest.raises(BacktestError) as info:
        load_spec(TWAP, overrides={"backtest.queue_model": name, "backtest.queue_params": params})
    assert info.value.field == field
