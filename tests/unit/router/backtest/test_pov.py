"""POV: participation at ``rate`` of the replayed traded volume, never beyond the parent, finishing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.backtest.engine import load_spec, read_feeds, run_backtest
from router.backtest.strategies import Pov
from router.sim.errors import BacktestError
from router.sim.feed import TRADE

ROOT = Path(__file__).resolve().parents[4]
TWAP = ROOT / "config/examples/backtest-twap.toml"
LOT = Decimal("0.001")


class StubContext:
    """The part of the engine's Context that POV uses; ``route`` enforces the engine's own rule."""

    def __init__(self) -> None:
        self.children: list[Decimal] = []
        self.timer = None

    def parent(self, name: str, side: str, qty: Decimal, symbol: str | None = None):
        self.the_parent = SimpleNamespace(
            name=name, side=side, qty=qty, symbol=symbol or "ETH/USDT", sent_qty=Decimal(0)
        )
        return self.the_parent

    def set_timer(self, name: str, interval_ns: int, count: int | None = None) -> None:
        self.timer = (name, interval_ns, count)

    def reference_venue(self, symbol: str | None) -> str:
        return "ref"

    def qty_of(self, venue: str, lots: int) -> Decimal:
        return LOT * lots

    def route(self, parent, qty: Decimal, *, limit_price=None) -> None:
        assert isinstance(qty, Decimal) and 0 < qty <= parent.qty - parent.sent_qty
        parent.sent_qty += qty
        self.children.append(qty)


EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("trade"), st.sampled_from(["ref", "other"]), st.integers(1, 5_000)),
        st.tuples(st.just("timer"), st.just(""), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=150)
@given(
    EVENTS,
    st.sampled_from(["0.01", "0.1", "0.25", "0.5"]),
    st.sampled_from(["0.5", "2", "7.3"]),
    st.sampled_from(["0.0001", "0.01", "0.1"]),
)
def test_pov_sends_its_share_of_the_reference_volume_within_one_step(
    events, rate: str, qty: str, step: str
) -> None:
    ctx = StubContext()
    pov = Pov(side="buy", qty=qty, rate=rate, interval_s="1", qty_step=step)
    pov.on_start(ctx)
    assert ctx.timer[0] == "pov" and ctx.timer[1] == 1_000_000_000
    volume = Decimal(0)
    for kind, venue, lots in events:
        if kind == "trade":
            pov.on_trade(ctx, venue, (1, 100, lots, "buy"))
            volume += LOT * lots if venue == "ref" else 0  # other venues' trades do not count
        else:
            pov.on_timer(ctx, "pov")
            target = min(Decimal(qty), volume * Decimal(rate))
            sent = ctx.the_parent.sent_qty
            assert sent <= target  # never ahead of the participation rate
            assert target - sent < Decimal(step)  # and behind it by less than one step
    assert sum(ctx.children) == ctx.the_parent.sent_qty <= Decimal(qty)
    assert all(child > 0 and child % Decimal(step) == 0 for child in ctx.children)


def test_pov_finishes_exactly_when_the_volume_allows() -> None:
    ctx = StubContext()
    pov = Pov(side="sell", qty="1.5", rate="0.1", qty_step="0.001")
    pov.on_start(ctx)
    for _ in range(4):
        pov.on_trade(
            ctx, "ref", (1, 100, 10_000, "sell")
        )  # 10 base a trade: 1 base of participation
        pov.on_timer(ctx, "pov")
    assert ctx.the_parent.sent_qty == Decimal("1.5") and ctx.children == [
        Decimal(1),
        Decimal("0.5"),
    ]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"rate": "1"}, "strategy.rate"),
        ({"rate": "0"}, "strategy.rate"),
        ({"rate": 0.1}, "strategy.rate"),
        ({"side": "both"}, "strategy.side"),
        ({"qty": "-1"}, "strategy.qty"),
        ({"interval_s": "0"}, "strategy.interval_s"),
        ({"max_children": 0}, "strategy.max_children"),
    ],
)
def test_pov_refuses_bad_parameters(params: dict, field: str) -> None:
    with pytest.raises(BacktestError) as err:
        Pov(**({"side": "buy", "qty": "1", "rate": "0.1"} | params))
    assert err.value.field == field


def test_pov_on_the_replayed_sample_respects_the_recorded_volume_and_finishes() -> None:
    rate, qty = Decimal("0.05"), Decimal("3")
    spec = load_spec(
        TWAP,
        overrides={
            "strategy": {
                "kind": "pov",
                "side": "buy",
                "qty": str(qty),
                "rate": str(rate),
                "interval_s": "1",
                "qty_step": "0.0001",
            }
        },
    )
    feeds = read_feeds(spec)
    result = run_backtest(spec, feeds=feeds)
    (parent,) = result["parents"]
    fills = parent.fills
    assert fills and sum(f["qty"] for f in fills) == qty  # finished, and not one lot more
    grid = feeds[0].grid
    trades = [(e[0], grid.qty(e[4][2])) for e in feeds[0].events if e[3] == TRADE]
    for fill in fills:
        decided = fill["decision_ts_ns"]
        recorded = sum((q for ts, q in trades if ts <= decided), Decimal(0))
        done = sum(f["qty"] for f in fills if f["decision_ts_ns"] <= decided)
        assert done <= rate * recorded  # never ahead of the market's volume
    assert len({f["decision_ts_ns"] for f in fills}) > 1  # it participated over time
