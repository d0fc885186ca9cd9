"""Unit tests of the paper simulator, store and service (in process, no HTTP)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from router.app import build_margin, load_market
from router.model.errors import ConfigError
from router.paper.market import MarketSimulator, SimParams
from router.paper.service import PaperError, PaperService
from router.paper.store import Store

CONFIG = "config/default.toml"


def _sim(seed: int = 7) -> MarketSimulator:
    market = load_market(CONFIG)
    setup = build_margin(market)
    return MarketSimulator(market, setup.ledger, setup.perp_markets, SimParams(seed=seed))


async def test_same_seed_same_market_other_seed_other_market():
    a, b, c = _sim(7), _sim(7), _sim(8)
    for _ in range(40):
        await a.step(), await b.step(), await c.step()
    assert a.state_digest() == b.state_digest() != c.state_digest()
    a._check()


async def test_arbitrageurs_keep_pools_within_their_fee_and_gas_band_and_pay_gas():
    sim = _sim(3)
    for _ in range(150):
        report = await sim.step()
        ref = sim.ref_price("ETH/USDC")
        for fill in report.arbitrage:
            value = fill.filled_qty * ref
            # a trade only happens when it pays at the reference, gas (leg_cost) included
            assert (
                value - fill.quote_amount if fill.side == "buy" else fill.quote_amount - value
            ) > 0
    for name in ("uni-v3-5",):
        mid = sim.market.adapters[name].mid_price()
        assert abs(mid - ref) / ref < Decimal("0.002"), (name, mid, ref)
    sim._check()


def test_sim_params_refuse_bad_values():
    with pytest.raises(ConfigError):
        SimParams(vol_bps=-1)
    with pytest.raises(ConfigError):
        SimParams(maker_qty="0")


def test_store_is_wal_with_full_sync_and_commits_atomically(tmp_path):
    store = Store(tmp_path / "s.db")
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    seq = store.commit(tick=5, event=("order", 4, 1, {"a": 1}, {"b": 2}), journal=[(0, '{"x":1}')])
    assert seq == 1 and store.ticks_done() == 5
    with pytest.raises(Exception):
        store.commit(
            tick=9,
            fills=[
                {"fill_id": 1, "client_id": "c", "account": "a", "t_ns": 1},
                {"fill_id": 1, "client_id": "c", "account": "a", "t_ns": 1},
            ],
        )
    assert (
        store.ticks_done() == 5 and store.counts()["fills"] == 0
    )  # the failed transaction left nothing
    store.close()


async def test_restart_replays_to_the_same_state(tmp_path):
    db = tmp_path / "p.db"
    service = PaperService(CONFIG, db=db)
    await service.open()
    await service.command("step", {"ticks": 20})
    await service.command(
        "order",
        {"client_id": "a", "account": "desk-a", "symbol": "ETH/USDC", "side": "buy", "qty": "3"},
    )
    await service.command(
        "order",
        {
            "client_id": "g",
            "account": "desk-a",
            "symbol": "ETH/USDC",
            "side": "sell",
            "qty": "2",
            "limit": "2690",
            "tif": "gtc",
        },
    )
    await service.tick(50)
    digest = service.state_digest()
    service.close()
    again = PaperService(CONFIG, db=db)
    assert await again.open() == 3
    assert again.state_digest() == digest
    again.close()
    with pytest.raises(ConfigError):
        PaperService(CONFIG, db=db, params=SimParams(seed=99))


BAD_COMMANDS = [
    (
        "order",
        {"client_id": "x", "account": "desk-a", "symbol": "ETH/USDC", "side": "buy", "qty": "0"},
    ),
    (
        "order",
        {"client_id": "x", "account": "ghost", "symbol": "ETH/USDC", "side": "buy", "qty": "1"},
    ),
    (
        "order",
        {
            "client_id": "x",
            "account": "desk-a",
            "symbol": "ETH/USDC",
            "side": "buy",
            "qty": "1",
            "subaccount": "z",
        },
    ),
    ("cancel", {"client_id": "nope"}),
    ("subaccount", {"account": "desk-a", "name": ""}),
    (
        "transfer",
        {"account": "desk-a", "from": "main", "to": "main", "asset": "USDC", "amount": "1"},
    ),
    ("step", {"ticks": -1}),
    ("bogus", {}),
]


@pytest.mark.parametrize("kind,body", BAD_COMMANDS)
async def test_bad_command_raises_and_changes_nothing(kind, body):
    service = PaperService(CONFIG)
    await service.command(
        "order",
        {"client_id": "seed", "account": "desk-a", "symbol": "ETH/USDC", "side": "buy", "qty": "1"},
    )
    before = service.state_digest()
    with pytest.raises(PaperError) as info:
        await service.command(kind, body)
    assert 400 <= info.value.status < 500 and info.value.allowed
    assert service.state_digest() == before


class PaperMachine(RuleBasedStateMachine):
    """Orders, gtc orders, cancels, transfers and ticks in any order keep every invariant."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.service = PaperService(CONFIG)
        self.n = 0

    def run(self, kind, body):
        try:
            return self.loop.run_until_complete(self.service.command(kind, body))
        except PaperError:
            return None

    @rule(
        side=st.sampled_from(["buy", "sell"]),
        qty=st.sampled_from(["0.5", "5", "40"]),
        symbol=st.sampled_from(["ETH/USDC", "ETH/USDC:USDC"]),
    )
    def order(self, side, qty, symbol):
        self.n += 1
        self.run(
            "order",
            {
                "client_id": f"o{self.n}",
                "account": "desk-a",
                "symbol": symbol,
                "side": side,
                "qty": qty,
            },
        )

    @rule(side=st.sampled_from(["buy", "sell"]), offset=st.integers(-5, 5))
    def gtc(self, side, offset):
        self.n += 1
        limit = str(self.service.sim.ref_price("ETH/USDC").quantize(Decimal(1)) + offset)
        self.run(
            "order",
            {
                "client_id": f"g{self.n}",
                "account": "desk-a",
                "symbol": "ETH/USDC",
                "side": side,
                "qty": "1",
                "limit": limit,
                "tif": "gtc",
            },
        )

    @rule()
    def cancel(self):
        if self.service.desk.state.working:
            self.run("cancel", {"client_id": next(iter(self.service.desk.state.working))})

    @rule(ticks=st.integers(1, 30))
    def step(self, ticks):
        self.loop.run_until_complete(self.service.tick(ticks))

    @invariant()
    def invariants_hold(self):
        self.service._check()

    def teardown(self):
        self.loop.close()


TestPaperMachine = PaperMachine.TestCase
TestPaperMachine.settings = settings(max_examples=8, stateful_step_count=15, deadline=None)


async def test_status_without_digest_is_the_same_figures_without_it():
    service = PaperService("config/default.toml")
    await service.open()
    await service.command("step", {"ticks": 3})
    full, light = service.status(), service.status(digest=False)
    assert full.pop("state_digest") == service.state_digest()
    assert light == full
    service.close()


async def test_market_view_sample_prices_tell_every_sample_apart():
    # "1.00" for every sample of the USDC/USDT band put the whole chart on one point; ETH prices
    # keep their two decimals
    service = PaperService(CONFIG)
    await service.open()
    await service.tick(2)
    view = service.views.market_view(24)
    for depth in view["venues"] + view["unified"]:
        for side in ("bids", "asks"):
            prices = [price for price, _ in depth[side]]
            assert len(set(prices)) == len(prices), (depth["symbol"], side, prices[:3])
            if depth["symbol"].startswith("ETH/USDC"):
                assert all(len(p.split(".")[1]) == 2 for p in prices), prices[:3]
    usdt = next(d for d in view["unified"] if d["symbol"] == "USDC/USDT")
    assert usdt["bids"][0][0] != usdt["bids"][-1][0] and "." in usdt["bids"][0][0]
    service.close()
